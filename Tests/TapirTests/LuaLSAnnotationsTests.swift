import Devices
import Foundation
import XCTest

/// `tapir api --luals`, the .luarc.json of `tapir pack new`, and luacheck in `tapir pack check`.
/// lua-language-server is not packaged in Debian, so the annotations are checked by every
/// documented name being in them and by Lua loading them.
final class LuaLSAnnotationsTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "tapir-luals-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func tapir(_ arguments: [String]) throws -> ProcessOutput {
        try ChildProcess.run([TapirCommand.path] + arguments, timeout: .seconds(60))
    }

    /// The annotations as classes (their `---@field` names) and `function NAME(` stubs.
    struct Parsed {
        var classes: [String: Set<String>] = [:]
        var functions: Set<String> = []

        init(_ text: String) {
            var current: String?
            for line in text.split(separator: "\n") {
                if line.hasPrefix("---@class ") {
                    current = String(line.dropFirst(10))
                    classes[current!, default: []] = []
                } else if line.hasPrefix("---@field "), let current {
                    let name = line.dropFirst(10).prefix { $0 != " " && $0 != "?" }
                    classes[current, default: []].insert(String(name))
                } else if line.hasPrefix("function "), let open = line.firstIndex(of: "(") {
                    functions.insert(String(line[line.index(line.startIndex, offsetBy: 9)..<open]))
                }
            }
        }
    }

    /// The documented rows of a docs page: (section, name, row text).
    func rows(_ page: String) throws -> [(String, String, String)] {
        let text = try String(contentsOf: TapirCommand.repository.appendingPathComponent("docs/" + page), encoding: .utf8)
        var section = ""
        var rows: [(String, String, String)] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("## ") { section = String(line.dropFirst(3)) }
            guard line.hasPrefix("| `"), let end = line.dropFirst(3).firstIndex(of: "`") else { continue }
            rows.append((section, String(line[line.index(line.startIndex, offsetBy: 3)..<end]), String(line)))
        }
        return rows
    }

    static let objects = ["pkt": "tapir.Packet", "dev": "tapir.Device", "handle": "tapir.Handle", "timer": "tapir.Timer",
                          "conn": "tapir.Connection"]
    static let modules = ["tapir.addr", "tapir.checksum", "tapir.counters", "tapir.domain_list", "tapir.neighbours",
                          "tapir.proto.dhcp", "tapir.proto.dhcpv6", "tapir.proto.dns", "tapir.proto.icmp_error",
                          "tapir.proto.lldp", "tapir.proto.ndp", "tapir.proto.ntp", "tapir.proto.tcp_options",
                          "tapir.proto.vxlan", "tapir.testing.tcp", "tapir.testing.hex",
                          "tapir.testing.dns_paths"]

    func testEveryDocumentedNameIsAnnotated() throws {
        let output = try tapir(["api", "--luals"])
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stdout.hasPrefix("---@meta\n"), String(output.stdout.prefix(200)))
        let parsed = Parsed(output.stdout)
        var checked = 0
        func expect(_ found: Bool, _ name: String) {
            XCTAssertTrue(found, "documented but not in tapir api --luals: \(name)")
            checked += 1
        }
        let documented = try rows("lua-api.md") + rows("protocols.md") + rows("pack-modules.md")
        // (A row whose first cell is an error message, with spaces, names nothing.)
        for (section, name, row) in documented where section != "The console prompt" && !name.contains(" ") {
            if let module = Self.modules.filter({ name.hasPrefix($0 + ".") }).max(by: { $0.count < $1.count }) {
                let member = String(name.dropFirst(module.count + 1))
                let local = module.replacingOccurrences(of: ".", with: "_")
                expect(parsed.functions.contains(local + "." + member) || parsed.classes[module]?.contains(member) == true,
                       name)
            } else if Self.modules.contains(name) {
                expect(parsed.classes[name] != nil, name)
            } else if name.hasPrefix("tapir.build.") {
                let layer = String(name.dropFirst(12))
                expect(parsed.functions.contains(name), name)
                // Each field the row's signature names is in the builder's fields class.
                let signature = row.components(separatedBy: "{").dropFirst().first?.components(separatedBy: "}").first ?? ""
                for field in signature.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                    expect(parsed.classes["tapir.build.\(layer).fields"]?.contains(field) == true, "\(name){\(field)}")
                }
            } else if name.hasPrefix("tapir.") {
                let parts = name.split(separator: ".")
                expect(parsed.functions.contains(name) || (parts.count == 2 && parsed.classes["tapir"]?.contains(String(parts[1])) == true),
                       name)
            } else if name.hasPrefix("pkt."), name.split(separator: ".").count == 3 {
                let parts = name.split(separator: ".").map(String.init)
                expect(parsed.classes["tapir.layer.\(parts[1])"]?.contains(parts[2]) == true, name)
                expect(parsed.classes["tapir.Packet"]?.contains(parts[1]) == true, name + " (the layer)")
            } else if let separator = name.firstIndex(where: { $0 == "." || $0 == ":" }),
                      let className = Self.objects[String(name[..<separator])] {
                let member = String(name[name.index(after: separator)...])
                let local = className.replacingOccurrences(of: ".", with: "_")
                expect(name[separator] == ":" ? parsed.functions.contains(local + ":" + member)
                       : parsed.classes[className]?.contains(member) == true, name)
            }
        }
        XCTAssertGreaterThan(checked, 300, "the documentation tables were read")
    }

    /// Annotations are comments: the rest is Lua that loads and runs (stubs).
    func testTheAnnotationsAreLua() throws {
        let file = directory + "/tapir.lua"
        let written = try tapir(["api", "--luals", "--output", file])
        XCTAssertEqual(written.status, 0, written.stderr)
        let loader = directory + "/load.lua"
        try """
            dofile("\(file)")
            assert(type(tapir.on) == "function" and type(tapir.build.ip) == "function")
            """.write(toFile: loader, atomically: true, encoding: .utf8)
        let lua = try ChildProcess.run(["/usr/bin/env", "lua5.4", loader])
        XCTAssertEqual(lua.status, 0, lua.stderr)
        // What --output wrote is what standard output gets.
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), try tapir(["api", "--luals"]).stdout)
    }

    func testWithoutAFormItSaysWhichToAskFor() throws {
        let output = try tapir(["api"])
        XCTAssertNotEqual(output.status, 0)
        XCTAssertTrue(output.stderr.contains("--luals"), output.stderr)
    }

    func testANewPackHasALuarcPointingAtItsAnnotations() throws {
        XCTAssertEqual(try tapir(["pack", "new", "edited", "--into", directory]).status, 0)
        let pack = directory + "/edited"
        let luarc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: pack + "/.luarc.json")))
        let settings = try XCTUnwrap(luarc as? [String: Any])
        XCTAssertEqual(settings["runtime.version"] as? String, "Lua 5.4")
        let library = try XCTUnwrap(settings["workspace.library"] as? [String])
        XCTAssertEqual(library, [".luals"])
        XCTAssertEqual(Set(settings["diagnostics.globals"] as? [String] ?? []), ["tapir", "test"])
        let annotations = try String(contentsOfFile: pack + "/.luals/tapir.lua", encoding: .utf8)
        XCTAssertEqual(annotations, try tapir(["api", "--luals"]).stdout)
        XCTAssertTrue(try String(contentsOfFile: pack + "/README.md", encoding: .utf8)
            .contains("tapir api --luals --output .luals/tapir.lua"))
    }

    func testCheckReportsAnUndefinedGlobalThroughLuacheck() throws {
        guard ChildProcess.locate("luacheck") != nil else {
            throw XCTSkip("luacheck is not installed (Debian: lua-check; scripts/setup installs it)")
        }
        XCTAssertEqual(try tapir(["pack", "new", "clean", "--into", directory]).status, 0)
        let clean = try tapir(["pack", "check", directory + "/clean"])
        XCTAssertEqual(clean.status, 0, clean.stdout + clean.stderr)
        XCTAssertTrue(clean.stdout.contains("luacheck: no undefined or stray globals"), clean.stdout)

        XCTAssertEqual(try tapir(["pack", "new", "sloppy", "--into", directory]).status, 0)
        let main = directory + "/sloppy/main.lua"
        try (try String(contentsOfFile: main, encoding: .utf8) + "\ntapir.log.info(greting)\n")
            .write(toFile: main, atomically: true, encoding: .utf8)
        // A module beside the handlers, not named in the manifest, is checked too.
        try "return {size = sise}\n".write(toFile: directory + "/sloppy/helper.lua", atomically: true, encoding: .utf8)
        let check = try tapir(["pack", "check", directory + "/sloppy"])
        XCTAssertNotEqual(check.status, 0)
        XCTAssertTrue(check.stdout.contains("main.lua:") && check.stdout.contains("(W113)")
                      && check.stdout.contains("greting"), check.stdout)
        XCTAssertTrue(check.stdout.contains("helper.lua:1:") && check.stdout.contains("sise"), check.stdout)
        XCTAssertTrue(check.stderr.contains("luacheck: 2 warnings about globals"), check.stderr)
    }
}
