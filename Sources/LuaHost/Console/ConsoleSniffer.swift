import Capture
import Glibc
import Packets
import Reactor

/// The console's `sniff`: one tcpdump-style line per packet in or out of any device,
/// printed through the line editor as the packets pass, until `count` packets were shown
/// or `seconds` went by. The loop never waits for it. One sniff at a time: a new one
/// replaces the last.
final class ConsoleSniffer {
    private unowned let host: TapirHost
    private unowned let loop: EventLoop
    private unowned let editor: LineEditor
    private var filterExpression: String?
    private var remaining = 0
    private var shown = 0
    private var deadline: TimerID?
    private(set) var isActive = false

    init(host: TapirHost, loop: EventLoop, editor: LineEditor) {
        self.host = host
        self.loop = loop
        self.editor = editor
    }

    /// `count` 0: no limit on packets; `seconds` 0: no time limit (one of them must be set).
    func start(filter: String?, count: Int, seconds: Double) throws(SniffError) {
        guard count > 0 || seconds > 0 else { throw .noLimit }
        if let filter, !filter.isEmpty {
            for linkType in Set(host.devices.map(\.linkType)) {
                do {
                    _ = try host.filters.filter(filter, linkType)
                } catch {
                    throw .badFilter("\(error)")
                }
            }
        }
        stop(report: false)
        filterExpression = filter?.isEmpty == true ? nil : filter
        remaining = count
        shown = 0
        isActive = true
        host.packetObserver = { [unowned self] bytes, device, outgoing in
            self.observe(bytes, on: device, outgoing: outgoing)
        }
        if seconds > 0 {
            deadline = loop.schedule(after: .milliseconds(Int64(seconds * 1000))) { [weak self] in
                self?.deadline = nil
                self?.stop(report: true)
            }
        }
    }

    func stop(report: Bool) {
        guard isActive else { return }
        isActive = false
        host.packetObserver = nil
        if let deadline { loop.cancel(deadline) }
        deadline = nil
        if report { editor.print("sniff: \(shown) packet\(shown == 1 ? "" : "s")") }
    }

    private func observe(_ bytes: UnsafeRawBufferPointer, on device: HostDevice, outgoing: Bool) {
        if let filterExpression {
            guard let filter = try? host.filters.filter(filterExpression, device.linkType),
                  filter.matches(bytes) else { return }
        }
        let frame = FrameDecoder.decode(bytes, linkType: device.linkType)
        let time = Self.timeOfDay(host.recordingClock())
        editor.print("\(time) \(device.name) \(outgoing ? "Out" : "In ") \(frame.summary(bytes))")
        shown += 1
        if remaining > 0 {
            remaining -= 1
            if remaining == 0 { stop(report: false) }
        }
    }

    /// HH:MM:SS.microseconds, local time, as tcpdump prints it.
    static func timeOfDay(_ time: CaptureTime) -> String {
        var seconds = time_t(time.seconds)
        var parts = tm()
        localtime_r(&seconds, &parts)
        let micro = String(time.microsecondsOfSecond)
        return String(format2(parts.tm_hour)) + ":" + format2(parts.tm_min) + ":" + format2(parts.tm_sec)
            + "." + String(repeating: "0", count: max(0, 6 - micro.count)) + micro
    }

    private static func format2(_ value: Int32) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}

enum SniffError: Error, CustomStringConvertible {
    case noLimit
    case badFilter(String)

    var description: String {
        switch self {
        case .noLimit: "give a count or seconds (sniff(3), sniff{seconds = 5})"
        case .badFilter(let message): message
        }
    }
}
