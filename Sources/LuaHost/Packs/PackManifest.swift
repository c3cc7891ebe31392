/// What a pack's `pack.lua` returns: who it is, the host API it needs, the files that make
/// its handlers, its settings and the permissions it may ask for.
///
///     return {
///       name = "udp-echo", version = "1.0.0", description = "RFC 862 echo", api = 1,
///       handlers = {"echo.lua"},
///       config = {
///         ip = {type = "ipv4", default = "198.18.0.2", help = "the address answered"},
///         ports = {type = "list", of = "port", default = {7}, help = "echo ports", min = 1},
///         mode = {type = "string", default = "drop", choices = {"drop", "allow"}, help = "what rules do"},
///       },
///       permissions = {},
///     }
public struct PackManifest: Sendable {
    public var name: String
    public var version: String
    public var description: String
    public var api: Int
    public var handlers: [String]
    /// Sorted by name.
    public var settings: [PackSetting]
    public var permissions: [PackPermission]
    /// The folder holding pack.lua: a `file` setting's default path is relative to it.
    public var directory: String

    static let fields = ["name", "version", "description", "api", "handlers", "config", "permissions"]

    /// The setting named `name`.
    public func setting(_ name: String) -> PackSetting? {
        settings.first { $0.name == name }
    }

    /// Every setting's value: its default, or the text given for it (`--set key=value`),
    /// checked against its type. A `file` setting's value is the text of its file: a path
    /// given is relative to the working directory, a default one to the pack's folder,
    /// and "" reads nothing (the value is ""). A `folder` setting's value is the table of
    /// its folder's files (SettingFolder), found the same way ("" gives no files).
    public func resolve(_ given: [String: String]) throws(PackError) -> [String: PackValue] {
        var values: [String: PackValue] = [:]
        for setting in settings { values[setting.name] = setting.defaultValue }
        for (key, text) in given.sorted(by: { $0.key < $1.key }) {
            guard let setting = setting(key) else {
                let known = settings.map(\.name).joined(separator: ", ")
                throw PackError("pack '\(name)' has no setting '\(key)'"
                    + (known.isEmpty ? " (it has none)" : " (its settings: \(known))"))
            }
            switch setting.value(from: text) {
            case .success(let value): values[key] = value
            case .failure(let problem): throw PackError("pack '\(name)': setting '\(key)' = '\(text)'\(problem.text)")
            }
        }
        for setting in settings where setting.type == .file {
            guard case .string(var path)? = values[setting.name], !path.isEmpty else { continue }
            if given[setting.name] == nil, !path.hasPrefix("/") { path = directory + "/" + path }
            values[setting.name] = .string(try SettingFile.read(path, setting: setting.name, pack: name))
        }
        for setting in settings where setting.type == .folder {
            guard case .string(var path)? = values[setting.name] else { continue }
            guard !path.isEmpty else {
                values[setting.name] = .files([:])
                continue
            }
            if given[setting.name] == nil, !path.hasPrefix("/") { path = directory + "/" + path }
            values[setting.name] = .files(try SettingFolder.read(path, setting: setting.name, pack: name))
        }
        return values
    }
}

/// One entry of a manifest's `config`.
public struct PackSetting: Sendable {
    public var name: String
    public var type: PackValueType
    public var defaultValue: PackValue
    public var help: String
    /// What values it takes beyond its type (`min`, `max`, `choices`, `allow_empty`).
    public var limits = PackSettingLimits()
}

extension PackManifest {
    /// Reads the manifest from its snapshot; errors name `file` and the field.
    init(_ table: LuaTableSnapshot, file: String) throws(PackError) {
        func fail(_ field: String, _ problem: String) -> PackError {
            PackError("\(file): field '\(field)': \(problem)")
        }
        func string(_ field: String) throws(PackError) -> String {
            switch table[field] {
            case .string(let text) where !text.isEmpty: return text
            case nil: throw fail(field, "missing (a string)")
            case let value?: throw fail(field, "expected a non-empty string, got \(value.typeName)")
            }
        }
        for key in table.keys(of: "") where key.isIndex || !Self.fields.contains(key.name) {
            throw fail(key.path, "not a manifest field (the fields: \(Self.fields.joined(separator: ", ")))")
        }

        directory = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if directory.isEmpty { directory = file.hasPrefix("/") ? "/" : "." }
        name = try string("name")
        guard name.utf8.allSatisfy({ $0.isLowercaseLetterDigitOrDash }) else {
            throw fail("name", "'\(name)': use lower-case letters, digits and '-'")
        }
        version = try string("version")
        guard Self.isSemanticVersion(version) else {
            throw fail("version", "'\(version)' is not a semantic version (like 1.0.0)")
        }
        description = try string("description")
        guard case .integer(let api)? = table["api"] else {
            throw fail("api", table["api"] == nil ? "missing (the host API version, \(LuaState.apiVersion))"
                                                 : "expected an integer")
        }
        guard api == Int64(LuaState.apiVersion) else {
            throw fail("api", "the pack needs host API \(api); this tapir offers API \(LuaState.apiVersion)")
        }
        self.api = Int(api)

        handlers = try Self.strings(table, "handlers", file: file)
        guard !handlers.isEmpty else { throw fail("handlers", "list at least one Lua file") }
        for (index, handler) in handlers.enumerated()
        where handler.hasPrefix("/") || handler.split(separator: "/").contains("..") || !handler.hasSuffix(".lua") {
            throw fail("handlers[\(index + 1)]", "'\(handler)': a .lua file inside the pack's folder")
        }

        permissions = []
        for (index, text) in try Self.strings(table, "permissions", file: file).enumerated() {
            guard let permission = PackPermission(rawValue: text) else {
                throw fail("permissions[\(index + 1)]", "'\(text)' is not a permission (the permissions: "
                    + PackPermission.allCases.map(\.rawValue).joined(separator: ", ") + ")")
            }
            permissions.append(permission)
        }

        settings = []
        switch table["config"] {
        case nil: break
        case .table?:
            for key in table.keys(of: "config") {
                settings.append(try PackSetting(table, key: key, file: file))
            }
        case let value?: throw fail("config", "expected a table of settings, got \(value.typeName)")
        }
    }

    /// A list of strings at `field` (absent: empty).
    static func strings(_ table: LuaTableSnapshot, _ field: String, file: String) throws(PackError) -> [String] {
        switch table[field] {
        case nil: return []
        case .table?: break
        case let value?: throw PackError("\(file): field '\(field)': expected a list of strings, got \(value.typeName)")
        }
        var result: [String] = []
        for key in table.keys(of: field) {
            guard key.isIndex, key.name == String(result.count + 1), case .string(let text)? = table[key.path] else {
                throw PackError("\(file): field '\(key.path)': expected a list of strings")
            }
            result.append(text)
        }
        return result
    }

    static func isSemanticVersion(_ text: String) -> Bool {
        let core = text.split(separator: "+", maxSplits: 1)[0].split(separator: "-", maxSplits: 1)[0]
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 && parts.allSatisfy { part in
            !part.isEmpty && part.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } && (part == "0" || !part.hasPrefix("0"))
        }
    }
}

extension PackSetting {
    init(_ table: LuaTableSnapshot, key: LuaTableSnapshot.Key, file: String) throws(PackError) {
        let path = key.path
        func fail(_ field: String, _ problem: String) -> PackError {
            PackError("\(file): field '\(field)': \(problem)")
        }
        guard !key.isIndex, key.name.utf8.first.map({ !$0.isDigit }) ?? false,
              key.name.utf8.allSatisfy({ $0.isIdentifierByte }) else {
            throw fail(path, "a setting needs a name made of letters, digits and '_'")
        }
        guard case .table? = table[path] else {
            throw fail(path, "expected a table {type = ..., default = ..., help = ...}")
        }
        let fields = ["type", "of", "default", "help"] + PackSettingLimits.fields
        for field in table.keys(of: path) where field.isIndex || !fields.contains(field.name) {
            throw fail(field.path, "not a setting field (\(fields.joined(separator: ", ")))")
        }
        guard case .string(let typeName)? = table[path + ".type"] else {
            throw fail(path + ".type", "missing (one of \(PackValueType.names.joined(separator: ", ")))")
        }
        var type: PackValueType
        if typeName == "list" {
            var elementName = "string"
            if let of = table[path + ".of"] {
                guard case .string(let text) = of else { throw fail(path + ".of", "expected a type name") }
                elementName = text
            }
            guard PackValueType.elementNames.contains(elementName),
                  let element = PackValueType.scalar(named: elementName) else {
                throw fail(path + ".of", "'\(elementName)' is not a list element type (one of "
                    + PackValueType.elementNames.joined(separator: ", ") + ")")
            }
            type = .list(element)
        } else {
            guard let scalar = PackValueType.scalar(named: typeName) else {
                throw fail(path + ".type", "'\(typeName)' is not a type (one of \(PackValueType.names.joined(separator: ", ")))")
            }
            type = scalar
        }
        guard case .string(let help)? = table[path + ".help"], !help.isEmpty else {
            throw fail(path + ".help", "missing (a line saying what the setting does)")
        }
        guard let value = Self.value(table, path + ".default", type) else {
            let got = table[path + ".default"].map { "got \($0.typeName)" } ?? "missing"
            throw fail(path + ".default", "expected \(type.expectation), \(got)")
        }
        let limits = try PackSettingLimits(table, path: path, type: type, file: file)
        if let problem = limits.problems(with: value, of: type) {
            throw fail(path + ".default", problem)
        }
        self.init(name: key.name, type: type, defaultValue: value, help: help, limits: limits)
    }

    /// The Lua value at `path` as a value of `type`, or nil.
    static func value(_ table: LuaTableSnapshot, _ path: String, _ type: PackValueType) -> PackValue? {
        switch (type, table[path]) {
        case (.list(let element), .table?):
            var items: [PackValue] = []
            for key in table.keys(of: path) {
                guard key.isIndex, key.name == String(items.count + 1),
                      let item = value(table, key.path, element) else { return nil }
                items.append(item)
            }
            return .list(items)
        case (.string, .string(let text)?), (.file, .string(let text)?), (.folder, .string(let text)?),
             (.ipv4, .string(let text)?),
             (.ipv6, .string(let text)?), (.mac, .string(let text)?):
            return type.parse(text)
        case (.integer, .integer(let number)?), (.port, .integer(let number)?):
            return type.parse(String(number))
        case (.boolean, .boolean(let flag)?):
            return .boolean(flag)
        default:
            return nil
        }
    }
}

extension UInt8 {
    var isDigit: Bool { self >= 0x30 && self <= 0x39 }
    var isLowercaseLetterDigitOrDash: Bool { (self >= 0x61 && self <= 0x7a) || isDigit || self == 0x2d }
    var isIdentifierByte: Bool {
        (self >= 0x61 && self <= 0x7a) || (self >= 0x41 && self <= 0x5a) || isDigit || self == 0x5f
    }
}
