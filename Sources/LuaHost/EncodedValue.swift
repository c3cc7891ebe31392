/// Plain data crossing between the host and Lua, both ways, in the one encoded form CLua
/// reads and writes (CLua.h, "Encoded values"): host data handed to Lua (tapir.stats(),
/// device fields, tapir.config) is pushed by C inside a protected call, and a Lua value
/// read out of a state (a pack's manifest) is encoded by C and decoded here.
public indirect enum EncodedValue: Equatable, Sendable {
    case `nil`
    case boolean(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case table([(EncodedValue, EncodedValue)])
    /// From Lua only: a value of a type that does not cross (a function, userdata, a
    /// thread), by its type name. Lua is never handed one.
    case other(typeName: String)

    /// An array: keys 1...n.
    public static func array(_ values: [EncodedValue]) -> EncodedValue {
        .table(values.enumerated().map { (.integer(Int64($0.offset + 1)), $0.element) })
    }

    /// A record: string keys.
    public static func record(_ fields: KeyValuePairs<String, EncodedValue>) -> EncodedValue {
        .table(fields.map { (.string($0.key), $0.value) })
    }

    /// What Lua's type() says of the value.
    public var luaTypeName: String {
        switch self {
        case .nil: "nil"
        case .boolean: "boolean"
        case .integer, .number: "number"
        case .string: "string"
        case .table: "table"
        case .other(let typeName): typeName
        }
    }

    public static func == (lhs: EncodedValue, rhs: EncodedValue) -> Bool {
        switch (lhs, rhs) {
        case (.nil, .nil): true
        case let (.boolean(a), .boolean(b)): a == b
        case let (.integer(a), .integer(b)): a == b
        case let (.number(a), .number(b)): a == b
        case let (.string(a), .string(b)): a == b
        case let (.other(a), .other(b)): a == b
        case let (.table(a), .table(b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    public func encode(into bytes: inout [UInt8]) {
        switch self {
        case .nil:
            bytes.append(UInt8(ascii: "n"))
        case .boolean(let value):
            bytes.append(UInt8(ascii: value ? "t" : "f"))
        case .integer(let value):
            bytes.append(UInt8(ascii: "i"))
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        case .number(let value):
            bytes.append(UInt8(ascii: "d"))
            withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
        case .string(let value):
            bytes.append(UInt8(ascii: "s"))
            appendLength(value.utf8.count, to: &bytes)
            bytes.append(contentsOf: value.utf8)
        case .table(let pairs):
            bytes.append(UInt8(ascii: "{"))
            appendLength(pairs.count, to: &bytes)
            for (key, value) in pairs {
                key.encode(into: &bytes)
                value.encode(into: &bytes)
            }
        case .other(let typeName):
            bytes.append(UInt8(ascii: "x"))
            appendLength(typeName.utf8.count, to: &bytes)
            bytes.append(contentsOf: typeName.utf8)
        }
    }

    /// The encoded bytes.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        encode(into: &bytes)
        return bytes
    }

    private func appendLength(_ length: Int, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: length).littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Decodes one value that fills `bytes` exactly; nil when they are not one.
    public init?(decoding bytes: UnsafeRawBufferPointer) {
        var reader = Reader(bytes: bytes)
        guard let value = reader.value(depth: 0), reader.offset == bytes.count else { return nil }
        self = value
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func take(_ count: Int) -> UnsafeRawBufferPointer? {
            guard count >= 0, bytes.count - offset >= count else { return nil }
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
        }

        mutating func length() -> Int? {
            take(4).map { Int($0.loadUnaligned(as: UInt32.self).littleEndian) }
        }

        mutating func text() -> String? {
            guard let count = length(), let text = take(count) else { return nil }
            return String(decoding: text, as: UTF8.self)
        }

        mutating func value(depth: Int) -> EncodedValue? {
            guard depth <= 64, let kind = take(1)?[0] else { return nil }
            switch kind {
            case UInt8(ascii: "n"): return .nil
            case UInt8(ascii: "t"): return .boolean(true)
            case UInt8(ascii: "f"): return .boolean(false)
            case UInt8(ascii: "i"): return take(8).map { .integer(Int64(littleEndian: $0.loadUnaligned(as: Int64.self))) }
            case UInt8(ascii: "d"): return take(8).map { .number($0.loadUnaligned(as: Double.self)) }
            case UInt8(ascii: "s"): return text().map { .string($0) }
            case UInt8(ascii: "x"): return text().map { .other(typeName: $0) }
            case UInt8(ascii: "{"):
                guard let count = length(), count <= bytes.count - offset else { return nil }
                var pairs: [(EncodedValue, EncodedValue)] = []
                pairs.reserveCapacity(count)
                for _ in 0..<count {
                    guard let key = value(depth: depth + 1), let value = value(depth: depth + 1) else { return nil }
                    pairs.append((key, value))
                }
                return .table(pairs)
            default: return nil
            }
        }
    }
}
