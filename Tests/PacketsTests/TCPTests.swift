import XCTest
@testable import Packets

final class TCPTests: XCTestCase {
    // Frame 21 of the fixture: nc's SYN from 198.18.0.1:51486 to port 9, with MSS, SACK
    // permitted, timestamps, NOP and window scale options.
    static let syn: [UInt8] = .init(hex: """
        c9 1e 00 09 2a 4e 04 6f 00 00 00 00 a0 02 fa f0 f0 1d 00 00
        02 04 05 b4 04 02 08 0a 4e b7 8a 2a 00 00 00 00 01 03 03 0a
        """)
    static let options = Array(syn[20...])
    static let pseudo = IPPseudoHeader.v4(source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(198, 18, 0, 2))
    static let repr = TCPRepr(sport: 51486, dport: 9, seq: 0x2a4e_046f, ack: 0, flags: TCPFlags.syn, window: 64240,
                              options: options)

    func testDeconstruct() throws {
        try Self.syn.withUnsafeBytes { raw in
            let tcp = try TCPPacket(raw)
            XCTAssertEqual(tcp.sport, 51486)
            XCTAssertEqual(tcp.dport, 9)
            XCTAssertEqual(tcp.seq, 709_756_015)
            XCTAssertEqual(tcp.ack, 0)
            XCTAssertEqual(tcp.dataofs, 10)
            XCTAssertEqual(tcp.headerLength, 40)
            XCTAssertEqual(tcp.flags, TCPFlags.syn)
            XCTAssertEqual(tcp.window, 64240)
            XCTAssertEqual(tcp.chksum, 0xf01d)
            XCTAssertEqual(tcp.urg, 0)
            XCTAssertEqual(Array(tcp.options), Self.options)
            XCTAssertEqual(tcp.mss, 1460)
            XCTAssertEqual(tcp.windowScale, 10)
            XCTAssertEqual(tcp.option(TCPOptionKind.sackPermitted)?.count, 0)
            XCTAssertEqual(tcp.option(TCPOptionKind.timestamps).map { Array($0) }, [0x4e, 0xb7, 0x8a, 0x2a, 0, 0, 0, 0])
            XCTAssertNil(tcp.option(TCPOptionKind.sack))
            XCTAssertEqual(tcp.payload.count, 0)
            XCTAssertTrue(tcp.verifyChecksum(Self.pseudo))
        }
    }

    func testConstruct() throws {
        var bytes = [UInt8](repeating: 0, count: 40)
        bytes[12] = 0xa0
        bytes[20...] = Self.options[...]
        try bytes.withUnsafeMutableBytes { raw in
            let tcp = try MutableTCPPacket(raw)
            tcp.setSport(51486)
            tcp.setDport(9)
            tcp.setSeq(0x2a4e_046f)
            tcp.setAck(0)
            tcp.setFlags(TCPFlags.syn)
            tcp.setWindow(64240)
            tcp.setUrg(0)
            tcp.fillChecksum(Self.pseudo)
        }
        XCTAssertEqual(bytes, Self.syn)
    }

    func testParse() throws {
        try Self.syn.withUnsafeBytes { raw in
            XCTAssertEqual(try TCPRepr.parse(try TCPPacket(raw), pseudoHeader: Self.pseudo), Self.repr)
        }
        XCTAssertEqual(Self.repr.description, "TCP 51486 > 9: Flags [S], seq 709756015, win 64240, length 0")
        XCTAssertEqual(TCPFlags.text(TCPFlags.rst | TCPFlags.ack), "R.")
    }

    func testEmit() throws {
        var bytes: [UInt8] = []
        Self.repr.emit(appendingTo: &bytes, pseudoHeader: Self.pseudo)
        XCTAssertEqual(bytes, Self.syn)
        // Options are padded to a multiple of four with End of Options.
        var padded: [UInt8] = []
        TCPRepr(sport: 1, dport: 2, flags: TCPFlags.syn, options: [3, 3, 7]).emit(appendingTo: &padded, pseudoHeader: Self.pseudo)
        XCTAssertEqual(padded.count, 24)
        XCTAssertEqual(padded[12] >> 4, 6)
        XCTAssertEqual(Array(padded[20...]), [3, 3, 7, 0])
    }

    func testHostile() throws {
        func expect(_ bytes: [UInt8], _ error: PacketError, _ message: String) throws {
            try bytes.withUnsafeBytes { raw in
                XCTAssertThrowsError(try TCPPacket(raw), message) { XCTAssertEqual($0 as? PacketError, error, message) }
            }
        }
        try expect(Array(Self.syn.prefix(19)), .truncated, "19 bytes")
        var small = Self.syn
        small[12] = 0x40  // data offset 4
        try expect(small, .badHeaderLength, "data offset 4")
        var large = Self.syn
        large[12] = 0xf0  // 60-byte header in 40 bytes
        try expect(large, .headerPastBuffer, "data offset 15")
        var pastHeader = Self.syn
        pastHeader[39] = 0x08  // the window scale option's kind... becomes timestamps with no room
        pastHeader[36] = 0x01
        pastHeader[37] = 0x01
        pastHeader[38] = 0x01
        try expect(pastHeader, .badOption, "option kind at the last byte, no length")
        var zeroLength = Self.syn
        zeroLength[21] = 0  // MSS option of length 0
        try expect(zeroLength, .badOption, "option length 0")
        var longOption = Self.syn
        longOption[38] = 9  // window scale claiming 9 bytes
        try expect(longOption, .badOption, "option past the header")
    }
}
