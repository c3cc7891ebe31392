import Devices
import Foundation
import Glibc
import XCTest

/// A pack serving several taps, each tap then moved into a host namespace of its own
/// (198.18.0.1/24, .2, .3 ... in the order given): a network of kernel hosts joined only
/// through the pack. tapir runs in a namespace of its own; its log goes to a file, so a
/// test can read it while tapir runs. Every namespace is removed by `remove()` (and when
/// the value goes away); tapir is stopped first.
final class PackBetweenHosts {
    let tapirSpace: Sandbox
    private(set) var hosts: [Sandbox] = []
    let devices: [String]
    let logPath: String
    private var process: ChildProcess?

    /// Starts `tapir run PACK --dev D1 --dev D2 ... arguments` and moves the devices out.
    /// IPv6 is off on the hosts' devices, so the kernel sends only what a test causes.
    init(pack: String, devices: [String], arguments: [String] = [], prefix: String) throws {
        self.devices = devices
        tapirSpace = try Sandbox(prefix: prefix)
        logPath = NSTemporaryDirectory() + "\(prefix)-\(getpid())-\(UUID().uuidString).log"
        do {
            for _ in devices { hosts.append(try Sandbox(prefix: prefix)) }
            let command = [TapirCommand.path, "run", TapirCommand.lua("packs/" + pack), "--no-watch"]
                + devices.flatMap { ["--dev", $0] } + arguments
            let started = try tapirSpace.start(["sh", "-c", "exec \"$@\" 2>\"$0\"", logPath] + command)
            process = started
            for device in devices {
                try TapirCommand.waitForDevice(device, in: tapirSpace, process: started)
            }
            for (index, device) in devices.enumerated() {
                try tapirSpace.ip(["link", "set", "dev", device, "netns", hosts[index].namespace])
                let disabled = try hosts[index].run(["sysctl", "-q", "-w", "net.ipv6.conf.\(device).disable_ipv6=1"])
                XCTAssertEqual(disabled.status, 0, disabled.stderr)
                try hosts[index].ip(["addr", "add", address(of: index) + "/24", "dev", device])
                try hosts[index].ip(["link", "set", "dev", device, "up"])
            }
        } catch {
            remove()
            throw error
        }
    }

    deinit {
        remove()
    }

    /// Host `index`'s (0-based) IPv4 address: 198.18.0.(index + 1).
    func address(of index: Int) -> String {
        "198.18.0.\(index + 1)"
    }

    /// The MAC address of host `index`'s device.
    func mac(of index: Int) throws -> String {
        let link = try hosts[index].ip(["link", "show", "dev", devices[index]]).stdout
        guard let range = link.range(of: "link/ether ") else { return "" }
        return String(link[range.upperBound...].prefix(17))
    }

    /// Pings host `to` from host `from` until `count` replies come back in one run, at
    /// most `attempts` runs (the first may be spent learning).
    func ping(from: Int, to: Int, count: Int = 2, attempts: Int = 5) throws -> ProcessOutput {
        let command = ["ping", "-c", "\(count)", "-i", "0.2", "-W", "2", address(of: to)]
        var output = try hosts[from].run(command, timeout: .seconds(15))
        for _ in 1..<max(attempts, 1) where !output.stdout.contains("\(count) received") {
            output = try hosts[from].run(command, timeout: .seconds(15))
        }
        return output
    }

    /// tapir's log so far.
    var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// Sends SIGHUP and waits (at most 10 s) until the log holds `lines` more lines that
    /// contain `marker`.
    func reloadAndWait(for marker: String, lines: Int) -> Bool {
        let before = occurrences(of: marker)
        process?.signal(SIGHUP)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if occurrences(of: marker) >= before + lines { return true }
            usleep(50_000)
        }
        return false
    }

    func occurrences(of marker: String) -> Int {
        log.components(separatedBy: marker).count - 1
    }

    /// Stops tapir (SIGTERM, at most 10 s) and returns its exit status and whole log.
    func stop() -> (status: Int32, log: String) {
        guard let process else { return (-1, log) }
        self.process = nil
        process.signal(SIGTERM)
        let output = process.wait(timeout: .seconds(10))
        return (output.status, log)
    }

    func remove() {
        _ = stop()
        for host in hosts { host.remove() }
        tapirSpace.remove()
        try? FileManager.default.removeItem(atPath: logPath)
    }

    /// The counters of the last line of the log starting `prefix` ("port swa:"), as
    /// name → value (from "rx=5 tx=4 ...").
    static func counters(in log: String, line prefix: String) -> [String: Int] {
        guard let line = log.split(separator: "\n").last(where: { $0.contains("] " + prefix) }) else { return [:] }
        var counters: [String: Int] = [:]
        for field in line.split(separator: " ") {
            let parts = field.split(separator: "=")
            if parts.count == 2, let value = Int(parts[1]) { counters[String(parts[0])] = value }
        }
        return counters
    }
}
