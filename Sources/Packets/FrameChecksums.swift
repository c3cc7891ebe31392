/// Which checksums of a decoded frame verify: the IPv4 header's, and the transport's
/// (ICMP over its message; UDP, TCP and ICMPv6 over their pseudo-header). A UDP checksum
/// of 0 over IPv4 means none and passes; a fragment's transport checksum cannot be checked
/// (nil) until the datagram is whole.
public struct FrameChecksums: Sendable, Equatable {
    /// The IPv4 header checksum; nil without an IPv4 header.
    public var ipHeader: Bool?
    /// The ICMP, ICMPv6, UDP or TCP checksum; nil without one of those layers, or for a
    /// fragment.
    public var transport: Bool?

    /// True unless a checksum that could be checked failed.
    public var allVerify: Bool { ipHeader != false && transport != false }

    public init(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) {
        let ipv4 = frame.ipv4(bytes)
        ipHeader = ipv4.map { $0.verifyChecksum() }
        guard !frame.isFragment else { return }
        let pseudoHeader: IPPseudoHeader
        if let ipv4 {
            pseudoHeader = ipv4.pseudoHeader
        } else if let ipv6 = frame.ipv6(bytes) {
            pseudoHeader = ipv6.pseudoHeader
        } else {
            return
        }
        if let udp = frame.udp(bytes) {
            transport = udp.verifyChecksum(pseudoHeader)
        } else if let tcp = frame.tcp(bytes) {
            transport = tcp.verifyChecksum(pseudoHeader)
        } else if let icmp = frame.icmp(bytes) {
            transport = icmp.verifyChecksum()
        } else if let icmp = frame.icmpv6(bytes) {
            transport = icmp.verifyChecksum(pseudoHeader)
        }
    }
}
