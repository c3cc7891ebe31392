import CPcap

/// The link types Tapir reads and writes in pcap files: Ethernet for tap devices,
/// raw IP (IPv4 or IPv6, told apart by the version nibble) for tun devices.
public enum PcapLinkType: Sendable, Equatable, CustomStringConvertible {
    case ethernet
    case rawIP

    /// The libpcap DLT_ value (what pcap_open_dead and pcap_datalink speak).
    public var dataLinkType: Int32 {
        switch self {
        case .ethernet: return DLT_EN10MB
        case .rawIP: return DLT_RAW
        }
    }

    /// Maps a libpcap DLT_ value back; nil for link types Tapir does not handle.
    public init?(dataLinkType: Int32) {
        switch dataLinkType {
        case DLT_EN10MB: self = .ethernet
        case DLT_RAW, 101 /* LINKTYPE_RAW, as some files store it */: self = .rawIP
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .ethernet: return "Ethernet"
        case .rawIP: return "raw IP"
        }
    }
}

extension PcapLinkType {
    /// The LINKTYPE_ value a file stores (pcapng's interface blocks): 1 Ethernet, 101 raw IP.
    public var fileLinkType: UInt16 {
        switch self {
        case .ethernet: return 1
        case .rawIP: return 101
        }
    }
}
