import Devices
import Foundation
import Glibc
import XCTest

/// The dns-responder pack and NSD (Debian's `nsd`) serving the same BIND-format zone file
/// ($TTL 1h, a multi-line SOA, NS, SRV, CAA, a CNAME and an $INCLUDE) in one namespace
/// the test makes: tapir on a tap at 198.18.0.2, NSD on the namespace's loopback at
/// 198.18.0.53 with a config, folders and pid file of its own (minimal responses, UDP size
/// 4096, no cookies, as the pack answers). dig asks both the same questions over UDP; the
/// answers must agree field by field: status, flags, counts, the OPT and every section.
final class DNSAgainstNSDKernelTests: XCTestCase {
    static let zone = """
        ; example.test as BIND and NSD read it
        $ORIGIN example.test.
        $TTL 1h
        @   IN SOA ns1 hostmaster (
                2026010101 ; serial
                3h 15m 1w  ; refresh, retry, expire
                5m )       ; minimum: the negative TTL
            IN NS  ns1
            IN NS  ns2.example.test.
            IN MX  10 mail
            IN TXT "v=spf1 mx -all"
            IN CAA 0 issue "ca.example.test"
        ns1 IN A 198.18.0.2
        ns2 300 IN A 198.18.0.3
        www IN A 198.18.0.9
            IN AAAA 2001:2::9
        _sip._udp IN SRV 10 5 5060 www
        host.sub IN A 198.18.0.30
        alias 60 CNAME www
        $INCLUDE hosts.inc

        """
    static let included = """
        mail   IN A    198.18.0.25
               IN AAAA 2001:2::25

        """

    private var directory: URL!

    override func setUpWithError() throws {
        try TapirCommand.requireRoot()
        guard ChildProcess.locate("nsd") != nil, ChildProcess.locate("dig") != nil else {
            throw XCTSkip("needs nsd and dig (apt-get install nsd dnsutils; scripts/setup)")
        }
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tapir-nsd-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Self.zone.write(to: directory.appendingPathComponent("example.zone"), atomically: true, encoding: .utf8)
        try Self.included.write(to: directory.appendingPathComponent("hosts.inc"), atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    /// NSD's config: everything in the test's folder, listening only on 198.18.0.53.
    private func nsdConfig() -> String {
        let folder = directory.path
        return """
            server:
              ip-address: 198.18.0.53
              port: 53
              do-ip6: no
              username: ""
              chroot: ""
              zonesdir: "\(folder)"
              pidfile: "\(folder)/nsd.pid"
              database: ""
              xfrdfile: "\(folder)/xfrd.state"
              zonelistfile: "\(folder)/zone.list"
              logfile: "\(folder)/nsd.log"
              server-count: 1
              hide-version: yes
              minimal-responses: yes
              ipv4-edns-size: 4096
              answer-cookie: no
            remote-control:
              control-enable: no
            zone:
              name: "example.test"
              zonefile: "example.zone"
              provide-xfr: 0.0.0.0/0 NOKEY

            """
    }

    /// dig's answer from `server`, without the lines that differ between any two answers
    /// (the ID, timing, the server's address).
    private func dig(_ server: String, _ question: [String], in sandbox: Sandbox) throws -> [String] {
        let output = try sandbox.run(["dig", "+notcp", "+time=2", "+tries=1", "+nocmd", "+nostats", "@\(server)"]
                                     + question)
        return (output.stdout + output.stderr).split(separator: "\n").map(String.init).filter { line in
            !line.isEmpty && !line.hasPrefix(";; Got answer") && !line.contains("->>HEADER<<-")
                && !line.hasPrefix(";; WARNING")
        } + [(output.stdout.components(separatedBy: "status: ").dropFirst().first?.prefix { $0 != "," })
                .map { "status: \($0)" } ?? "no status"]
    }

    /// NSD and tapir (with `settings` more) serving the zone in `sandbox`, once both answer.
    private func startBoth(in sandbox: Sandbox, device: String, settings: [String] = []) throws
        -> (nsd: ChildProcess, tapir: ChildProcess) {
        try sandbox.ip(["link", "set", "lo", "up"])
        try sandbox.ip(["addr", "add", "198.18.0.53/32", "dev", "lo"])
        let config = directory.appendingPathComponent("nsd.conf").path
        try nsdConfig().write(toFile: config, atomically: true, encoding: .utf8)
        let check = try ChildProcess.run(["nsd-checkconf", config])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
        let nsd = try sandbox.start(["nsd", "-d", "-c", config])

        let zone = directory.appendingPathComponent("example.zone").path
        var arguments = [TapirCommand.lua("packs/dns-responder"), "--set", "zone=\(zone)",
                         "--set", "include_dir=\(directory.path)", "--allow", "io"]
        for setting in settings { arguments += ["--set", setting] }
        let tapir: ChildProcess
        do {
            tapir = try TapirCommand.start(arguments, device: device, in: sandbox)
        } catch {
            nsd.signal(SIGTERM)
            _ = nsd.wait(timeout: .seconds(10))
            throw error
        }

        // Both up: each answers the SOA.
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let nsdUp = try dig("198.18.0.53", ["example.test", "SOA"], in: sandbox).contains("status: NOERROR")
            let tapirUp = try dig("198.18.0.2", ["example.test", "SOA"], in: sandbox).contains("status: NOERROR")
            if nsdUp && tapirUp { break }
            XCTAssertFalse(nsd.hasExited, "nsd ended: \(nsd.wait(timeout: .seconds(1)).stderr)")
            usleep(200_000)
        }
        return (nsd, tapir)
    }

    func testAnswersAgreeWithNSDServingTheSameZoneFile() throws {
        let sandbox = try Sandbox(prefix: "tapir-test-nsd")
        defer { sandbox.remove() }
        let (nsd, tapir) = try startBoth(in: sandbox, device: "tapn0")
        defer { nsd.signal(SIGTERM); _ = nsd.wait(timeout: .seconds(10)) }

        let questions: [[String]] = [
            ["example.test", "ANY"], ["www.example.test", "ANY"],
            ["sub.example.test", "A"],                                   // an empty non-terminal: NOERROR
            ["www.other.test", "A"],                                     // outside the zone: REFUSED
            ["nope.example.test", "A"],                                  // NXDOMAIN, the SOA in authority
            ["www.example.test", "TXT"],                                 // NODATA, the SOA in authority
            ["example.test", "SOA"], ["example.test", "NS"], ["example.test", "MX"], ["example.test", "TXT"],
            ["example.test", "CAA"], ["_sip._udp.example.test", "SRV"], ["alias.example.test", "A"],
            ["www.example.test", "AAAA"], ["mail.example.test", "AAAA"], ["host.sub.example.test", "A"],
            ["ns2.example.test", "A"], ["WwW.ExAmPlE.TeSt", "A"], ["example.test", "A", "+noedns"],
            ["nope.example.test", "A", "+noedns"], ["www.other.test", "A", "+noedns"],
        ]
        var expectations: [String: String] = [:]
        for question in questions {
            let theirs = try dig("198.18.0.53", question, in: sandbox)
            let ours = try dig("198.18.0.2", question, in: sandbox)
            XCTAssertEqual(ours, theirs, "dig \(question.joined(separator: " ")): tapir (first) and NSD differ")
            expectations[question.joined(separator: " ")] = ours.joined(separator: "\n")
        }
        // What the agreement is about, so an answer both got wrong the same way fails too.
        let nxdomain = expectations["nope.example.test A"] ?? ""
        XCTAssertTrue(nxdomain.contains("status: NXDOMAIN"), nxdomain)
        XCTAssertTrue(nxdomain.contains("flags: qr aa rd; QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1"), nxdomain)
        XCTAssertTrue(nxdomain.contains("example.test.\t\t300\tIN\tSOA\tns1.example.test. hostmaster.example.test. "
                                        + "2026010101 10800 900 604800 300"), nxdomain)
        let empty = expectations["sub.example.test A"] ?? ""
        XCTAssertTrue(empty.contains("status: NOERROR") && empty.contains("ANSWER: 0, AUTHORITY: 1"), empty)
        let refused = expectations["www.other.test A"] ?? ""
        XCTAssertTrue(refused.contains("status: REFUSED") && refused.contains("flags: qr rd;"), refused)
        let srv = expectations["_sip._udp.example.test SRV"] ?? ""
        XCTAssertTrue(srv.contains("3600\tIN\tSRV\t10 5 5060 www.example.test."), srv)
        let included = expectations["mail.example.test AAAA"] ?? ""
        XCTAssertTrue(included.contains("2001:2::25"), "the $INCLUDEd file is served: \(included)")
        let any = expectations["example.test ANY"] ?? ""
        XCTAssertTrue(any.contains("ANSWER: 1,") && any.contains("IN\tSOA"), any)

        XCTAssertFalse(nsd.hasExited)
        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
    }

    /// A zone transfer from each (dig over TCP): the same records, the SOA first and last;
    /// a client not named in `transfer` is refused.
    func testZoneTransfersAgreeWithNSD() throws {
        let sandbox = try Sandbox(prefix: "tapir-test-nsd")
        defer { sandbox.remove() }
        let (nsd, tapir) = try startBoth(in: sandbox, device: "tapn1", settings: ["transfer=198.18.0.1"])
        defer { nsd.signal(SIGTERM); _ = nsd.wait(timeout: .seconds(10)) }

        func transfer(from server: String, source: String? = nil) throws -> [String] {
            let output = try sandbox.run(["dig", "+time=2", "+tries=1", "+nocmd", "+nostats", "+nocomments",
                                          "@\(server)"] + (source.map { ["-b", $0] } ?? []) + ["example.test", "AXFR"])
            return output.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix(";") }
        }
        let theirs = try transfer(from: "198.18.0.53")
        let ours = try transfer(from: "198.18.0.2")
        XCTAssertGreaterThan(theirs.count, 15, theirs.joined(separator: "\n"))
        XCTAssertEqual(ours.sorted(), theirs.sorted(), "the same records (tapir first)")
        XCTAssertTrue(ours.first?.contains("\tSOA\t") == true && ours.last?.contains("\tSOA\t") == true,
                      ours.joined(separator: "\n"))
        XCTAssertTrue(ours.contains { $0.contains("mail.example.test.") && $0.contains("2001:2::25") },
                      "the $INCLUDEd records too")

        try sandbox.ip(["addr", "add", "198.18.0.7/24", "dev", "tapn1"])
        let refused = try sandbox.run(["dig", "+time=2", "+tries=1", "-b", "198.18.0.7", "@198.18.0.2",
                                       "example.test", "AXFR"]).stdout
        XCTAssertTrue(refused.contains("Transfer failed") || refused.contains("REFUSED"), refused)
        XCTAssertFalse(refused.contains("\tSOA\t"), refused)

        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
    }
}
