// Fuzz target: the layered decoder, every field getter and every representation's round
// trip (parse -> emit -> parse gives the same representation), on each input as a tap
// frame (Ethernet) and as a tun datagram (raw IP); then IPv4 and IPv6 fragmentation and
// reassembly: the input fragmented (IPv4 at two MTUs, IPv6 at 1280) and reassembled must
// give its data back (IPv6: the very datagram), and the input cut into length-prefixed
// pieces goes through both reassemblers as fragments. The decoder's
// one-pass path for common frames must agree with the full decoder. A trap or a memory
// error is a finding.
import FuzzDriver
@_spi(Checking) import Packets

/// Fails the run: libFuzzer reports the trap with the input that caused it.
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

/// `repr` emitted into an exactly sized buffer (followed by `trailing` zero bytes, for
/// headers whose length field counts a payload), handed to `parse`, which must return
/// owned values: the buffer is gone afterwards.
func emitted<Repr>(_ length: Int, trailing: Int = 0, _ emit: (UnsafeMutableRawBufferPointer) -> Bool,
                   _ parse: (UnsafeRawBufferPointer) -> Repr?) -> Repr? {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: length + trailing, alignment: 8)
    defer { buffer.deallocate() }
    buffer.initializeMemory(as: UInt8.self, repeating: 0)
    guard emit(buffer) else { return nil }
    return parse(UnsafeRawBufferPointer(buffer))
}

/// What the getters returned, summed, so that no read is optimised away. One thread.
nonisolated(unsafe) var sink = 0

func readFields(_ eth: EthernetFrame) {
    sink &+= Int(eth.dst.value & 1) &+ Int(eth.src.value & 1) &+ Int(eth.type) &+ Int(eth.payloadType)
    sink &+= eth.payload.count &+ (eth.tag(0)?.description.count ?? 0) &+ Int(eth.tag(1)?.tci ?? 0)
    let repr = EthernetRepr.parse(eth)
    sink &+= repr.description.count
    let again = emitted(repr.bufferLength, repr.emit(into:)) { (try? EthernetFrame($0)).map(EthernetRepr.parse) }
    check(again == repr, "Ethernet \(repr) came back as \(String(describing: again))")
}

func readFields(_ arp: ARPPacket) {
    sink &+= Int(arp.htype) &+ Int(arp.ptype) &+ Int(arp.hlen) &+ Int(arp.plen) &+ Int(arp.op)
    sink &+= arp.sha.description.count &+ arp.spa.description.count &+ arp.tha.description.count
    sink &+= arp.tpa.description.count
    guard let repr = try? ARPRepr.parse(arp) else { return }
    sink &+= repr.description.count
    let again = emitted(repr.bufferLength, repr.emit(into:)) { (try? ARPPacket($0)).flatMap { try? ARPRepr.parse($0) } }
    check(again == repr, "ARP \(repr) came back as \(String(describing: again))")
}

func readFields(_ ip: IPv4Packet) {
    sink &+= Int(ip.version) &+ Int(ip.ihl) &+ Int(ip.tos) &+ Int(ip.dscp) &+ Int(ip.ecn) &+ Int(ip.len)
    sink &+= Int(ip.id) &+ Int(ip.flags) &+ Int(ip.frag) &+ (ip.dontFragment ? 1 : 0) &+ (ip.moreFragments ? 1 : 0)
    sink &+= (ip.isFragment ? 1 : 0) &+ Int(ip.ttl) &+ Int(ip.proto) &+ Int(ip.chksum)
    sink &+= ip.src.description.count &+ ip.dst.description.count &+ ip.options.count &+ ip.payload.count
    sink &+= (ip.verifyChecksum() ? 1 : 0)
    guard let repr = try? IPv4Repr.parse(ip, checkChecksum: false) else { return }
    sink &+= repr.description.count
    let again = emitted(repr.bufferLength, trailing: max(repr.payloadLength, 0), repr.emit(into:)) { bytes in
        (try? IPv4Packet(bytes)).flatMap { packet in
            check(packet.verifyChecksum(), "emitted IPv4 header checksum does not verify")
            return try? IPv4Repr.parse(packet)
        }
    }
    check(again == repr, "IPv4 \(repr) came back as \(String(describing: again))")
}

func readFields(_ ip: IPv6Packet) {
    sink &+= Int(ip.version) &+ Int(ip.tc) &+ Int(ip.flow) &+ Int(ip.plen) &+ Int(ip.nxt) &+ Int(ip.hlim)
    sink &+= ip.src.description.count &+ ip.dst.description.count &+ Int(ip.proto) &+ ip.upperLayerOffset
    sink &+= Int(ip.frag) &+ (ip.moreFragments ? 1 : 0) &+ Int(ip.fragmentID & 0xff) &+ (ip.isFragment ? 1 : 0)
    sink &+= ip.extensionHeaders.count &+ ip.payload.count
    let repr = IPv6Repr.parse(ip)
    sink &+= repr.description.count
    let again = emitted(repr.bufferLength, trailing: repr.payloadLength, repr.emit(into:)) { bytes in
        (try? IPv6Packet(bytes)).map(IPv6Repr.parse)
    }
    // emit refuses extension headers that are not a multiple of 8 bytes (AH): no round trip then.
    guard repr.extensionHeaders.allSatisfy({ $0.length % 8 == 0 }) else { return }
    check(again == repr, "IPv6 \(repr) came back as \(String(describing: again))")
}

func readFields(_ icmp: ICMPv4Packet) {
    sink &+= Int(icmp.type) &+ Int(icmp.code) &+ Int(icmp.chksum) &+ Int(icmp.id) &+ Int(icmp.seq)
    sink &+= Int(icmp.rest & 0xff) &+ Int(icmp.mtu) &+ icmp.payload.count &+ (icmp.verifyChecksum() ? 1 : 0)
    sink &+= (icmp.isEcho ? 1 : 0) &+ (icmp.isError ? 1 : 0)
    guard let repr = try? ICMPv4Repr.parse(icmp, checkChecksum: false) else { return }
    sink &+= repr.description.count
    let again = emitted(repr.bufferLength, repr.emit(into:)) { bytes in
        (try? ICMPv4Packet(bytes)).flatMap { try? ICMPv4Repr.parse($0) }  // the checksum is checked
    }
    check(again == repr, "ICMP \(repr) came back as \(String(describing: again))")
}

func readFields(_ icmp: ICMPv6Packet, _ pseudo: IPPseudoHeader) {
    sink &+= Int(icmp.type) &+ Int(icmp.code) &+ Int(icmp.chksum) &+ Int(icmp.id) &+ Int(icmp.seq)
    sink &+= Int(icmp.ndFlags) &+ (icmp.target?.description.count ?? 0) &+ icmp.options.count &+ icmp.payload.count
    sink &+= (icmp.sourceLinkLayerAddress?.description.count ?? 0) &+ (icmp.targetLinkLayerAddress?.description.count ?? 0)
    sink &+= (icmp.verifyChecksum(pseudo) ? 1 : 0) &+ (icmp.isNeighborMessage ? 1 : 0)
    guard let repr = try? ICMPv6Repr.parse(icmp, pseudoHeader: nil) else { return }
    sink &+= repr.description.count
    let again = emitted(repr.bufferLength, { repr.emit(into: $0, pseudoHeader: pseudo) }) { bytes in
        (try? ICMPv6Packet(bytes)).flatMap { try? ICMPv6Repr.parse($0, pseudoHeader: pseudo) }
    }
    check(again == repr, "ICMPv6 \(repr) came back as \(String(describing: again))")
}

func readFields(_ udp: UDPPacket, _ pseudo: IPPseudoHeader, whole: Bool) {
    sink &+= Int(udp.sport) &+ Int(udp.dport) &+ Int(udp.len) &+ Int(udp.chksum) &+ udp.payload.count
    sink &+= (udp.verifyChecksum(pseudo) ? 1 : 0)
    // A first fragment's length counts later fragments: its view is not a whole datagram.
    guard whole, let repr = try? UDPRepr.parse(udp, pseudoHeader: nil) else { return }
    sink &+= repr.description.count
    let again = emitted(repr.bufferLength, { repr.emit(into: $0, pseudoHeader: pseudo) }) { bytes in
        (try? UDPPacket(bytes)).flatMap { try? UDPRepr.parse($0, pseudoHeader: pseudo) }
    }
    check(again == repr, "UDP \(repr) came back as \(String(describing: again))")
}

func readFields(_ tcp: TCPPacket, _ pseudo: IPPseudoHeader) {
    sink &+= Int(tcp.sport) &+ Int(tcp.dport) &+ Int(tcp.seq & 0xff) &+ Int(tcp.ack & 0xff) &+ Int(tcp.dataofs)
    sink &+= Int(tcp.flags) &+ Int(tcp.window) &+ Int(tcp.chksum) &+ Int(tcp.urg) &+ tcp.options.count
    sink &+= tcp.payload.count &+ Int(tcp.mss ?? 0) &+ Int(tcp.windowScale ?? 0) &+ (tcp.verifyChecksum(pseudo) ? 1 : 0)
    for kind in UInt8(0)...UInt8(30) { sink &+= tcp.option(kind)?.count ?? 0 }
    guard let repr = try? TCPRepr.parse(tcp, pseudoHeader: nil) else { return }
    sink &+= repr.description.count
    let again = emitted(repr.bufferLength, { repr.emit(into: $0, pseudoHeader: pseudo) }) { bytes in
        (try? TCPPacket(bytes)).flatMap { try? TCPRepr.parse($0, pseudoHeader: pseudo) }
    }
    check(again == repr, "TCP \(repr) came back as \(String(describing: again))")
}

func exercise(_ bytes: UnsafeRawBufferPointer, _ linkType: LinkType) {
    let frame = FrameDecoder.decode(bytes, linkType: linkType)
    if linkType == .ethernet, let common = FrameDecoder.decodeCommonEthernet(bytes) {
        let full = FrameDecoder.decodeInFull(bytes, linkType: .ethernet)
        check(common == full, "the common-frame path gave \(common), the full decoder \(full)")
    }
    sink &+= frame.layers.description.count &+ frame.payload(bytes).count &+ frame.summary(bytes).count
    for index in 0..<3 { sink &+= Int(frame.vlanTag(index)?.id ?? 0) }
    if let eth = frame.ethernet(bytes) { readFields(eth) }
    if let arp = frame.arp(bytes) { readFields(arp) }
    if let ip = frame.ipv4(bytes) { readFields(ip) }
    if let ip = frame.ipv6(bytes) { readFields(ip) }
    if let icmp = frame.icmp(bytes) { readFields(icmp) }
    guard let pseudo = frame.pseudoHeader(bytes) else { return }
    if let icmp = frame.icmpv6(bytes) { readFields(icmp, pseudo) }
    if let udp = frame.udp(bytes) { readFields(udp, pseudo, whole: !frame.isFragment) }
    if let tcp = frame.tcp(bytes) { readFields(tcp, pseudo) }
}

/// Where the fragmenter builds each fragment. One thread.
nonisolated(unsafe) let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)

/// Fragments the input (a raw IP datagram) at `mtu`; every fragment is decoded, and all
/// of them reassembled must carry the datagram's data.
func fragmentAndReassemble(_ datagram: UnsafeRawBufferPointer, mtu: Int) {
    let reassembler = IPv4Reassembler()
    var whole: [UInt8]?
    var fragments = 0
    let outcome = IPv4Fragmenter.fragment(datagram, networkOffset: 0, mtu: mtu, identification: 7,
                                          scratch: scratch) { fragment in
        fragments += 1
        exercise(fragment, .rawIP)
        if let done = reassembler.add(fragment, networkOffset: 0, now: 0) { whole = done }
        return true
    }
    guard case .fragmented = outcome, let ip = try? IPv4Packet(datagram), !ip.isFragment else { return }
    whole?.withUnsafeBytes { exercise($0, .rawIP) }
    check(whole != nil, "\(fragments) fragments of a \(ip.len)-byte datagram were not reassembled")
    guard let whole else { return }
    let data = Array(ip.payload)
    let headerLength = Int(whole[0] & 0x0f) * 4
    check(Array(whole[headerLength...]) == data, "reassembly changed the data of a \(ip.len)-byte datagram")
}

/// Fragments the input (a raw IPv6 datagram) at `mtu`; every fragment is decoded and fits,
/// and all of them reassembled must be the datagram again, byte for byte.
func fragmentAndReassembleIPv6(_ datagram: UnsafeRawBufferPointer, mtu: Int) {
    let reassembler = IPv6Reassembler()
    var whole: [UInt8]?
    var fragments = 0
    let outcome = IPv6Fragmenter.fragment(datagram, networkOffset: 0, mtu: mtu, identification: 7,
                                          scratch: scratch) { fragment in
        fragments += 1
        check(fragment.count <= mtu, "a \(fragment.count)-byte IPv6 fragment for an MTU of \(mtu)")
        exercise(fragment, .rawIP)
        if let done = reassembler.add(fragment, networkOffset: 0, now: 0) { whole = done }
        return true
    }
    guard case .fragmented = outcome, let ip = try? IPv6Packet(datagram) else { return }
    whole?.withUnsafeBytes { exercise($0, .rawIP) }
    let length = IPv6Field.headerLength + Int(ip.plen)
    check(whole != nil, "\(fragments) fragments of a \(length)-byte IPv6 datagram were not reassembled")
    check(whole == Array(datagram.prefix(length)), "reassembly changed a \(length)-byte IPv6 datagram")
}

/// The input as pieces (each a 2-byte length, then that many bytes), each handed to an
/// IPv4 and an IPv6 reassembler as a raw IP fragment one second after the one before.
func reassemblePieces(_ input: UnsafeRawBufferPointer) {
    let reassembler = IPv4Reassembler()
    let reassembler6 = IPv6Reassembler()
    var at = 0
    var now: Int64 = 0
    while at + 2 <= input.count {
        let length = min(Int(input[at]) << 8 | Int(input[at + 1]), input.count - at - 2)
        let piece = UnsafeRawBufferPointer(rebasing: input[(at + 2)..<(at + 2 + length)])
        if let whole = reassembler.add(piece, networkOffset: 0, now: now) {
            whole.withUnsafeBytes { exercise($0, .rawIP) }
        }
        if let whole = reassembler6.add(piece, networkOffset: 0, now: now) {
            check(whole.count <= IPv6Field.headerLength + 65_535, "a reassembled IPv6 datagram of \(whole.count) bytes")
            whole.withUnsafeBytes { exercise($0, .rawIP) }
        }
        at += 2 + length
        now += 1_000_000_000
    }
    sink &+= reassembler.pendingCount &+ reassembler.counters.reassembled
    sink &+= reassembler6.pendingCount &+ reassembler6.counters.reassembled &+ reassembler6.counters.atomic
}

FuzzDriver.run { input in
    // An exact-size copy: a read one byte past the end is an ASan report, not a quiet read.
    let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: input.count, alignment: 8)
    defer { bytes.deallocate() }
    bytes.copyMemory(from: input)
    exercise(UnsafeRawBufferPointer(bytes), .ethernet)
    exercise(UnsafeRawBufferPointer(bytes), .rawIP)
    for mtu in [68, 576] { fragmentAndReassemble(UnsafeRawBufferPointer(bytes), mtu: mtu) }
    fragmentAndReassembleIPv6(UnsafeRawBufferPointer(bytes), mtu: IPv6Fragmenter.minimumMTU)
    reassemblePieces(UnsafeRawBufferPointer(bytes))
}
