import Packets

/// A selector key resolved once, at registration, into something compared natively per
/// packet: the field to read and the value it must have, as up to 128 bits (integers,
/// MAC, IPv4 and IPv6 addresses all fit), so the per-packet check allocates nothing.
struct KeyMatch {
    let field: KeyField
    let high: UInt64
    let low: UInt64

    /// Nil with a message when the value does not suit the field.
    static func resolve(layer: PacketLayer, key: HandlerKey) -> Result<KeyMatch, SelectorRefusal> {
        guard let field = KeyField(layer: layer, name: key.field) else {
            return .failure(SelectorRefusal(argument: 2,
                message: "unknown key '\(key.field)' for layer '\(layer.rawValue)'"))
        }
        switch (field.kind, key.value) {
        case (.integer, .integer(let value)):
            return .success(KeyMatch(field: field, high: 0, low: UInt64(bitPattern: value)))
        case (.mac, .string(let text)):
            guard let address = MACAddress(text) else { return refuse(key, "a MAC address") }
            return .success(KeyMatch(field: field, high: 0, low: address.value))
        case (.ipv4, .string(let text)):
            guard let address = IPv4Address(text) else { return refuse(key, "an IPv4 address") }
            return .success(KeyMatch(field: field, high: 0, low: UInt64(address.value)))
        case (.ipv6, .string(let text)):
            guard let address = IPv6Address(text) else { return refuse(key, "an IPv6 address") }
            return .success(KeyMatch(field: field, high: address.high, low: address.low))
        case (.integer, .string):
            return refuse(key, "an integer")
        case (_, .integer):
            return refuse(key, "an address string")
        }
    }

    private static func refuse(_ key: HandlerKey, _ expected: String) -> Result<KeyMatch, SelectorRefusal> {
        .failure(SelectorRefusal(argument: 2, message: "key '\(key.field)': \(expected) expected, got \(key.value)"))
    }

    @inline(__always)
    func matches(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) -> Bool {
        guard let (high, low) = field.read(bytes, frame) else { return false }
        return high == self.high && low == self.low
    }
}

/// The fields a selector may key on, and how each is read from a decoded frame.
enum KeyField {
    case ethSrc, ethDst, ethType
    case vlanID, vlanPCP, vlanType
    case arpOp, arpSHA, arpSPA, arpTHA, arpTPA
    case ipSrc, ipDst, ipProto, ipTTL, ipTOS
    case ipv6Src, ipv6Dst, ipv6Next, ipv6HopLimit
    case icmpType, icmpCode, icmpID
    case icmpv6Type, icmpv6Code
    case udpSport, udpDport
    case tcpSport, tcpDport, tcpFlags

    enum Kind { case integer, mac, ipv4, ipv6 }

    init?(layer: PacketLayer, name: String) {
        switch (layer, name) {
        case (.eth, "src"): self = .ethSrc
        case (.eth, "dst"): self = .ethDst
        case (.eth, "type"): self = .ethType
        case (.vlan, "id"): self = .vlanID
        case (.vlan, "pcp"): self = .vlanPCP
        case (.vlan, "type"): self = .vlanType
        case (.arp, "op"): self = .arpOp
        case (.arp, "sha"): self = .arpSHA
        case (.arp, "spa"): self = .arpSPA
        case (.arp, "tha"): self = .arpTHA
        case (.arp, "tpa"): self = .arpTPA
        case (.ip, "src"): self = .ipSrc
        case (.ip, "dst"): self = .ipDst
        case (.ip, "proto"): self = .ipProto
        case (.ip, "ttl"): self = .ipTTL
        case (.ip, "tos"): self = .ipTOS
        case (.ipv6, "src"): self = .ipv6Src
        case (.ipv6, "dst"): self = .ipv6Dst
        case (.ipv6, "nxt"): self = .ipv6Next
        case (.ipv6, "hlim"): self = .ipv6HopLimit
        case (.icmp, "type"): self = .icmpType
        case (.icmp, "code"): self = .icmpCode
        case (.icmp, "id"): self = .icmpID
        case (.icmpv6, "type"): self = .icmpv6Type
        case (.icmpv6, "code"): self = .icmpv6Code
        case (.udp, "sport"): self = .udpSport
        case (.udp, "dport"): self = .udpDport
        case (.tcp, "sport"): self = .tcpSport
        case (.tcp, "dport"): self = .tcpDport
        case (.tcp, "flags"): self = .tcpFlags
        default: return nil
        }
    }

    /// The key names of each layer, for error messages and docs.
    static func names(of layer: PacketLayer) -> [String] {
        switch layer {
        case .frame: []
        case .eth: ["src", "dst", "type"]
        case .vlan: ["id", "pcp", "type"]
        case .arp: ["op", "sha", "spa", "tha", "tpa"]
        case .ip: ["src", "dst", "proto", "ttl", "tos"]
        case .ipv6: ["src", "dst", "nxt", "hlim"]
        case .icmp: ["type", "code", "id"]
        case .icmpv6: ["type", "code"]
        case .udp: ["sport", "dport"]
        case .tcp: ["sport", "dport", "flags"]
        }
    }

    var kind: Kind {
        switch self {
        case .ethSrc, .ethDst, .arpSHA, .arpTHA: .mac
        case .arpSPA, .arpTPA, .ipSrc, .ipDst: .ipv4
        case .ipv6Src, .ipv6Dst: .ipv6
        default: .integer
        }
    }

    @inline(__always)
    func read(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) -> (UInt64, UInt64)? {
        func integer(_ value: (some BinaryInteger)?) -> (UInt64, UInt64)? {
            value.map { (0, UInt64($0)) }
        }
        switch self {
        case .ethSrc: return frame.ethernet(bytes).map { (0, $0.src.value) }
        case .ethDst: return frame.ethernet(bytes).map { (0, $0.dst.value) }
        case .ethType: return integer(frame.ethernet(bytes)?.type)
        case .vlanID: return integer(frame.vlanTag(0)?.id)
        case .vlanPCP: return integer(frame.vlanTag(0)?.pcp)
        case .vlanType: return frame.has(.vlan) ? (0, UInt64(frame.etherType)) : nil
        case .arpOp: return integer(frame.arp(bytes)?.op)
        case .arpSHA: return frame.arp(bytes).map { (0, $0.sha.value) }
        case .arpSPA: return frame.arp(bytes).map { (0, UInt64($0.spa.value)) }
        case .arpTHA: return frame.arp(bytes).map { (0, $0.tha.value) }
        case .arpTPA: return frame.arp(bytes).map { (0, UInt64($0.tpa.value)) }
        case .ipSrc: return frame.ipv4(bytes).map { (0, UInt64($0.src.value)) }
        case .ipDst: return frame.ipv4(bytes).map { (0, UInt64($0.dst.value)) }
        case .ipProto: return integer(frame.ipv4(bytes)?.proto)
        case .ipTTL: return integer(frame.ipv4(bytes)?.ttl)
        case .ipTOS: return integer(frame.ipv4(bytes)?.tos)
        case .ipv6Src: return frame.ipv6(bytes).map { ($0.src.high, $0.src.low) }
        case .ipv6Dst: return frame.ipv6(bytes).map { ($0.dst.high, $0.dst.low) }
        case .ipv6Next: return frame.has(.ipv6) ? (0, UInt64(frame.ipProtocol)) : nil
        case .ipv6HopLimit: return integer(frame.ipv6(bytes)?.hlim)
        case .icmpType: return integer(frame.icmp(bytes)?.type)
        case .icmpCode: return integer(frame.icmp(bytes)?.code)
        case .icmpID: return integer(frame.icmp(bytes)?.id)
        case .icmpv6Type: return frame.has(.icmpv6) ? integer(bytes[frame.transportOffset]) : nil
        case .icmpv6Code: return frame.has(.icmpv6) ? integer(bytes[frame.transportOffset + 1]) : nil
        case .udpSport: return integer(frame.udp(bytes)?.sport)
        case .udpDport: return integer(frame.udp(bytes)?.dport)
        case .tcpSport: return integer(frame.tcp(bytes)?.sport)
        case .tcpDport: return integer(frame.tcp(bytes)?.dport)
        case .tcpFlags: return integer(frame.tcp(bytes)?.flags)
        }
    }
}
