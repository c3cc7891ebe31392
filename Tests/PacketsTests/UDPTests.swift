import XCTest
@testable import Packets

final class UDPTests: XCTestCase {
    // Frame 19 of the fixture: dig's query for example.test from 198.18.0.1 to 198.18.0.2.
    static let query: [UInt8] = .init(hex: """
        bf 35 00 35 00 3d e2 de 56 10 01 20 00 01 00 00 00 00 00 01 07 65 78 61 6d 70 6c 65
        04 74 65 73 74 00 00 01 00 01 00 00 29 04 d0 00 00 00 00 00 0c 00 0a 00 08 f2 fc e9
        70 97 27 d1 95
        """)
    static let pseudo = IPPseudoHeader.v4(source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(198, 18, 0, 2))
    static var dns: [UInt8] { Array(query[8...]) }

    func testDeconstruct() throws {
        try Self.query.withUnsafeBytes { raw in
            let udp = try UDPPacket(raw)
            XCTAssertEqual(udp.sport, 48949)
            XCTAssertEqual(udp.dport, 53)
            XCTAssertEqual(udp.len, 61)
            XCTAssertEqual(udp.chksum, 0xe2de)
            XCTAssertEqual(Array(udp.payload), Self.dns)
            XCTAssertTrue(udp.verifyChecksum(Self.pseudo))
            XCTAssertFalse(udp.verifyChecksum(.v4(source: IPv4Address(198, 18, 0, 9), destination: IPv4Address(198, 18, 0, 2))))
        }
    }

    func testConstruct() throws {
        var bytes = [UInt8](repeating: 0, count: Self.query.count)
        bytes[4] = 0
        bytes[5] = 61
        bytes[8...] = Self.dns[...]
        try bytes.withUnsafeMutableBytes { raw in
            let udp = try MutableUDPPacket(raw)
            udp.setSport(48949)
            udp.setDport(53)
            udp.fillChecksum(Self.pseudo)
        }
        XCTAssertEqual(bytes, Self.query)
    }

    func testParse() throws {
        try Self.query.withUnsafeBytes { raw in
            let repr = try UDPRepr.parse(try UDPPacket(raw), pseudoHeader: Self.pseudo)
            XCTAssertEqual(repr, UDPRepr(sport: 48949, dport: 53, payload: Self.dns))
            XCTAssertEqual(repr.description, "UDP 48949 > 53, length 53")
        }
        var corrupted = Self.query
        corrupted[20] ^= 1
        try corrupted.withUnsafeBytes { raw in
            XCTAssertThrowsError(try UDPRepr.parse(try UDPPacket(raw), pseudoHeader: Self.pseudo)) {
                XCTAssertEqual($0 as? PacketError, .badChecksum)
            }
        }
    }

    func testEmit() throws {
        var bytes: [UInt8] = []
        UDPRepr(sport: 48949, dport: 53, payload: Self.dns).emit(appendingTo: &bytes, pseudoHeader: Self.pseudo)
        XCTAssertEqual(bytes, Self.query)
    }

    func testZeroChecksumMeansNoneOverIPv4Only() throws {
        var bytes = Self.query
        bytes[6] = 0
        bytes[7] = 0
        try bytes.withUnsafeBytes { raw in
            let udp = try UDPPacket(raw)
            XCTAssertTrue(udp.verifyChecksum(Self.pseudo))
            XCTAssertFalse(udp.verifyChecksum(.v6(source: IPv6Address("2001:2::1")!, destination: IPv6Address("2001:2::2")!)))
        }
    }

    func testHostile() throws {
        for (length, bytes) in [(UInt16(7), Self.query), (62, Self.query), (0, Self.query)] {
            var bytes = bytes
            bytes[4] = UInt8(length >> 8)
            bytes[5] = UInt8(length & 0xff)
            try bytes.withUnsafeBytes { raw in
                XCTAssertThrowsError(try UDPPacket(raw)) { XCTAssertEqual($0 as? PacketError, .badLength, "length \(length)") }
            }
        }
        try Array(Self.query.prefix(7)).withUnsafeBytes { raw in
            XCTAssertThrowsError(try UDPPacket(raw)) { XCTAssertEqual($0 as? PacketError, .truncated) }
        }
    }
}
