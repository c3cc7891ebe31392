import XCTest
@testable import Packets

final class ICMPv6Tests: XCTestCase {
    static let a1 = IPv6Address("2001:2::1")!
    static let a2 = IPv6Address("2001:2::2")!
    static let mac10 = MACAddress(2, 0, 0, 0, 0, 0x0a)
    static let mac11 = MACAddress(2, 0, 0, 0, 0, 0x0b)
    // Frames 23, 24 and 8 of the fixture.
    static let solicitation: [UInt8] = .init(hex: """
        87 00 37 8a 00 00 00 00 20 01 00 02 00 00 00 00 00 00 00 00 00 00 00 02 01 01 02 00 00 00 00 0a
        """)
    static let solicitationPseudo = IPPseudoHeader.v6(source: a1, destination: IPv6Address("ff02::1:ff00:2")!)
    static let advertisement: [UInt8] = .init(hex: """
        88 00 b3 8a 60 00 00 00 20 01 00 02 00 00 00 00 00 00 00 00 00 00 00 02 02 01 02 00 00 00 00 0b
        """)
    static let advertisementPseudo = IPPseudoHeader.v6(source: a2, destination: a1)
    static let routerSolicitation: [UInt8] = .init(hex: "85 00 7b 1a 00 00 00 00 01 01 02 00 00 00 00 0a")
    static let routerPseudo = IPPseudoHeader.v6(source: IPv6Address("fe80::ff:fe00:a")!, destination: IPv6Address("ff02::2")!)

    func testDeconstruct() throws {
        try Self.solicitation.withUnsafeBytes { raw in
            let icmp = try ICMPv6Packet(raw)
            XCTAssertEqual(icmp.type, ICMPv6Type.neighborSolicitation)
            XCTAssertEqual(icmp.code, 0)
            XCTAssertEqual(icmp.chksum, 0x378a)
            XCTAssertEqual(icmp.target, Self.a2)
            XCTAssertEqual(icmp.sourceLinkLayerAddress, Self.mac10)
            XCTAssertNil(icmp.targetLinkLayerAddress)
            XCTAssertEqual(icmp.options.count, 8)
            XCTAssertTrue(icmp.verifyChecksum(Self.solicitationPseudo))
            XCTAssertFalse(icmp.verifyChecksum(Self.advertisementPseudo))
        }
        try Self.advertisement.withUnsafeBytes { raw in
            let icmp = try ICMPv6Packet(raw)
            XCTAssertEqual(icmp.type, ICMPv6Type.neighborAdvertisement)
            XCTAssertEqual(icmp.ndFlags, NeighborFlags.solicited | NeighborFlags.override)
            XCTAssertEqual(icmp.target, Self.a2)
            XCTAssertEqual(icmp.targetLinkLayerAddress, Self.mac11)
            XCTAssertNil(icmp.sourceLinkLayerAddress)
            XCTAssertTrue(icmp.verifyChecksum(Self.advertisementPseudo))
        }
        try Self.routerSolicitation.withUnsafeBytes { raw in
            let icmp = try ICMPv6Packet(raw)
            XCTAssertEqual(icmp.type, ICMPv6Type.routerSolicitation)
            XCTAssertNil(icmp.target)
            XCTAssertEqual(icmp.sourceLinkLayerAddress, Self.mac10)
            XCTAssertTrue(icmp.verifyChecksum(Self.routerPseudo))
        }
    }

    func testConstruct() throws {
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes[0] = ICMPv6Type.neighborAdvertisement
        bytes[24...] = [2, 1, 0, 0, 0, 0, 0, 0]
        try bytes.withUnsafeMutableBytes { raw in
            let icmp = try MutableICMPv6Packet(raw)
            Self.a2.store(into: raw, at: ICMPv6Field.target)
            Self.mac11.store(into: raw, at: icmp.targetLinkLayerOffset)
            raw.storeBytes(of: NeighborFlags.solicited | NeighborFlags.override, toByteOffset: 4, as: UInt8.self)
            icmp.fillChecksum(Self.advertisementPseudo)
        }
        XCTAssertEqual(bytes, Self.advertisement)
    }

    static let solicitationRepr = ICMPv6Repr.neighborSolicitation(target: a2, source: mac10)
    static let advertisementRepr = ICMPv6Repr.neighborAdvertisement(
        target: a2, flags: NeighborFlags.solicited | NeighborFlags.override, linkLayerAddress: mac11)
    static let routerRepr = ICMPv6Repr.routerSolicitation(source: mac10)

    func testParse() throws {
        for (bytes, pseudo, repr) in [(Self.solicitation, Self.solicitationPseudo, Self.solicitationRepr),
                                      (Self.advertisement, Self.advertisementPseudo, Self.advertisementRepr),
                                      (Self.routerSolicitation, Self.routerPseudo, Self.routerRepr)] {
            try bytes.withUnsafeBytes { raw in
                XCTAssertEqual(try ICMPv6Repr.parse(try ICMPv6Packet(raw), pseudoHeader: pseudo), repr)
            }
        }
        XCTAssertEqual(Self.solicitationRepr.description, "ICMP6, neighbor solicitation, who has 2001:2::2, length 32")
        XCTAssertEqual(Self.advertisementRepr.description, "ICMP6, neighbor advertisement, tgt is 2001:2::2, length 32")
        try Self.solicitation.withUnsafeBytes { raw in
            XCTAssertThrowsError(try ICMPv6Repr.parse(try ICMPv6Packet(raw), pseudoHeader: Self.advertisementPseudo)) {
                XCTAssertEqual($0 as? PacketError, .badChecksum)
            }
        }
    }

    func testEmit() throws {
        for (bytes, pseudo, repr) in [(Self.solicitation, Self.solicitationPseudo, Self.solicitationRepr),
                                      (Self.advertisement, Self.advertisementPseudo, Self.advertisementRepr),
                                      (Self.routerSolicitation, Self.routerPseudo, Self.routerRepr)] {
            var out: [UInt8] = []
            repr.emit(appendingTo: &out, pseudoHeader: pseudo)
            XCTAssertEqual(out, bytes)
        }
    }

    func testEcho() throws {
        let pseudo = IPPseudoHeader.v6(source: Self.a1, destination: Self.a2)
        let repr = ICMPv6Repr.echoRequest(id: 0x631f, seq: 1, data: Array("ping".utf8))
        var bytes: [UInt8] = []
        repr.emit(appendingTo: &bytes, pseudoHeader: pseudo)
        try bytes.withUnsafeBytes { raw in
            let icmp = try ICMPv6Packet(raw)
            XCTAssertEqual(icmp.id, 0x631f)
            XCTAssertEqual(icmp.seq, 1)
            XCTAssertNil(icmp.target)
            XCTAssertEqual(Array(icmp.payload), Array("ping".utf8))
            XCTAssertTrue(icmp.verifyChecksum(pseudo))
            XCTAssertEqual(try ICMPv6Repr.parse(icmp, pseudoHeader: pseudo), repr)
        }
        XCTAssertEqual(repr.description, "ICMP6, echo request, id 25375, seq 1, length 12")
    }

    func testHostile() throws {
        func expect(_ bytes: [UInt8], _ error: PacketError, _ message: String) throws {
            try bytes.withUnsafeBytes { raw in
                XCTAssertThrowsError(try ICMPv6Packet(raw), message) { XCTAssertEqual($0 as? PacketError, error, message) }
            }
        }
        try expect(Array(Self.solicitation.prefix(7)), .truncated, "7 bytes")
        try expect(Array(Self.solicitation.prefix(23)), .truncated, "NS without its whole target")
        var zero = Self.solicitation
        zero[25] = 0  // option length 0 would loop forever
        try expect(zero, .badOption, "option length 0")
        var past = Self.solicitation
        past[25] = 2  // 16 bytes in 8
        try expect(past, .badOption, "option past the end")
        try expect(Self.solicitation + [1], .badOption, "a lone option byte")
        // An echo is not read for options: any bytes are data.
        var echo = Self.solicitation
        echo[0] = ICMPv6Type.echoRequest
        try echo.withUnsafeBytes { raw in XCTAssertNoThrow(try ICMPv6Packet(raw)) }
    }
}
