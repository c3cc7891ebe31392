import XCTest
@testable import Packets

/// Every truncation and thousands of seeded corruptions of the kernel frames, through the
/// decoder, every view constructor and every getter: nothing traps, nothing hangs.
final class RobustnessTests: XCTestCase {
    /// Reads every field of every view that accepts `bytes` at a few likely starts, and
    /// decodes it as both link types. Returns a number so the work is not optimised away.
    static func exercise(_ raw: UnsafeRawBufferPointer) -> Int {
        var sink = 0
        for linkType in [LinkType.ethernet, .rawIP] {
            let frame = FrameDecoder.decode(raw, linkType: linkType)
            sink &+= frame.layers.rawValue.nonzeroBitCount &+ frame.payload(raw).count
            sink &+= touch(frame, raw)
        }
        for start in [0, 14, 18, 22, 34, 38, 42, 54, 62] where start <= raw.count {
            sink &+= touchViews(UnsafeRawBufferPointer(rebasing: raw[start...]))
        }
        return sink
    }

    static func touch(_ frame: DecodedFrame, _ raw: UnsafeRawBufferPointer) -> Int {
        var sink = 0
        if let eth = frame.ethernet(raw) { sink &+= touch(eth) }
        for index in 0..<3 { sink &+= Int(frame.vlanTag(index)?.id ?? 0) }
        if let arp = frame.arp(raw) { sink &+= touch(arp) }
        if let ip = frame.ipv4(raw) { sink &+= touch(ip) }
        if let ip = frame.ipv6(raw) { sink &+= touch(ip) }
        let pseudo = frame.pseudoHeader(raw)
        if let icmp = frame.icmp(raw) { sink &+= touch(icmp) }
        if let icmp = frame.icmpv6(raw) { sink &+= touch(icmp, pseudo) }
        if let udp = frame.udp(raw) { sink &+= touch(udp, pseudo) }
        if let tcp = frame.tcp(raw) { sink &+= touch(tcp, pseudo) }
        return sink
    }

    static func touchViews(_ raw: UnsafeRawBufferPointer) -> Int {
        var sink = 0
        let pseudo = IPPseudoHeader.v4(source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(198, 18, 0, 2))
        if let eth = try? EthernetFrame(raw) { sink &+= touch(eth) }
        if let arp = try? ARPPacket(raw) { sink &+= touch(arp) }
        if let ip = try? IPv4Packet(raw) { sink &+= touch(ip) }
        if let ip = try? IPv6Packet(raw) { sink &+= touch(ip) }
        if let icmp = try? ICMPv4Packet(raw) { sink &+= touch(icmp) }
        if let icmp = try? ICMPv6Packet(raw) { sink &+= touch(icmp, pseudo) }
        if let udp = try? UDPPacket(raw) { sink &+= touch(udp, pseudo) }
        if let tcp = try? TCPPacket(raw) { sink &+= touch(tcp, pseudo) }
        return sink
    }

    static func touch(_ eth: EthernetFrame) -> Int {
        let repr = EthernetRepr.parse(eth)
        return Int(eth.dst.value & 1) &+ Int(eth.src.value & 1) &+ Int(eth.type) &+ Int(eth.payloadType)
            &+ eth.payload.count &+ (eth.tag(0)?.description.count ?? 0) &+ Int(eth.tag(1)?.tci ?? 0)
            &+ repr.description.count &+ repr.bufferLength
    }

    static func touch(_ arp: ARPPacket) -> Int {
        let description = (try? ARPRepr.parse(arp))?.description ?? ""
        return Int(arp.htype) &+ Int(arp.ptype) &+ Int(arp.hlen) &+ Int(arp.plen) &+ Int(arp.op)
            &+ arp.sha.description.count &+ arp.spa.description.count &+ arp.tha.description.count
            &+ arp.tpa.description.count &+ description.count
    }

    static func touch(_ ip: IPv4Packet) -> Int {
        var sink = Int(ip.version) &+ Int(ip.ihl) &+ Int(ip.tos) &+ Int(ip.dscp) &+ Int(ip.ecn) &+ Int(ip.len)
        sink &+= Int(ip.id) &+ Int(ip.flags) &+ Int(ip.frag) &+ (ip.dontFragment ? 1 : 0) &+ (ip.isFragment ? 1 : 0)
        sink &+= Int(ip.ttl) &+ Int(ip.proto) &+ Int(ip.chksum) &+ ip.src.description.count &+ ip.dst.description.count
        sink &+= ip.options.count &+ ip.payload.count &+ (ip.verifyChecksum() ? 1 : 0)
        if let repr = try? IPv4Repr.parse(ip, checkChecksum: false) { sink &+= repr.description.count &+ repr.bufferLength }
        return sink
    }

    static func touch(_ ip: IPv6Packet) -> Int {
        var sink = Int(ip.version) &+ Int(ip.tc) &+ Int(ip.flow) &+ Int(ip.plen) &+ Int(ip.nxt) &+ Int(ip.hlim)
        sink &+= ip.src.description.count &+ ip.dst.description.count &+ Int(ip.proto) &+ ip.upperLayerOffset
        sink &+= Int(ip.frag) &+ (ip.moreFragments ? 1 : 0) &+ Int(ip.fragmentID & 0xff) &+ (ip.isFragment ? 1 : 0)
        sink &+= ip.extensionHeaders.count &+ ip.payload.count
        let repr = IPv6Repr.parse(ip)
        var out: [UInt8] = []
        repr.emit(appendingTo: &out)
        return sink &+ repr.description.count &+ out.count
    }

    static func touch(_ icmp: ICMPv4Packet) -> Int {
        let description = (try? ICMPv4Repr.parse(icmp, checkChecksum: false))?.description ?? ""
        return Int(icmp.type) &+ Int(icmp.code) &+ Int(icmp.chksum) &+ Int(icmp.id) &+ Int(icmp.seq)
            &+ Int(icmp.rest & 0xff) &+ Int(icmp.mtu) &+ icmp.payload.count &+ (icmp.verifyChecksum() ? 1 : 0)
            &+ description.count
    }

    static func touch(_ icmp: ICMPv6Packet, _ pseudo: IPPseudoHeader?) -> Int {
        var sink = Int(icmp.type) &+ Int(icmp.code) &+ Int(icmp.chksum) &+ Int(icmp.id) &+ Int(icmp.seq)
        sink &+= Int(icmp.ndFlags) &+ (icmp.target?.description.count ?? 0) &+ icmp.options.count &+ icmp.payload.count
        sink &+= (icmp.sourceLinkLayerAddress?.description.count ?? 0) &+ (icmp.targetLinkLayerAddress?.description.count ?? 0)
        if let pseudo {
            sink &+= icmp.verifyChecksum(pseudo) ? 1 : 0
            if let repr = try? ICMPv6Repr.parse(icmp, pseudoHeader: nil) {
                var out: [UInt8] = []
                repr.emit(appendingTo: &out, pseudoHeader: pseudo)
                sink &+= out.count &+ repr.description.count
            }
        }
        return sink
    }

    static func touch(_ udp: UDPPacket, _ pseudo: IPPseudoHeader?) -> Int {
        var sink = Int(udp.sport) &+ Int(udp.dport) &+ Int(udp.len) &+ Int(udp.chksum) &+ udp.payload.count
        if let pseudo { sink &+= udp.verifyChecksum(pseudo) ? 1 : 0 }
        return sink
    }

    static func touch(_ tcp: TCPPacket, _ pseudo: IPPseudoHeader?) -> Int {
        var sink = Int(tcp.sport) &+ Int(tcp.dport) &+ Int(tcp.seq & 0xff) &+ Int(tcp.ack & 0xff) &+ Int(tcp.dataofs)
        sink &+= Int(tcp.flags) &+ Int(tcp.window) &+ Int(tcp.chksum) &+ Int(tcp.urg) &+ tcp.options.count
        sink &+= tcp.payload.count &+ Int(tcp.mss ?? 0) &+ Int(tcp.windowScale ?? 0)
        for kind in UInt8(0)...UInt8(9) { sink &+= tcp.option(kind)?.count ?? 0 }
        if let pseudo {
            sink &+= tcp.verifyChecksum(pseudo) ? 1 : 0
            if let repr = try? TCPRepr.parse(tcp, pseudoHeader: nil) { sink &+= repr.description.count }
        }
        return sink
    }

    /// Runs `body` on an exactly-sized heap copy, so reading one byte past the end is a real
    /// out-of-bounds access (caught by the debug bounds checks of the buffer pointer loads).
    static func withExactCopy(_ bytes: ArraySlice<UInt8>, _ body: (UnsafeRawBufferPointer) -> Int) -> Int {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        defer { copy.deallocate() }
        copy.copyBytes(from: bytes)
        return body(UnsafeRawBufferPointer(copy))
    }

    func testEveryTruncation() throws {
        var sink = 0
        var cases = 0
        for frame in try Fixture.kernelFrames() {
            for length in 0...frame.count {
                sink &+= Self.withExactCopy(frame[0..<length], Self.exercise)
                cases += 1
            }
        }
        XCTAssertGreaterThan(cases, 10_000)
        XCTAssertNotEqual(sink, 0)
    }

    func testSeededCorruptions() throws {
        var random = SplitMix64(seed: 0x7a91_2026)
        var sink = 0
        let frames = try Fixture.kernelFrames()
        var decodedMalformed = 0
        for round in 0..<25_000 {
            var bytes = frames[round % frames.count]
            // Mostly header bytes: that is where lengths and offsets live.
            let flips = Int.random(in: 1...6, using: &random)
            for _ in 0..<flips {
                let span = Bool.random(using: &random) ? min(bytes.count, 80) : bytes.count
                bytes[Int.random(in: 0..<span, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            if Int.random(in: 0..<4, using: &random) == 0 {
                bytes.removeLast(Int.random(in: 0...bytes.count, using: &random))
            }
            sink &+= Self.withExactCopy(bytes[...], Self.exercise)
            bytes.withUnsafeBytes { raw in
                if FrameDecoder.decode(raw, linkType: .ethernet).isMalformed { decodedMalformed += 1 }
            }
        }
        XCTAssertGreaterThan(decodedMalformed, 1000, "the corruptions reach the checks")
        XCTAssertNotEqual(sink, 0)
    }

    func testRandomBytes() {
        var random = SplitMix64(seed: 42)
        var sink = 0
        for _ in 0..<5_000 {
            let length = Int.random(in: 0...128, using: &random)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            // Make the random bytes look like IP often enough to get past the first checks.
            if length > 14, Bool.random(using: &random) {
                bytes[12] = 0x08
                bytes[13] = 0x00
                bytes[14] = 0x45
            }
            sink &+= Self.withExactCopy(bytes[...], Self.exercise)
        }
        XCTAssertNotEqual(sink, 0)
    }
}
