import Packets

// pkt:reply with no overrides to a UDP datagram (an echo's answer), built by copying the
// datagram and rewriting the fields a reply changes, where the general path (Reply.swift)
// looks up every overridable field and emits each header anew: about a quarter of
// udp-echo's instructions per packet went there. The bytes are the general path's,
// exactly (PlainReplyTests compares the two over many frames): addresses and ports
// swapped, VLAN tags kept, IPv4 tos 0, a fresh id, no fragment bits, TTL 64; IPv6 traffic
// class and flow kept, hop limit 64; the UDP checksum computed over the reply.
// Anything else (IPv4 options, IPv6 extension headers, a fragment, a frame sent to a group
// MAC address, lengths that disagree, trailing bytes past the datagram) takes the general
// path.

extension PacketOutput {
    /// The reply's length in `buffer`, or nil when the packet is not a plain UDP datagram.
    func plainUDPReply(to bytes: UnsafeRawBufferPointer, frame: DecodedFrame, ipv4ID: UInt16) -> Int? {
        guard frame.has(.udp), !frame.isFragment, !frame.isMalformed, bytes.count == frame.length,
              frame.networkEnd == bytes.count else { return nil }
        let isIPv4 = frame.has(.ip)
        guard isIPv4 || frame.has(.ipv6) else { return nil }
        let networkHeader = isIPv4 ? IPv4Field.headerLength : IPv6Field.headerLength
        guard frame.transportOffset == frame.networkOffset + networkHeader else { return nil }  // options, extensions
        let udpLength = frame.networkEnd - frame.transportOffset
        guard udpLength >= UDPField.headerLength, Int(bytes.u16(frame.transportOffset + UDPField.length)) == udpLength
        else { return nil }

        // The link header (any VLAN tags with it), or none on a tun.
        var at = 0
        if let eth = frame.ethernet(bytes) {
            guard !eth.dst.isMulticast, eth.headerLength == frame.networkOffset else { return nil }
            at = eth.headerLength
            let (source, destination) = (eth.dst, eth.src)  // read before anything is written
            buffer.copy(bytes.slice(0, at), to: 0)
            destination.store(into: buffer, at: EthernetField.destination)
            source.store(into: buffer, at: EthernetField.source)
        } else if frame.has(.eth) {
            return nil
        }
        let network = bytes.slice(frame.networkOffset, frame.networkEnd)
        guard at + network.count <= PacketOutput.capacity else { return nil }
        let ports = (source: network.u16(networkHeader + UDPField.destinationPort),
                     destination: network.u16(networkHeader + UDPField.sourcePort))
        buffer.copy(network, to: at)
        let reply = region(at, at + network.count)

        let pseudoHeader: IPPseudoHeader
        if isIPv4 {
            guard network.u8(IPv4Field.versionAndHeaderLength) == 0x45 else { return nil }
            let source = IPv4Address(loading: network, at: IPv4Field.destination)
            let destination = IPv4Address(loading: network, at: IPv4Field.source)
            reply.setU8(IPv4Field.tos, 0)
            reply.setU16(IPv4Field.identification, ipv4ID)
            reply.setU16(IPv4Field.flagsAndFragmentOffset, 0)
            reply.setU8(IPv4Field.ttl, 64)
            source.store(into: reply, at: IPv4Field.source)
            destination.store(into: reply, at: IPv4Field.destination)
            reply.setU16(IPv4Field.checksum, 0)
            reply.setU16(IPv4Field.checksum, Checksum.compute(UnsafeRawBufferPointer(reply.slice(0, IPv4Field.headerLength))))
            pseudoHeader = .v4(source: source, destination: destination)
        } else {
            let source = IPv6Address(loading: network, at: IPv6Field.destination)
            let destination = IPv6Address(loading: network, at: IPv6Field.source)
            reply.setU8(IPv6Field.hopLimit, 64)
            source.store(into: reply, at: IPv6Field.source)
            destination.store(into: reply, at: IPv6Field.destination)
            pseudoHeader = .v6(source: source, destination: destination)
        }
        let udp = reply.slice(networkHeader, network.count)
        udp.setU16(UDPField.sourcePort, ports.source)
        udp.setU16(UDPField.destinationPort, ports.destination)
        udp.setU16(UDPField.checksum, 0)
        pseudoHeader.fillTransportChecksumIfZero(protocol: IPProtocol.udp, segment: udp)
        return at + network.count
    }
}
