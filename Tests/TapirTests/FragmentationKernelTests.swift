import Devices
import Foundation
import Glibc
import XCTest

/// Datagrams bigger than the device's MTU, with the kernel as the peer: its fragments are
/// reassembled for the packs that ask, and what the packs write over the MTU goes back as
/// fragments the kernel reassembles. tshark checks the recording of both directions.
final class FragmentationKernelTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "tapir-frag-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func start(_ pack: String, device: String, record: String, in sandbox: Sandbox) throws -> ChildProcess {
        try TapirCommand.start([TapirCommand.lua(pack), "--no-watch", "--record", record], device: device, in: sandbox)
    }

    func stop(_ process: ChildProcess) {
        let output = TapirCommand.stop(process)
        XCTAssertEqual(output.status, 0, output.stderr)
    }

    /// tshark finds no malformed packet and no bad checksum, and counts `filter`'s matches.
    func assertCleanRecording(_ file: String, count filter: String, atLeast expected: Int) throws {
        guard let tshark = ChildProcess.locate("tshark") else { throw XCTSkip("tshark is not installed") }
        let marks = try ChildProcess.run([tshark, "-r", file, "-o", "ip.check_checksum:TRUE",
                                          "-o", "udp.check_checksum:TRUE",
                                          "-Y", "_ws.malformed || _ws.expert.severity >= warning"])
        XCTAssertEqual(marks.stdout, "", "tshark marks the recording")
        let matches = try ChildProcess.run([tshark, "-r", file, "-Y", filter]).stdout
            .split(separator: "\n").count
        XCTAssertGreaterThanOrEqual(matches, expected, "frames matching \(filter)")
    }

    func testPingOf3000BytesToVirtualHostIsAnsweredInFragments() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let record = directory + "/ping.pcap"
        let tapir = try start("packs/virtual-host", device: "tapfr0", record: record, in: sandbox)
        let ping = try sandbox.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "-s", "3000", "198.18.0.2"])
        XCTAssertTrue(ping.stdout.contains("3 received"), ping.stdout + ping.stderr)
        XCTAssertTrue(ping.stdout.contains("3008 bytes from 198.18.0.2"), ping.stdout)
        stop(tapir)
        // Each reply leaves as three fragments (1480 + 1480 + 48 bytes of ICMP).
        try assertCleanRecording(record, count: "ip.src == 198.18.0.2 && ip.flags.mf == 1", atLeast: 6)
    }

    func testADNSAnswerOver1500BytesArrivesWholeAtDig() throws {
        try TapirCommand.requireRoot()
        guard ChildProcess.locate("dig") != nil else { throw XCTSkip("dig is not installed (dnsutils)") }
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let record = directory + "/dns.pcap"
        let tapir = try start("packs/dns-responder", device: "tapfr1", record: record, in: sandbox)
        let dig = try sandbox.run(["dig", "+time=2", "+tries=2", "+bufsize=4096", "@198.18.0.2",
                                   "big.example.test", "TXT"], timeout: .seconds(15))
        XCTAssertTrue(dig.stdout.contains("status: NOERROR"), dig.stdout + dig.stderr)
        XCTAssertTrue(dig.stdout.contains("ANSWER: 8,"), dig.stdout)
        let size = dig.stdout.split(separator: "\n").first { $0.contains("MSG SIZE  rcvd:") }
            .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        XCTAssertGreaterThan(size, 1500, dig.stdout)
        stop(tapir)
        try assertCleanRecording(record, count: "ip.src == 198.18.0.2 && ip.flags.mf == 1", atLeast: 1)
    }
}
