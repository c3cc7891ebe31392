/// Why a view constructor refused a buffer. Thrown once, by the constructor; a view that
/// exists has been checked, so its getters are plain reads.
public enum PacketError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The buffer ends before the fixed part of the header.
    case truncated
    /// The version nibble is not the one this view reads (IPv4: 4, IPv6: 6).
    case badVersion
    /// A header-length field is below the fixed header (IPv4 IHL < 5, TCP data offset < 5).
    case badHeaderLength
    /// The header length runs past the end of the buffer.
    case headerPastBuffer
    /// A length field (IPv4 total length, IPv6 payload length, UDP length) runs past the
    /// buffer, or is shorter than the header it includes.
    case badLength
    /// An option (IPv4, TCP, ICMPv6 neighbour discovery) runs past the end of its header,
    /// or has a length that cannot be.
    case badOption
    /// An IPv6 extension header runs off the end of the payload.
    case extensionHeaderPastEnd
    /// More IPv6 extension headers than a sane packet carries (bounds the walk).
    case tooManyExtensionHeaders
    /// A checksum that does not verify (from `Repr.parse`, which checks it).
    case badChecksum
    /// A combination this view does not read (ARP with other than 6-byte hardware and
    /// 4-byte protocol addresses).
    case unsupported

    public var description: String {
        switch self {
        case .truncated: "truncated"
        case .badVersion: "bad version"
        case .badHeaderLength: "header length below minimum"
        case .headerPastBuffer: "header length beyond buffer"
        case .badLength: "length field beyond buffer or below header"
        case .badOption: "option runs past header"
        case .extensionHeaderPastEnd: "extension header runs off the end"
        case .tooManyExtensionHeaders: "too many extension headers"
        case .badChecksum: "bad checksum"
        case .unsupported: "unsupported"
        }
    }
}
