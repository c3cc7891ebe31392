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
// Neighbour discovery replies (RS, RA, NS, NA, redirect: RFC 4861) get hop limit 255, which
// receivers require, and never come from a multicast address: an advertisement answering
// a solicitation sent to a solicited-node group comes from its target, a router message
// from the link-local address of the reply's Ethernet source (EUI-64).

extension PacketOutput {
    func reply(to bytes: UnsafeRawBufferPointer, frame: DecodedFrame, _ values: SetValues,
               ipv4ID: UInt16) -> Result<UnsafeRawBufferPointer, PacketBuildError> {
        if values.noneGiven, let total = plainUDPReply(to: bytes, frame: frame, ipv4ID: ipv4ID) {
            return .success(UnsafeRawBufferPointer(rebasing: buffer[0..<total]))
        }
        return generalReply(to: bytes, frame: frame, values, ipv4ID: ipv4ID)
    }

    /// The reply built field by field, the overrides looked up (PlainReply.swift takes the
    /// plain UDP ones).
    func generalReply(to bytes: UnsafeRawBufferPointer, frame: DecodedFrame, _ values: SetValues,
                      ipv4ID: UInt16) -> Result<UnsafeRawBufferPointer, PacketBuildError> {
        do throws(PacketBuildError) {
            guard bytes.count == frame.length else { throw PacketBuildError(message: "packet bytes changed") }
            try checkOverrides(values, frame)
            let local = values.mac(.ethSrc) ?? values.mac(.arpSHA) ?? values.mac(.icmpv6LLAddr)
            var at = 0
            var linkSource: MACAddress?
            if let eth = frame.ethernet(bytes) {
                linkSource = values.mac(.ethSrc) ?? (eth.dst.isMulticast ? (local ?? eth.dst) : eth.dst)
                at = try writeLink(eth, values, source: linkSource ?? eth.dst)
            }
            let total: Int
            if let arp = frame.arp(bytes) {
                let repr = ARPRepr(op: try values.u16(.arpOp) ?? ARPOperation.reply,
                                   sha: values.mac(.arpSHA) ?? local ?? arp.tha, spa: values.ipv4(.arpSPA) ?? arp.tpa,
                                   tha: values.mac(.arpTHA) ?? arp.sha, tpa: values.ipv4(.arpTPA) ?? arp.spa)
                total = try place(values.bytes(.payload) ?? PacketOutput.empty, after: at + ARPField.length)
                repr.emit(into: region(at, at + ARPField.length))
            } else if let ip = frame.ipv4(bytes) {
                total = try replyIPv4(ip, bytes, frame, values, at: at, id: ipv4ID)
            } else if let ip = frame.ipv6(bytes) {
                total = try replyIPv6(ip, bytes, frame, values, at: at, linkSource: linkSource)
            } else {
                let rest = bytes.slice(frame.networkOffset, bytes.count)
                total = try place(values.bytes(.payload) ?? rest, after: at)
            }
            return .success(UnsafeRawBufferPointer(rebasing: buffer[0..<total]))
        } catch {
            return .failure(error)
        }
    }

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

    /// The Ethernet header and its tags, addresses swapped (the source given); returns its length.
    private func writeLink(_ eth: EthernetFrame, _ values: SetValues, source: MACAddress) throws(PacketBuildError) -> Int {
        let headerLength = eth.headerLength
        buffer.copy(eth.buffer.slice(0, headerLength), to: 0)
        guard let link = try? MutableEthernetFrame(region(0, headerLength)) else {
            throw PacketBuildError(message: "the packet's Ethernet header did not read back")
        }
        link.setDst(values.mac(.ethDst) ?? eth.src)
        link.setSrc(source)
        if let type = try values.u16(.ethType) { link.setPayloadType(type) }
        if eth.tagCount > 0, var tag = eth.tag(0) {
            if let id = try values.unsigned(.vlanID, bits: 12) { tag.id = UInt16(id) }
            if let pcp = try values.unsigned(.vlanPCP, bits: 3) { tag.pcp = UInt8(pcp) }
            if let dei = values.boolean(.vlanDEI) { tag.dei = dei }
            link.setTag(0, tag)
        }
        return headerLength
    }

    private func replyIPv4(_ ip: IPv4Packet, _ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame,
                           _ values: SetValues, at start: Int, id: UInt16) throws(PacketBuildError) -> Int {
        var header = try ipv4Repr(values, proto: try values.u8(.ipProto) ?? ip.proto, src: values.ipv4(.ipSrc) ?? ip.dst,
                                  dst: values.ipv4(.ipDst) ?? ip.src, id: id, payloadLength: 0)
        let transportStart = start + header.headerLength
        let end = try writeTransport(bytes, frame, values, at: transportStart, pseudoHeader: header.pseudoHeader,
                                     limit: start + 65535)
        header.payloadLength = end - transportStart
        try emit(header, at: start)
        return end
    }

    private func replyIPv6(_ ip: IPv6Packet, _ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame,
                           _ values: SetValues, at start: Int, linkSource: MACAddress?) throws(PacketBuildError) -> Int {
        var src = values.ipv6(.ipv6Src) ?? ip.dst
        let dst = values.ipv6(.ipv6Dst) ?? ip.src
        var hopLimit: UInt8 = 64
        if let icmp = frame.icmpv6(bytes), ICMPv6Type.isNeighbourDiscovery(try values.u8(.icmpv6Type) ?? icmp.type) {
            hopLimit = 255
            if src.isMulticast {
                src = try ndSource(for: icmp, values, linkSource: linkSource, group: src)
            }
        }
        let payloadStart = start + IPv6Field.headerLength
        let end = try writeTransport(bytes, frame, values, at: payloadStart,
                                     pseudoHeader: .v6(source: src, destination: dst), limit: payloadStart + 65535)
        let header = try ipv6Repr(values, next: try values.u8(.ipv6Nxt) ?? ip.proto, src: src, dst: dst, tc: ip.tc,
                                  flow: ip.flow, payloadLength: end - payloadStart, hlim: hopLimit)
        header.emit(into: region(start, payloadStart))
        return end
    }

    /// The source of a neighbour discovery reply to a message sent to the multicast `group`:
    /// a neighbour message's target (the address it speaks for), else (router messages) the
    /// link-local address of the reply's Ethernet source.
    private func ndSource(for icmp: ICMPv6Packet, _ values: SetValues, linkSource: MACAddress?,
                          group: IPv6Address) throws(PacketBuildError) -> IPv6Address {
        if let target = values.ipv6(.icmpv6Target) ?? icmp.target, !target.isMulticast, !target.isUnspecified {
            return target
        }
        if let mac = linkSource, !mac.isMulticast {
            return IPv6Address.linkLocal(mac)
        }
        throw PacketBuildError(message: "the reply would come from the multicast address \(group): give ipv6 = {src = ...}")
    }

    /// The transport of the reply at `start`, checksum included; returns where it ends.
    private func writeTransport(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame, _ values: SetValues,
                                at start: Int, pseudoHeader: IPPseudoHeader, limit: Int) throws(PacketBuildError) -> Int {
        let payload = values.bytes(.payload) ?? frame.payload(bytes)
        if let udp = frame.udp(bytes) {
            let end = try place(payload, after: start + UDPField.headerLength, limit: limit)
            let header = UDPRepr(sport: try values.u16(.udpSport) ?? udp.dport, dport: try values.u16(.udpDport) ?? udp.sport,
                                 checksum: try values.u16(.udpChksum))
            header.emitHeader(into: region(start, end), payloadLength: payload.count, pseudoHeader: pseudoHeader)
            return end
        }
        if let tcp = frame.tcp(bytes) {
            let controlLength = (tcp.flags & TCPFlags.syn != 0 ? 1 : 0) + (tcp.flags & TCPFlags.fin != 0 ? 1 : 0)
            let header = try tcpRepr(values, sport: tcp.dport, dport: tcp.sport, seq: tcp.ack,
                                     ack: tcp.seq &+ UInt32(truncatingIfNeeded: frame.payloadLength + controlLength),
                                     flags: TCPFlags.ack, window: tcp.window)
            let end = try place(payload, after: start + header.headerLength, limit: limit)
            header.emitHeader(into: region(start, end), payloadLength: payload.count, pseudoHeader: pseudoHeader)
            return end
        }
        if let icmp = frame.icmp(bytes) {
            var rest = icmp.rest
            if let id = try values.u16(.icmpID) { rest = UInt32(id) << 16 | rest & 0xffff }
            if let seq = try values.u16(.icmpSeq) { rest = rest & 0xffff_0000 | UInt32(seq) }
            let header = ICMPv4Repr(type: try values.u8(.icmpType) ?? icmp.type, code: try values.u8(.icmpCode) ?? icmp.code,
                                    rest: rest, checksum: try values.u16(.icmpChksum))
            let end = try place(payload, after: start + ICMPv4Field.headerLength, limit: limit)
            header.emitHeader(into: region(start, end), payloadLength: payload.count)
            return end
        }
        if let icmp = frame.icmpv6(bytes) {
            return try replyICMPv6(icmp, values, payload: payload, at: start, limit: limit, pseudoHeader: pseudoHeader)
        }
        // Another protocol, or a later fragment: its bytes are the payload.
        let rest = bytes.slice(frame.transportOffset, frame.networkEnd)
        return try place(values.bytes(.payload) ?? rest, after: start, limit: limit)
    }

    /// Echo and other messages keep the 4 bytes after the checksum (id/seq overridable) and
    /// the data; a Neighbor Solicitation/Advertisement keeps its target, takes its flags
    /// (advertisements only) and a link-layer address option from the overrides, and carries
    /// only the payload given.
    private func replyICMPv6(_ icmp: ICMPv6Packet, _ values: SetValues, payload: UnsafeRawBufferPointer,
                             at start: Int, limit: Int, pseudoHeader: IPPseudoHeader) throws(PacketBuildError) -> Int {
        let type = try values.u8(.icmpv6Type) ?? icmp.type
        let code = try values.u8(.icmpv6Code) ?? icmp.code
        let checksum = try values.u16(.icmpv6Chksum)
        let header: ICMPv6Repr
        let data: UnsafeRawBufferPointer
        if type == ICMPv6Type.neighborSolicitation || type == ICMPv6Type.neighborAdvertisement {
            let oldFlags = icmp.type == ICMPv6Type.neighborAdvertisement ? icmp.ndFlags : 0
            let flags = type == ICMPv6Type.neighborAdvertisement ? try values.u8(.icmpv6Flags) ?? oldFlags : 0
            header = icmpv6Repr(type: type, code: code, rest: UInt32(flags) << 24,
                                target: values.ipv6(.icmpv6Target) ?? icmp.target ?? .unspecified,
                                linkLayerAddress: values.mac(.icmpv6LLAddr), checksum: checksum)
            data = values.bytes(.payload) ?? PacketOutput.empty
        } else {
            var rest = icmp.rest
            if let id = try values.u16(.icmpv6ID) { rest = UInt32(id) << 16 | rest & 0xffff }
            if let seq = try values.u16(.icmpv6Seq) { rest = rest & 0xffff_0000 | UInt32(seq) }
            header = ICMPv6Repr(type: type, code: code, rest: rest, checksum: checksum)
            data = payload
        }
        let end = try place(data, after: start + header.headerLength, limit: limit)
        header.emitHeader(into: region(start, end), payloadLength: data.count, pseudoHeader: pseudoHeader)
        return end
    }
}

extension ICMPv6Type {
    /// RS, RA, NS, NA and redirect (RFC 4861): sent and accepted with hop limit 255 only.
    static func isNeighbourDiscovery(_ type: UInt8) -> Bool { (133...137).contains(type) }
}

extension IPv6Address {
    /// fe80::/64 with the modified EUI-64 interface identifier of `mac` (RFC 4291 2.5.1,
    /// appendix A): the link-local address a host derives from its MAC.
    static func linkLocal(_ mac: MACAddress) -> IPv6Address {
        let upper = (mac.value >> 24) ^ 0x02_0000  // the universal/local bit flipped
        let lower = mac.value & 0xff_ffff
        return IPv6Address(high: 0xfe80_0000_0000_0000, low: upper << 40 | 0xfffe << 24 | lower)
    }
}
