import Packets

/// A selector key (`tapir.on("udp", {dport = 53}, fn)`) resolved once, at registration,
/// into a field of the packet table and a parsed value, so the per-packet check is a
/// native comparison that allocates nothing. Keys use the same names as `pkt.<layer>`.
struct KeyMatch {
    let field: PacketField
    let key: PacketFieldKey

    static func resolve(layer: PacketLayer, key: HandlerKey) -> Result<KeyMatch, SelectorRefusal> {
        guard let field = PacketField(layer: layer.rawValue, name: key.field) else {
            let known = layer.keyFields
            return .failure(SelectorRefusal(argument: 2, message: "unknown key '\(key.field)' for layer '\(layer.rawValue)' ("
                + (known.isEmpty ? "it has none" : "known: " + known.joined(separator: ", ")) + ")"))
        }
        let parsed: PacketFieldKey? = switch key.value {
        case .integer(let value): field.key(integer: value)
        case .string(let text): field.key(string: text)
        }
        guard let parsed else {
            return .failure(SelectorRefusal(argument: 2,
                message: "key '\(key.field)': \(field.info.kind.expectation) expected, got \(key.value)"))
        }
        return .success(KeyMatch(field: field, key: parsed))
    }

    @inline(__always)
    func matches(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) -> Bool {
        field.matches(key, bytes: bytes, frame: frame)
    }
}

extension PacketField {
    /// Whether a key on this field can be found by hashing the packet's value (numbers,
    /// flags, addresses; not bytes or text).
    var isIndexable: Bool {
        switch info.kind {
        case .integer, .boolean, .mac, .ipv4, .ipv6, .tcpFlags: true
        case .bytes, .text: false
        }
    }

    /// This field of the frame as a key value (nil when absent or not indexable): equal to
    /// a registered key exactly when `matches` would say so. Allocates nothing.
    @inline(__always)
    func lookupKey(bytes: UnsafeRawBufferPointer, frame: DecodedFrame) -> PacketFieldKey? {
        switch read(bytes: bytes, frame: frame) {
        case .integer(let value): .integer(value)
        case .boolean(let value): .boolean(value)
        case .mac(let value): .mac(value)
        case .ipv4(let value): .ipv4(value)
        case .ipv6(let value): .ipv6(value)
        case .none, .bytes, .tcpFlagText, .malformed: nil
        }
    }
}

extension PacketFieldKind {
    /// What a key for a field of this kind must be, for error messages.
    var expectation: String {
        switch self {
        case .integer: "an integer"
        case .boolean: "a boolean"
        case .mac: "a MAC address"
        case .ipv4: "an IPv4 address"
        case .ipv6: "an IPv6 address"
        case .bytes, .text: "a string"
        case .tcpFlags: "TCP flags (an integer or letters like \"S.\")"
        }
    }
}

extension HandlerKey.Value: CustomStringConvertible {
    public var description: String {
        switch self {
        case .integer(let value): "\(value)"
        case .string(let text): "'\(text)'"
        }
    }
}
