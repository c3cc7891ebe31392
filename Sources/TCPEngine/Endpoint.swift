import Packets

/// An IPv4 or IPv6 address, as the engine keys its listeners and connections.
public enum TCPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public var isIPv6: Bool { if case .v6 = self { true } else { false } }

    /// Bytes of IP header in front of a TCP header without IP options or extension headers.
    public var ipHeaderLength: Int { isIPv6 ? 40 : 20 }

    /// Multicast, or IPv4's limited broadcast: never a TCP peer (RFC 1122 section 4.2.3.10).
    public var isMulticastOrBroadcast: Bool {
        switch self {
        case let .v4(address): address.isMulticast || address.isBroadcast
        case let .v6(address): address.isMulticast
        }
    }

    public var isUnspecified: Bool {
        switch self {
        case let .v4(address): address.isUnspecified
        case let .v6(address): address.isUnspecified
        }
    }

    public var description: String {
        switch self {
        case let .v4(address): address.description
        case let .v6(address): "[\(address)]"
        }
    }

    func hash(into hasher: inout SipHash24) {
        switch self {
        case let .v4(address): hasher.combine(UInt64(address.value))
        case let .v6(address):
            hasher.combine(address.high)
            hasher.combine(address.low)
        }
    }
}

/// An address and a port.
public struct TCPEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: TCPAddress
    public var port: UInt16

    public init(_ address: TCPAddress, _ port: UInt16) {
        self.address = address
        self.port = port
    }

    public var description: String { "\(address):\(port)" }
}

/// A connection's key: this host's end and the peer's.
public struct TCPFourTuple: Hashable, Sendable, CustomStringConvertible {
    public var local: TCPEndpoint
    public var remote: TCPEndpoint

    public init(local: TCPEndpoint, remote: TCPEndpoint) {
        self.local = local
        self.remote = remote
    }

    /// The pseudo-header of a segment sent from `local` to `remote`.
    public var outgoingPseudoHeader: IPPseudoHeader? {
        switch (local.address, remote.address) {
        case let (.v4(source), .v4(destination)): .v4(source: source, destination: destination)
        case let (.v6(source), .v6(destination)): .v6(source: source, destination: destination)
        default: nil
        }
    }

    /// The pseudo-header of a segment received from `remote` at `local`.
    public var incomingPseudoHeader: IPPseudoHeader? {
        switch (local.address, remote.address) {
        case let (.v4(destination), .v4(source)): .v4(source: source, destination: destination)
        case let (.v6(destination), .v6(source)): .v6(source: source, destination: destination)
        default: nil
        }
    }

    func hash(into hasher: inout SipHash24) {
        local.address.hash(into: &hasher)
        remote.address.hash(into: &hasher)
        hasher.combine(UInt64(local.port) << 16 | UInt64(remote.port))
    }

    public var description: String { "\(local) <- \(remote)" }
}
