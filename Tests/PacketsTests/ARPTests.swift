import XCTest
@testable import Packets

final class ARPTests: XCTestCase {
    // Frame 14 of the fixture: the kernel's reply "198.18.0.2 is at 02:00:00:00:00:0b".
    static let reply: [UInt8] = .init(hex: """
        00 01 08 00 06 04 00 02 02 00 00 00 00 0b c6 12 00 02
        02 00 00 00 00 0a c6 12 00 01
        """)
    static let repr = ARPRepr(op: ARPOperation.reply, sha: MACAddress(2, 0, 0, 0, 0, 0x0b), spa: IPv4Address(198, 18, 0, 2),
                              tha: MACAddress(2, 0, 0, 0, 0, 0x0a), tpa: IPv4Address(198, 18, 0, 1))

    func testDeconstruct() throws {
        try Self.reply.withUnsafeBytes { raw in
            let arp = try ARPPacket(raw)
            XCTAssertEqual(arp.htype, 1)
            XCTAssertEqual(arp.ptype, 0x0800)
            XCTAssertEqual(arp.hlen, 6)
            XCTAssertEqual(arp.plen, 4)
            XCTAssertEqual(arp.op, 2)
            XCTAssertEqual(arp.sha.description, "02:00:00:00:00:0b")
            XCTAssertEqual(arp.spa.description, "198.18.0.2")
            XCTAssertEqual(arp.tha.description, "02:00:00:00:00:0a")
            XCTAssertEqual(arp.tpa.description, "198.18.0.1")
        }
    }

    func testConstruct() throws {
        var bytes = [UInt8](repeating: 0, count: 28)
        bytes[0...5] = [0, 1, 8, 0, 6, 4]
        try bytes.withUnsafeMutableBytes { raw in
            let arp = try MutableARPPacket(raw)
            arp.setOp(ARPOperation.reply)
            arp.setSha(Self.repr.sha)
            arp.setSpa(Self.repr.spa)
            arp.setTha(Self.repr.tha)
            arp.setTpa(Self.repr.tpa)
        }
        XCTAssertEqual(bytes, Self.reply)
    }

    func testParse() throws {
        try Self.reply.withUnsafeBytes { raw in
            XCTAssertEqual(try ARPRepr.parse(try ARPPacket(raw)), Self.repr)
        }
        XCTAssertEqual(Self.repr.description, "ARP, Reply 198.18.0.2 is-at 02:00:00:00:00:0b")
    }

    func testEmit() throws {
        var bytes: [UInt8] = []
        Self.repr.emit(appendingTo: &bytes)
        XCTAssertEqual(bytes, Self.reply)
    }

    func testHostile() throws {
        try Array(Self.reply.prefix(27)).withUnsafeBytes { raw in
            XCTAssertThrowsError(try ARPPacket(raw)) { XCTAssertEqual($0 as? PacketError, .truncated) }
        }
        var longAddresses = Self.reply
        longAddresses[4] = 8  // 8-byte hardware addresses: not this view
        try longAddresses.withUnsafeBytes { raw in
            XCTAssertThrowsError(try ARPPacket(raw)) { XCTAssertEqual($0 as? PacketError, .unsupported) }
        }
        var otherHardware = Self.reply
        otherHardware[1] = 6  // IEEE 802 hardware type: the view reads it, the Ethernet repr does not
        try otherHardware.withUnsafeBytes { raw in
            XCTAssertThrowsError(try ARPRepr.parse(try ARPPacket(raw))) { XCTAssertEqual($0 as? PacketError, .unsupported) }
        }
    }
}
