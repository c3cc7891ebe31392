import Devices
import Foundation
import Glibc
import XCTest

/// dns-responder over TCP (RFC 7766) under `tapir run` on a tap in a namespace the test
/// makes: dig +tcp, and dig retrying over TCP an answer the UDP one truncated.
final class DNSOverTCPKernelTests: XCTestCase {
    func startResponder(device: String, in sandbox: Sandbox) throws -> ChildProcess {
        try TapirCommand.start([TapirCommand.lua("packs/dns-responder")], device: device, in: sandbox, ipv6: true)
    }

    func stop(_ process: ChildProcess, file: StaticString = #filePath, line: UInt = #line) {
        let output = TapirCommand.stop(process)
        XCTAssertEqual(output.status, 0, output.stderr, file: file, line: line)
    }

    func dig(_ arguments: [String], in sandbox: Sandbox) throws -> String {
        let output = try sandbox.run(["dig", "+time=2", "+tries=1"] + arguments)
        return output.stdout + output.stderr
    }

    /// The responder's counters, asked over UDP (a CHAOS TXT query).
    func counters(in sandbox: Sandbox) throws -> [String: Int] {
        let text = try dig(["+short", "@198.18.0.2", "CH", "counters.dns-responder", "TXT"], in: sandbox)
        var values: [String: Int] = [:]
        for item in text.split(whereSeparator: { $0 == " " || $0 == "\"" || $0 == "\n" }) {
            let parts = item.split(separator: "=")
            if parts.count == 2, let value = Int(parts[1]) { values[String(parts[0])] = value }
        }
        return values
    }

    func testDigOverTCPGetsItsAnswersOnOneConnection() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-dnstcp")
        defer { sandbox.remove() }
        let tapir = try startResponder(device: "tapt0", in: sandbox)

        let one = try dig(["+tcp", "@198.18.0.2", "www.example.test", "A"], in: sandbox)
        XCTAssertTrue(one.contains("SERVER: 198.18.0.2#53(198.18.0.2) (TCP)"), one)
        XCTAssertTrue(one.contains("status: NOERROR"), one)
        XCTAssertTrue(one.contains("www.example.test.\t300\tIN\tA\t198.18.0.9"), one)
        let six = try dig(["+tcp", "+short", "@2001:2::2", "www.example.test", "AAAA"], in: sandbox)
        XCTAssertEqual(six.trimmingCharacters(in: .whitespacesAndNewlines), "2001:2::9", "over IPv6")
        // +keepopen: three queries on one connection, each answered.
        let kept = try dig(["+tcp", "+keepopen", "@198.18.0.2", "www.example.test", "A", "www.example.test", "AAAA",
                            "nobody.example.test", "A"], in: sandbox)
        XCTAssertEqual(kept.components(separatedBy: "(TCP)").count - 1, 3, kept)
        XCTAssertTrue(kept.contains("IN\tAAAA\t2001:2::9"), kept)
        XCTAssertTrue(kept.contains("status: NXDOMAIN"), kept)
        let counted = try counters(in: sandbox)
        XCTAssertEqual(counted["tcp_queries"], 5, "\(counted)")
        XCTAssertEqual(counted["tcp_connections"], 3, "one connection for the three kept-open queries: \(counted)")
        stop(tapir)
    }

    func testATruncatedUDPAnswerIsAskedAgainOverTCP() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-dnstcp")
        defer { sandbox.remove() }
        let tapir = try startResponder(device: "tapt1", in: sandbox)

        // Eight 250-byte strings: over the 1232 bytes dig offers over UDP, and over 512 without EDNS.
        for extra in [["+bufsize=1232"], ["+noedns"]] {
            let answer = try dig(["@198.18.0.2", "big.example.test", "TXT"] + extra, in: sandbox)
            XCTAssertTrue(answer.contains(";; Truncated, retrying in TCP mode."), answer)
            XCTAssertTrue(answer.contains("SERVER: 198.18.0.2#53(198.18.0.2) (TCP)"), answer)
            XCTAssertTrue(answer.contains("ANSWER: 8,"), answer)
            XCTAssertEqual(answer.components(separatedBy: "\"big-").count - 1, 8, answer)
        }
        // +ignore: the UDP answer as it came, TC set and no records.
        let cut = try dig(["+ignore", "@198.18.0.2", "big.example.test", "TXT", "+bufsize=1232"], in: sandbox)
        XCTAssertTrue(cut.contains("flags: qr aa tc rd;"), cut)
        XCTAssertTrue(cut.contains("ANSWER: 0,"), cut)
        let counted = try counters(in: sandbox)
        XCTAssertEqual(counted["truncated"], 3, "\(counted)")
        XCTAssertEqual(counted["tcp_queries"], 2, "\(counted)")
        stop(tapir)
    }
}
