/// A Lua table read out of a state as plain data (an EncodedValue, encoded by C): each
/// value by its path ("config.ip.type", "handlers[1]"), and each table's keys in order.
struct LuaTableSnapshot {
    enum Value: Equatable {
        case string(String)
        case integer(Int64)
        case number(Double)
        case boolean(Bool)
        case table
        /// A function, userdata...: its Lua type name.
        case other(String)

        var typeName: String {
            switch self {
            case .string: "string"
            case .integer: "integer"
            case .number: "number"
            case .boolean: "boolean"
            case .table: "table"
            case .other(let name): name
            }
        }
    }

    struct Key {
        var name: String
        var isIndex: Bool
        var path: String
    }

    private(set) var values: [String: Value] = [:]
    private(set) var keys: [String: [Key]] = [:]

    subscript(path: String) -> Value? { values[path] }

    /// The keys of the table at `path` ("" for the root), string keys sorted, then indices.
    func keys(of path: String) -> [Key] { keys[path] ?? [] }

    /// The snapshot of a table; nil when `value` is not one.
    init?(_ value: EncodedValue) {
        guard case .table(let pairs) = value else { return nil }
        add(pairs, at: "")
    }

    /// Adds the table's string keys (sorted), then its integer keys (sorted), each value
    /// under its path, tables within it after their key; keys of other types are left out.
    private mutating func add(_ pairs: [(EncodedValue, EncodedValue)], at parent: String) {
        var names: [(String, EncodedValue)] = []
        var indices: [(Int64, EncodedValue)] = []
        for (key, value) in pairs {
            switch key {
            case .string(let name): names.append((name, value))
            case .integer(let index): indices.append((index, value))
            default: continue
            }
        }
        let ordered = names.sorted { $0.0 < $1.0 }.map { (name: $0.0, isIndex: false, value: $0.1) }
            + indices.sorted { $0.0 < $1.0 }.map { (name: String($0.0), isIndex: true, value: $0.1) }
        for (name, isIndex, value) in ordered {
            let path = isIndex ? "\(parent)[\(name)]" : (parent.isEmpty ? name : "\(parent).\(name)")
            keys[parent, default: []].append(Key(name: name, isIndex: isIndex, path: path))
            switch value {
            case .string(let text): values[path] = .string(text)
            case .integer(let number): values[path] = .integer(number)
            case .number(let number): values[path] = .number(number)
            case .boolean(let flag): values[path] = .boolean(flag)
            case .table(let inner):
                values[path] = .table
                add(inner, at: path)
            case .other(let typeName): values[path] = .other(typeName)
            case .nil: values[path] = .other("nil")
            }
        }
    }
}
