/// IP protocol numbers (IPv4 protocol field, IPv6 next header).
public enum IPProtocol {
    public static let hopByHop: UInt8 = 0
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let ipv6Route: UInt8 = 43
    public static let ipv6Fragment: UInt8 = 44
    public static let esp: UInt8 = 50
    public static let ah: UInt8 = 51
    public static let icmpv6: UInt8 = 58
    public static let ipv6NoNext: UInt8 = 59
    public static let ipv6DestinationOptions: UInt8 = 60

    /// A short name for summaries ("ICMP", "UDP", ...), or the number.
    public static func name(_ proto: UInt8) -> String {
        switch proto {
        case icmp: "ICMP"
        case tcp: "TCP"
        case udp: "UDP"
        case icmpv6: "ICMPv6"
        case ipv6NoNext: "none"
        default: "proto \(proto)"
        }
    }
}
