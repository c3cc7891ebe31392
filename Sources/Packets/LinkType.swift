/// What a frame starts with: an Ethernet header (tap devices, most captures) or directly an
/// IP header (tun devices; the version nibble tells IPv4 from IPv6).
public enum LinkType: Sendable, Hashable, CustomStringConvertible {
    case ethernet
    case rawIP

    /// The pcap link-layer header type (LINKTYPE_ETHERNET = 1, LINKTYPE_RAW = 101).
    public var pcapLinkType: UInt32 {
        switch self {
        case .ethernet: 1
        case .rawIP: 101
        }
    }

    /// The link type for a pcap link-layer header type; DLT_RAW (12, 14) is read as raw IP too.
    public init?(pcapLinkType: UInt32) {
        switch pcapLinkType {
        case 1: self = .ethernet
        case 101, 12, 14: self = .rawIP
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .ethernet: "ethernet"
        case .rawIP: "raw-ip"
        }
    }
}

extension LinkType {
    /// Where the IPv4 header of a frame of this link type starts (after an Ethernet header
    /// and up to two VLAN tags), or nil when the frame does not carry IPv4.
    public func ipv4Offset(in frame: UnsafeRawBufferPointer) -> Int? {
        switch self {
        case .rawIP:
            return frame.count > 0 && frame.u8(0) >> 4 == 4 ? 0 : nil
        case .ethernet:
            guard let ethernet = try? EthernetFrame(frame), ethernet.payloadType == EtherType.ipv4 else { return nil }
            return ethernet.headerLength
        }
    }
}
