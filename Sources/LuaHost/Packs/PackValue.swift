import Packets

/// The type of a pack setting, as its manifest names it.
public indirect enum PackValueType: Equatable, Sendable, CustomStringConvertible {
    case string, integer, boolean, ipv4, ipv6, mac, port
    /// A path on the command line (the default: relative to the pack's folder; "" for
    /// none); tapir.config holds the file's text, read when the pack is configured (see
    /// PackManifest.resolve).
    case file
    /// A folder's path, like `file`; tapir.config holds a table from each regular file's
    /// path under the folder ("/index.html") to its text (see SettingFolder).
    case folder
    /// Comma-separated on the command line; a Lua list in tapir.config.
    case list(PackValueType)

    public static let names = ["string", "integer", "boolean", "ipv4", "ipv6", "mac", "port", "file", "folder", "list"]
    /// The types a list may hold.
    static let elementNames = ["string", "integer", "boolean", "ipv4", "ipv6", "mac", "port"]

    /// A scalar type by name ("list" needs its element type: see PackManifest).
    static func scalar(named name: String) -> PackValueType? {
        switch name {
        case "string": .string
        case "integer": .integer
        case "boolean": .boolean
        case "ipv4": .ipv4
        case "ipv6": .ipv6
        case "mac": .mac
        case "port": .port
        case "file": .file
        case "folder": .folder
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .list(let element): "list of \(element)"
        case .string: "string"
        case .integer: "integer"
        case .boolean: "boolean"
        case .ipv4: "ipv4"
        case .ipv6: "ipv6"
        case .mac: "mac"
        case .port: "port"
        case .file: "file"
        case .folder: "folder"
        }
    }

    /// What a value of this type looks like, for error messages.
    public var expectation: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .boolean: "a boolean (\(Self.booleanWords))"
        case .ipv4: "an IPv4 address (like 198.18.0.2)"
        case .ipv6: "an IPv6 address (like 2001:2::2)"
        case .mac: "a MAC address (like 02:54:41:50:49:52)"
        case .port: "a port (an integer from 0 to 65535)"
        case .file: "a file's path"
        case .folder: "a folder's path"
        case .list(let element): "a comma-separated list of \(element) values"
        }
    }

    /// What a boolean setting accepts on the command line, as `parse` reads it.
    public static let booleanWords = "true/yes/on/1 or false/no/off/0 in any case"

    /// A value from its command-line text; nil when it is not of this type.
    public func parse(_ text: String) -> PackValue? {
        switch self {
        case .string, .file, .folder:
            return .string(text)
        case .integer:
            return Int64(text).map(PackValue.integer)
        case .boolean:
            switch text.lowercased() {
            case "true", "yes", "on", "1": return .boolean(true)
            case "false", "no", "off", "0": return .boolean(false)
            default: return nil
            }
        case .ipv4:
            return IPv4Address(text).map { .string($0.description) }
        case .ipv6:
            return IPv6Address(text).map { .string($0.description) }
        case .mac:
            return MACAddress(text).map { .string($0.description) }
        case .port:
            guard let number = Int64(text), (0...65535).contains(number) else { return nil }
            return .integer(number)
        case .list(let element):
            let items = text.split(separator: ",", omittingEmptySubsequences: true)
                .map { $0.trimmingSpaces }
            var values: [PackValue] = []
            for item in items {
                guard let value = element.parse(item) else { return nil }
                values.append(value)
            }
            return .list(values)
        }
    }
}

/// A setting's value, as tapir.config holds it.
public enum PackValue: Equatable, Sendable, CustomStringConvertible {
    case string(String)
    case integer(Int64)
    case boolean(Bool)
    case list([PackValue])
    /// A `folder` setting's files once read: each file's text by its path under the
    /// folder ("/index.html").
    case files([String: String])

    /// The command-line form (lists comma-separated; a folder's files: their paths).
    public var description: String {
        switch self {
        case .string(let text): text
        case .integer(let number): String(number)
        case .boolean(let flag): flag ? "true" : "false"
        case .list(let items): items.map(\.description).joined(separator: ",")
        case .files(let files): files.keys.sorted().joined(separator: ",")
        }
    }

    /// The value as Lua gets it (a list: an array; files: a table by path).
    public var encoded: EncodedValue {
        switch self {
        case .string(let text): .string(text)
        case .integer(let number): .integer(number)
        case .boolean(let flag): .boolean(flag)
        case .list(let items): .array(items.map(\.encoded))
        case .files(let files): .table(files.sorted { $0.key < $1.key }.map { (.string($0.key), .string($0.value)) })
        }
    }

    /// A table holding every setting (tapir.config), by name.
    public static func encoded(_ values: [String: PackValue]) -> EncodedValue {
        .table(values.sorted { $0.key < $1.key }.map { (.string($0.key), $0.value.encoded) })
    }

    /// Lua source for this value (strings with every unusual byte escaped), for the Lua
    /// files `tapir pack new` writes.
    public var luaLiteral: String {
        switch self {
        case .string(let text): Self.quoted(text)
        case .integer(let number): String(number)
        case .boolean(let flag): flag ? "true" : "false"
        case .list(let items): "{" + items.map(\.luaLiteral).joined(separator: ", ") + "}"
        case .files(let files):
            "{" + files.sorted { $0.key < $1.key }.map { "[\(Self.quoted($0.key))] = \(Self.quoted($0.value))" }
                .joined(separator: ", ") + "}"
        }
    }

    static func quoted(_ text: String) -> String {
        var result = "\""
        for byte in text.utf8 {
            let isPlain = (byte >= 0x20 && byte < 0x7f) && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
            if isPlain {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "\\" + String(byte)
                    .leftPadded(to: 3)
            }
        }
        return result + "\""
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
