import Devices
import Foundation
import XCTest

/// What tapir.proto's encoders write, read back by tshark (the second reviewer): a script
/// (Scripts/encode-protocols.lua) writes an NTP answer, an LLDPDU, a VXLAN packet and a
/// SYN-ACK with TCP options to `tapir replay --out`; tshark's fields must be the values the
/// script encoded. No root needed.
final class ProtocolsAgainstTsharkTests: XCTestCase {
    func testTsharkReadsWhatTheEncodersWrote() throws {
        guard ChildProcess.locate("tshark") != nil else { throw XCTSkip("needs tshark (scripts/setup)") }
        let output = NSTemporaryDirectory() + "tapir-encoded-\(getpid()).pcap"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let replay = try ChildProcess.run([
            TapirCommand.path, "replay", TapirCommand.lua("tapir/tests/fixtures/ntp-v4-sntp-chronyd.pcap"),
            TapirCommand.repository.appendingPathComponent("Tests/TapirTests/Scripts/encode-protocols.lua").path,
            "--out", output,
        ], timeout: .seconds(30))
        XCTAssertEqual(replay.status, 0, replay.stderr)
        XCTAssertTrue(replay.stderr.contains("handlers wrote 4"), replay.stderr)
        let fields = ["ntp.flags.mode", "ntp.stratum", "ntp.refid", "ntp.precision", "ntp.ppoll", "ntp.rootdelay",
                      "ntp.xmt", "lldp.chassis.id.mac", "lldp.port.id", "lldp.time_to_live", "lldp.tlv.system.name",
                      "lldp.tlv.system.desc", "lldp.tlv.system_cap", "lldp.tlv.enable_system_cap", "lldp.mgn.addr.ip4",
                      "vxlan.vni", "vxlan.flags", "tcp.options.mss_val", "tcp.options.wscale.shift",
                      "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr", "tcp.options.sack_perm"]
        let tshark = try ChildProcess.run(["tshark", "-r", output, "-T", "fields", "-E", "separator=|"]
            + fields.flatMap { ["-e", $0] }, timeout: .seconds(60))
        XCTAssertEqual(tshark.status, 0, tshark.stderr)
        let rows = tshark.stdout.split(separator: "\n").map { row in
            Dictionary(uniqueKeysWithValues: zip(fields, row.split(separator: "|", omittingEmptySubsequences: false)
                .map(String.init)).filter { !$0.1.isEmpty })
        }
        XCTAssertEqual(rows.count, 4, tshark.stdout)
        guard rows.count == 4 else { return }
        // NTP: mode 4, stratum 1, "GPS", precision -20 (236 as tshark's unsigned byte), poll 6,
        // root delay 0.5 s (32768 in 1/65536 s), transmit 1796531231.5 Unix seconds.
        XCTAssertEqual(rows[0], ["ntp.flags.mode": "4", "ntp.stratum": "1", "ntp.refid": "47505300",
                                 "ntp.precision": "236", "ntp.ppoll": "6", "ntp.rootdelay": "32768",
                                 "ntp.xmt": "Dec  6, 2026 04:27:11.500000000 UTC"])
        XCTAssertEqual(rows[1], ["lldp.chassis.id.mac": "02:54:41:50:49:52", "lldp.port.id": "tap0",
                                 "lldp.time_to_live": "120", "lldp.tlv.system.name": "tapir",
                                 "lldp.tlv.system.desc": "proto test", "lldp.tlv.system_cap": "0x0014",
                                 "lldp.tlv.enable_system_cap": "0x0010", "lldp.mgn.addr.ip4": "198.18.0.2"])
        XCTAssertEqual(rows[2], ["vxlan.vni": "4242", "vxlan.flags": "0x0800"])
        XCTAssertEqual(rows[3], ["tcp.options.mss_val": "1400", "tcp.options.wscale.shift": "7",
                                 "tcp.options.timestamp.tsval": "12345", "tcp.options.timestamp.tsecr": "678",
                                 "tcp.options.sack_perm": "0402"])
    }
}
