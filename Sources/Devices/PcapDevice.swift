import Capture
import SystemPackage

/// A `PacketDevice` over capture files, for `tapir replay` and for tests without root:
/// reads come from one pcap file, one packet per read, and writes go to another.
/// `time` is the capture clock: the time of the packet read last (before the first
/// read, of the first packet), so what a handler writes is stamped with the time of
/// the packet it answered, and timers can follow the capture.
public final class PcapDevice: PacketDevice {
    public let name: String
    public let mode: DeviceMode
    public let hasPacketInfo = false
    public var fileDescriptor: FileDescriptor? { nil }
    public private(set) var counters = DeviceCounters()
    public private(set) var isGone = false
    /// True once every packet of the input file has been read.
    public private(set) var isExhausted = false
    public private(set) var time: CaptureTime
    /// When set, what writes are stamped with instead of `time` (a replay's timer clock,
    /// which moves between packets too).
    public var clock: (() -> CaptureTime)?
    /// The last write error, said in full (a full disk names its file).
    public private(set) var lastWriteError: CaptureError?

    /// Packets of the input marked outbound (a Tapir recording's own answers), passed over.
    public private(set) var skippedOutbound = 0

    private let reader: PcapReader?
    private let writer: PcapWriter?
    private let includesOutbound: Bool
    private var pending: CapturedPacket?

    /// `input` nil: nothing to read. `output` nil: writes are counted and dropped. The
    /// input's packets marked outbound (what the recorded host wrote) are passed over
    /// unless `includeOutbound`: replayed, they would be answered as if the peer sent them.
    public init(name: String = "pcap0", input: String?, output: String?,
                mode: DeviceMode? = nil, includeOutbound: Bool = false) throws(CaptureError) {
        let reader = try input.map { (path) throws(CaptureError) in try PcapReader(path: path) }
        let mode = mode ?? (reader?.linkType == .rawIP ? .tun : .tap)
        self.name = name
        self.mode = mode
        self.reader = reader
        self.includesOutbound = includeOutbound
        self.writer = try output.map { (path) throws(CaptureError) in
            try PcapWriter(path: path, linkType: mode == .tap ? .ethernet : .rawIP)
        }
        self.pending = nil
        self.time = CaptureTime(nanoseconds: 0)
        self.pending = try nextKept()
        self.time = pending?.time ?? CaptureTime(nanoseconds: 0)
        self.isExhausted = pending == nil
    }

    /// The time of the next packet to be read, nil at the end of the input.
    public var nextPacketTime: CaptureTime? { pending?.time }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        guard !isGone, let packet = pending else { return .wouldBlock }
        do {
            pending = try nextKept()
        } catch {
            pending = nil
            isGone = true
            counters.readErrors += 1
            return .gone("\(error)")
        }
        isExhausted = pending == nil
        time = packet.time
        let length = min(packet.bytes.count, buffer.count)
        if length < packet.bytes.count { counters.truncatedReads += 1 }
        packet.bytes.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<length]))
        }
        counters.recordRead(bytes: length)
        return .packet(UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
    }

    /// The input's next packet that is read (not an outbound one passed over).
    private func nextKept() throws(CaptureError) -> CapturedPacket? {
        while let packet = try reader?.next() {
            if packet.direction == .outbound && !includesOutbound {
                skippedOutbound += 1
                continue
            }
            return packet
        }
        return nil
    }

    public func write(_ packet: UnsafeRawBufferPointer) -> WriteResult {
        guard let writer else {
            counters.recordWrite(bytes: packet.count)
            return .written
        }
        do {
            try writer.write(packet, time: clock?() ?? time)
        } catch {
            lastWriteError = error
            counters.recordWriteFailure(.io)
            return .failed(.io)
        }
        counters.recordWrite(bytes: packet.count)
        return .written
    }

    /// Moves the capture clock (a replay's timers run on it).
    public func advanceTime(to newTime: CaptureTime) {
        if newTime > time { time = newTime }
    }

    public func close() {
        reader?.close()
        if let writer {
            do { try writer.close() } catch { lastWriteError = error }
        }
    }
}
