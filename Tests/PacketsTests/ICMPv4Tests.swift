import XCTest
@testable import Packets

final class ICMPv4Tests: XCTestCase {
    // Frame 27 of the fixture: echo request id 0x1234 seq 1 carrying "tapir vlan 100".
    static let echo: [UInt8] = .init(hex: "08 00 66 a3 12 34 00 01 74 61 70 69 72 20 76 6c 61 6e 20 31 30 30")
    static let data = Array("tapir vlan 100".utf8)

    func testDeconstruct() throws {
        try Self.echo.withUnsafeBytes { raw in
            let icmp = try ICMPv4Packet(raw)
            XCTAssertEqual(icmp.type, ICMPv4Type.echoRequest)
            XCTAssertEqual(icmp.code, 0)
            XCTAssertEqual(icmp.chksum, 0x66a3)
            XCTAssertEqual(icmp.id, 0x1234)
            XCTAssertEqual(icmp.seq, 1)
            XCTAssertEqual(icmp.rest, 0x1234_0001)
            XCTAssertEqual(Array(icmp.payload), Self.data)
            XCTAssertTrue(icmp.isEcho)
            XCTAssertFalse(icmp.isError)
            XCTAssertTrue(icmp.verifyChecksum())
        }
    }

    func testConstruct() throws {
        var bytes = [UInt8](repeating: 0, count: Self.echo.count)
        bytes[8...] = Self.data[...]
        try bytes.withUnsafeMutableBytes { raw in
            let icmp = try MutableICMPv4Packet(raw)
            icmp.setType(ICMPv4Type.echoRequest)
            icmp.setCode(0)
            icmp.setID(0x1234)
            icmp.setSeq(1)
            icmp.fillChecksum()
        }
        XCTAssertEqual(bytes, Self.echo)
    }

    func testParse() throws {
        try Self.echo.withUnsafeBytes { raw in
            let repr = try ICMPv4Repr.parse(try ICMPv4Packet(raw))
            XCTAssertEqual(repr, .echoRequest(id: 0x1234, seq: 1, data: Self.data))
            XCTAssertEqual(repr.description, "ICMP echo request, id 4660, seq 1, length 22")
        }
        var corrupted = Self.echo
        corrupted[10] ^= 0x20
        try corrupted.withUnsafeBytes { raw in
            XCTAssertThrowsError(try ICMPv4Repr.parse(try ICMPv4Packet(raw))) { XCTAssertEqual($0 as? PacketError, .badChecksum) }
        }
    }

    func testEmit() throws {
        var bytes: [UInt8] = []
        ICMPv4Repr.echoRequest(id: 0x1234, seq: 1, data: Self.data).emit(appendingTo: &bytes)
        XCTAssertEqual(bytes, Self.echo)
    }

    /// Errors quote the offending datagram's header and first 8 bytes.
    func testErrors() throws {
        let original = IPv4Tests.header + Array(UDPTests.query.prefix(8))
        let unreachable = ICMPv4Repr.destinationUnreachable(code: 3, original: original)
        let exceeded = ICMPv4Repr.timeExceeded(original: original)
        for (repr, type, text) in [(unreachable, ICMPv4Type.destinationUnreachable, "ICMP port unreachable, length 36"),
                                   (exceeded, ICMPv4Type.timeExceeded, "ICMP time exceeded in-transit, length 36")] {
            var bytes: [UInt8] = []
            repr.emit(appendingTo: &bytes)
            try bytes.withUnsafeBytes { raw in
                let icmp = try ICMPv4Packet(raw)
                XCTAssertEqual(icmp.type, type)
                XCTAssertTrue(icmp.isError)
                XCTAssertTrue(icmp.verifyChecksum())
                XCTAssertEqual(Array(icmp.payload), original)
                XCTAssertEqual(try ICMPv4Repr.parse(icmp), repr)
            }
            XCTAssertEqual(repr.description, text)
        }
        let needFrag = ICMPv4Repr.destinationUnreachable(code: 4, original: original, mtu: 1400)
        var bytes: [UInt8] = []
        needFrag.emit(appendingTo: &bytes)
        bytes.withUnsafeBytes { raw in XCTAssertEqual((try? ICMPv4Packet(raw))?.mtu, 1400) }
    }

    func testTruncated() throws {
        try Array(Self.echo.prefix(7)).withUnsafeBytes { raw in
            XCTAssertThrowsError(try ICMPv4Packet(raw)) { XCTAssertEqual($0 as? PacketError, .truncated) }
        }
    }
}
