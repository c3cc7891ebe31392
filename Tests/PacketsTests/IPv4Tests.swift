import XCTest
@testable import Packets

final class IPv4Tests: XCTestCase {
    // Frame 21 of the fixture: the IPv4 header of nc's SYN (DF, TTL 64, TCP).
    static let header: [UInt8] = .init(hex: "45 00 00 3c c8 42 40 00 40 06 e6 51 c6 12 00 01 c6 12 00 02")
    static let repr = IPv4Repr(src: IPv4Address(198, 18, 0, 1), dst: IPv4Address(198, 18, 0, 2), proto: IPProtocol.tcp,
                               payloadLength: 40, ttl: 64, id: 0xc842)
    /// The header followed by 40 payload bytes, as the total length says.
    static var datagram: [UInt8] { header + [UInt8](repeating: 0xaa, count: 40) }

    func testDeconstruct() throws {
        try Self.datagram.withUnsafeBytes { raw in
            let ip = try IPv4Packet(raw)
            XCTAssertEqual(ip.version, 4)
            XCTAssertEqual(ip.ihl, 5)
            XCTAssertEqual(ip.headerLength, 20)
            XCTAssertEqual(ip.tos, 0)
            XCTAssertEqual(ip.len, 60)
            XCTAssertEqual(ip.id, 0xc842)
            XCTAssertEqual(ip.flags, IPv4Flags.dontFragment)
            XCTAssertTrue(ip.dontFragment)
            XCTAssertFalse(ip.isFragment)
            XCTAssertEqual(ip.frag, 0)
            XCTAssertEqual(ip.ttl, 64)
            XCTAssertEqual(ip.proto, 6)
            XCTAssertEqual(ip.chksum, 0xe651)
            XCTAssertEqual(ip.src.description, "198.18.0.1")
            XCTAssertEqual(ip.dst.description, "198.18.0.2")
            XCTAssertEqual(ip.options.count, 0)
            XCTAssertEqual(ip.payload.count, 40)
            XCTAssertTrue(ip.verifyChecksum())
        }
    }

    func testConstruct() throws {
        var bytes = [UInt8](repeating: 0, count: 60)
        bytes[0] = 0x45
        bytes[3] = 60
        bytes[20...] = [UInt8](repeating: 0xaa, count: 40)[...]
        try bytes.withUnsafeMutableBytes { raw in
            let ip = try MutableIPv4Packet(raw)
            ip.setTOS(0)
            ip.setID(0xc842)
            ip.setFlags(IPv4Flags.dontFragment, frag: 0)
            ip.setTTL(64)
            ip.setProto(IPProtocol.tcp)
            ip.setSrc(IPv4Address(198, 18, 0, 1))
            ip.setDst(IPv4Address(198, 18, 0, 2))
            ip.fillChecksum()
        }
        XCTAssertEqual(bytes, Self.datagram)
    }

    func testParse() throws {
        try Self.datagram.withUnsafeBytes { raw in
            XCTAssertEqual(try IPv4Repr.parse(try IPv4Packet(raw)), Self.repr)
        }
        XCTAssertEqual(Self.repr.description, "IP 198.18.0.1 > 198.18.0.2: TCP, ttl 64, id 51266, len 60, DF")
        var corrupted = Self.datagram
        corrupted[8] = 63
        try corrupted.withUnsafeBytes { raw in
            XCTAssertThrowsError(try IPv4Repr.parse(try IPv4Packet(raw))) { XCTAssertEqual($0 as? PacketError, .badChecksum) }
        }
    }

    func testEmit() throws {
        var bytes: [UInt8] = []
        Self.repr.emit(appendingTo: &bytes)
        XCTAssertEqual(bytes, Self.header)
        var tooLong = Self.repr
        tooLong.payloadLength = 65_516  // total length 65536 does not fit
        var room = [UInt8](repeating: 0, count: 20)
        XCTAssertFalse(room.withUnsafeMutableBytes { tooLong.emit(into: $0) })
        XCTAssertFalse(room.withUnsafeMutableBytes { Self.repr.emit(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<19])) })
    }

    /// Options (here Router Alert), and a non-first fragment with more to follow.
    func testOptionsAndFragmentFields() throws {
        var repr = Self.repr
        repr.options = [0x94, 0x04, 0x00, 0x00]
        repr.flags = IPv4Flags.moreFragments
        repr.frag = 185
        repr.payloadLength = 8
        var bytes: [UInt8] = []
        repr.emit(appendingTo: &bytes)
        XCTAssertEqual(bytes.count, 24)
        bytes += [UInt8](repeating: 0, count: 8)
        try bytes.withUnsafeBytes { raw in
            let ip = try IPv4Packet(raw)
            XCTAssertEqual(ip.ihl, 6)
            XCTAssertEqual(Array(ip.options), [0x94, 0x04, 0x00, 0x00])
            XCTAssertEqual(ip.len, 32)
            XCTAssertTrue(ip.moreFragments)
            XCTAssertTrue(ip.isFragment)
            XCTAssertEqual(ip.frag, 185)
            XCTAssertTrue(ip.verifyChecksum())
            XCTAssertEqual(try IPv4Repr.parse(ip), repr)
        }
    }

    /// Ethernet padding after the datagram is not payload.
    func testBufferLongerThanTotalLength() throws {
        try (Self.datagram + [0, 0, 0, 0]).withUnsafeBytes { raw in
            let ip = try IPv4Packet(raw)
            XCTAssertEqual(ip.payload.count, 40)
        }
    }

    func testHostile() throws {
        func expect(_ bytes: [UInt8], _ error: PacketError, _ message: String) throws {
            try bytes.withUnsafeBytes { raw in
                XCTAssertThrowsError(try IPv4Packet(raw), message) { XCTAssertEqual($0 as? PacketError, error, message) }
            }
        }
        try expect(Array(Self.datagram.prefix(19)), .truncated, "19 bytes")
        var version = Self.datagram
        version[0] = 0x65
        try expect(version, .badVersion, "version 6")
        for ihl in UInt8(0)..<5 {
            var bytes = Self.datagram
            bytes[0] = 0x40 | ihl
            try expect(bytes, .badHeaderLength, "IHL \(ihl)")
        }
        var past = Array(Self.datagram.prefix(40))
        past[0] = 0x4f  // 60-byte header in 40 bytes
        try expect(past, .headerPastBuffer, "IHL 15")
        var long = Self.datagram
        long[3] = 61  // total length beyond the buffer
        try expect(long, .badLength, "total length 61 > 60")
        var short = Self.datagram
        short[3] = 19  // total length inside the header
        try expect(short, .badLength, "total length 19")
        // IHL 6: four option bytes. Record Route claiming 8 bytes runs past the header.
        var options = Self.header + [0x07, 0x08, 0x04, 0x00] + [UInt8](repeating: 0, count: 36)
        options[0] = 0x46
        options[3] = 60
        try expect(options, .badOption, "option length past header")
        options[20...23] = [0x01, 0x01, 0x01, 0x44]  // NOPs, then a timestamp option with no length byte
        try expect(options, .badOption, "option without length at the end")
        options[20...23] = [0x01, 0x83, 0x01, 0x00]  // length 1 is impossible
        try expect(options, .badOption, "option length 1")
        options[20...23] = [0x01, 0x00, 0x07, 0x99]  // after End of Options the rest is padding
        try options.withUnsafeBytes { raw in XCTAssertNoThrow(try IPv4Packet(raw)) }
    }
}
