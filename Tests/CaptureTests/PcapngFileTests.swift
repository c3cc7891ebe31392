import Capture
import Foundation
import XCTest

/// pcapng recordings: read back by libpcap (PcapReader, which also finds each packet's
/// direction) and by tshark, the reference reader, which must find no fault in them.
final class PcapngFileTests: XCTestCase {
    // An ARP request from 198.18.0.1 for 198.18.0.2, as the kernel sends it, and an answer.
    let request: [UInt8] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
        0xc6, 0x12, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x12, 0x00, 0x02,
    ]
    let reply: [UInt8] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x54, 0x41, 0x50, 0x49, 0x52, 0x08, 0x06,
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x54, 0x41, 0x50, 0x49, 0x52,
        0xc6, 0x12, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x01,
    ]

    private func temporaryPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tapir-pcapng-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    /// Two interfaces, three packets: in, out with a comment, and one on the second device.
    private func writeRecording(_ name: String) throws -> String {
        let path = temporaryPath(name)
        let writer = try PcapngWriter(path: path)
        XCTAssertEqual(try writer.addInterface(name: "tap0", linkType: .ethernet), 0)
        XCTAssertEqual(try writer.addInterface(name: "tap1", linkType: .ethernet), 1)
        try writer.write(request, interface: 0, time: CaptureTime(seconds: 1_700_000_000, nanoseconds: 123_456_789),
                         direction: .inbound)
        try writer.write(reply, interface: 0, time: CaptureTime(seconds: 1_700_000_001), direction: .outbound,
                         comment: "reloaded answer.lua")
        try writer.write(request, interface: 1, time: CaptureTime(seconds: 1_700_000_002))
        try writer.close()
        return path
    }

    func testLibpcapReadsThePacketsTheirTimesAndDirections() throws {
        let reader = try PcapReader(path: try writeRecording("read.pcapng"))
        XCTAssertEqual(reader.linkType, .ethernet)
        let packets = try reader.readAll()
        XCTAssertEqual(packets, [
            CapturedPacket(time: CaptureTime(seconds: 1_700_000_000, nanoseconds: 123_456_789), bytes: request,
                           direction: .inbound),
            CapturedPacket(time: CaptureTime(seconds: 1_700_000_001), bytes: reply, direction: .outbound),
            CapturedPacket(time: CaptureTime(seconds: 1_700_000_002), bytes: request),
        ])
    }

    func testTsharkReadsInterfacesDirectionsAndCommentsWithoutComplaint() throws {
        let tshark = try Tool.find("tshark")
        let path = try writeRecording("tshark.pcapng")
        let fields = try Tool.run(tshark, ["-r", path, "-T", "fields", "-E", "separator=|",
                                           "-e", "frame.interface_name", "-e", "frame.packet_flags_direction",
                                           "-e", "frame.comment", "-e", "arp.opcode", "-e", "frame.time_epoch"])
        XCTAssertEqual(fields.split(separator: "\n").map(String.init), [
            "tap0|0x00000001||1|1700000000.123456789",
            "tap0|0x00000002|reloaded answer.lua|2|1700000001.000000000",
            "tap1|||1|1700000002.000000000",
        ])
        // Expert info would flag a malformed block or a packet cut short.
        let expert = try Tool.run(tshark, ["-r", path, "-q", "-z", "expert,warn"])
        XCTAssertFalse(expert.contains("Malformed"), expert)
    }

    func testAClassicPcapHasNoDirectionsAndAFileCutShortStopsTheWalk() throws {
        let classic = temporaryPath("classic.pcap")
        let writer = try PcapWriter(path: classic, linkType: .ethernet)
        try writer.write(request, time: CaptureTime(seconds: 1))
        try writer.close()
        XCTAssertNil(PcapngDirections.read(path: classic))
        XCTAssertNil(PcapngDirections.read(path: temporaryPath("missing.pcapng")))

        let whole = try Array(Data(contentsOf: URL(fileURLWithPath: try writeRecording("cut.pcapng"))))
        XCTAssertEqual(PcapngDirections.scan(whole)?.count, 3)
        // The last block cut in two: the walk keeps the packets before it and stops.
        XCTAssertEqual(PcapngDirections.scan(Array(whole.dropLast(10))), [.inbound, .outbound])
        XCTAssertNil(PcapngDirections.scan(Array(whole.prefix(8))))
    }

    func testWritingToAClosedRecordingSaysSo() throws {
        let writer = try PcapngWriter(path: temporaryPath("closed.pcapng"))
        try writer.addInterface(name: "tap0", linkType: .ethernet)
        try writer.close()
        XCTAssertThrowsError(try writer.write(request, time: CaptureTime(seconds: 1))) { error in
            XCTAssertEqual(error as? CaptureError, .closed(path: temporaryPath("closed.pcapng")))
        }
        XCTAssertThrowsError(try PcapngWriter(path: "/nonexistent-dir/x.pcapng")) { error in
            XCTAssertEqual("\(error)", "cannot open pcap file /nonexistent-dir/x.pcapng: No such file or directory")
        }
    }
}
