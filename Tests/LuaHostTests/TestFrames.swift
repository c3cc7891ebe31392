import Packets

/// Frames for host tests, built with the Packets reprs.
enum TestFrames {
    static let hostMAC = MACAddress("02:54:41:50:49:52")!
    static let kernelMAC = MACAddress("02:00:00:00:00:01")!
    static let kernelIP = IPv4Address("198.18.0.1")!
    static let hostIP = IPv4Address("198.18.0.2")!

    static func arpRequest(for target: IPv4Address = hostIP) -> [UInt8] {
        var bytes: [UInt8] = []
        EthernetRepr(src: kernelMAC, dst: MACAddress(value: 0xffff_ffff_ffff), type: EtherType.arp)
            .emit(appendingTo: &bytes)
        ARPRepr(op: 1, sha: kernelMAC, spa: kernelIP, tha: MACAddress(value: 0), tpa: target)
            .emit(appendingTo: &bytes)
        return bytes
    }

    static func udp(dport: UInt16, sport: UInt16 = 40000, payload: String = "hello") -> [UInt8] {
        let udp = UDPRepr(sport: sport, dport: dport, payload: Array(payload.utf8))
        let ip = IPv4Repr(src: kernelIP, dst: hostIP, proto: IPProtocol.udp, payloadLength: udp.bufferLength)
        var bytes: [UInt8] = []
        EthernetRepr(src: kernelMAC, dst: hostMAC, type: EtherType.ipv4).emit(appendingTo: &bytes)
        ip.emit(appendingTo: &bytes)
        udp.emit(appendingTo: &bytes, pseudoHeader: ip.pseudoHeader)
        return bytes
    }

    /// The same datagram as a tun device carries it: no Ethernet header.
    static func rawUDP(dport: UInt16) -> [UInt8] {
        Array(udp(dport: dport).dropFirst(14))
    }
}
