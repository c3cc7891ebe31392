import CLua
import Packets
import XCTest
@testable import LuaHost

/// pkt:reply with no overrides to a plain UDP datagram takes a copy-and-rewrite path
/// (PlainReply.swift): its bytes must be the general path's, exactly, over frames of every
/// shape it takes, and it must leave every other shape to the general path. Tagged frames
/// carry 802.1Q tags (0x8100) or an 802.1ad service tag (0x88a8) outside them (QinQ).
final class PlainReplyTests: XCTestCase {
    private static let client = IPv4Address("198.18.0.1")!
    private static let server = IPv4Address("198.18.0.2")!
    private static let client6 = IPv6Address("2001:2::1")!
    private static let server6 = IPv6Address("2001:2::2")!

    /// A small deterministic generator (xorshift64*): the same frames on every run.
    private struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
        mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
    }

    private enum Link {
        case none
        /// `serviceTag`: the outer tag is an 802.1ad S-tag (TPID 0x88a8), any inner one 802.1Q.
        case ethernet(tags: Int, serviceTag: Bool, groupDestination: Bool)
    }

    private struct Shape {
        var link: Link
        var ipv6: Bool
        var payload: [UInt8]
        var tos: UInt8 = 0
        var ttl: UInt8 = 64
        var flags: UInt8 = 0
        var frag: UInt16 = 0
        var ipOptions: [UInt8] = []
        var hopByHop = false
        var checksum: Checksum = .right
        var udpLengthShortBy = 0
        var padding = 0
        var tc: UInt8 = 0
        var flow: UInt32 = 0

        enum Checksum { case right, wrong, zero }
    }

    private static func frame(_ shape: Shape) -> [UInt8] {
        var udp: [UInt8] = []
        let pseudo: IPPseudoHeader = shape.ipv6 ? .v6(source: client6, destination: server6)
                                                : .v4(source: client, destination: server)
        UDPRepr(sport: 40000, dport: 7, payload: shape.payload).emit(appendingTo: &udp, pseudoHeader: pseudo)
        switch shape.checksum {
        case .right: break
        case .wrong: udp[7] ^= 0x5a
        case .zero: udp[6] = 0; udp[7] = 0
        }
        if shape.udpLengthShortBy > 0 {
            let length = UInt16(udp.count - shape.udpLengthShortBy)
            udp[4] = UInt8(length >> 8)
            udp[5] = UInt8(length & 0xff)
        }
        var network: [UInt8] = []
        if shape.ipv6 {
            var ip = IPv6Repr(src: client6, dst: server6, proto: IPProtocol.udp, payloadLength: udp.count, hlim: shape.ttl,
                              tc: shape.tc, flow: shape.flow)
            if shape.hopByHop { ip.extensionHeaders = [IPv6ExtensionHeader(type: 0, data: [1, 4, 0, 0, 0, 0])] }
            ip.emit(appendingTo: &network)
        } else {
            var ip = IPv4Repr(src: client, dst: server, proto: IPProtocol.udp, payloadLength: udp.count, ttl: shape.ttl)
            ip.tos = shape.tos
            ip.flags = shape.flags
            ip.frag = shape.frag
            ip.options = shape.ipOptions
            ip.emit(appendingTo: &network)
        }
        var bytes: [UInt8] = []
        if case .ethernet(let tags, let serviceTag, let group) = shape.link {
            let type: UInt16 = shape.ipv6 ? EtherType.ipv6 : EtherType.ipv4
            let destination: MACAddress = group ? MACAddress("01:00:5e:00:00:fb")! : MACAddress("02:54:41:50:49:52")!
            var vlan: [VLANTag] = []
            for index in 0..<tags {
                let tpid = index == 0 && serviceTag ? EtherType.qinq : EtherType.vlan
                vlan.append(VLANTag(tpid: tpid, pcp: UInt8(index + 1), dei: index == 1, id: UInt16(100 + index)))
            }
            EthernetRepr(src: MACAddress("02:00:00:00:00:01")!, dst: destination, vlan: vlan, type: type)
                .emit(appendingTo: &bytes)
        }
        let padding = [UInt8](repeating: 0, count: shape.padding)
        bytes += network
        bytes += udp
        return bytes + padding
    }

    private func replies(to bytes: [UInt8], link: LinkType, output: PacketOutput,
                         values: UnsafePointer<clua_set_value>) -> (plain: [UInt8]?, chosen: [UInt8]?, general: [UInt8]?) {
        bytes.withUnsafeBytes { raw in
            let frame = DecodedFrame(decoding: raw, linkType: link)
            let none = SetValues(values, inReply: true, given: UnsafeBufferPointer(start: nil, count: 0))
            // Each path writes into a buffer of poison: a byte one forgets to write shows.
            func poisoned() {
                UnsafeMutableRawBufferPointer(rebasing: output.buffer[0..<512]).initializeMemory(as: UInt8.self, repeating: 0xa5)
            }
            poisoned()
            let plain = output.plainUDPReply(to: raw, frame: frame, ipv4ID: 4242).map { Array(output.buffer[0..<$0]) }
            poisoned()
            let chosen = try? output.reply(to: raw, frame: frame, none, ipv4ID: 4242).get().map { $0 }
            poisoned()
            let general = try? output.generalReply(to: raw, frame: frame, none, ipv4ID: 4242).get().map { $0 }
            return (plain, chosen, general)
        }
    }

    /// The offset of the first byte where two replies differ (their length when one is a
    /// prefix of the other), or nil when they are the same.
    private static func firstDifference(_ a: [UInt8]?, _ b: [UInt8]?) -> Int? {
        guard a != b else { return nil }
        let (x, y) = (a ?? [], b ?? [])
        return (0..<min(x.count, y.count)).first { x[$0] != y[$0] } ?? min(x.count, y.count)
    }

    func testThePlainPathGivesTheGeneralPathsBytesAndLeavesOtherShapesToIt() throws {
        let output = PacketOutput()
        let values = UnsafeMutablePointer<clua_set_value>.allocate(capacity: Int(CLUA_MAX_FIELDS))
        values.initialize(repeating: clua_set_value(), count: Int(CLUA_MAX_FIELDS))
        defer { values.deallocate() }
        var generator = Generator(state: 0x7461_7069_7200_0001)
        var plainCount = 0
        var generalCount = 0
        var serviceTagged = 0
        var failures = 0
        for round in 0..<3000 {
            let tags = generator.below(3)
            let serviceTag = tags > 0 && generator.below(2) == 0
            let link: Link = generator.below(4) == 0 ? .none
                : .ethernet(tags: tags, serviceTag: serviceTag, groupDestination: generator.below(10) == 0)
            var shape = Shape(link: link, ipv6: generator.below(2) == 0, payload: generator.bytes(generator.below(300)))
            shape.ttl = UInt8(1 + generator.below(255))
            shape.tos = generator.below(3) == 0 ? UInt8(generator.below(256)) : 0
            shape.flags = generator.below(3) == 0 ? IPv4Flags.dontFragment : 0
            shape.tc = UInt8(generator.below(256))
            shape.flow = UInt32(generator.below(1 << 20))
            switch generator.below(12) {
            case 0: shape.checksum = .wrong
            case 1: shape.checksum = .zero
            case 2: shape.frag = 100; shape.flags = IPv4Flags.moreFragments
            case 3: shape.ipOptions = [1, 1, 1, 0]
            case 4: shape.hopByHop = true
            case 5: shape.udpLengthShortBy = min(shape.payload.count, 1 + generator.below(4))
            case 6: shape.padding = 1 + generator.below(20)
            default: break
            }
            let bytes = Self.frame(shape)
            let linkType: LinkType = if case .none = link { .rawIP } else { .ethernet }
            let (plain, chosen, general) = replies(to: bytes, link: linkType, output: output, values: values)
            XCTAssertNotNil(general, "round \(round): the general path refused \(shape)")
            if let difference = Self.firstDifference(chosen, general) {
                XCTFail("round \(round): reply() differs from the general path at byte \(difference) for \(shape)")
                failures += 1
            }
            if let plain {
                plainCount += 1
                if case .ethernet(_, true, _) = link { serviceTagged += 1 }
                if let difference = Self.firstDifference(plain, general) {
                    XCTFail("round \(round): the plain path differs from the general path at byte \(difference) for \(shape)")
                    failures += 1
                }
            } else {
                generalCount += 1
            }
            var plainShape = shape.udpLengthShortBy == 0 && shape.padding == 0
                && (shape.ipv6 ? !shape.hopByHop : shape.frag == 0 && shape.ipOptions.isEmpty)
            if case .ethernet(_, _, true) = link { plainShape = false }
            if (plain != nil) != plainShape {
                XCTFail("round \(round): plain path \(plain != nil ? "taken" : "not taken") for \(shape)")
                failures += 1
            }
            if failures >= 5 { break }
        }
        guard failures == 0 else { return }
        XCTAssertGreaterThan(plainCount, 1500, "the plain path was hardly taken")
        XCTAssertGreaterThan(generalCount, 300, "the general path was hardly left anything")
        XCTAssertGreaterThan(serviceTagged, 300, "the plain path hardly answered a QinQ frame")
    }

    /// A QinQ frame (an 802.1ad S-tag, VLAN 100, around an 802.1Q C-tag, VLAN 101) is
    /// answered on the same two VLANs, TPIDs kept, by both paths: the frame and its answer
    /// as scapy writes them (tshark reads both as eth:ieee8021ad:vlan:ip:udp, checksums good).
    func testAQinQFrameIsAnsweredOnItsTwoVLANs() throws {
        let output = PacketOutput()
        let values = UnsafeMutablePointer<clua_set_value>.allocate(capacity: Int(CLUA_MAX_FIELDS))
        values.initialize(repeating: clua_set_value(), count: Int(CLUA_MAX_FIELDS))
        defer { values.deallocate() }
        // Ether()/Dot1AD(prio=1, vlan=100)/Dot1Q(prio=2, dei=1, vlan=101)/IP(ttl=3, id=1, flags="DF")/UDP(40000, 7)/"hello"
        let frame = try XCTUnwrap(hexBytes("02544150495202000000000188a8206481005065080045000021000140000311eba3"
                                           + "c6120001c61200029c400007000d939268656c6c6f"))
        // The answer: addresses and ports swapped, the tags as they were, id 4242, TTL 64, no DF.
        let answer = try XCTUnwrap(hexBytes("02000000000102544150495288a8206481005065080045000021109200004011de12"
                                            + "c6120002c612000100079c40000d939268656c6c6f"))
        var shape = Shape(link: .ethernet(tags: 2, serviceTag: true, groupDestination: false), ipv6: false,
                          payload: Array("hello".utf8))
        shape.ttl = 3
        shape.flags = IPv4Flags.dontFragment
        let linkHeader = EthernetField.headerLength + 2 * EthernetField.tagLength
        XCTAssertEqual(Array(Self.frame(shape).prefix(linkHeader)), Array(frame.prefix(linkHeader)),
                       "the generator's QinQ link header is not scapy's")
        let (plain, chosen, general) = replies(to: frame, link: .ethernet, output: output, values: values)
        XCTAssertEqual(plain, answer, "the plain path")
        XCTAssertEqual(chosen, answer, "reply()")
        XCTAssertEqual(general, answer, "the general path")
    }

    /// The plain path's reply, read back: the fields a reply changes, changed.
    func testAPlainReplyReadsBackAsTheAnswer() throws {
        let output = PacketOutput()
        let values = UnsafeMutablePointer<clua_set_value>.allocate(capacity: Int(CLUA_MAX_FIELDS))
        values.initialize(repeating: clua_set_value(), count: Int(CLUA_MAX_FIELDS))
        defer { values.deallocate() }
        var shape = Shape(link: .ethernet(tags: 1, serviceTag: false, groupDestination: false), ipv6: false, payload: Array("hello".utf8))
        shape.ttl = 3
        shape.tos = 0x10
        shape.flags = IPv4Flags.dontFragment
        shape.checksum = .wrong
        let (plain, _, _) = replies(to: Self.frame(shape), link: .ethernet, output: output, values: values)
        let reply = try XCTUnwrap(plain)
        try reply.withUnsafeBytes { raw in
            let frame = DecodedFrame(decoding: raw, linkType: .ethernet)
            let eth = try XCTUnwrap(frame.ethernet(raw))
            XCTAssertEqual(eth.src.description, "02:54:41:50:49:52")
            XCTAssertEqual(eth.dst.description, "02:00:00:00:00:01")
            XCTAssertEqual(eth.tag(0)?.id, 100)
            let ip = try XCTUnwrap(frame.ipv4(raw))
            XCTAssertEqual(ip.src, Self.server)
            XCTAssertEqual(ip.dst, Self.client)
            XCTAssertEqual(ip.ttl, 64)
            XCTAssertEqual(ip.tos, 0)
            XCTAssertEqual(ip.id, 4242)
            XCTAssertEqual(ip.flags, 0)
            XCTAssertTrue(ip.verifyChecksum())
            let udp = try XCTUnwrap(frame.udp(raw))
            XCTAssertEqual(udp.sport, 7)
            XCTAssertEqual(udp.dport, 40000)
            XCTAssertTrue(udp.verifyChecksum(.v4(source: Self.server, destination: Self.client)),
                          "a wrong checksum asked was answered with a right one")
            XCTAssertEqual(Array(frame.payload(raw)), Array("hello".utf8))
        }
    }
}
