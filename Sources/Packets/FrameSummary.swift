// A one-line, tcpdump-style summary of a decoded frame (for logs and Lua's tostring(pkt)).

extension DecodedFrame {
    /// For example `02:00:00:00:00:0a > 02:00:00:00:00:0b, IP 198.18.0.1 > 198.18.0.2: ICMP
    /// echo request, id 4660, seq 1, length 22`. `bytes` must be the decoded frame.
    public func summary(_ bytes: UnsafeRawBufferPointer) -> String {
        guard bytes.count == length else { return "frame of \(length) bytes (other bytes given)" }
        var text = ""
        if let eth = ethernet(bytes) {
            text = "\(eth.src) > \(eth.dst)"
            for index in 0..<vlanCount {
                if let tag = vlanTag(index) { text += ", vlan \(tag.id)" }
            }
            text += ", "
        }
        if let arp = arp(bytes) {
            text += (try? ARPRepr.parse(arp))?.description ?? "ARP, hardware type \(arp.htype), op \(arp.op)"
        } else if let ip = ipv4(bytes) {
            text += "IP \(ip.src) > \(ip.dst): " + transportSummary(bytes, fragmentOffset: Int(ip.frag) * 8)
        } else if let ip = ipv6(bytes) {
            text += "IP6 \(ip.src) > \(ip.dst): " + transportSummary(bytes, fragmentOffset: Int(ip.frag) * 8)
        } else if has(.eth) {
            text += "ethertype 0x\(hex4(etherType)), length \(length)"
        } else {
            text += "length \(length)"
        }
        if let malformedReason {
            text += " [malformed \(malformedLayer.description): \(malformedReason)]"
        }
        return text
    }

    func transportSummary(_ bytes: UnsafeRawBufferPointer, fragmentOffset: Int) -> String {
        let transportLength = networkEnd - transportOffset
        if isFragment, fragmentOffset != 0 {
            return "\(IPProtocol.name(ipProtocol)) fragment, offset \(fragmentOffset), length \(transportLength)"
        }
        if let icmp = icmp(bytes) {
            return ICMPv4Repr(type: icmp.type, code: icmp.code, rest: icmp.rest,
                              payload: Array(icmp.payload)).description
        }
        if let icmp = icmpv6(bytes) {
            let target = icmp.target ?? .unspecified
            switch icmp.type {
            case ICMPv6Type.echoRequest: return "ICMP6, echo request, id \(icmp.id), seq \(icmp.seq), length \(transportLength)"
            case ICMPv6Type.echoReply: return "ICMP6, echo reply, id \(icmp.id), seq \(icmp.seq), length \(transportLength)"
            case ICMPv6Type.neighborSolicitation: return "ICMP6, neighbor solicitation, who has \(target), length \(transportLength)"
            case ICMPv6Type.neighborAdvertisement: return "ICMP6, neighbor advertisement, tgt is \(target), length \(transportLength)"
            case ICMPv6Type.routerSolicitation: return "ICMP6, router solicitation, length \(transportLength)"
            default: return "ICMP6, type \(icmp.type), code \(icmp.code), length \(transportLength)"
            }
        }
        if let udp = udp(bytes) {
            return "UDP \(udp.sport) > \(udp.dport), length \(payloadLength)"
        }
        if let tcp = tcp(bytes) {
            var text = "TCP \(tcp.sport) > \(tcp.dport): Flags [\(TCPFlags.text(tcp.flags))], seq \(tcp.seq)"
            if tcp.flags & TCPFlags.ack != 0 { text += ", ack \(tcp.ack)" }
            return text + ", win \(tcp.window), length \(payloadLength)"
        }
        return "\(IPProtocol.name(ipProtocol)), length \(transportLength)"
    }
}
