import Capture
import Devices
import Foundation
import Glibc
import XCTest

/// How a `tapir run` begins and ends: the sandbox it makes and removes, a recording that
/// tshark reads without complaint, a device deleted under it.
final class RunLifecycleKernelTests: XCTestCase {
    func testTheSandboxIsReachableAndGoneAfterSIGINT() throws {
        try TapirCommand.requireRoot()
        let tapir = try ChildProcess.spawn([TapirCommand.path, "run", TapirCommand.lua("examples/responder.lua")])
        // The namespace is named in the first line tapir prints; stdout is read at exit,
        // so find the namespace by tapir's pid instead.
        let namespace = try TapirCommand.sandboxNamespace(of: tapir)
        var ping = try ChildProcess.run(["true"])
        for _ in 0..<50 {  // the device is addressed just after the namespace appears
            ping = try ChildProcess.run(["ip", "netns", "exec", namespace, "ping", "-c", "2", "-i", "0.2",
                                         "-W", "2", "198.18.0.2"])
            if ping.stdout.contains("2 received") { break }
            usleep(100_000)
        }
        XCTAssertTrue(ping.stdout.contains("2 received"), ping.stdout + ping.stderr)

        tapir.signal(SIGINT)
        let output = tapir.wait(timeout: .seconds(10))
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stdout.contains("ip netns exec \(namespace) ping 198.18.0.2"), output.stdout)
        let after = try ChildProcess.run(["ip", "netns", "list"]).stdout
        XCTAssertFalse(after.contains(namespace), "the sandbox is removed: \(after)")
    }

    func testARecordingHoldsBothDirectionsAndTsharkFindsNothingWrong() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let directory = NSTemporaryDirectory() + "tapir-record-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/record.pcap"
        let piped = directory + "/piped.pcap"
        // One run records to a file, the other to standard output (`--record -`).
        let tapir = try sandbox.start([TapirCommand.path, "run", TapirCommand.lua("examples/responder.lua"),
                                       "--dev", "tapf0", "--record", file])
        let shell = try sandbox.start(["sh", "-c", "exec '\(TapirCommand.path)' run '\(TapirCommand.lua("examples/responder.lua"))' --dev tapg0 --record - > '\(piped)'"])
        for (process, device, address) in [(tapir, "tapf0", "198.18.0.1/24"), (shell, "tapg0", "198.18.1.1/24")] {
            try TapirCommand.waitForDevice(device, in: sandbox, process: process)
            try sandbox.ip(["addr", "add", address, "dev", device])
            try sandbox.ip(["link", "set", device, "up"])
        }
        let ping = try sandbox.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", "tapf0", "198.18.0.2"])
        XCTAssertTrue(ping.stdout.contains("3 received"), ping.stdout)
        // the second device answers 198.18.0.2 too; route to it through its own subnet
        try sandbox.ip(["neigh", "replace", "198.18.1.2", "lladdr", "02:54:41:50:49:52", "dev", "tapg0"])
        _ = try sandbox.run(["sh", "-c", "echo piped | nc -u -w0 198.18.1.2 9"])
        usleep(200_000)
        tapir.signal(SIGTERM)
        shell.signal(SIGTERM)
        XCTAssertEqual(tapir.wait(timeout: .seconds(10)).status, 0)
        XCTAssertEqual(shell.wait(timeout: .seconds(10)).status, 0)

        let recorded = try PcapReader(path: file).readAll()
        XCTAssertGreaterThanOrEqual(recorded.count, 8, "ARP request and reply, 3 echo requests and 3 replies")
        XCTAssertGreaterThanOrEqual(try PcapReader(path: piped).readAll().count, 1)
        guard let tshark = ChildProcess.locate("tshark") else { throw XCTSkip("tshark is not installed") }
        let marks = try ChildProcess.run([tshark, "-r", file, "-o", "ip.check_checksum:TRUE",
                                          "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                                          "-Y", "_ws.malformed || _ws.expert.severity >= warning"])
        XCTAssertEqual(marks.stdout, "", "tshark marks the recording")
        let replies = try ChildProcess.run([tshark, "-r", file, "-Y", "icmp.type == 0"]).stdout
        XCTAssertEqual(replies.split(separator: "\n").count, 3, replies)
    }

    func testADeviceDeletedUnderTheLoopEndsTheRunCleanly() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try sandbox.start([TapirCommand.path, "run", TapirCommand.lua("examples/responder.lua"),
                                       "--dev", "tapd0"])
        try TapirCommand.waitForDevice("tapd0", in: sandbox, process: tapir)
        try sandbox.ip(["link", "set", "tapd0", "up"])
        usleep(200_000)
        try sandbox.ip(["link", "del", "tapd0"])
        let output = tapir.wait(timeout: .seconds(10))
        XCTAssertFalse(output.timedOut, "tapir kept running with its only device gone")
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertEqual(output.stderr.components(separatedBy: "no longer serving tapd0").count - 1, 1, output.stderr)
        XCTAssertTrue(output.stderr.contains("no device left to serve"), output.stderr)
    }
}

/// SIGHUP reloads the scripts (with --no-watch, only the signal does).
final class SignalReloadKernelTests: XCTestCase {
    func testSIGHUPReloadsAndABrokenVersionKeepsTheOldOne() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let script = NSTemporaryDirectory() + "tapir-hup-\(getpid())-\(UUID().uuidString).lua"
        defer { try? FileManager.default.removeItem(atPath: script) }
        try TapirCommand.taggedEcho("v1").write(toFile: script, atomically: true, encoding: .utf8)
        let tapir = try sandbox.start([TapirCommand.path, "run", script, "--dev", "taph0", "--no-watch"])
        try TapirCommand.waitForDevice("taph0", in: sandbox, process: tapir)
        try sandbox.ip(["addr", "add", "198.18.0.1/24", "dev", "taph0"])
        try sandbox.ip(["link", "set", "taph0", "up"])
        func ask() throws -> String {
            try sandbox.run(["sh", "-c", "printf x | nc -u -w1 198.18.0.2 7"]).stdout
        }
        XCTAssertEqual(try ask(), "v1:x")
        try TapirCommand.taggedEcho("v2").write(toFile: script, atomically: true, encoding: .utf8)
        XCTAssertEqual(try ask(), "v1:x", "without --watch a save alone changes nothing")
        tapir.signal(SIGHUP)
        usleep(300_000)
        XCTAssertEqual(try ask(), "v2:x")
        try "tapir.on('udp', function() end\n".write(toFile: script, atomically: true, encoding: .utf8)
        tapir.signal(SIGHUP)
        usleep(300_000)
        XCTAssertEqual(try ask(), "v2:x", "a broken version leaves the old one answering")
        tapir.signal(SIGTERM)
        let output = tapir.wait(timeout: .seconds(10))
        XCTAssertEqual(output.status, 0)
        XCTAssertTrue(output.stderr.contains("reload of \(script) failed"), output.stderr)
        XCTAssertTrue(output.stderr.contains(".lua:2:") || output.stderr.contains(".lua:1:"), output.stderr)
    }
}
