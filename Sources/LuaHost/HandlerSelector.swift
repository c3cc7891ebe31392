/// What a handler asked for in `tapir.on(selector, [keys], fn)`.
public enum HandlerSelector: Sendable, Equatable, CustomStringConvertible {
    /// A layer name, with keys to match exactly (empty: every packet with that layer).
    case layer(PacketLayer, keys: [HandlerKey])
    /// Packets no handler claimed.
    case unclaimed
    /// Any other string: a pcap-filter expression (compiled later, with Capture).
    case filter(String)

    public var description: String {
        switch self {
        case .layer(let layer, let keys) where keys.isEmpty: layer.rawValue
        case .layer(let layer, let keys):
            "\(layer.rawValue) {" + keys.map(\.description).joined(separator: ", ") + "}"
        case .unclaimed: "unclaimed"
        case .filter(let expression): "filter \"\(expression)\""
        }
    }
}

/// One key of a selector: a field of the layer and the value it must have.
public struct HandlerKey: Sendable, Equatable, CustomStringConvertible {
    public enum Value: Sendable, Equatable {
        case integer(Int64)
        case string(String)
    }

    public var field: String
    public var value: Value

    public init(field: String, value: Value) {
        self.field = field
        self.value = value
    }

    public var description: String {
        switch value {
        case .integer(let integer): "\(field)=\(integer)"
        case .string(let string): "\(field)=\"\(string)\""
        }
    }
}

/// Layer names (Wireshark's), plus `frame` for every frame, and the fields a selector may
/// key on (Scapy-style names, as docs/lua-api.md lists them). The names are those of
/// Packets' `Layers.names`, where each layer's number and bit come from (PacketFields.swift).
public enum PacketLayer: String, Sendable, CaseIterable {
    case frame, eth, vlan, arp, ip, ipv6, icmp, icmpv6, udp, tcp

    /// The fields a selector may key on: the layer's fields of the packet table.
    public var keyFields: [String] { PacketField.fields(of: self).map(\.name) }
}

/// Why tapir.on refused a selector: which argument (1 selector, 2 keys) and what to say.
struct SelectorRefusal: Error, Equatable {
    var argument: Int
    var message: String
}

extension HandlerSelector {
    /// Builds a selector from tapir.on's arguments. `keys` is nil when no keys table was given.
    static func parse(_ selector: String, keys: [HandlerKey]?) -> Result<HandlerSelector, SelectorRefusal> {
        if selector.isEmpty {
            return .failure(SelectorRefusal(argument: 1, message: "empty selector"))
        }
        if selector == "unclaimed" {
            if let keys, !keys.isEmpty {
                return .failure(SelectorRefusal(argument: 2, message: "'unclaimed' takes no keys"))
            }
            return .success(.unclaimed)
        }
        guard let layer = PacketLayer(rawValue: selector) else {
            if let keys, !keys.isEmpty {
                return .failure(SelectorRefusal(argument: 2,
                    message: "keys need a layer name, not a filter expression ('\(selector)')"))
            }
            return .success(.filter(selector))
        }
        let given = (keys ?? []).sorted { $0.field < $1.field }
        for key in given {
            if case .failure(let refusal) = KeyMatch.resolve(layer: layer, key: key) {
                return .failure(refusal)
            }
        }
        return .success(.layer(layer, keys: given))
    }
}
