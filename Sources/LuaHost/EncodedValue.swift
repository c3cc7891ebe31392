/// Plain data the host hands to Lua (tapir.stats(), device fields), encoded in the form
/// CLua's clua_push_encoded reads, so that C builds the Lua tables inside a protected call.
public indirect enum EncodedValue {
    case `nil`
    case boolean(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case table([(EncodedValue, EncodedValue)])

    /// An array: keys 1...n.
    public static func array(_ values: [EncodedValue]) -> EncodedValue {
        .table(values.enumerated().map { (.integer(Int64($0.offset + 1)), $0.element) })
    }

    /// A record: string keys.
    public static func record(_ fields: KeyValuePairs<String, EncodedValue>) -> EncodedValue {
        .table(fields.map { (.string($0.key), $0.value) })
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
        }
    }

    private func appendLength(_ length: Int, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: length).littleEndian) { bytes.append(contentsOf: $0) }
    }
}
