import XCTest
@testable import Packets

final class IPv6Tests: XCTestCase {
    static let a1 = IPv6Address("2001:2::1")!
    static let a2 = IPv6Address("2001:2::2")!
    // Frame 2 of the fixture: an MLDv2 report from :: to ff02::16, with a Hop-by-Hop header
    // holding Router Alert (type 5, value 0) and PadN. The first 8 bytes of the ICMPv6 part follow.
    static let mld: [UInt8] = .init(hex: """
        60 00 00 00 00 10 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
        ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 16
        3a 00 05 02 00 00 01 00
        8f 00 6d 65 00 00 00 02
        """)

    func testDeconstruct() throws {
        try Self.mld.withUnsafeBytes { raw in
            let ip = try IPv6Packet(raw)
            XCTAssertEqual(ip.version, 6)
            XCTAssertEqual(ip.tc, 0)
            XCTAssertEqual(ip.flow, 0)
            XCTAssertEqual(ip.plen, 16)
            XCTAssertEqual(ip.nxt, IPProtocol.hopByHop)
            XCTAssertEqual(ip.hlim, 1)
            XCTAssertEqual(ip.src, .unspecified)
            XCTAssertEqual(ip.dst.description, "ff02::16")
            XCTAssertEqual(ip.proto, IPProtocol.icmpv6)
            XCTAssertEqual(ip.upperLayerOffset, 48)
            XCTAssertEqual(ip.extensionHeaderCount, 1)
            XCTAssertEqual(Array(ip.extensionHeaders), Array(Self.mld[40..<48]))
            XCTAssertEqual(Array(ip.payload), Array(Self.mld[48...]))
            XCTAssertFalse(ip.hasFragmentHeader)
            XCTAssertFalse(ip.isFragment)
        }
    }

    func testConstruct() throws {
        var bytes = Self.mld
        bytes[1] = 0xab  // traffic class 0x0a, part of the flow label
        try bytes.withUnsafeMutableBytes { raw in
            let ip = try MutableIPv6Packet(raw)
            ip.setTC(0)
            ip.setFlow(0)
            ip.setHlim(1)
            ip.setSrc(.unspecified)
            ip.setDst(IPv6Address("ff02::16")!)
            XCTAssertEqual(ip.proto, IPProtocol.icmpv6)
        }
        XCTAssertEqual(bytes, Self.mld)
        try bytes.withUnsafeMutableBytes { raw in
            let ip = try MutableIPv6Packet(raw)
            ip.setTC(0xb8)
            ip.setFlow(0x76092)
            XCTAssertEqual(ip.tc, 0xb8)
            XCTAssertEqual(ip.flow, 0x76092)
            XCTAssertEqual(ip.version, 6)
        }
    }

    static let mldRepr = IPv6Repr(src: .unspecified, dst: IPv6Address("ff02::16")!, proto: IPProtocol.icmpv6,
                                  payloadLength: 8, hlim: 1,
                                  extensionHeaders: [.options(type: IPProtocol.hopByHop, [0x05, 0x02, 0x00, 0x00])])

    func testParse() throws {
        try Self.mld.withUnsafeBytes { raw in
            XCTAssertEqual(IPv6Repr.parse(try IPv6Packet(raw)), Self.mldRepr)
        }
        XCTAssertEqual(Self.mldRepr.description, "IP6 :: > ff02::16: ICMPv6, hlim 1, plen 16, ext 0")
    }

    func testEmit() throws {
        var bytes: [UInt8] = []
        Self.mldRepr.emit(appendingTo: &bytes)
        XCTAssertEqual(bytes, Array(Self.mld.prefix(48)))
        var odd = Self.mldRepr
        odd.extensionHeaders = [IPv6ExtensionHeader(type: IPProtocol.ipv6DestinationOptions, data: [0, 1, 2])]
        var room = [UInt8](repeating: 0, count: 64)
        XCTAssertFalse(room.withUnsafeMutableBytes { odd.emit(into: $0) }, "a header that is not a multiple of 8 bytes")
    }

    /// Hop-by-Hop, Routing, Destination Options and Fragment headers, walked to UDP.
    func testExtensionChainToUpperLayer() throws {
        let routing = IPv6ExtensionHeader(type: IPProtocol.ipv6Route,
                                          data: [2, 0, 1, 0, 0, 0, 0] + Self.a2.bytes)  // type 0, 1 segment left
        let repr = IPv6Repr(src: Self.a1, dst: Self.a2, proto: IPProtocol.udp, payloadLength: 8, hlim: 64, flow: 0x12345,
                            extensionHeaders: [
                                .options(type: IPProtocol.hopByHop, [0x05, 0x02, 0x00, 0x00]),
                                routing,
                                .options(type: IPProtocol.ipv6DestinationOptions, []),
                                .fragment(offset: 0, moreFragments: true, id: 0x1bdc_c2be),
                            ])
        var bytes: [UInt8] = []
        repr.emit(appendingTo: &bytes)
        XCTAssertEqual(bytes.count, 40 + 8 + 24 + 8 + 8)
        bytes += [UInt8](repeating: 7, count: 8)
        try bytes.withUnsafeBytes { raw in
            let ip = try IPv6Packet(raw)
            XCTAssertEqual(ip.nxt, IPProtocol.hopByHop)
            XCTAssertEqual(ip.proto, IPProtocol.udp)
            XCTAssertEqual(ip.extensionHeaderCount, 4)
            XCTAssertEqual(ip.upperLayerOffset, 88)
            XCTAssertEqual(ip.plen, 56)
            XCTAssertTrue(ip.hasFragmentHeader)
            XCTAssertEqual(ip.fragmentHeaderOffset, 80)
            XCTAssertEqual(ip.frag, 0)
            XCTAssertTrue(ip.moreFragments)
            XCTAssertTrue(ip.isFragment)
            XCTAssertEqual(ip.fragmentID, 0x1bdc_c2be)
            XCTAssertEqual(ip.flow, 0x12345)
            XCTAssertEqual(IPv6Repr.parse(ip), repr)
        }
    }

    /// After a non-first fragment's header come data bytes, even if they look like headers.
    func testNonFirstFragmentStopsTheWalk() throws {
        let repr = IPv6Repr(src: Self.a1, dst: Self.a2, proto: IPProtocol.hopByHop, payloadLength: 16,
                            extensionHeaders: [.fragment(offset: 181, moreFragments: false, id: 9)])
        var bytes: [UInt8] = []
        repr.emit(appendingTo: &bytes)
        bytes += [0, 200] + [UInt8](repeating: 0, count: 14)  // a "Hop-by-Hop" claiming 1608 bytes
        try bytes.withUnsafeBytes { raw in
            let ip = try IPv6Packet(raw)
            XCTAssertEqual(ip.frag, 181)
            XCTAssertTrue(ip.isFragment)
            XCTAssertEqual(ip.upperLayerOffset, 48)
            XCTAssertEqual(ip.proto, IPProtocol.hopByHop)
        }
    }

    func testHostile() throws {
        func expect(_ bytes: [UInt8], _ error: PacketError, _ message: String) throws {
            try bytes.withUnsafeBytes { raw in
                XCTAssertThrowsError(try IPv6Packet(raw), message) { XCTAssertEqual($0 as? PacketError, error, message) }
            }
        }
        try expect(Array(Self.mld.prefix(39)), .truncated, "39 bytes")
        var version = Self.mld
        version[0] = 0x40
        try expect(version, .badVersion, "version 4")
        var long = Self.mld
        long[5] = 17  // payload length beyond the buffer
        try expect(long, .badLength, "plen 17")
        var hopByHopPastEnd = Self.mld
        hopByHopPastEnd[41] = 2  // Hop-by-Hop of 24 bytes in a 16-byte payload
        try expect(hopByHopPastEnd, .extensionHeaderPastEnd, "header length past the payload")
        var shortPayload = Array(Self.mld.prefix(44))
        shortPayload[5] = 4  // four payload bytes cannot hold an extension header
        try expect(shortPayload, .extensionHeaderPastEnd, "header cut by the payload length")
        var noUpper = Array(Self.mld.prefix(48))
        noUpper[5] = 8
        noUpper[40] = IPProtocol.ipv6DestinationOptions  // Hop-by-Hop says Destination Options follow: none there
        try expect(noUpper, .extensionHeaderPastEnd, "chain off the end")
        // A long chain of empty Destination Options headers: the walk stops, bounded.
        var chain = Array(Self.mld.prefix(40))
        let count = 100
        chain[4] = UInt8((count * 8) >> 8)
        chain[5] = UInt8((count * 8) & 0xff)
        chain[6] = IPProtocol.ipv6DestinationOptions
        for _ in 0..<count { chain += [IPProtocol.ipv6DestinationOptions, 0, 1, 4, 0, 0, 0, 0] }
        try expect(chain, .tooManyExtensionHeaders, "100 extension headers")
        // Ten are still walked.
        var ten = Array(chain.prefix(40 + 80))
        ten[4] = 0
        ten[5] = 88
        ten[40 + 72] = IPProtocol.ipv6NoNext
        ten += [UInt8](repeating: 0, count: 8)
        ten.withUnsafeBytes { raw in
            XCTAssertEqual((try? IPv6Packet(raw))?.extensionHeaderCount, 10)
            XCTAssertEqual((try? IPv6Packet(raw))?.proto, IPProtocol.ipv6NoNext)
        }
    }
}
