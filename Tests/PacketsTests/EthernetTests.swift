import XCTest
@testable import Packets

final class EthernetTests: XCTestCase {
    // Frame 27 of the fixture: an 802.1Q tag (VLAN 100) before IPv4, and its first payload bytes.
    static let tagged: [UInt8] = .init(hex: "02 00 00 00 00 0b 02 00 00 00 00 0a 81 00 00 64 08 00 45 00")
    // Frame 28: an 802.1ad service tag (VLAN 200, priority 1) around an 802.1Q tag, then ARP.
    static let qinq: [UInt8] = .init(hex: "ff ff ff ff ff ff 02 00 00 00 00 0a 88 a8 20 c8 81 00 00 64 08 06 00 01")
    static let mac10 = MACAddress(2, 0, 0, 0, 0, 0x0a)
    static let mac11 = MACAddress(2, 0, 0, 0, 0, 0x0b)

    func testDeconstruct() throws {
        try Self.tagged.withUnsafeBytes { raw in
            let frame = try EthernetFrame(raw)
            XCTAssertEqual(frame.dst, Self.mac11)
            XCTAssertEqual(frame.src, Self.mac10)
            XCTAssertEqual(frame.type, EtherType.vlan)
            XCTAssertEqual(frame.tagCount, 1)
            XCTAssertEqual(frame.tag(0), VLANTag(tpid: 0x8100, pcp: 0, dei: false, id: 100))
            XCTAssertNil(frame.tag(1))
            XCTAssertEqual(frame.payloadType, EtherType.ipv4)
            XCTAssertEqual(frame.headerLength, 18)
            XCTAssertEqual(Array(frame.payload), [0x45, 0x00])
        }
        try Self.qinq.withUnsafeBytes { raw in
            let frame = try EthernetFrame(raw)
            XCTAssertEqual(frame.dst, .broadcast)
            XCTAssertEqual(frame.type, EtherType.qinq)
            XCTAssertEqual(frame.tagCount, 2)
            XCTAssertEqual(frame.tag(0), VLANTag(tpid: EtherType.qinq, pcp: 1, id: 200))
            XCTAssertEqual(frame.tag(1), VLANTag(tpid: EtherType.vlan, id: 100))
            XCTAssertEqual(frame.payloadType, EtherType.arp)
            XCTAssertEqual(frame.headerLength, 22)
        }
    }

    func testConstruct() throws {
        var bytes = [UInt8](repeating: 0, count: Self.tagged.count)
        bytes[12] = 0x81  // the TPID makes the view see one tag
        bytes[13] = 0x00
        bytes[15] = 100
        bytes[18] = 0x45
        try bytes.withUnsafeMutableBytes { raw in
            let frame = try MutableEthernetFrame(raw)
            frame.setDst(Self.mac11)
            frame.setSrc(Self.mac10)
            frame.setPayloadType(EtherType.ipv4)
            XCTAssertEqual(frame.tagCount, 1)
        }
        XCTAssertEqual(bytes, Self.tagged)
    }

    static let taggedRepr = EthernetRepr(src: mac10, dst: mac11, vlan: [VLANTag(id: 100)], type: EtherType.ipv4)

    func testParse() throws {
        try Self.tagged.withUnsafeBytes { raw in
            XCTAssertEqual(EthernetRepr.parse(try EthernetFrame(raw)), Self.taggedRepr)
        }
        try Self.qinq.withUnsafeBytes { raw in
            let repr = EthernetRepr.parse(try EthernetFrame(raw))
            XCTAssertEqual(repr.vlan.map(\.id), [200, 100])
            XCTAssertEqual(repr.description, "02:00:00:00:00:0a > ff:ff:ff:ff:ff:ff, vlan 200, p 1 (tpid 0x88a8), vlan 100, p 0, ethertype 0x0806")
        }
    }

    func testEmit() throws {
        var bytes: [UInt8] = []
        Self.taggedRepr.emit(appendingTo: &bytes)
        XCTAssertEqual(bytes, Array(Self.tagged.prefix(18)))
        var qinq: [UInt8] = []
        EthernetRepr(src: Self.mac10, dst: .broadcast,
                     vlan: [VLANTag(tpid: EtherType.qinq, pcp: 1, id: 200), VLANTag(id: 100)],
                     type: EtherType.arp).emit(appendingTo: &qinq)
        XCTAssertEqual(qinq, Array(Self.qinq.prefix(22)))
        var small = [UInt8](repeating: 0, count: 17)
        XCTAssertFalse(small.withUnsafeMutableBytes { Self.taggedRepr.emit(into: $0) })
    }

    func testTruncated() throws {
        for length in 0..<14 {
            try Array(Self.tagged.prefix(length)).withUnsafeBytes { raw in
                XCTAssertThrowsError(try EthernetFrame(raw)) { XCTAssertEqual($0 as? PacketError, .truncated) }
            }
        }
        // The tag announces four more bytes.
        for length in 14..<18 {
            try Array(Self.tagged.prefix(length)).withUnsafeBytes { raw in
                XCTAssertThrowsError(try EthernetFrame(raw)) { XCTAssertEqual($0 as? PacketError, .truncated) }
            }
        }
    }

    func testSetTag() throws {
        var bytes = Self.qinq
        try bytes.withUnsafeMutableBytes { raw in
            let frame = try MutableEthernetFrame(raw)
            frame.setTag(1, VLANTag(pcp: 5, dei: true, id: 4095))
            frame.setTag(2, VLANTag(id: 1))  // no third tag: ignored
            XCTAssertEqual(frame.view.tag(1), VLANTag(tpid: EtherType.vlan, pcp: 5, dei: true, id: 4095))
            XCTAssertEqual(frame.view.tag(0)?.id, 200)
        }
        XCTAssertEqual(Array(bytes[16..<20]), [0x81, 0x00, 0xbf, 0xff])
        XCTAssertEqual(Array(bytes[20...]), Array(Self.qinq[20...]))
    }

    /// A third tag is not followed: its TPID is the payload type.
    func testThreeTagsStopAtTwo() throws {
        let bytes = [UInt8](hex: "ffffffffffff 02000000000a 88a8 00c8 8100 0064 8100 0001 0800")
        try bytes.withUnsafeBytes { raw in
            let frame = try EthernetFrame(raw)
            XCTAssertEqual(frame.tagCount, 2)
            XCTAssertEqual(frame.payloadType, EtherType.vlan)
        }
    }
}
