import Packets

// pkt:reply{...}: the answer to a packet, written into the reused output buffer.
//
// Link: Ethernet source and destination swapped, VLAN tags kept. When the packet was sent
// to a broadcast or multicast address, the reply's source is eth.src, else arp.sha, else
// icmpv6.lladdr from the overrides (a reply never comes from a group address if one of
// them is given). ARP: op 2, sender and target swapped, sha from the overrides (or the
// Ethernet source given). IPv4: addresses swapped, TTL 64, a fresh id, no options or
// fragment bits, tos 0. IPv6: addresses swapped, hop limit 64, traffic class and flow kept,
// extension headers dropped. UDP and TCP: ports swapped; TCP seq = their ack, ack = their
// seq + their segment length, flags ACK, their window, no options. ICMP / ICMPv6: type,
// code and the 4 bytes after the checksum kept (so echo id/seq), data kept; a Neighbor
// Solicitation/Advertisement keeps its target. `payload=` replaces the data. Overrides
// (`reply{ip = {ttl = 5}}`) are applied last; lengths and all checksums are computed.

extension PacketOutput {
    func reply(to bytes: UnsafeRawBufferPointer, frame: DecodedFrame, _ values: SetValues,
               ipv4ID: UInt16) -> Result<UnsafeRawBufferPointer, PacketBuildError> {
        do throws(PacketBuildError) {
            guard bytes.count == frame.length else { throw PacketBuildError(message: "packet bytes changed") }
            try checkOverrides(values, frame)
            let local = values.mac(.ethSrc) ?? values.mac(.arpSHA) ?? values.mac(.icmpv6LLAddr)
            var at = 0
            if let eth = frame.ethernet(bytes) {
                at = try writeLink(eth, values, local: local)
            }
            let total: Int
            if let arp = frame.arp(bytes) {
                let repr = ARPRepr(op: try values.u16(.arpOp) ?? ARPOperation.reply,
                                   sha: values.mac(.arpSHA) ?? local ?? arp.tha, spa: values.ipv4(.arpSPA) ?? arp.tpa,
                                   tha: values.mac(.arpTHA) ?? arp.sha, tpa: values.ipv4(.arpTPA) ?? arp.spa)
                _ = repr.emit(into: UnsafeMutableRawBufferPointer(rebasing: buffer[at..<at + ARPField.length]))
                total = try place(values.bytes(.payload) ?? empty, after: at + ARPField.length)
            } else if let ip = frame.ipv4(bytes) {
                total = try replyIPv4(ip, bytes, frame, values, at: at, id: ipv4ID)
            } else if let ip = frame.ipv6(bytes) {
                total = try replyIPv6(ip, bytes, frame, values, at: at)
            } else {
                let rest = bytes.slice(from: frame.networkOffset, to: bytes.count)
                total = try place(values.bytes(.payload) ?? rest, after: at)
            }
            return .success(UnsafeRawBufferPointer(rebasing: buffer[0..<total]))
        } catch {
            return .failure(error)
        }
    }

    private var empty: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

    /// Overrides must name layers the packet has.
    private func checkOverrides(_ values: SetValues, _ frame: DecodedFrame) throws(PacketBuildError) {
        guard let given = values.given else {
            for field in PacketField.allCases where values.has(field) { try checkOverride(field, values, frame) }
            return
        }
        // The fields pkt:reply was given, read in place (none, usually): no array per reply.
        for raw in given {
            guard let field = PacketField(rawValue: raw), values.has(field) else { continue }
            try checkOverride(field, values, frame)
        }
    }

    private func checkOverride(_ field: PacketField, _ values: SetValues, _ frame: DecodedFrame) throws(PacketBuildError) {
        if field.layer != .frame {
            guard frame.has(field.layer.layers) else {
                throw PacketBuildError(message: "field '\(values.label(field))': the packet has no \(field.layer.rawValue) layer")
            }
            if field == .vlanType {
                throw PacketBuildError(message: "field '\(values.label(field))' cannot be set in a reply (use eth.type)")
            }
        }
    }

    /// The Ethernet header and its tags, addresses swapped; returns its length.
    private func writeLink(_ eth: EthernetFrame, _ values: SetValues, local: MACAddress?) throws(PacketBuildError) -> Int {
        let headerLength = eth.headerLength
        buffer.put(eth.buffer.slice(from: 0, to: headerLength), at: 0)
        let ownAddress = eth.dst.isMulticast ? (local ?? eth.dst) : eth.dst
        (values.mac(.ethDst) ?? eth.src).store(into: buffer, at: EthernetField.destination)
        (values.mac(.ethSrc) ?? ownAddress).store(into: buffer, at: EthernetField.source)
        if let type = try values.u16(.ethType) { buffer.putU16(type, at: headerLength - 2) }
        if eth.tagCount > 0, var tag = eth.tag(0) {
            if let id = try values.unsigned(.vlanID, bits: 12) { tag.id = UInt16(id) }
            if let pcp = try values.unsigned(.vlanPCP, bits: 3) { tag.pcp = UInt8(pcp) }
            if let dei = values.boolean(.vlanDEI) { tag.dei = dei }
            buffer.putU16(tag.tci, at: EthernetField.etherType + 2)
        }
        return headerLength
    }

    private func replyIPv4(_ ip: IPv4Packet, _ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame,
                           _ values: SetValues, at start: Int, id: UInt16) throws(PacketBuildError) -> Int {
        let options = values.bytes(.ipOptions) ?? empty
        let headerLength = IPv4Field.headerLength + (options.count + 3) / 4 * 4
        guard headerLength <= IPv4Field.maxHeaderLength else {
            throw PacketBuildError(message: "field '\(values.label(.ipOptions))': \(options.count) bytes, at most 40")
        }
        let proto = try values.u8(.ipProto) ?? ip.proto
        let src = values.ipv4(.ipSrc) ?? ip.dst
        let dst = values.ipv4(.ipDst) ?? ip.src
        let pseudoHeader = IPPseudoHeader.v4(source: src, destination: dst)
        let end = try writeTransport(bytes, frame, values, at: start + headerLength, pseudoHeader: pseudoHeader,
                                     limit: start + 65535)
        try writeIPv4Header(values, headerLength: headerLength, options: options, total: end, proto: proto,
                            src: src, dst: dst, ttl: 64, id: id, at: start)
        return end
    }

    private func replyIPv6(_ ip: IPv6Packet, _ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame,
                           _ values: SetValues, at start: Int) throws(PacketBuildError) -> Int {
        let src = values.ipv6(.ipv6Src) ?? ip.dst
        let dst = values.ipv6(.ipv6Dst) ?? ip.src
        let payloadStart = start + IPv6Field.headerLength
        let end = try writeTransport(bytes, frame, values, at: payloadStart,
                                     pseudoHeader: .v6(source: src, destination: dst), limit: payloadStart + 65535)
        try writeIPv6Header(values, payloadLength: end - payloadStart, next: try values.u8(.ipv6Nxt) ?? ip.proto,
                            src: src, dst: dst, tc: ip.tc, flow: ip.flow, at: start)
        return end
    }

    /// The transport of the reply at `start`, checksum included; returns where it ends.
    private func writeTransport(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame, _ values: SetValues,
                                at start: Int, pseudoHeader: IPPseudoHeader, limit: Int) throws(PacketBuildError) -> Int {
        let payload = values.bytes(.payload) ?? frame.payload(bytes)
        if let udp = frame.udp(bytes) {
            let end = try place(payload, after: start + UDPField.headerLength, limit: limit)
            buffer.putU16(try values.u16(.udpSport) ?? udp.dport, at: start + UDPField.sourcePort)
            buffer.putU16(try values.u16(.udpDport) ?? udp.sport, at: start + UDPField.destinationPort)
            buffer.putU16(UInt16(end - start), at: start + UDPField.length)
            buffer.putU16(try values.u16(.udpChksum) ?? 0, at: start + UDPField.checksum)
            fillTransportChecksum(proto: IPProtocol.udp, at: start, length: end - start, pseudoHeader: pseudoHeader)
            return end
        }
        if let tcp = frame.tcp(bytes) {
            let options = values.bytes(.tcpOptions) ?? empty
            let headerLength = TCPField.headerLength + (options.count + 3) / 4 * 4
            guard headerLength <= TCPField.maxHeaderLength else {
                throw PacketBuildError(message: "field '\(values.label(.tcpOptions))': \(options.count) bytes, at most 40")
            }
            let end = try place(payload, after: start + headerLength, limit: limit)
            let controlLength = (tcp.flags & TCPFlags.syn != 0 ? 1 : 0) + (tcp.flags & TCPFlags.fin != 0 ? 1 : 0)
            try writeTCPHeader(values, headerLength: headerLength, options: options, sport: tcp.dport, dport: tcp.sport,
                               seq: tcp.ack, ack: tcp.seq &+ UInt32(truncatingIfNeeded: frame.payloadLength + controlLength),
                               flags: TCPFlags.ack, window: tcp.window, at: start)
            fillTransportChecksum(proto: IPProtocol.tcp, at: start, length: end - start, pseudoHeader: pseudoHeader)
            return end
        }
        if let icmp = frame.icmp(bytes) {
            let end = try place(payload, after: start + ICMPv4Field.headerLength, limit: limit)
            buffer.putU8(try values.u8(.icmpType) ?? icmp.type, at: start + ICMPv4Field.type)
            buffer.putU8(try values.u8(.icmpCode) ?? icmp.code, at: start + ICMPv4Field.code)
            buffer.putU16(0, at: start + ICMPv4Field.checksum)
            buffer.putU32(icmp.rest, at: start + ICMPv4Field.rest)
            if let id = try values.u16(.icmpID) { buffer.putU16(id, at: start + ICMPv4Field.identifier) }
            if let seq = try values.u16(.icmpSeq) { buffer.putU16(seq, at: start + ICMPv4Field.sequence) }
            let message = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
            buffer.putU16(try values.u16(.icmpChksum) ?? Checksum.compute(message), at: start + ICMPv4Field.checksum)
            return end
        }
        if let icmp = frame.icmpv6(bytes) {
            let end = try replyICMPv6(icmp, values, payload: payload, at: start, limit: limit)
            fillTransportChecksum(proto: IPProtocol.icmpv6, at: start, length: end - start, pseudoHeader: pseudoHeader)
            return end
        }
        // Another protocol, or a later fragment: its bytes are the payload.
        let rest = bytes.slice(from: frame.transportOffset, to: frame.networkEnd)
        return try place(values.bytes(.payload) ?? rest, after: start, limit: limit)
    }

    private func replyICMPv6(_ icmp: ICMPv6Packet, _ values: SetValues, payload: UnsafeRawBufferPointer,
                             at start: Int, limit: Int) throws(PacketBuildError) -> Int {
        let type = try values.u8(.icmpv6Type) ?? icmp.type
        buffer.putU8(type, at: start + ICMPv6Field.type)
        buffer.putU8(try values.u8(.icmpv6Code) ?? icmp.code, at: start + ICMPv6Field.code)
        buffer.putU16(try values.u16(.icmpv6Chksum) ?? 0, at: start + ICMPv6Field.checksum)
        let isNeighborMessage = type == ICMPv6Type.neighborSolicitation || type == ICMPv6Type.neighborAdvertisement
        guard isNeighborMessage else {
            buffer.putU32(icmp.rest, at: start + ICMPv6Field.rest)
            if let id = try values.u16(.icmpv6ID) { buffer.putU16(id, at: start + ICMPv6Field.identifier) }
            if let seq = try values.u16(.icmpv6Seq) { buffer.putU16(seq, at: start + ICMPv6Field.sequence) }
            return try place(payload, after: start + ICMPv6Field.headerLength, limit: limit)
        }
        // Neighbor Solicitation / Advertisement: flags, target, link-layer address option.
        let oldFlags = icmp.type == ICMPv6Type.neighborAdvertisement ? icmp.ndFlags : 0
        let flags = type == ICMPv6Type.neighborAdvertisement ? try values.u8(.icmpv6Flags) ?? oldFlags : 0
        buffer.putU32(UInt32(flags) << 24, at: start + ICMPv6Field.rest)
        let target = values.ipv6(.icmpv6Target) ?? icmp.target ?? .unspecified
        target.store(into: buffer, at: start + ICMPv6Field.target)
        var at = start + ICMPv6Field.neighborOptions
        if let lladdr = values.mac(.icmpv6LLAddr) {
            at = writeLinkLayerOption(lladdr, type: type, at: at)
        }
        return try place(values.bytes(.payload) ?? empty, after: at, limit: limit)
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes from `start` to `end`, clamped to the buffer.
    func slice(from start: Int, to end: Int) -> UnsafeRawBufferPointer {
        let lower = Swift.min(Swift.max(start, 0), count)
        let upper = Swift.min(Swift.max(end, lower), count)
        return UnsafeRawBufferPointer(rebasing: self[lower..<upper])
    }
}
