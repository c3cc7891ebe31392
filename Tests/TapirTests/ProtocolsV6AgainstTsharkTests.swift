import Devices
import Foundation
import XCTest

/// What tapir.proto.ndp, icmp_error and dhcpv6 encode, read back by tshark (the second
/// reviewer): Scripts/encode-ipv6-protocols.lua writes a router advertisement, a packet
/// too big and a DHCPv6 Advertise to `tapir replay --out`; tshark's fields must be the
/// values the script encoded, its checksums good. No root needed.
final class ProtocolsV6AgainstTsharkTests: XCTestCase {
    func testTsharkReadsWhatTheIPv6EncodersWrote() throws {
        guard ChildProcess.locate("tshark") != nil else { throw XCTSkip("needs tshark (scripts/setup)") }
        let output = NSTemporaryDirectory() + "tapir-encoded-v6-\(getpid()).pcap"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let replay = try ChildProcess.run([
            TapirCommand.path, "replay", TapirCommand.lua("tapir/tests/fixtures/ntp-v4-sntp-chronyd.pcap"),
            TapirCommand.repository.appendingPathComponent("Tests/TapirTests/Scripts/encode-ipv6-protocols.lua").path,
            "--out", output,
        ], timeout: .seconds(30))
        XCTAssertEqual(replay.status, 0, replay.stderr)
        XCTAssertTrue(replay.stderr.contains("handlers wrote 3"), replay.stderr)
        let fields = ["frame.len", "icmpv6.type", "icmpv6.checksum.status", "icmpv6.nd.ra.flag.m",
                      "icmpv6.nd.ra.router_lifetime", "icmpv6.opt.prefix", "icmpv6.opt.mtu", "icmpv6.opt.rdnss",
                      "icmpv6.opt.dnssl", "icmpv6.mtu", "dhcpv6.msgtype", "dhcpv6.iaaddr.ip", "dhcpv6.iaaddr.pref_lifetime",
                      "dhcpv6.iaprefix.pref_addr", "dhcpv6.iaprefix.pref_len", "dhcpv6.dns_server",
                      "dhcpv6.search_list_entry", "dhcpv6.option_preference", "udp.checksum.status"]
        let tshark = try ChildProcess.run(["tshark", "-r", output, "-o", "udp.check_checksum:TRUE", "-T", "fields",
                                           "-E", "separator=|"] + fields.flatMap { ["-e", $0] }, timeout: .seconds(60))
        XCTAssertEqual(tshark.status, 0, tshark.stderr)
        let rows = tshark.stdout.split(separator: "\n").map { row in
            Dictionary(uniqueKeysWithValues: zip(fields, row.split(separator: "|", omittingEmptySubsequences: false)
                .map(String.init)).filter { !$0.1.isEmpty })
        }
        XCTAssertEqual(rows.count, 3, tshark.stdout)
        guard rows.count == 3 else { return }
        XCTAssertEqual(rows[0], ["frame.len": "166", "icmpv6.type": "134", "icmpv6.checksum.status": "1",
                                 "icmpv6.nd.ra.flag.m": "1", "icmpv6.nd.ra.router_lifetime": "1800",
                                 "icmpv6.opt.prefix": "2001:2:0:1::", "icmpv6.opt.mtu": "1280",
                                 "icmpv6.opt.rdnss": "2001:2:0:1::53", "icmpv6.opt.dnssl": "lab.test"])
        // 14 + 1280: the error fills the minimum MTU; the quoted ping's own checksum is not
        // checked by tshark (the quote is cut)
        XCTAssertEqual(rows[1]["frame.len"], "1294")
        XCTAssertEqual(rows[1]["icmpv6.type"], "2,128")
        XCTAssertEqual(rows[1]["icmpv6.checksum.status"]?.hasPrefix("1,"), true, rows[1].description)
        XCTAssertEqual(rows[1]["icmpv6.mtu"], "1280")
        XCTAssertEqual(rows[2], ["frame.len": "222", "dhcpv6.msgtype": "2", "dhcpv6.iaaddr.ip": "2001:2::1000",
                                 "dhcpv6.iaaddr.pref_lifetime": "1800", "dhcpv6.iaprefix.pref_addr": "2001:2:0:100::",
                                 "dhcpv6.iaprefix.pref_len": "64", "dhcpv6.dns_server": "2001:2::53",
                                 "dhcpv6.search_list_entry": "lab.test.", "dhcpv6.option_preference": "255",
                                 "udp.checksum.status": "1"])
    }
}
