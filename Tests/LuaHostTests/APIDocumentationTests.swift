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

    var documented: Set<String> {
        get throws {
            let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("docs/lua-api.md").path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            var names: Set<String> = []
            for line in text.split(separator: "\n") where line.hasPrefix("| `") {
                let rest = line.dropFirst(3)
                guard let end = rest.firstIndex(of: "`") else { continue }
                names.insert(String(rest[..<end]))
            }
            return names
        }
    }

    let logged = LogLines()

    func makeHost() throws -> (TapirHost, MemoryDevice, HostDevice) {
        let lines = logged
        var options = TapirHost.Options()
        // The modules under lua/tapir (tapir.proto.dns, tapir.address) are documented too.
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
            exposed = table.concat(names, "\\n")
            """)
        let reference = try script.state.evaluate("return exposed")
        var exposed = Set(try script.state.string(reference).split(separator: "\n").map(String.init))
        for field in PacketField.allCases {
            exposed.insert(field.layer == .frame ? "pkt.\(field.name)" : "pkt.\(field.layer.rawValue).\(field.name)")
        }
        let missing = exposed.subtracting(try documented)
        XCTAssertTrue(missing.isEmpty, "exposed but not in docs/lua-api.md: \(missing.sorted())")
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
            """]
        for name in documented.sorted() where !scriptDefined.contains(name) {
            if name.range(of: #"^tapir(\.[a-z_]+)+$"#, options: .regularExpression) != nil {
                // A field of tapir, or a module that require finds (tapir.proto.dns).
                checks.append("assert(exists('\(name)') or package.searchpath('\(name)', package.path), '\(name)')")
            }
        }
        let fieldNames = Set(PacketField.allCases.map {
            $0.layer == .frame ? "pkt.\($0.name)" : "pkt.\($0.layer.rawValue).\($0.name)"
        })
        let special: Set<String> = ["pkt.layers", "pkt:bytes", "pkt:copy", "pkt:reply", "#pkt", "tostring(pkt)",
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
