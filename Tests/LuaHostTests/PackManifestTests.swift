import Foundation
@testable import LuaHost
import XCTest

/// Manifests: errors name the file and the field; settings are checked against their type.
final class PackManifestTests: XCTestCase {
    var packs: PackFixture!

    override func setUpWithError() throws {
        packs = try PackFixture()
    }

    override func tearDown() {
        packs = nil
    }

    func manifestError(_ manifest: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let directory = try packs.write("p", handler: "", manifest: manifest)
        do {
            _ = try Pack(directory: directory)
            XCTFail("the manifest was accepted", file: file, line: line)
            return ""
        } catch {
            XCTAssertTrue(error.message.contains(directory + "/pack.lua"), error.message, file: file, line: line)
            return error.message
        }
    }

    let valid = """
        name = "p", version = "1.2.3", description = "d", api = 1, handlers = {"main.lua"},
        """

    func testAGoodManifestReadsEveryField() throws {
        let directory = try packs.write("good", handler: "", config: """
            ip = {type = "ipv4", default = "198.18.0.2", help = "the address"},
            ports = {type = "list", of = "port", default = {7, 9}, help = "ports"},
            """, permissions: ["io"])
        let pack = try Pack(directory: directory)
        XCTAssertEqual(pack.name, "good")
        XCTAssertEqual(pack.manifest.version, "1.0.0")
        XCTAssertEqual(pack.manifest.handlers, ["main.lua"])
        XCTAssertEqual(pack.manifest.permissions, [.io])
        XCTAssertEqual(pack.manifest.settings.map(\.name), ["ip", "ports"])
        XCTAssertEqual(pack.manifest.setting("ports")?.type, .list(.port))
        XCTAssertEqual(pack.manifest.setting("ports")?.defaultValue, .list([.integer(7), .integer(9)]))
        XCTAssertEqual(pack.manifest.setting("ip")?.help, "the address")
    }

    func testMissingAndMistypedFieldsAreNamed() throws {
        XCTAssertTrue(try manifestError("return {version = '1.0.0', description = 'd', api = 1, handlers = {'main.lua'}}")
            .contains("field 'name': missing"))
        XCTAssertTrue(try manifestError("return {\(valid) version = '1.0'}".replacingOccurrences(of: "version = \"1.2.3\",", with: ""))
            .contains("field 'version': '1.0' is not a semantic version"))
        XCTAssertTrue(try manifestError("return {\(valid) colour = 'red'}").contains("field 'colour': not a manifest field"))
        XCTAssertTrue(try manifestError("return {\(valid) permissions = {'network'}}")
            .contains("field 'permissions[1]': 'network' is not a permission"))
        XCTAssertTrue(try manifestError("return 42").contains("must return a table"))
        XCTAssertTrue(try manifestError("return {").contains("pack.lua"))
    }

    /// The manifest is read out of its state as an encoded value: one that holds itself
    /// cannot be, and says so (it used to be cut off silently, then named as missing fields).
    func testAManifestHoldingItselfIsRefusedSayingWhy() throws {
        let message = try manifestError("""
            local manifest = {\(valid)}
            manifest.handlers.again = manifest
            return manifest
            """)
        XCTAssertTrue(message.hasSuffix("pack.lua: a table nested more than 32 deep (or holding itself) cannot be handed to the host"),
                      message)
        XCTAssertTrue(try manifestError("return function() end").hasSuffix("must return a table (the manifest), not function"))
        XCTAssertTrue(try manifestError("return {\(valid) config = print}")
            .hasSuffix("field 'config': expected a table of settings, got function"))
    }

    func testAnAPIMismatchIsAClearError() throws {
        let message = try manifestError("return {name = 'p', version = '1.0.0', description = 'd', api = 99, handlers = {'main.lua'}}")
        XCTAssertTrue(message.contains("field 'api': the pack needs host API 99; this tapir offers API 1"), message)
    }

    func testSettingsNeedAKnownTypeADefaultOfThatTypeAndHelp() throws {
        XCTAssertTrue(try manifestError("return {\(valid) config = {x = {type = 'float', default = 1, help = 'h'}}}")
            .contains("field 'config.x.type': 'float' is not a type"))
        XCTAssertTrue(try manifestError("return {\(valid) config = {x = {type = 'ipv4', default = '300.1.1.1', help = 'h'}}}")
            .contains("field 'config.x.default': expected an IPv4 address"))
        XCTAssertTrue(try manifestError("return {\(valid) config = {x = {type = 'port', default = 7}}}")
            .contains("field 'config.x.help': missing"))
        XCTAssertTrue(try manifestError("return {\(valid) config = {x = {type = 'list', of = 'port', default = {7, 'a'}, help = 'h'}}}")
            .contains("field 'config.x.default'"))
    }

    func testAMissingHandlerFileIsNamed() throws {
        let directory = try packs.write("p", handler: "", manifest: "return {\(valid.replacingOccurrences(of: "main.lua", with: "gone.lua"))}")
        XCTAssertThrowsError(try Pack(directory: directory)) { error in
            XCTAssertTrue("\(error)".contains("field 'handlers[1]': 'gone.lua' is not a readable file"), "\(error)")
        }
    }

    func testSettingValuesAreCheckedAgainstTheirType() throws {
        let directory = try packs.write("typed", handler: "", config: """
            ip = {type = "ipv4", default = "198.18.0.2", help = "h"},
            port = {type = "port", default = 7, help = "h"},
            """)
        let manifest = try Pack(directory: directory).manifest
        XCTAssertEqual(try manifest.resolve(["port": "53"])["port"], .integer(53))
        XCTAssertThrowsError(try manifest.resolve(["port": "70000"])) { error in
            XCTAssertEqual("\(error)", "pack 'typed': setting 'port' = '70000': 70000 is out of range 0..65535")
        }
        XCTAssertThrowsError(try manifest.resolve(["ip": "fe80::1"])) { error in
            XCTAssertTrue("\(error)".contains("setting 'ip' = 'fe80::1' is not an IPv4 address"), "\(error)")
        }
        XCTAssertThrowsError(try manifest.resolve(["colour": "red"])) { error in
            XCTAssertTrue("\(error)".contains("has no setting 'colour' (its settings: ip, port)"), "\(error)")
        }
    }

    func testStringsCrossIntactWhateverTheyHold() throws {
        let directory = try packs.write("p", handler: "", manifest: """
            return {name = "p", version = "1.0.0-rc.1+build.5", api = 1, handlers = {"main.lua"},
                    description = "tab\\there, back\\\\slash, new\\nline, caf\\u{e9}"}
            """)
        XCTAssertEqual(try Pack(directory: directory).manifest.description, "tab\there, back\\slash, new\nline, caf\u{e9}")
    }

    func setError(_ manifest: PackManifest, _ given: [String: String],
                  file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try manifest.resolve(given)
            XCTFail("\(given) was accepted", file: file, line: line)
            return ""
        } catch {
            return error.message
        }
    }

    /// min, max and choices bound each value (each element of a list); every wrong
    /// element of a list is named with its position.
    func testMinMaxAndChoicesBoundValuesAndEveryWrongElementIsNamed() throws {
        let directory = try packs.write("bounded", handler: "", config: """
            ports = {type = "list", of = "port", default = {7}, min = 1, help = "h"},
            count = {type = "integer", default = 3, max = 10, help = "h"},
            floor = {type = "integer", default = 3, min = -2, help = "h"},
            mode = {type = "string", default = "drop", choices = {"drop", "allow"}, help = "h"},
            sizes = {type = "list", of = "integer", default = {64}, choices = {64, 128, 256}, help = "h"},
            """)
        let manifest = try Pack(directory: directory).manifest
        XCTAssertEqual(setError(manifest, ["ports": "0,70000"]),
                       "pack 'bounded': setting 'ports' = '0,70000': 0 is out of range 1..65535 (element 1); "
                       + "70000 is out of range 1..65535 (element 2)")
        XCTAssertEqual(setError(manifest, ["ports": "7,70000"]),
                       "pack 'bounded': setting 'ports' = '7,70000': 70000 is out of range 1..65535 (element 2)")
        XCTAssertEqual(setError(manifest, ["ports": "7,,seven,"]),
                       "pack 'bounded': setting 'ports' = '7,,seven,': element 2 is empty; "
                       + "'seven' is not a port (an integer from 0 to 65535) (element 3); element 4 is empty")
        XCTAssertEqual(setError(manifest, ["count": "11"]), "pack 'bounded': setting 'count' = '11': 11 is above the maximum, 10")
        XCTAssertEqual(setError(manifest, ["floor": "-3"]), "pack 'bounded': setting 'floor' = '-3': -3 is below the minimum, -2")
        XCTAssertEqual(setError(manifest, ["count": "ten"]), "pack 'bounded': setting 'count' = 'ten' is not an integer")
        XCTAssertEqual(setError(manifest, ["mode": "deny"]),
                       "pack 'bounded': setting 'mode' = 'deny': 'deny' is not one of the choices (drop, allow)")
        XCTAssertEqual(setError(manifest, ["sizes": "64,100"]),
                       "pack 'bounded': setting 'sizes' = '64,100': '100' is not one of the choices (64, 128, 256) (element 2)")
        let values = try manifest.resolve(["ports": "1, 65535", "count": "10", "floor": "-2", "mode": "allow",
                                           "sizes": "256,64"])
        XCTAssertEqual(values["ports"], .list([.integer(1), .integer(65535)]))
        XCTAssertEqual(values["count"], .integer(10))
        XCTAssertEqual(values["floor"], .integer(-2))
        XCTAssertEqual(values["mode"], .string("allow"))
        XCTAssertEqual(values["sizes"], .list([.integer(256), .integer(64)]))
        XCTAssertEqual(manifest.setting("ports")?.summary, "list of port, default 7, each 1..65535")
        XCTAssertEqual(manifest.setting("count")?.summary, "integer, default 3, at most 10")
        XCTAssertEqual(manifest.setting("mode")?.summary, "string, default drop, one of drop, allow")
        XCTAssertEqual(manifest.setting("sizes")?.summary, "list of integer, default 64, each one of 64, 128, 256")
    }

    /// `--set extra=` (an empty list) is refused unless the manifest says allow_empty = true.
    func testAnExplicitlyEmptyListNeedsTheManifestsAllowEmpty() throws {
        let directory = try packs.write("lists", handler: "", config: """
            ports = {type = "list", of = "port", default = {7}, help = "h"},
            extra = {type = "list", of = "ipv4", default = {}, allow_empty = true, help = "h"},
            """)
        let manifest = try Pack(directory: directory).manifest
        for empty in ["", " ", "  "] {
            XCTAssertEqual(setError(manifest, ["ports": empty]),
                           "pack 'lists': setting 'ports' = '\(empty)': an empty list is not allowed here (give at least one port value)")
            XCTAssertEqual(try manifest.resolve(["extra": empty])["extra"], .list([]))
        }
        XCTAssertEqual(try manifest.resolve([:])["extra"], .list([]), "a manifest's own default may be empty")
        XCTAssertEqual(manifest.setting("extra")?.summary, "list of ipv4, default , may be empty")
    }

    /// What the help says a boolean takes is exactly what is taken: every word it names
    /// reads as its side, and near misses it does not name are refused.
    func testBooleansAcceptExactlyWhatTheHelpSays() throws {
        let help = PackValueType.boolean.expectation
        XCTAssertTrue(help.contains(PackValueType.booleanWords), help)
        let sides = PackValueType.booleanWords.components(separatedBy: " in any case")[0].components(separatedBy: " or ")
        XCTAssertEqual(sides.count, 2, help)
        for (side, truth) in zip(sides, [true, false]) {
            for word in side.split(separator: "/").map(String.init) {
                for spelling in [word, word.uppercased(), word.capitalized] {
                    XCTAssertEqual(PackValueType.boolean.parse(spelling), .boolean(truth), spelling)
                }
            }
        }
        let named = Set(sides.flatMap { $0.split(separator: "/").map(String.init) })
        for word in ["y", "n", "t", "f", "2", "-1", "enable", "disable", "enabled", "none", "", " true"] {
            XCTAssertFalse(named.contains(word))
            XCTAssertNil(PackValueType.boolean.parse(word), "'\(word)' is not in the help, so it is refused")
        }
        let directory = try packs.write("flags", handler: "", config: """
            flag = {type = "boolean", default = true, help = "h"},
            """)
        let manifest = try Pack(directory: directory).manifest
        XCTAssertEqual(setError(manifest, ["flag": "maybe"]), "pack 'flags': setting 'flag' = 'maybe' is not \(help)")
        XCTAssertEqual(manifest.setting("flag")?.summary, "boolean, default true, one of \(PackValueType.booleanWords)")
    }

    func testLimitsInTheManifestAreChecked() throws {
        let cases: [(String, String)] = [
            ("x = {type = 'string', default = 'a', min = 1, help = 'h'}",
             "field 'config.x.min': only an integer or a port (or a list of them) has a min, not string"),
            ("x = {type = 'port', default = 7, max = 70000, help = 'h'}", "field 'config.x.max': 70000 is not a port (0..65535)"),
            ("x = {type = 'integer', default = 7, min = 'a', help = 'h'}", "field 'config.x.min': expected an integer, got string"),
            ("x = {type = 'integer', default = 7, min = 9, max = 8, help = 'h'}", "field 'config.x.max': 8 is below min, 9"),
            ("x = {type = 'port', default = 7, min = 10, help = 'h'}", "field 'config.x.default': 7 is out of range 10..65535"),
            ("x = {type = 'list', of = 'port', default = {80, 7}, min = 10, help = 'h'}",
             "field 'config.x.default': 7 is out of range 10..65535 (element 2)"),
            ("x = {type = 'string', default = 'c', choices = {'a', 'b'}, help = 'h'}",
             "field 'config.x.default': 'c' is not one of the choices (a, b)"),
            ("x = {type = 'string', default = 'a', choices = {}, help = 'h'}",
             "field 'config.x.choices': expected a non-empty list of string values"),
            ("x = {type = 'port', default = 7, choices = {7, 'http'}, help = 'h'}",
             "field 'config.x.choices': expected a non-empty list of port values"),
            ("x = {type = 'boolean', default = true, choices = {true}, help = 'h'}",
             "field 'config.x.choices': a boolean setting has no choices"),
            ("x = {type = 'integer', default = 7, min = 5, choices = {7, 3}, help = 'h'}",
             "field 'config.x.choices[2]': 3 is below the minimum, 5"),
            ("x = {type = 'port', default = 7, allow_empty = true, help = 'h'}",
             "field 'config.x.allow_empty': only a list may be empty, not port"),
            ("x = {type = 'list', default = {}, allow_empty = 'yes', help = 'h'}",
             "field 'config.x.allow_empty': expected true or false, got string"),
            ("x = {type = 'port', default = 7, maximum = 9, help = 'h'}",
             "field 'config.x.maximum': not a setting field (type, of, default, help, min, max, choices, allow_empty)"),
        ]
        for (config, expected) in cases {
            let message = try manifestError("return {\(valid) config = {\(config)}}")
            XCTAssertTrue(message.hasSuffix(expected), "\(config): \(message)")
        }
    }

    func testListValuesParseCommaSeparated() {
        XCTAssertEqual(PackValueType.list(.port).parse("7, 9,11"), .list([.integer(7), .integer(9), .integer(11)]))
        XCTAssertNil(PackValueType.list(.ipv4).parse("198.18.0.1,nope"))
        XCTAssertEqual(PackValueType.boolean.parse("yes"), .boolean(true))
    }

    func testAFileSettingHoldsTheTextOfItsFile() throws {
        let directory = try packs.write("zoned", handler: "", config: """
            zone = {type = "file", default = "example.zone", help = "h"},
            none = {type = "file", default = "", help = "h"},
            """)
        try "www A 198.18.0.9\n".write(toFile: directory + "/example.zone", atomically: true, encoding: .utf8)
        let given = packs.root + "/given.zone"
        try "mail MX 10 mx\n".write(toFile: given, atomically: true, encoding: .utf8)
        let manifest = try Pack(directory: directory).manifest
        XCTAssertEqual(manifest.setting("zone")?.type, .file)
        XCTAssertEqual(manifest.setting("zone")?.defaultValue, .string("example.zone"), "the default stays a path")
        let defaults = try manifest.resolve([:])
        XCTAssertEqual(defaults["zone"], .string("www A 198.18.0.9\n"), "a default path is the pack folder's")
        XCTAssertEqual(defaults["none"], .string(""), "an empty path reads nothing")
        XCTAssertEqual(try manifest.resolve(["zone": given])["zone"], .string("mail MX 10 mx\n"))
        XCTAssertEqual(try manifest.resolve(["zone": ""])["zone"], .string(""))
    }

    func testAFileThatCannotBeReadIsNamed() throws {
        let directory = try packs.write("zoned", handler: "", config: """
            zone = {type = "file", default = "", help = "h"},
            """)
        let manifest = try Pack(directory: directory).manifest
        let missing = packs.root + "/no-such.zone"
        XCTAssertThrowsError(try manifest.resolve(["zone": missing])) { error in
            XCTAssertEqual("\(error)", "pack 'zoned': setting 'zone': cannot read '\(missing)': No such file or directory")
        }
        let huge = packs.root + "/huge.zone"
        try String(repeating: "x", count: SettingFile.sizeLimit + 1).write(toFile: huge, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try manifest.resolve(["zone": huge])) { error in
            XCTAssertTrue("\(error)".contains("cannot read '\(huge)': larger than 1 MiB"), "\(error)")
        }
        XCTAssertThrowsError(try manifest.resolve(["zone": packs.root])) { error in
            XCTAssertTrue("\(error)".contains("cannot read '\(packs.root)': Is a directory"), "\(error)")
        }
    }

    func testFilesAreNotListElements() throws {
        XCTAssertTrue(try manifestError("return {\(valid) config = {x = {type = 'list', of = 'file', default = {}, help = 'h'}}}")
            .contains("field 'config.x.of': 'file' is not a list element type"))
    }

    /// Writes `files` (path from `root` -> content) under `root`, making folders.
    func write(_ files: [String: String], under root: String) throws {
        for (path, content) in files {
            let full = root + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try content.write(toFile: full, atomically: true, encoding: .utf8)
        }
    }

    func testAFolderSettingHoldsEveryFileUnderItByPath() throws {
        let directory = try packs.write("site", handler: """
            local site = tapir.config.site
            assert(site["/index.html"] == "<h1>hi</h1>\\n" and site["/css/a.css"] == "p {}", "files by path")
            assert(site["/.git/config"] == nil and site["/.hidden"] == nil, "hidden entries left out")
            local count = 0
            for _ in pairs(site) do count = count + 1 end
            assert(count == 4, "four files, got " .. count)
            assert(next(tapir.config.none) == nil, "an empty path gives no files")
            """, config: """
            site = {type = "folder", default = "www", help = "h"},
            none = {type = "folder", default = "", help = "h"},
            """)
        try write(["www/index.html": "<h1>hi</h1>\n", "www/css/a.css": "p {}", "www/a/b/c.txt": "deep",
                   "www/.hidden": "no", "www/.git/config": "no", "www/empty": ""], under: directory)
        try FileManager.default.createSymbolicLink(atPath: directory + "/www/link.txt", withDestinationPath: "a/b/c.txt")
        let manifest = try Pack(directory: directory).manifest
        XCTAssertEqual(manifest.setting("site")?.type, .folder)
        XCTAssertEqual(manifest.setting("site")?.defaultValue, .string("www"), "the default stays a path")
        let values = try manifest.resolve([:])
        XCTAssertEqual(values["site"], .files(["/index.html": "<h1>hi</h1>\n", "/css/a.css": "p {}",
                                               "/a/b/c.txt": "deep", "/empty": "", "/link.txt": "deep"]))
        XCTAssertEqual(values["none"], .files([:]))
        let given = packs.root + "/other"
        try write(["only.txt": "x"], under: given)
        XCTAssertEqual(try manifest.resolve(["site": given])["site"], .files(["/only.txt": "x"]),
                       "a given path is the working directory's")
        // Lua sees a table by path (the handler asserts it); one file less for the count.
        try FileManager.default.removeItem(atPath: directory + "/www/empty")
        try packs.load(directory)
    }

    func testAFolderLinkLeadingOutIsRefusedSayingWhich() throws {
        let directory = try packs.write("site", handler: "", config: "site = {type = 'folder', default = 'www', help = 'h'},")
        try write(["www/index.html": "hi", "secret.txt": "s"], under: directory)
        try FileManager.default.createSymbolicLink(atPath: directory + "/www/up.txt", withDestinationPath: "../secret.txt")
        let manifest = try Pack(directory: directory).manifest
        XCTAssertThrowsError(try manifest.resolve([:])) { error in
            XCTAssertEqual("\(error)", "pack 'site': setting 'site': '/up.txt' in '\(directory)/www' is a link leading "
                + "outside the folder (to '\(SettingFolder.realPath(directory + "/secret.txt")!)')")
        }
        try FileManager.default.removeItem(atPath: directory + "/www/up.txt")
        try FileManager.default.createSymbolicLink(atPath: directory + "/www/etc", withDestinationPath: "/etc")
        XCTAssertThrowsError(try manifest.resolve([:])) { error in
            XCTAssertTrue("\(error)".contains("'/etc' in '\(directory)/www' is a link leading outside the folder (to '/etc')"),
                          "\(error)")
        }
        try FileManager.default.removeItem(atPath: directory + "/www/etc")
        try FileManager.default.createDirectory(atPath: directory + "/www/sub", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: directory + "/www/sub/loop", withDestinationPath: "..")
        XCTAssertThrowsError(try manifest.resolve([:])) { error in
            XCTAssertTrue("\(error)".contains("'/sub/loop' in '\(directory)/www' is a link to a folder"), "\(error)")
        }
        try FileManager.default.removeItem(atPath: directory + "/www/sub/loop")
        XCTAssertEqual(try manifest.resolve([:])["site"], .files(["/index.html": "hi"]))
    }

    func testAFolderPastItsLimitsOrHoldingBinaryIsRefused() throws {
        let directory = try packs.write("site", handler: "", config: "site = {type = 'folder', default = '', help = 'h'},")
        let manifest = try Pack(directory: directory).manifest
        let missing = packs.root + "/nowhere"
        XCTAssertThrowsError(try manifest.resolve(["site": missing])) { error in
            XCTAssertEqual("\(error)", "pack 'site': setting 'site': cannot read '\(missing)': No such file or directory")
        }
        let file = packs.root + "/plain.txt"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try manifest.resolve(["site": file])) { error in
            XCTAssertEqual("\(error)", "pack 'site': setting 'site': cannot read '\(file)': not a folder")
        }
        let binary = packs.root + "/binary"
        try write(["ok.txt": "fine"], under: binary)
        try Data([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe]).write(to: URL(fileURLWithPath: binary + "/logo.png"))
        XCTAssertThrowsError(try manifest.resolve(["site": binary])) { error in
            XCTAssertEqual("\(error)", "pack 'site': setting 'site': '/logo.png' in '\(binary)' is not UTF-8 text "
                + "(a folder's files reach Lua as text: binary files are refused)")
        }
        let many = packs.root + "/many"
        try FileManager.default.createDirectory(atPath: many, withIntermediateDirectories: true)
        for index in 0...SettingFolder.fileLimit {
            _ = FileManager.default.createFile(atPath: many + "/f\(index)", contents: Data("x".utf8))
        }
        XCTAssertThrowsError(try manifest.resolve(["site": many])) { error in
            XCTAssertEqual("\(error)", "pack 'site': setting 'site': cannot read '\(many)': more than \(SettingFolder.fileLimit) files")
        }
        let big = packs.root + "/big"
        let half = String(repeating: "x", count: SettingFolder.byteLimit / 2 + 1)
        try write(["a": half, "b": half], under: big)
        XCTAssertThrowsError(try manifest.resolve(["site": big])) { error in
            XCTAssertEqual("\(error)", "pack 'site': setting 'site': cannot read '\(big)': more than 8 MiB of files (at '/b')")
        }
        try write(["c": String(half.dropFirst(2))], under: big)
        try FileManager.default.removeItem(atPath: big + "/b")
        XCTAssertEqual(try manifest.resolve(["site": big])["site"].map { "\($0)" }, "/a,/c", "just under the limit")
    }

    func testFoldersAreNotListElements() throws {
        XCTAssertTrue(try manifestError("return {\(valid) config = {x = {type = 'list', of = 'folder', default = {}, help = 'h'}}}")
            .contains("field 'config.x.of': 'folder' is not a list element type"))
    }
}
