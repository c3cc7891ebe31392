import Devices
import Foundation
import Logging
@testable import LuaHost
import Reactor
import XCTest

/// docs/lua-api.md stays true: each name documented in its tables exists in the host, and
/// each name the host exposes (the tapir table, tapir.log, tapir.build, every packet
/// field) is documented.
final class APIDocumentationTests: XCTestCase {
    /// Documented, but not in a plain script's state: a hook a script defines for the host
    /// to call, and a pack's settings (PackSandboxTests covers tapir.config).
    let scriptDefined: Set<String> = ["tapir.on_reload", "tapir.reassemble", "tapir.verify_checksums", "tapir.config"]

    /// The names in the first column of the tables of docs/lua-api.md and the pages it
    /// links for modules (protocols.md, pack-modules.md).
    var documented: Set<String> {
        get throws {
            try Self.documentedNames(in: "docs/lua-api.md").union(try Self.documentedNames(in: "docs/protocols.md"))
                .union(try Self.documentedNames(in: "docs/pack-modules.md"))
        }
    }

    static func documentedNames(in file: String) throws -> Set<String> {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(file).path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var names: Set<String> = []
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            let rest = line.dropFirst(3)
            guard let end = rest.firstIndex(of: "`") else { continue }
            names.insert(String(rest[..<end]))
        }
        return names
    }

    /// The modules whose every export docs/protocols.md or docs/pack-modules.md documents,
    /// one row a name.
    let libraryModules = ["tapir.addr", "tapir.proto.dns", "tapir.proto.dhcp", "tapir.proto.ntp", "tapir.proto.lldp",
                          "tapir.proto.tcp_options", "tapir.proto.vxlan", "tapir.proto.ndp", "tapir.proto.icmp_error",
                          "tapir.proto.dhcpv6", "tapir.domain_list", "tapir.checksum", "tapir.neighbours",
                          "tapir.counters"]

    let logged = LogLines()

    func makeHost() throws -> (TapirHost, MemoryDevice, HostDevice) {
        let lines = logged
        var options = TapirHost.Options()
        // The modules under lua/tapir (tapir.proto.dns, tapir.addr) are documented too.
        options.moduleDirectories = [URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("lua").path]
        let host = TapirHost(options: options, timers: TimerQueue(clock: ManualClock()),
                             logger: Logger(label: "test") { _ in CollectingLogHandler(lines: lines) })
        let device = MemoryDevice()
        return (host, device, try host.add(device))
    }

    func load(_ host: TapirHost, _ source: String) throws -> Script {
        let path = NSTemporaryDirectory() + "tapir-doc-\(getpid())-\(UUID().uuidString).lua"
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try host.load(path: path)
    }

    func testEveryExposedNameIsDocumented() throws {
        let (host, _, _) = try makeHost()
        defer { host.stop() }
        let script = try load(host, """
            local names = {}
            for key in pairs(tapir) do
              -- tapir.log and tapir.build are listed by their members
              if key ~= "log" and key ~= "build" then names[#names + 1] = "tapir." .. key end
            end
            for key in pairs(tapir.log) do names[#names + 1] = "tapir.log." .. key end
            for key in pairs(tapir.build) do names[#names + 1] = "tapir.build." .. key end
            for module in ("\(libraryModules.joined(separator: " "))"):gmatch("%S+") do
              if package.searchpath(module, package.path) then
                for key in pairs(require(module)) do names[#names + 1] = module .. "." .. key end
              end
            end
            exposed = table.concat(names, "\\n")
            """)
        let reference = try script.state.evaluate("return exposed")
        var exposed = Set(try script.state.string(reference).split(separator: "\n").map(String.init))
        for field in PacketField.allCases {
            exposed.insert(field.layer == .frame ? "pkt.\(field.name)" : "pkt.\(field.layer.rawValue).\(field.name)")
        }
        let missing = exposed.subtracting(try documented)
        XCTAssertTrue(missing.isEmpty, "exposed but not in docs/lua-api.md or docs/protocols.md: \(missing.sorted())")
    }

    /// The `| field |` rows of each `## tapir.proto.NAME` section of docs/protocols.md.
    static func documentedFields() throws -> [String: Set<String>] {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/protocols.md").path
        var fields: [String: Set<String>] = [:]
        var module: String?
        var inFieldTable = false
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                let title = line.dropFirst(3)
                module = title.hasPrefix("tapir.proto.") ? String(title) : nil
                inFieldTable = false
            } else if line.hasPrefix("| field |") {
                inFieldTable = true
            } else if !line.hasPrefix("|") {
                inFieldTable = false
            } else if inFieldTable, let module, line.hasPrefix("| `") {
                let rest = line.dropFirst(3)
                if let end = rest.firstIndex(of: "`") { fields[module, default: []].insert(String(rest[..<end])) }
            }
        }
        return fields
    }

    /// What each codec decodes from its fuzz seeds (the real captures of lua/tapir/tests/fixtures)
    /// has every field documented in its section's field table.
    func testEveryDecodedFieldIsDocumented() throws {
        let documented = try Self.documentedFields()
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let (host, _, _) = try makeHost()
        defer { host.stop() }
        for module in libraryModules where module.hasPrefix("tapir.proto.") {
            let name = String(module.dropFirst("tapir.proto.".count))
            let seeds = repository.appendingPathComponent("Fuzz/corpus/proto-\(name)").path
            let files = try FileManager.default.contentsOfDirectory(atPath: seeds).sorted()
            XCTAssertFalse(files.isEmpty, "no seeds for \(module)")
            let hex = try files.map { file in
                try Data(contentsOf: URL(fileURLWithPath: seeds + "/" + file)).map { String(format: "%02x", $0) }.joined()
            }
            let script = try load(host, """
                local codec = require "\(module)"
                local keys = {}
                for hex in ("\(hex.joined(separator: " "))"):gmatch("%x+") do
                  local message = assert(codec.decode((hex:gsub("..", function(pair) return string.char(tonumber(pair, 16)) end))))
                  for key in pairs(message) do keys[key] = true end
                end
                local list = {}
                for key in pairs(keys) do list[#list + 1] = key end
                decoded = table.concat(list, " ")
                """)
            let decoded = Set(try script.state.string(try script.state.evaluate("return decoded")).split(separator: " ")
                .map(String.init))
            let missing = decoded.subtracting(documented[module] ?? [])
            XCTAssertTrue(missing.isEmpty, "\(module) decodes fields docs/protocols.md's field table lacks: \(missing.sorted())")
        }
    }

    func testEveryDocumentedNameExists() throws {
        let documented = try self.documented
        let (host, device, hostDevice) = try makeHost()
        defer { host.stop() }
        // Names of the tapir tables and packet fields, checked from Lua.
        var checks: [String] = ["""
            local function exists(path)
              local value = _ENV
              for part in path:gmatch("[^.]+") do
                if type(value) ~= "table" then return false end
                value = value[part]
              end
              return value ~= nil
            end
            -- A member of a module: tapir.addr.prefix is require("tapir.addr").prefix.
            local function member(path)
              local module, name = path:match("^(.+)%.([%w_]+)$")
              if not module or not package.searchpath(module, package.path) then return false end
              return require(module)[name] ~= nil
            end
            """]
        for name in documented.sorted() where !scriptDefined.contains(name) {
            if name.range(of: #"^tapir(\.[A-Za-z_0-9]+)+$"#, options: .regularExpression) != nil {
                // A field of tapir, or a module that require finds (tapir.proto.dns).
                checks.append("assert(exists('\(name)') or package.searchpath('\(name)', package.path) or member('\(name)'), '\(name)')")
            }
        }
        // A tapir.addr prefix's fields and methods (docs/protocols.md), on a real one.
        checks.append("local prefix = require('tapir.addr').prefix('198.18.1.254/24')")
        for name in documented.sorted() where name.hasPrefix("prefix.") || name.hasPrefix("prefix:") {
            checks.append("assert(prefix['\(name.dropFirst(7))'] ~= nil, '\(name)')")
        }
        // The methods of a tapir.neighbours host and of tapir.counters (docs/pack-modules.md),
        // on real instances.
        checks.append("""
            local host = require('tapir.neighbours').new{mac = '02:54:41:50:49:52', ipv4 = '198.18.0.2'}
            local counters = require('tapir.counters').new{names = {'n'}, state = {}}
            """)
        for name in documented.sorted() where name.hasPrefix("host") || name.hasPrefix("counters:") {
            let instance = name.hasPrefix("host") ? "host" : "counters"
            let member = name.dropFirst(instance.count + 1)
            let isMethod = name.dropFirst(instance.count).hasPrefix(":")
            checks.append("assert(\(isMethod ? "type(" : "")\(instance)['\(member)']\(isMethod ? ") == 'function'" : " ~= nil"), '\(name)')")
        }
        let fieldNames = Set(PacketField.allCases.map {
            $0.layer == .frame ? "pkt.\($0.name)" : "pkt.\($0.layer.rawValue).\($0.name)"
        })
        let special: Set<String> = ["pkt.layers", "pkt:bytes", "pkt:copy", "pkt:reply", "#pkt", "tostring(pkt)",
                                    "pkt:forward", "pkt:ethernet_header", "pkt:ipv4_header", "pkt:ipv6_header",
                                    "handle:off", "timer:cancel", "dev:write", "dev.name", "dev.mode", "dev.mac",
                                    "dev.mtu", "dev.id"]
        for name in documented where name.hasPrefix("pkt") || name.hasPrefix("dev") || name.hasPrefix("handle:")
            || name.hasPrefix("timer") || name.hasPrefix("#") || name.hasPrefix("tostring") {
            XCTAssertTrue(fieldNames.contains(name) || special.contains(name), "documented but unknown: \(name)")
        }
        for field in PacketField.allCases where field.layer != .frame {
            XCTAssertTrue(documented.contains("pkt.\(field.layer.rawValue).\(field.name)"))
        }
        _ = try load(host, checks.joined(separator: "\n") + """

            local timer = tapir.after(10, function() end)
            assert(type(timer.cancel) == "function")
            local handle
            handle = tapir.on("udp", function(pkt, dev)
              assert(type(pkt:bytes()) == "string" and #pkt == #pkt:bytes())
              assert(pkt.layers == "eth:ip:udp", pkt.layers)
              assert(type(pkt:copy()) == "userdata")
              assert(type(pkt:reply{}) == "string")
              assert(type(tostring(pkt)) == "string")
              assert(dev.name == "mem0" and dev.mode == "tap" and dev.id == 1 and dev.mac == nil and dev.mtu == nil)
              assert(dev:write("x") == true)
              assert(handle:off() == true)
            end)
            """)
        device.inject(TestFrames.udp(dport: 7))
        host.pump(hostDevice)
        XCTAssertEqual(device.takeWritten(), [Array("x".utf8)], "the handler ran to its end: \(logged.lines)")
    }
}
