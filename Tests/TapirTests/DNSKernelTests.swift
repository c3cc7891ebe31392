import Devices
import Foundation
import Glibc
import XCTest

/// The dns-responder pack under `tapir run` on a tap (or tun) in a namespace the test
/// makes, asked by the kernel side's dig (dnsutils).
final class DNSKernelTests: XCTestCase {
    static let records = "www.lab.test A 198.18.0.9; www.lab.test AAAA 2001:2::9; "
        + "198.18.0.77 PTR printer.lab.test; mail.lab.test MX 10 www.lab.test"

    func startResponder(_ settings: [String], device: String, tun: Bool = false,
                        in sandbox: Sandbox) throws -> ChildProcess {
        let arguments = [TapirCommand.lua("packs/dns-responder")] + settings.flatMap { ["--set", $0] }
            + (tun ? ["--tun"] : [])
        return try TapirCommand.start(arguments, device: device, in: sandbox, ipv6: !tun)
    }

    func stop(_ process: ChildProcess, file: StaticString = #filePath, line: UInt = #line) {
        let output = TapirCommand.stop(process)
        XCTAssertEqual(output.status, 0, output.stderr, file: file, line: line)
    }

    /// dig's output for `arguments`, never waiting more than 2 s for an answer.
    func dig(_ arguments: [String], in sandbox: Sandbox) throws -> String {
        let output = try sandbox.run(["dig", "+time=2", "+tries=1"] + arguments)
        return output.stdout + output.stderr
    }

    func short(_ arguments: [String], in sandbox: Sandbox) throws -> String {
        try dig(["+short"] + arguments, in: sandbox).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testDigGetsTheARecordsAAAARecordAndPTR() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-dns")
        defer { sandbox.remove() }
        let tapir = try startResponder(["records=\(Self.records)", "zone="], device: "tapd0", in: sandbox)

        let answer = try dig(["@198.18.0.2", "www.lab.test", "A"], in: sandbox)
        XCTAssertTrue(answer.contains("status: NOERROR"), answer)
        XCTAssertTrue(answer.contains("flags: qr aa rd;"), answer)
        XCTAssertEqual(try short(["@198.18.0.2", "www.lab.test", "A"], in: sandbox), "198.18.0.9")
        XCTAssertEqual(try short(["@198.18.0.2", "WWW.Lab.Test.", "AAAA"], in: sandbox), "2001:2::9")
        XCTAssertEqual(try short(["@2001:2::2", "www.lab.test", "AAAA"], in: sandbox), "2001:2::9", "over IPv6")
        XCTAssertEqual(try short(["@198.18.0.2", "mail.lab.test", "MX"], in: sandbox), "10 www.lab.test.")
        XCTAssertEqual(try short(["@198.18.0.2", "-x", "198.18.0.77"], in: sandbox), "printer.lab.test.")
        XCTAssertEqual(try short(["@198.18.0.2", "-x", "198.18.0.9"], in: sandbox), "www.lab.test.",
                       "synthesized from the A record")
        XCTAssertEqual(try short(["@198.18.0.2", "-x", "2001:2::9"], in: sandbox), "www.lab.test.")
        try XCTAssertEqual(TapirCommand.errorCounters(in: sandbox).values.filter { $0 != 0 }.count, 0)
        stop(tapir)
    }

    func testAnUnknownNameIsNXDOMAIN() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-dns")
        defer { sandbox.remove() }
        let tapir = try startResponder(["records=\(Self.records)", "zone="], device: "tapd1", in: sandbox)
        let answer = try dig(["@198.18.0.2", "nobody.lab.test", "A"], in: sandbox)
        XCTAssertTrue(answer.contains("status: NXDOMAIN"), answer)
        XCTAssertTrue(answer.contains("flags: qr aa rd;"), answer)
        let noData = try dig(["@198.18.0.2", "www.lab.test", "TXT"], in: sandbox)
        XCTAssertTrue(noData.contains("status: NOERROR") && noData.contains("ANSWER: 0"), noData)
        let chaos = try dig(["@198.18.0.2", "CH", "www.lab.test", "A"], in: sandbox)
        XCTAssertTrue(chaos.contains("status: REFUSED"), chaos)
        stop(tapir)
    }

    func testATruncatedQueryDoesNotStopTheNextAnswer() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-dns")
        defer { sandbox.remove() }
        let tapir = try startResponder(["records=\(Self.records)", "zone="], device: "tapd2", in: sandbox)
        XCTAssertEqual(try short(["@198.18.0.2", "www.lab.test"], in: sandbox), "198.18.0.9")
        let sent = try sandbox.run(["python3", "-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for junk in (b"\\x12\\x34\\x01", b"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x03ww",
                         b"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\xc0\\x0c\\x00\\x01\\x00\\x01"):
                s.sendto(junk, ("198.18.0.2", 53))
            print("sent")
            """])
        XCTAssertEqual(sent.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "sent", sent.stderr)
        XCTAssertEqual(try short(["@198.18.0.2", "www.lab.test"], in: sandbox), "198.18.0.9")
        let counters = try short(["@198.18.0.2", "CH", "TXT", "counters.dns-responder"], in: sandbox)
        XCTAssertTrue(counters.contains("\"malformed=3\""), counters)
        stop(tapir)
    }

    func testAZoneFileIsServed() throws {
        try TapirCommand.requireRoot()
        let zone = NSTemporaryDirectory() + "tapir-dns-\(getpid())-\(UUID().uuidString).zone"
        try """
            $ORIGIN corp.test.
            $TTL 120
            @       MX     5 mx
            mx      A      198.18.0.25
            intra   CNAME  mx
            @       TXT    "hello; world" "second"

            """.write(toFile: zone, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: zone) }
        let sandbox = try Sandbox(prefix: "tapir-test-dns")
        defer { sandbox.remove() }
        let tapir = try startResponder(["zone=\(zone)"], device: "tapd3", in: sandbox)
        XCTAssertEqual(try short(["@198.18.0.2", "corp.test", "MX"], in: sandbox), "5 mx.corp.test.")
        XCTAssertEqual(try short(["@198.18.0.2", "intra.corp.test", "A"], in: sandbox), "mx.corp.test.\n198.18.0.25")
        XCTAssertEqual(try short(["@198.18.0.2", "corp.test", "TXT"], in: sandbox), "\"hello; world\" \"second\"")
        let answer = try dig(["@198.18.0.2", "mx.corp.test", "A", "+noall", "+answer"], in: sandbox)
        XCTAssertTrue(answer.contains("120\tIN\tA\t198.18.0.25"), answer)
        stop(tapir)
    }

    func testAZoneFileThatCannotBeReadIsNamed() throws {
        let missing = NSTemporaryDirectory() + "tapir-dns-\(getpid())-missing.zone"
        let output = try ChildProcess.run([TapirCommand.path, "test", TapirCommand.lua("packs/dns-responder"),
                                           "--set", "zone=\(missing)"], timeout: .seconds(20))
        XCTAssertNotEqual(output.status, 0)
        XCTAssertTrue(output.stderr.contains("setting 'zone': cannot read '\(missing)': No such file or directory"),
                      output.stderr)
    }

    /// A broken zone file stops the pack with the file's line and what is wrong; so does an
    /// $INCLUDE the run does not allow (it needs include_dir and --allow io, which
    /// `tapir test` does not give: DNSAgainstNSDKernelTests serves one under `tapir run`).
    func testABrokenZoneFileSaysWhichLineAndWhy() throws {
        let folder = NSTemporaryDirectory() + "tapir-dns-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let broken = folder + "/broken.zone"
        try "$ORIGIN lab.test.\n$TTL 1h\n\nwww A 198.18.0.300\n".write(toFile: broken, atomically: true, encoding: .utf8)
        let including = folder + "/including.zone"
        try "$ORIGIN lab.test.\n$INCLUDE hosts.inc\n".write(toFile: including, atomically: true, encoding: .utf8)

        func run(_ arguments: [String]) throws -> ProcessOutput {
            try ChildProcess.run([TapirCommand.path, "test", TapirCommand.lua("packs/dns-responder")] + arguments,
                                 timeout: .seconds(20))
        }
        let cases: [([String], String)] = [
            (["--set", "zone=\(broken)"], "zone:4: A needs an IPv4 address, got '198.18.0.300'"),
            (["--set", "zone=\(including)"],
             "zone:2: $INCLUDE hosts.inc: needs the zone's folder: --set include_dir=FOLDER --allow io"),
            (["--set", "zone=\(including)", "--set", "include_dir=\(folder)"],
             "zone:2: $INCLUDE hosts.inc: reading another file needs permission 'io': run with --allow io"),
        ]
        for (arguments, message) in cases {
            let output = try run(arguments)
            XCTAssertNotEqual(output.status, 0, arguments.joined(separator: " "))
            XCTAssertTrue((output.stdout + output.stderr).contains(message), "\(arguments): \(output.stdout)\(output.stderr)")
        }
        // tapir run says it in one line, with no traceback.
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-dns")
        defer { sandbox.remove() }
        let output = try sandbox.run([TapirCommand.path, "run", TapirCommand.lua("packs/dns-responder"),
                                      "--set", "zone=\(broken)", "--dev", "tapdz0"], timeout: .seconds(20))
        XCTAssertEqual(output.status, 1, output.stderr)
        XCTAssertTrue(output.stderr.contains("tapir: zone:4: A needs an IPv4 address, got '198.18.0.300'"), output.stderr)
        XCTAssertFalse(output.stderr.contains("stack traceback"), output.stderr)
    }

    func testDNSOverATunDevice() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-dns")
        defer { sandbox.remove() }
        let tapir = try startResponder(["records=\(Self.records)"], device: "tund0", tun: true, in: sandbox)
        XCTAssertEqual(try short(["@198.18.0.2", "www.lab.test", "A"], in: sandbox), "198.18.0.9")
        XCTAssertEqual(try short(["@198.18.0.2", "www.example.test", "A"], in: sandbox), "198.18.0.9",
                       "the default zone is served beside the records")
        stop(tapir)
    }
}
