/// A Lua table read out of a state as plain data: each value by its path
/// ("config.ip.type", "handlers[1]"), and each table's keys in order. Read by a chunk in
/// the state that flattens the table into text (strings escaped), so nothing but plain
/// values crosses into Swift.
struct LuaTableSnapshot {
    enum Value: Equatable {
        case string(String)
        case integer(Int64)
        case number(String)
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

    /// The Lua chunk that flattens the value of `expression` (which must be a table) into
    /// the text `init(text:)` reads; it returns "E\t<message>" when it cannot.
    static func chunk(flattening expression: String) -> String {
        """
        local root = \(expression)
        if type(root) ~= "table" then return "E\\t" .. type(root) end
        local function esc(s)
          return (s:gsub("[%c\\\\]", function(c) return string.format("\\\\%03d", c:byte()) end))
        end
        local lines, seen = {}, {}
        local function walk(parent, t, depth)
          if seen[t] or depth > 8 then return end
          seen[t] = true
          local names, indices = {}, {}
          for k in pairs(t) do
            if math.type(k) == "integer" then indices[#indices + 1] = k
            elseif type(k) == "string" then names[#names + 1] = k end
          end
          table.sort(names); table.sort(indices)
          local function emit(k, isIndex)
            local v = t[k]
            local path = isIndex and (parent .. "[" .. k .. "]") or (parent == "" and k or parent .. "." .. k)
            local kind, text = "X", type(v)
            if type(v) == "string" then kind, text = "S", esc(v)
            elseif math.type(v) == "integer" then kind, text = "I", tostring(v)
            elseif type(v) == "number" then kind, text = "N", tostring(v)
            elseif type(v) == "boolean" then kind, text = "B", tostring(v)
            elseif type(v) == "table" then kind, text = "T", "" end
            lines[#lines + 1] = table.concat({kind, esc(parent), esc(tostring(k)), isIndex and "1" or "0",
                                             esc(path), text}, "\\t")
            if kind == "T" then walk(path, v, depth + 1) end
          end
          for _, k in ipairs(names) do emit(k, false) end
          for _, k in ipairs(indices) do emit(k, true) end
        end
        walk("", root, 0)
        return "OK\\n" .. table.concat(lines, "\\n")
        """
    }

    /// Reads the text the chunk returned; nil when it says the value was not a table.
    init?(text: String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.first == "OK" else { return nil }
        lines.removeFirst()
        for line in lines {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map { Self.unescape($0) }
            guard fields.count == 6 else { continue }
            let value: Value
            switch fields[0] {
            case "S": value = .string(fields[5])
            case "I": value = Int64(fields[5]).map(Value.integer) ?? .number(fields[5])
            case "N": value = .number(fields[5])
            case "B": value = .boolean(fields[5] == "true")
            case "T": value = .table
            default: value = .other(fields[5])
            }
            values[fields[4]] = value
            keys[fields[1], default: []].append(Key(name: fields[2], isIndex: fields[3] == "1", path: fields[4]))
        }
    }

    /// Undoes the chunk's escaping (\ddd for control characters and backslashes).
    private static func unescape(_ text: Substring) -> String {
        guard text.contains("\\") else { return String(text) }
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
               let code = UInt8(String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self)) {
                bytes.append(code)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
