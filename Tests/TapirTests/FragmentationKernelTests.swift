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

    func startIPv6(_ pack: String, device: String, record: String, in sandbox: Sandbox) throws -> ChildProcess {
        try TapirCommand.start([TapirCommand.lua(pack), "--no-watch", "--record", record], device: device,
                               in: sandbox, ipv6: true)
    }

    func testPingsOf8000BytesOverIPv4AndIPv6ComeBackWholeFromIcmpEchoAndVirtualHost() throws {
        try TapirCommand.requireRoot()
        for (index, pack) in ["packs/icmp-echo", "packs/virtual-host"].enumerated() {
            let sandbox = try Sandbox(prefix: "tapir-test")
            defer { sandbox.remove() }
            let record = directory + "/ping-\(index).pcap"
            let tapir = try startIPv6(pack, device: "tapfr\(3 + index)", record: record, in: sandbox)
            let ping = try sandbox.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "-s", "8000", "198.18.0.2"])
            XCTAssertTrue(ping.stdout.contains("2 received"), "\(pack): " + ping.stdout + ping.stderr)
            XCTAssertTrue(ping.stdout.contains("8008 bytes from 198.18.0.2"), "\(pack): " + ping.stdout)
            let ping6 = try sandbox.run(["ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", "-s", "8000", "2001:2::2"])
            XCTAssertTrue(ping6.stdout.contains("2 received"), "\(pack): " + ping6.stdout + ping6.stderr)
            XCTAssertTrue(ping6.stdout.contains("8008 bytes from 2001:2::2"), "\(pack): " + ping6.stdout)
            XCTAssertFalse(ping.stdout.contains("truncated") || ping6.stdout.contains("truncated"))
            stop(tapir)
            // The replies leave in fragments: IPv4 with MF, IPv6 with a Fragment header.
            try assertCleanRecording(record, count: "ipv6.src == 2001:2::2 && ipv6.fraghdr", atLeast: 8)
            try assertCleanRecording(record, count: "ip.src == 198.18.0.2 && ip.flags.mf == 1", atLeast: 8)
        }
    }

    func testUDPDatagramsOf9000And65507BytesComeBackIdenticalOverIPv4AndIPv6() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let record = directory + "/udp.pcap"
        let tapir = try startIPv6("packs/udp-echo", device: "tapfr5", record: record, in: sandbox)
        let client = """
            import os, socket, sys
            for family, address in ((socket.AF_INET, "198.18.0.2"), (socket.AF_INET6, "2001:2::2")):
                for size in (9000, 65507 if family == socket.AF_INET else 65527):
                    s = socket.socket(family, socket.SOCK_DGRAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                    s.settimeout(3)
                    data = os.urandom(size)
                    s.sendto(data, (address, 7))
                    back, _ = s.recvfrom(70000)
                    print(address, size, "identical" if back == data else "DIFFERENT %d" % len(back))
            """
        let output = try sandbox.run(["python3", "-c", client], timeout: .seconds(30))
        XCTAssertEqual(output.stdout, """
            198.18.0.2 9000 identical
            198.18.0.2 65507 identical
            2001:2::2 9000 identical
            2001:2::2 65527 identical

            """, output.stderr)
        stop(tapir)
        try assertCleanRecording(record, count: "ipv6.src == 2001:2::2 && ipv6.fraghdr", atLeast: 40)
    }
}
