import Foundation
import XCTest
@testable import Packets

/// The kernel-made frames of Fixtures/kernel-frames.pcap (see make-kernel-frames.sh),
/// decoded by FrameDecoder and compared with tshark, field by field.
final class FrameDecoderTests: XCTestCase {
    static let fields = [
        "frame.len", "frame.protocols",
        "eth.src", "eth.dst", "eth.type", "ieee8021ad.id", "ieee8021ad.priority", "vlan.id", "vlan.priority", "vlan.etype",
        "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4",
        "ip.version", "ip.src", "ip.dst", "ip.ttl", "ip.hdr_len", "ip.dsfield", "ip.id", "ip.flags", "ip.frag_offset",
        "ip.proto", "ip.len", "ip.checksum",
        "ipv6.src", "ipv6.dst", "ipv6.hlim", "ipv6.nxt", "ipv6.plen", "ipv6.flow", "ipv6.tclass",
        "ipv6.fraghdr.offset", "ipv6.fraghdr.more", "ipv6.fraghdr.ident",
        "icmp.type", "icmp.code", "icmp.checksum", "icmp.ident", "icmp.seq",
        "icmpv6.type", "icmpv6.code", "icmpv6.checksum", "icmpv6.nd.ns.target_address", "icmpv6.nd.na.target_address",
        "icmpv6.opt.linkaddr", "icmpv6.echo.identifier", "icmpv6.echo.sequence_number",
        "udp.srcport", "udp.dstport", "udp.length", "udp.checksum",
        "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value",
        "tcp.urgent_pointer", "tcp.checksum", "tcp.hdr_len", "tcp.options", "tcp.options.mss_val", "tcp.options.wscale.shift",
    ]

    /// What this decoder reads for each tshark field ("" where the field is absent).
    static func ourFields(_ frame: DecodedFrame, _ bytes: UnsafeRawBufferPointer) -> [String: String] {
        var f: [String: String] = [:]
        f["frame.len"] = String(frame.length)
        if let eth = frame.ethernet(bytes) {
            f["eth.src"] = eth.src.description
            f["eth.dst"] = eth.dst.description
            f["eth.type"] = hex(eth.type, digits: 4)
            // tshark names an 802.1ad outer tag ieee8021ad and an 802.1Q tag vlan.
            for index in 0..<frame.vlanCount {
                guard let tag = frame.vlanTag(index) else { continue }
                let layer = tag.tpid == EtherType.qinq ? "ieee8021ad" : "vlan"
                if f["\(layer).id"] == nil {
                    f["\(layer).id"] = String(tag.id)
                    f["\(layer).priority"] = String(tag.pcp)
                }
            }
            if frame.vlanCount > 0 { f["vlan.etype"] = hex(eth.payloadType, digits: 4) }
        }
        if let arp = frame.arp(bytes) {
            f["arp.opcode"] = String(arp.op)
            f["arp.src.hw_mac"] = arp.sha.description
            f["arp.src.proto_ipv4"] = arp.spa.description
            f["arp.dst.hw_mac"] = arp.tha.description
            f["arp.dst.proto_ipv4"] = arp.tpa.description
        }
        if let ip = frame.ipv4(bytes) {
            f["ip.version"] = String(ip.version)
            f["ip.src"] = ip.src.description
            f["ip.dst"] = ip.dst.description
            f["ip.ttl"] = String(ip.ttl)
            f["ip.hdr_len"] = String(ip.headerLength)
            f["ip.dsfield"] = hex(ip.tos, digits: 2)
            f["ip.id"] = hex(ip.id, digits: 4)
            f["ip.flags"] = hex(ip.flags, digits: 2)
            f["ip.frag_offset"] = String(ip.frag)
            f["ip.proto"] = String(ip.proto)
            f["ip.len"] = String(ip.len)
            f["ip.checksum"] = hex(ip.chksum, digits: 4)
        }
        if let ip = frame.ipv6(bytes) {
            f["ip.version"] = String(ip.version)
            f["ipv6.src"] = ip.src.description
            f["ipv6.dst"] = ip.dst.description
            f["ipv6.hlim"] = String(ip.hlim)
            f["ipv6.nxt"] = String(ip.nxt)
            f["ipv6.plen"] = String(ip.plen)
            f["ipv6.flow"] = hex(ip.flow, digits: 6)
            f["ipv6.tclass"] = hex(ip.tc, digits: 8)
            if ip.hasFragmentHeader {
                f["ipv6.fraghdr.offset"] = String(ip.frag)
                f["ipv6.fraghdr.more"] = ip.moreFragments ? "1" : "0"
                f["ipv6.fraghdr.ident"] = hex(ip.fragmentID, digits: 8)
            }
        }
        if let icmp = frame.icmp(bytes) {
            f["icmp.type"] = String(icmp.type)
            f["icmp.code"] = String(icmp.code)
            f["icmp.checksum"] = hex(icmp.chksum, digits: 4)
            if icmp.isEcho {  // tshark shows an error message's inner echo id here
                f["icmp.ident"] = String(icmp.id)
                f["icmp.seq"] = String(icmp.seq)
            }
        }
        if let icmp = frame.icmpv6(bytes) {
            f["icmpv6.type"] = String(icmp.type)
            f["icmpv6.code"] = String(icmp.code)
            f["icmpv6.checksum"] = hex(icmp.chksum, digits: 4)
            if icmp.type == ICMPv6Type.neighborSolicitation { f["icmpv6.nd.ns.target_address"] = icmp.target?.description }
            if icmp.type == ICMPv6Type.neighborAdvertisement { f["icmpv6.nd.na.target_address"] = icmp.target?.description }
            f["icmpv6.opt.linkaddr"] = (icmp.sourceLinkLayerAddress ?? icmp.targetLinkLayerAddress)?.description
            if icmp.type == ICMPv6Type.echoRequest || icmp.type == ICMPv6Type.echoReply {
                f["icmpv6.echo.identifier"] = hex(icmp.id, digits: 4)
                f["icmpv6.echo.sequence_number"] = String(icmp.seq)
            }
        }
        if let udp = frame.udp(bytes) {
            f["udp.srcport"] = String(udp.sport)
            f["udp.dstport"] = String(udp.dport)
            f["udp.length"] = String(udp.len)
            f["udp.checksum"] = hex(udp.chksum, digits: 4)
        }
        if let tcp = frame.tcp(bytes) {
            f["tcp.srcport"] = String(tcp.sport)
            f["tcp.dstport"] = String(tcp.dport)
            f["tcp.seq_raw"] = String(tcp.seq)
            f["tcp.ack_raw"] = String(tcp.ack)
            f["tcp.flags"] = hex(tcp.flags, digits: 4)
            f["tcp.window_size_value"] = String(tcp.window)
            f["tcp.urgent_pointer"] = String(tcp.urg)
            f["tcp.checksum"] = hex(tcp.chksum, digits: 4)
            f["tcp.hdr_len"] = String(tcp.headerLength)
            if tcp.options.count > 0 { f["tcp.options"] = tcp.options.map { hex($0, digits: 2).dropFirst(2) }.joined() }
            f["tcp.options.mss_val"] = tcp.mss.map { String($0) }
            f["tcp.options.wscale.shift"] = tcp.windowScale.map { String($0) }
        }
        return f
    }

    /// tshark's protocol chain mapped to Layers, up to the first ICMP (what follows an ICMP
    /// error is the quoted datagram, which FrameDecoder does not decode).
    static func tsharkLayers(_ protocols: String) -> Layers {
        var layers: Layers = .frame
        for name in protocols.split(separator: ":") {
            switch name {
            case "eth": layers.insert(.eth)
            case "vlan", "ieee8021ad": layers.insert(.vlan)
            case "arp": layers.insert(.arp)
            case "ip": layers.insert(.ip)
            case "ipv6": layers.insert(.ipv6)
            case "udp": layers.insert(.udp)
            case "tcp": layers.insert(.tcp)
            case "icmp":
                layers.insert(.icmp)
                return layers
            case "icmpv6":
                layers.insert(.icmpv6)
                return layers
            default: break
            }
        }
        return layers
    }

    func testFieldsMatchTShark() throws {
        let frames = try Fixture.kernelFrames()
        let expected = try TShark.fields(try Fixture.kernelFramesURL, Self.fields)
        XCTAssertEqual(expected.count, frames.count, "tshark and the test reader see the same frames")
        var compared = 0
        for (index, bytes) in frames.enumerated() where index < expected.count {
            bytes.withUnsafeBytes { raw in
                let frame = FrameDecoder.decode(raw, linkType: .ethernet)
                XCTAssertFalse(frame.isMalformed, "frame \(index + 1): \(String(describing: frame.malformedReason))")
                let theirs = Dictionary(uniqueKeysWithValues: zip(Self.fields, expected[index]))
                XCTAssertEqual(frame.layers, Self.tsharkLayers(theirs["frame.protocols"] ?? ""),
                               "frame \(index + 1) layers (tshark: \(theirs["frame.protocols"] ?? ""))")
                let ours = Self.ourFields(frame, raw)
                // After an ICMP error tshark also decodes the quoted datagram, and its fields
                // fill the columns of layers this frame does not have itself.
                let protocols = (theirs["frame.protocols"] ?? "").split(separator: ":").map(String.init)
                let quoted = Set(protocols.drop { $0 != "icmp" && $0 != "icmpv6" }.dropFirst())
                for field in Self.fields where field != "frame.protocols" {
                    let layer = String(field.prefix { $0 != "." })
                    if ours[field] == nil, quoted.contains(layer) { continue }
                    XCTAssertEqual(ours[field] ?? "", theirs[field] ?? "", "frame \(index + 1) \(field)")
                    compared += 1
                }
            }
        }
        XCTAssertGreaterThan(compared, 1000)
    }

    /// The capture holds every kind of frame the decoder must handle.
    func testFixtureCoversEveryLayer() throws {
        var seen: Set<String> = []
        for bytes in try Fixture.kernelFrames() {
            bytes.withUnsafeBytes { raw in
                let frame = DecodedFrame(decoding: raw, linkType: .ethernet)
                if let arp = frame.arp(raw) { seen.insert("arp\(arp.op)") }
                if frame.vlanCount == 1 { seen.insert("vlan") }
                if frame.vlanCount == 2 { seen.insert("qinq") }
                if frame.has(.ip), frame.isFragment { seen.insert("ip-fragment") }
                if frame.has(.ipv6), frame.isFragment { seen.insert("ipv6-fragment") }
                if let ip = frame.ipv6(raw), ip.nxt == IPProtocol.hopByHop { seen.insert("hop-by-hop") }
                if let icmp = frame.icmp(raw) { seen.insert("icmp\(icmp.type)") }
                if let icmp = frame.icmpv6(raw) { seen.insert("icmpv6-\(icmp.type)") }
                if frame.has(.udp) { seen.insert("udp") }
                if let tcp = frame.tcp(raw) { seen.insert("tcp\(tcp.flags)") }
            }
        }
        let wanted: Set = ["arp1", "arp2", "vlan", "qinq", "ip-fragment", "ipv6-fragment", "hop-by-hop",
                           "icmp0", "icmp8", "icmp3", "icmp11", "icmpv6-128", "icmpv6-129", "icmpv6-133",
                           "icmpv6-135", "icmpv6-136", "udp", "tcp2", "tcp20"]
        XCTAssertEqual(wanted.subtracting(seen), [], "kinds missing from the fixture")
    }

    func testNonFirstFragmentsHaveNoTransport() throws {
        var fragments = 0
        for bytes in try Fixture.kernelFrames() {
            bytes.withUnsafeBytes { raw in
                let frame = FrameDecoder.decode(raw, linkType: .ethernet)
                let offset = frame.ipv4(raw)?.frag ?? frame.ipv6(raw)?.frag ?? 0
                guard offset != 0 else { return }
                fragments += 1
                XCTAssertTrue(frame.isFragment)
                XCTAssertFalse(frame.has(.icmp) || frame.has(.icmpv6) || frame.has(.udp) || frame.has(.tcp))
                XCTAssertEqual(frame.payloadOffset, frame.transportOffset)
                XCTAssertEqual(frame.payloadOffset + frame.payloadLength, frame.networkEnd)
            }
        }
        XCTAssertEqual(fragments, 6)
    }

    func testRawIPStartsAtTheIPHeader() throws {
        for bytes in try Fixture.kernelFrames() {
            bytes.withUnsafeBytes { raw in
                let ethernet = FrameDecoder.decode(raw, linkType: .ethernet)
                guard ethernet.has(.ip) || ethernet.has(.ipv6) else { return }
                let ip = UnsafeRawBufferPointer(rebasing: raw[ethernet.networkOffset...])
                let frame = FrameDecoder.decode(ip, linkType: .rawIP)
                XCTAssertEqual(frame.layers, ethernet.layers.subtracting([.eth, .vlan]))
                XCTAssertEqual(frame.etherType, ethernet.etherType)
                XCTAssertEqual(frame.ipProtocol, ethernet.ipProtocol)
                XCTAssertEqual(frame.networkOffset, 0)
                XCTAssertEqual(frame.transportOffset, ethernet.transportOffset - ethernet.networkOffset)
                XCTAssertEqual(frame.payloadLength, ethernet.payloadLength)
                XCTAssertEqual(frame.ipv4(ip)?.src, ethernet.ipv4(raw)?.src)
                XCTAssertEqual(frame.ipv6(ip)?.dst, ethernet.ipv6(raw)?.dst)
            }
        }
        let bad: [UInt8] = [0x55, 0, 0, 0]
        bad.withUnsafeBytes { raw in
            let frame = FrameDecoder.decode(raw, linkType: .rawIP)
            XCTAssertEqual(frame.malformedReason, .badVersion)
            XCTAssertEqual(frame.malformedLayer, .ip)
            XCTAssertEqual(frame.layers, .frame)
        }
    }

    func testPayloadOfUDPAndEcho() throws {
        let frames = try Fixture.kernelFrames()
        for bytes in frames {
            bytes.withUnsafeBytes { raw in
                let frame = FrameDecoder.decode(raw, linkType: .ethernet)
                if let udp = frame.udp(raw) {
                    XCTAssertEqual(Array(frame.payload(raw)), Array(udp.payload))
                    XCTAssertEqual(frame.payloadLength, Int(udp.len) - 8)
                }
                if let icmp = frame.icmp(raw), icmp.isEcho, !frame.isFragment {
                    XCTAssertEqual(Array(frame.payload(raw)), Array(icmp.payload))
                }
                if let tcp = frame.tcp(raw) {
                    XCTAssertEqual(frame.payloadLength, 0)
                    XCTAssertEqual(frame.payloadOffset, frame.transportOffset + tcp.headerLength)
                }
                if frame.has(.arp) {
                    XCTAssertEqual(frame.payloadLength, 0)
                    XCTAssertEqual(frame.networkEnd, frame.networkOffset + 28)
                }
            }
        }
    }

    func testLayerNames() {
        XCTAssertEqual(Layers(name: "icmpv6"), .icmpv6)
        XCTAssertNil(Layers(name: "sctp"))
        XCTAssertEqual(([.frame, .eth, .ip, .udp] as Layers).description, "frame:eth:ip:udp")
    }
}
