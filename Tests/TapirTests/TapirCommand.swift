import Devices
import Foundation
import Glibc
import XCTest

/// The built `tapir` binary and the repository it came from, for tests that run it.
enum TapirCommand {
    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// $TAPIR_BINARY (scripts/test points it at the release build, the one users run and
    /// the one fast enough for the timing of the kernel tests), or the `tapir` beside the
    /// test bundle.
    static var path: String {
        if let binary = ProcessInfo.processInfo.environment["TAPIR_BINARY"], !binary.isEmpty {
            return binary
        }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = bundle.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("tapir").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return repository.appendingPathComponent(".build/debug/tapir").path
    }

    static func lua(_ relative: String) -> String {
        repository.appendingPathComponent("lua").appendingPathComponent(relative).path
    }

    /// A script answering ARP for 198.18.0.2 and echoing UDP port 7 as "TAG:data": which
    /// version of a reloaded script answered shows in the reply.
    static func taggedEcho(_ tag: String) -> String {
        udpAnswerer(reply: "\"\(tag):\" .. pkt.payload")
    }

    /// A script answering ARP for 198.18.0.2 and each datagram to UDP port 7 with the Lua
    /// expression `reply` (of `pkt` and `dev`).
    static func udpAnswerer(reply: String) -> String {
        """
        local IP, MAC = "198.18.0.2", "02:54:41:50:49:52"
        tapir.on("arp", {op = 1, tpa = IP}, function(pkt, dev)
          dev:write(pkt:reply{arp = {op = 2, sha = MAC}, eth = {src = MAC}})
          return true
        end)
        tapir.on("udp", {dport = 7}, function(pkt, dev)
          dev:write(pkt:reply{payload = \(reply)})
          return true
        end)
        """
    }

    /// Starts `tapir run ARGUMENTS --dev DEVICE` inside the sandbox (through `env` when
    /// `environment` is given), waits for the device, gives the kernel side 198.18.0.1/24
    /// (and 2001:2::1/64 when `ipv6`) and brings the link up.
    static func start(_ arguments: [String], device: String, in sandbox: Sandbox, ipv6: Bool = false,
                      environment: [String] = []) throws -> ChildProcess {
        let command = (environment.isEmpty ? [] : ["env"] + environment) + [path, "run"] + arguments
            + ["--dev", device]
        let process = try sandbox.start(command)
        try waitForDevice(device, in: sandbox, process: process)
        try sandbox.ip(["addr", "add", "198.18.0.1/24", "dev", device])
        if ipv6 { try sandbox.ip(["-6", "addr", "add", "2001:2::1/64", "dev", device, "nodad"]) }
        try sandbox.ip(["link", "set", device, "up"])
        return process
    }

    /// Sends SIGTERM and returns what the run printed, with its status (15 s at most).
    static func stop(_ process: ChildProcess) -> ProcessOutput {
        process.signal(SIGTERM)
        return process.wait(timeout: .seconds(15))
    }

    static func requireRoot() throws {
        guard getuid() == 0 else {
            throw XCTSkip("needs root (CAP_NET_ADMIN) to make a network namespace and a tap/tun device")
        }
    }

    /// Waits until `ip -n NS link show DEV` finds the device, at most `timeout`.
    static func waitForDevice(_ name: String, in sandbox: Sandbox, process: ChildProcess,
                              timeout: Duration = .seconds(20)) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? sandbox.ip(["link", "show", name])) != nil { return }
            if process.hasExited {
                let output = process.wait(timeout: .seconds(1))
                XCTFail("tapir exited early (\(output.status)): \(output.stderr)\(output.stdout)")
                throw XCTSkip("tapir did not start")
            }
            usleep(50_000)
        }
        XCTFail("device \(name) did not appear in \(sandbox.namespace)")
        throw XCTSkip("no device")
    }

    /// The sandbox namespace of a `tapir run` without `--dev`, once its device is addressed.
    static func sandboxNamespace(of tapir: ChildProcess) throws -> String {
        try sandboxNamespaces(of: tapir, count: 1)[0]
    }

    /// The sandbox namespaces (`tapir-<pid>-<n>`) of a `tapir run` without `--dev`, in
    /// order, once `count` of them exist and the last one's device has its kernel-side
    /// address (198.18.0.count/24); at most 20 s, else the test fails.
    static func sandboxNamespaces(of tapir: ChildProcess, count: Int) throws -> [String] {
        let prefix = "tapir-\(tapir.pid)-"
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, !tapir.hasExited {
            let found = try ChildProcess.run(["ip", "netns", "list"]).stdout.split(separator: "\n")
                .map { String($0.split(separator: " ")[0]) }.filter { $0.hasPrefix(prefix) }
                .sorted { Int($0.dropFirst(prefix.count)) ?? 0 < Int($1.dropFirst(prefix.count)) ?? 0 }
            if found.count >= count,
               let addresses = try? ChildProcess.run(["ip", "-n", found[count - 1], "addr"]).stdout,
               addresses.contains("198.18.0.\(count)/24") {
                return Array(found.prefix(count))
            }
            usleep(50_000)
        }
        let output = tapir.wait(timeout: .seconds(5))
        XCTFail("no \(count) sandbox namespace(s): \(output.stderr)")
        throw XCTSkip("tapir did not start")
    }

    /// Whether `ip netns list` shows the namespace.
    static func namespaceExists(_ namespace: String) throws -> Bool {
        try ChildProcess.run(["ip", "netns", "list"]).stdout.split(separator: "\n")
            .contains { $0.split(separator: " ").first.map(String.init) == namespace }
    }

    /// The namespace's checksum and header error counters (/proc/net/snmp, snmp6) that
    /// must stay 0 after an exchange; a non-zero one names itself.
    static func errorCounters(in sandbox: Sandbox) throws -> [String: Int] {
        var counters: [String: Int] = [:]
        let snmp = try sandbox.run(["cat", "/proc/net/snmp"]).stdout.split(separator: "\n")
        var index = 0
        while index + 1 < snmp.count {
            let names = snmp[index].split(separator: " ")
            let values = snmp[index + 1].split(separator: " ")
            for (name, value) in zip(names.dropFirst(), values.dropFirst()) {
                let key = "\(names[0].dropLast()).\(name)"
                if name.contains("CsumErrors") || name == "InHdrErrors" || name == "InErrors" {
                    counters[key] = Int(value) ?? -1
                }
            }
            index += 2
        }
        for line in try sandbox.run(["cat", "/proc/net/snmp6"]).stdout.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count == 2 else { continue }
            if parts[0].contains("CsumErrors") || parts[0].hasSuffix("InHdrErrors") || parts[0] == "Icmp6InErrors" {
                counters[String(parts[0])] = Int(parts[1]) ?? -1
            }
        }
        return counters
    }
}
