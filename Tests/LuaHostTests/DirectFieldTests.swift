import CLua
import Packets
import XCTest
@testable import LuaHost

/// The fields C reads itself (PacketField.direct, clua_direct_field) must read in Lua as
/// Swift's own read of them gives, over frames of every layer and shape.
final class DirectFieldTests: XCTestCase {
    private static let client = IPv4Address("198.18.0.1")!
    private static let server = IPv4Address("198.18.0.2")!
    private static let client6 = IPv6Address("2001:2::1")!
    private static let server6 = IPv6Address("2001:2::2")!

    /// Swift's value as the harness's `show` prints a Lua one.
    private static func shown(_ value: PacketFieldValue) -> String {
        switch value {
        case .none: "nil"
        case .integer(let number): "\(number)"
        case .boolean(let flag): "\(flag)"
        case .mac(let address): address.description
        case .ipv4(let address): address.description
        case .ipv6(let address): address.description
        default: "(not a direct field's kind: \(value))"
        }
    }

    /// Frames the kernel sent (ARP, ICMP, ICMPv6, UDP, TCP) and made ones: VLAN tags, IPv4
    /// options and flags, fragments, IPv6 with a traffic class and flow, ICMPv6 behind
    /// extension headers, TCP with options and every flag, ICMP errors, a frame cut short.
    private static func frames() throws -> [[UInt8]] {
        var frames = try KernelFrames.all()
        func ethernet(_ type: UInt16, tags: [VLANTag] = []) -> [UInt8] {
            var bytes: [UInt8] = []
            EthernetRepr(src: MACAddress("02:00:00:00:00:01")!, dst: MACAddress("02:54:41:50:49:52")!, vlan: tags,
                         type: type).emit(appendingTo: &bytes)
            return bytes
        }
        let pseudo = IPPseudoHeader.v4(source: client, destination: server)
        var udp: [UInt8] = []
        UDPRepr(sport: 40000, dport: 53, payload: Array("query".utf8)).emit(appendingTo: &udp, pseudoHeader: pseudo)
        var tcp: [UInt8] = []
        TCPRepr(sport: 51000, dport: 443, seq: 0xfedc_ba98, ack: 0x8000_0001, flags: 0xff, window: 65535,
                options: [2, 4, 5, 0xb4, 1, 1, 1, 0], payload: Array("hello".utf8))
            .emit(appendingTo: &tcp, pseudoHeader: pseudo)
        for (transport, proto) in [(udp, IPProtocol.udp), (tcp, IPProtocol.tcp),
                                   ([3, 3, 0x12, 0x34, 0, 0, 0, 0] + [UInt8](repeating: 0x45, count: 28), IPProtocol.icmp)] {
            for (flags, frag, options, tos) in [(UInt8(0), UInt16(0), [UInt8](), UInt8(0)), (2, 0, [1, 1, 1, 0], 0xb8),
                                                (1, 0, [], 0), (0, 185, [], 0x03), (5, 0x1fff, [], 0xff)] {
                var ip = IPv4Repr(src: client, dst: server, proto: proto, payloadLength: transport.count, ttl: 1, tos: tos,
                                  id: 0xbeef)
                ip.flags = flags
                ip.frag = frag
                ip.options = options
                var network: [UInt8] = []
                ip.emit(appendingTo: &network)
                frames.append(ethernet(EtherType.ipv4) + network + transport)
                frames.append(ethernet(EtherType.ipv4, tags: [VLANTag(pcp: 5, id: 42), VLANTag(id: 7)]) + network + transport)
            }
        }
        let pseudo6 = IPPseudoHeader.v6(source: client6, destination: server6)
        var udp6: [UInt8] = []
        UDPRepr(sport: 546, dport: 547, payload: [1, 2, 3]).emit(appendingTo: &udp6, pseudoHeader: pseudo6)
        var network6: [UInt8] = []
        IPv6Repr(src: client6, dst: server6, proto: IPProtocol.udp, payloadLength: udp6.count, hlim: 255, tc: 0xb8,
                 flow: 0xabcde).emit(appendingTo: &network6)
        frames.append(ethernet(EtherType.ipv6) + network6 + udp6)
        frames.append(ethernet(EtherType.ipv6, tags: [VLANTag(id: 100)]) + network6 + udp6)
        for (index, (text, type, checksum)) in icmpv6BehindExtensionHeaders.enumerated() {
            let frame = try XCTUnwrap(hexBytes(text), "ICMPv6 frame \(index)")
            try frame.withUnsafeBytes { bytes in
                let decoded = DecodedFrame(decoding: bytes, linkType: .ethernet)
                let icmp = try XCTUnwrap(decoded.icmpv6(bytes), "ICMPv6 frame \(index)")
                XCTAssertGreaterThan(decoded.transportOffset, decoded.networkOffset + IPv6Field.headerLength)
                XCTAssertEqual(icmp.type, type, "ICMPv6 frame \(index), as tshark reads it")
                XCTAssertEqual(icmp.chksum, checksum, "ICMPv6 frame \(index), as tshark reads it")
            }
            frames.append(frame)
            // The same datagram behind an 802.1ad and an 802.1Q tag.
            frames.append(ethernet(EtherType.ipv6, tags: [VLANTag(tpid: EtherType.qinq, id: 10), VLANTag(id: 20)])
                          + frame[EthernetField.headerLength...])
        }
        let whole = ethernet(EtherType.ipv4) + [0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0] + [198, 18, 0, 1, 198, 18, 0, 2]
        frames.append(whole + [0x9c, 0x40, 0x01])  // TCP cut short after 3 bytes
        return frames
    }

    /// ICMPv6 whose transport offset is not 40: behind IPv6 extension headers, as scapy
    /// writes them (tshark reads each so, ICMPv6 checksums good), with the ICMPv6 type and
    /// checksum tshark shows.
    private static let icmpv6BehindExtensionHeaders: [(String, UInt8, UInt16)] = [
        // IPv6(src="fe80::1", dst="ff02::16", hlim=1)/IPv6ExtHdrHopByHop(options=[RouterAlert(), PadN()])
        //   /ICMPv6MLReport2(records=[ICMPv6MLDMultAddrRec(dst="ff02::fb")]): an MLDv2 report
        ("33330000001602000000000186dd6000000000240001fe800000000000000000000000000001ff020000000000000000000000000016"
            + "3a000502000001008f006f0f0000000104000000ff0200000000000000000000000000fb", 143, 0x6f0f),
        // The same hop-by-hop header before ICMPv6MLReport(mladdr="ff02::fb"): an MLDv1 report
        ("3333000000fb02000000000186dd6000000000200001fe800000000000000000000000000001ff0200000000000000000000000000fb"
            + "3a0005020000010083007e2f00000000ff0200000000000000000000000000fb", 131, 0x7e2f),
        // IPv6(src="2001:2::1", dst="2001:2::2", tc=0xb8, fl=0x12345)/IPv6ExtHdrDestOpt(options=[PadN(4 bytes)])
        //   /ICMPv6EchoRequest(id=0x1234, seq=7, data="ping")
        ("02544150495202000000000186dd6b81234500143c4020010002000000000000000000000001200100020000000000000000000000"
            + "023a0001040000000080004ea41234000770696e67", 128, 0x4ea4),
        // A hop-by-hop header (8 bytes), then a destination options header of 16, then
        // ICMPv6EchoReply(id=0xabcd, seq=0xffff, data="pong!"): transport at 40 + 24
        ("02544150495202000000000186dd600000000025004020010002000000000000000000000001200100020000000000000000000000"
            + "023c000104000000003a01010c0000000000000000000000008100930aabcdffff706f6e6721", 129, 0x930a),
        // The first fragment (fragment6, 120 bytes) of an echo request: ICMPv6 behind a Fragment
        // header (tshark, given the second fragment too, reads the checksum good)
        ("02544150495202000000000186dd6000000000502c4020010002000000000000000000000001200100020000000000000000000000"
            + "023a0000010000cafe80002fda00010002" + String(repeating: "78", count: 64), 128, 0x2fda),
    ]

    /// The same frames' IP packets as a tun hands them over (no link header).
    private static func rawIPFrames() throws -> [[UInt8]] {
        try frames().compactMap { frame in
            frame.withUnsafeBytes { bytes in
                let decoded = DecodedFrame(decoding: bytes, linkType: .ethernet)
                guard decoded.has(.ip) || decoded.has(.ipv6) else { return nil }
                return Array(frame[decoded.networkOffset...])
            }
        }
    }

    func testDirectFieldsReadAsSwiftReadsThem() throws {
        let harness = try PacketHarness()
        let direct = PacketField.allCases.filter { $0.direct.base != UInt8(CLUA_BASE_NONE.rawValue) }
        XCTAssertGreaterThanOrEqual(direct.count, 41, "fewer direct fields than expected")
        let layers = Set(direct.map(\.layer))
        var compared = 0
        let framed = try Self.frames().map { ($0, LinkType.ethernet) } + Self.rawIPFrames().map { ($0, LinkType.rawIP) }
        for (index, (frame, linkType)) in framed.enumerated() {
            for layer in layers.sorted(by: { $0.rawValue < $1.rawValue }) {
                let read = try harness.fields(layer.rawValue, of: frame, linkType: linkType)
                try frame.withUnsafeBytes { bytes in
                    let decoded = DecodedFrame(decoding: bytes, linkType: linkType)
                    for field in direct where field.layer == layer {
                        let expected = Self.shown(field.read(bytes: bytes, frame: decoded))
                        if read.isEmpty {
                            XCTAssertEqual(expected, "nil", "frame \(index): \(layer).\(field.name) absent in Lua")
                            continue
                        }
                        let got = try XCTUnwrap(read[field.name], "frame \(index): \(field.name)")
                        XCTAssertEqual(got, expected, "frame \(index): \(layer).\(field.name)")
                        compared += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(compared, 1500, "too few fields compared")
    }

    /// A packet kept with pkt:copy() reads its direct fields from its own bytes.
    func testACopiedPacketReadsItsOwnFields() throws {
        let harness = try PacketHarness()
        let frame = try XCTUnwrap(Self.frames().last { frame in
            frame.withUnsafeBytes { DecodedFrame(decoding: $0, linkType: .ethernet).has(.tcp) }
        })
        let lines = try harness.run("""
            function(pkt)
              kept = pkt:copy()
              tapir.log.info(pkt.ip.src, pkt.ip.ttl, pkt.tcp.seq, pkt.eth.src)
            end
            """, on: frame)
        let other = try KernelFrames.all().first { $0.count > 60 && $0 != frame } ?? []
        let copied = try harness.run("""
            function(pkt) tapir.log.info(kept.ip.src, kept.ip.ttl, kept.tcp.seq, kept.eth.src) end
            """, on: other)
        XCTAssertEqual(lines.count, 1)
        XCTAssertEqual(copied, lines, "a copy read another packet's fields")
    }
}
