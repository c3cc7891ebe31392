import Devices
import Kernel
import Logging
import LuaHost
import Reactor

/// `tapir api --luals`: LuaLS/EmmyLua annotations for editors, made from what the host
/// exposes, not from a copy: the names of the tapir table, tapir.log, tapir.build and each
/// library module's exports are read from a live host's Lua state; the packet's layers and
/// fields, and the fields a builder takes, from PacketField (the table the host's packet
/// object and builders use). docs/lua-api.md, when installed beside lua/, only adds the
/// descriptions and the parameters of each function.
enum LuaLSAnnotations {
    /// The library modules annotated: those docs/protocols.md and docs/pack-modules.md document.
    static let modules = ["tapir.addr", "tapir.checksum", "tapir.counters", "tapir.domain_list", "tapir.neighbours",
                          "tapir.proto.dhcp", "tapir.proto.dhcpv6", "tapir.proto.dns", "tapir.proto.icmp_error",
                          "tapir.proto.lldp", "tapir.proto.ndp", "tapir.proto.ntp", "tapir.proto.tcp_options",
                          "tapir.proto.vxlan", "tapir.testing.tcp", "tapir.testing.hex",
                          "tapir.testing.dns_paths"]

    /// Documented names of tapir a script sets, or a pack's state has, that a plain host lacks.
    static let scriptSet = [("config", "table<string, any>"), ("reassemble", "boolean"),
                            ("verify_checksums", "boolean"), ("on_reload", "fun(state: table)")]

    /// Classes of the values the API hands out, by the name docs/lua-api.md gives them.
    static let objectClasses = ["pkt": "tapir.Packet", "dev": "tapir.Device", "handle": "tapir.Handle",
                                "timer": "tapir.Timer", "conn": "tapir.Connection", "listener": "tapir.Listener"]

    static func generate(luaDirectories: [String]) throws -> String {
        let exposed = try exposedNames(luaDirectories: luaDirectories)
        let apiPath = luaDirectories.first.map { APIReference.path(besideLuaDirectory: $0) }
        let reference = apiPath.flatMap { APIReference(path: $0) }
        var described: [String: String] = [:]
        // The modules' pages, beside lua-api.md where they are installed.
        let pages = ["lua-api.md", "protocols.md", "pack-modules.md"].compactMap { page in
            apiPath.flatMap { APIReference(path: String($0.dropLast("lua-api.md".count)) + page) }
        }
        for entry in pages.flatMap(\.entries) where described[entry.name] == nil { described[entry.name] = entry.text }
        var out = Annotations(described: described)

        out.line("---@meta")
        out.line("-- Tapir \(TapirVersion.text) Lua API (host API \(LuaState.apiVersion)), made by `tapir api --luals`.")
        out.line("-- Regenerate after upgrading tapir: tapir api --luals --output .luals/tapir.lua")
        out.line("")
        packetClasses(&out)
        objectClassStubs(&out, reference: reference)

        // tapir and its tables.
        out.line("---@class tapir")
        for (name, type) in exposed where name.hasPrefix("tapir.") && !name.dropFirst(6).contains(".") {
            if type != "function" { out.field(String(name.dropFirst(6)), luaType(type, name: name), doc: name) }
        }
        // Set by a script rather than offered by the host (tapir.config: in packs only).
        for (name, type) in scriptSet where !exposed.contains(where: { $0.0 == "tapir." + name }) {
            out.field(name + "?", type, doc: "tapir." + name)
        }
        out.line("tapir = {}")
        out.line("tapir.log = {}")
        out.line("tapir.build = {}")
        out.line("tapir.tcp = tapir.tcp or {}")
        out.line("")
        for (name, type) in exposed where type == "function" && !modules.contains(where: { name.hasPrefix($0 + ".") }) {
            out.function(name, builderLayer: name.hasPrefix("tapir.build.") ? String(name.dropFirst(12)) : nil)
        }

        // The library modules: a class each; `---@type tapir.proto.dns` on a require's local.
        for module in modules {
            let exports = exposed.filter { $0.0.hasPrefix(module + ".") && !$0.0.dropFirst(module.count + 1).contains(".") }
            guard !exports.isEmpty else { continue }
            let local = module.replacingDots()
            out.line("---@class \(module)")
            for (name, type) in exports where type != "function" {
                out.field(String(name.dropFirst(module.count + 1)), luaType(type, name: name), doc: name)
            }
            out.line("local \(local) = {}")
            for (name, type) in exports where type == "function" {
                out.function(name, owner: local, builderLayer: nil)
            }
            out.line("")
        }
        return out.text
    }

    /// The packet, its layers and their fields, and what each builder takes.
    static func packetClasses(_ out: inout Annotations) {
        for layer in PacketLayer.allCases where layer != .frame {
            out.line("---@class tapir.layer.\(layer.rawValue)")
            for field in PacketField.allCases where field.layer == layer {
                out.field(field.name, kindType(field.info.kind), doc: "pkt.\(layer.rawValue).\(field.name)")
            }
            out.line("")
            // A builder's table: the fields the builder may set, and the payload after the header.
            out.line("---@class tapir.build.\(layer.rawValue).fields")
            for field in PacketField.allCases where field.layer == layer && field.info.settable {
                out.field(field.name + "?", kindType(field.info.kind), doc: "pkt.\(layer.rawValue).\(field.name)")
            }
            out.line("---@field payload? string")
            out.line("")
        }
    }

    /// The packet: its frame fields, and its layers (nil when absent).
    static func packetFields(_ out: inout Annotations) {
        out.line("---@class tapir.Packet")
        for field in PacketField.allCases where field.layer == .frame {
            out.field(field.name, kindType(field.info.kind), doc: "pkt.\(field.name)")
        }
        out.field("layers", "string", doc: "pkt.layers")
        for layer in PacketLayer.allCases where layer != .frame {
            out.field(layer.rawValue, "tapir.layer.\(layer.rawValue)?", doc: nil)
        }
    }

    /// Each object class with its documented fields, and a stub table its methods hang on.
    static func objectClassStubs(_ out: inout Annotations, reference: APIReference?) {
        let entries = reference?.entries ?? []
        for (object, className) in objectClasses.sorted(by: { $0.key < $1.key }) {
            if object == "pkt" { packetFields(&out) } else { out.line("---@class \(className)") }
            for entry in entries where entry.name.hasPrefix(object + ".") && object != "pkt" {
                out.field(String(entry.name.dropFirst(object.count + 1)), "any", doc: entry.name)
            }
            let local = className.replacingDots()
            out.line("local \(local) = {}")
            for entry in entries where entry.name.hasPrefix(object + ":") {
                out.function(entry.name, owner: local, method: true, builderLayer: nil)
            }
            out.line("")
        }
    }

    /// `name\ttype` for every key of tapir, tapir.log, tapir.build, tapir.tcp and each module.
    static func exposedNames(luaDirectories: [String]) throws -> [(String, String)] {
        var options = TapirHost.Options()
        options.moduleDirectories = luaDirectories
        let host = TapirHost(options: options, timers: TimerQueue(clock: ManualClock()),
                             logger: Logger(label: "tapir-api") { _ in SwiftLogNoOpLogHandler() })
        defer { host.stop() }
        let path = "/tmp/tapir-api-\(Syscalls.processID).lua"
        try Syscalls.writeFile(path, Array("""
            local names = {}
            local function add(prefix, t)
              local keys = {}
              for key in pairs(t) do if type(key) == "string" then keys[#keys + 1] = key end end
              table.sort(keys)
              for _, key in ipairs(keys) do names[#names + 1] = prefix .. key .. "\\t" .. type(t[key]) end
            end
            add("tapir.", tapir)
            for _, sub in ipairs{"log", "build", "tcp"} do
              if type(tapir[sub]) == "table" then add("tapir." .. sub .. ".", tapir[sub]) end
            end
            for module in ("\(modules.joined(separator: " "))"):gmatch("%S+") do
              local found, exports = pcall(require, module)
              if found and type(exports) == "table" then add(module .. ".", exports) end
            end
            exposed = table.concat(names, "\\n")
            """.utf8))
        defer { _ = Syscalls.unlink(path) }
        let script = try host.load(path: path)
        let text = try script.state.string(try script.state.evaluate("return exposed"))
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t")
            guard parts.count == 2, parts[0] != "tapir.log", parts[0] != "tapir.build" else { return nil }
            return (String(parts[0]), String(parts[1]))
        }
    }

    static func kindType(_ kind: PacketFieldKind) -> String {
        switch kind {
        case .integer: "integer"
        case .boolean: "boolean"
        case .mac, .ipv4, .ipv6, .bytes, .text: "string"
        case .tcpFlags: "integer|string"
        }
    }

    static func luaType(_ type: String, name: String) -> String {
        switch type {
        case "number": "number"
        case "string": "string"
        case "boolean": "boolean"
        case "table": name == "tapir.config" ? "table<string, any>" : "table"
        default: "any"
        }
    }
}

/// The text being written, with the documentation rows at hand.
struct Annotations {
    let described: [String: String]
    var text = ""

    mutating func line(_ line: String) { text += line + "\n" }

    mutating func field(_ name: String, _ type: String, doc: String?) {
        let summary = doc.flatMap { described[$0] }.map { " # " + $0.oneLine } ?? ""
        line("---@field \(name) \(type)\(summary)")
    }

    /// A function stub: its documented row as the description, parameters from the
    /// signature the row starts with (`tapir.after(ms, fn) -> timer`), a builder's table typed.
    mutating func function(_ name: String, owner: String? = nil, method: Bool = false, builderLayer: String?) {
        let row = described[name]
        if let row { line("--- " + row.oneLine) }
        var parameters: [String] = []
        if let builderLayer {
            line("---@param fields? tapir.build.\(builderLayer).fields")
            parameters = ["fields"]
            line("---@return string")
        } else if let row, let signature = Self.signature(of: name, in: row) {
            for (parameter, optional) in signature.parameters {
                let type = name == "tapir.on" && parameter == "fn" ? Self.handlerType : Self.parameterTypes[parameter] ?? "any"
                line("---@param \(parameter)\(optional ? "?" : "") \(type)")
            }
            parameters = signature.parameters.map(\.0)
            if let result = signature.result {
                let object = LuaLSAnnotations.objectClasses[result]
                line("---@return \(object ?? (result == "bytes" ? "string" : "any"))" + (object == nil ? " # \(result)" : ""))
            }
        }
        let member = name.split(separator: method ? ":" : ".").last.map(String.init) ?? name
        let target = owner.map { $0 + (method ? ":" : ".") + member } ?? name
        line("function \(target)(\(parameters.joined(separator: ", "))) end")
        line("")
    }

    /// `name(a, [b], ...) -> result` or `name{...}` at the start of a documentation row.
    static func signature(of name: String, in row: String) -> (parameters: [(String, Bool)], result: String?)? {
        // The row names it in full (tapir.after(ms, fn)) or by its last parts (neighbours.new{...}).
        let parts = name.split(separator: ".")
        guard let spelled = parts.indices.map({ parts[$0...].joined(separator: ".") }).first(where: { row.hasPrefix($0) })
        else { return nil }
        let rest = row.dropFirst(spelled.count)
        guard let open = rest.first, open == "(" || open == "{" else { return nil }
        let close: Character = open == "(" ? ")" : "}"
        var depth = 0
        var inside = ""
        var end = rest.startIndex
        for index in rest.indices {
            let character = rest[index]
            if character == open { depth += 1; if depth == 1 { continue } }
            if character == close { depth -= 1; if depth == 0 { end = index; break } }
            inside.append(character)
        }
        guard depth == 0 else { return nil }
        var parameters: [(String, Bool)] = []
        if open == "{" {
            parameters = [("options", false)]
        } else {
            var depth = 0
            var current = ""
            var pieces: [String] = []
            for character in inside {
                if "[{(".contains(character) { depth += 1 } else if "]})".contains(character) { depth -= 1 }
                if character == "," && depth == 0 { pieces.append(current); current = "" } else { current.append(character) }
            }
            pieces.append(current)
            for (index, piece) in pieces.enumerated() {
                let trimmed = piece.trimmingCharacters(in: " ")
                if trimmed.isEmpty { continue }
                if trimmed == "..." { parameters.append(("...", false)); break }
                let optional = trimmed.hasPrefix("[")
                let word = String(trimmed.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "[" }.filter { $0 != "[" })
                let valid = !word.isEmpty && !(word.first?.isNumber ?? true) && !luaKeywords.contains(word)
                parameters.append((valid ? word : "arg\(index + 1)", optional))
            }
        }
        var result: String?
        let after = rest[rest.index(after: end)...]
        if after.hasPrefix(" -> ") {
            result = String(after.dropFirst(4).prefix { $0.isLetter || $0 == "_" })
        }
        return (parameters, result)
    }

    /// Types of the parameters the documentation names the same way throughout.
    static let parameterTypes = ["fn": "function", "ms": "integer", "timeout_ms": "integer", "offset": "integer",
                                 "max": "integer", "selector": "string", "keys": "table", "dev": "tapir.Device",
                                 "bytes": "string|tapir.Packet", "options": "table", "text": "string", "data": "string",
                                 "pattern": "string|integer", "name": "string", "mac": "string"]
    static let handlerType = "fun(pkt: tapir.Packet, dev: tapir.Device): boolean?"

    static let luaKeywords: Set<String> = ["and", "break", "do", "else", "elseif", "end", "false", "for", "function",
                                           "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return",
                                           "then", "true", "until", "while"]
}

private extension String {
    func replacingDots() -> String { String(map { $0 == "." ? "_" : $0 }) }

    /// On one line, for a `---` comment.
    var oneLine: String { String(map { $0 == "\n" || $0 == "\r" ? " " : $0 }) }

    func trimmingCharacters(in set: String) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text.removeFirst() }
        while let last = text.last, set.contains(last) { text.removeLast() }
        return String(text)
    }
}
