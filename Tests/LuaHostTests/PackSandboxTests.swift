@testable import LuaHost
import XCTest

/// A pack's state is untrusted: each way out fails with a message naming the permission
/// to ask for (or saying none allows it), and packs cannot reach each other.
final class PackSandboxTests: XCTestCase {
    var packs: PackFixture!

    override func setUpWithError() throws {
        packs = try PackFixture()
    }

    override func tearDown() {
        packs = nil
    }

    func assertRefused(_ code: String, mentions expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let directory = try packs.write("escape", handler: code)
        let message = packs.loadError(directory, file: file, line: line)
        XCTAssertTrue(message.contains(expected), message, file: file, line: line)
        XCTAssertTrue(message.contains("main.lua:1"), "the message names the line: \(message)", file: file, line: line)
    }

    func testOsExecuteNeedsExec() throws {
        try assertRefused("os.execute('touch /tmp/tapir-escaped')",
                          mentions: "os.execute needs permission 'exec': list it in pack.lua's permissions and run with --allow exec")
    }

    func testIoOpenNeedsIo() throws {
        try assertRefused("io.open('/etc/passwd')", mentions: "io.open needs permission 'io'")
    }

    func testOsRemoveNeedsIo() throws {
        try assertRefused("os.remove('/tmp/x')", mentions: "os.remove needs permission 'io'")
    }

    func testDebugSethookNeedsDebug() throws {
        try assertRefused("debug.sethook()", mentions: "debug.sethook needs permission 'debug'")
    }

    func testPackageLoadlibIsNeverAllowed() throws {
        try assertRefused("package.loadlib('libc.so.6', 'system')", mentions: "package.loadlib")
        XCTAssertTrue(packs.loadError(try packs.write("loadlib", handler: "package.loadlib('x', 'y')"))
            .contains("no permission allows it"))
    }

    func testOsExitIsNeverAllowed() throws {
        try assertRefused("os.exit(1)", mentions: "os.exit is not available to packs")
    }

    func testBinaryChunksAreRefused() throws {
        let directory = try packs.write("binary", handler: """
            local f, e = load(string.dump(function() return 1 end), "dumped", "b")
            error(f and "loaded" or e)
            """)
        let message = packs.loadError(directory)
        XCTAssertTrue(message.contains("binary"), message)
    }

    func testCModulesCannotBeRequired() throws {
        let directory = try packs.write("cmodule", handler: "require('socket.core')")
        XCTAssertTrue(packs.loadError(directory).contains("module 'socket.core' not found"))
    }

    func testPatchingStringDoesNotReachAnotherPack() throws {
        try packs.load(try packs.write("patcher", handler: """
            string.upper = function() return "patched" end
            getmetatable("").__index = {lower = function() return "patched" end}
            shared_secret = 42
            """))
        let other = try packs.load(try packs.write("victim", handler: "tapir.on('frame', function() end)"))
        XCTAssertTrue(try other.state.isTrue("string.upper('a') == 'A' and ('B'):lower() == 'b'"))
        XCTAssertTrue(try other.state.isTrue("shared_secret == nil"))
    }

    func testAPermissionIsGrantedOnlyWhenTheManifestAsksAndTheUserAllows() throws {
        let asks = try packs.write("asks", handler: "assert(type(io.open) == 'function')", permissions: ["io"])
        XCTAssertTrue(packs.loadError(asks).contains("io.open needs permission 'io'"))
        XCTAssertNoThrow(try packs.load(asks, allowed: [.io]))

        let doesNotAsk = try packs.write("silent", handler: "io.open('/etc/hostname')")
        XCTAssertTrue(packs.loadError(doesNotAsk, allowed: [.io]).contains("needs permission 'io'"))
    }

    func testTheDebugPermissionStillKeepsSethookAway() throws {
        let directory = try packs.write("debugger", handler: """
            assert(type(debug.traceback) == 'function')
            debug.sethook(function() end, "", 1)
            """, permissions: ["debug"])
        XCTAssertTrue(packs.loadError(directory, allowed: [.debug]).contains("debug.sethook"))
    }

    func testPackSettingsAreTypedLuaValues() throws {
        let directory = try packs.write("typed", handler: """
            local c = tapir.config
            assert(c.ip == "198.18.0.9" and c.port == 53 and math.type(c.port) == "integer")
            assert(c.on == false and c.ports[1] == 7 and c.ports[2] == 9 and #c.ports == 2)
            assert(c.mac == "02:00:00:00:00:aa" and c.name == "x")
            """, config: """
            ip = {type = "ipv4", default = "198.18.0.2", help = "h"},
            port = {type = "port", default = 1, help = "h"},
            on = {type = "boolean", default = true, help = "h"},
            ports = {type = "list", of = "port", default = {7}, help = "h"},
            mac = {type = "mac", default = "02:00:00:00:00:AA", help = "h"},
            name = {type = "string", default = "x", help = "h"},
            """)
        XCTAssertNoThrow(try packs.load(directory, given: ["ip": "198.18.0.9", "port": "53", "on": "false",
                                                           "ports": "7,9"]))
    }

    func testAReloadKeepsThePackSandboxedAndConfigured() throws {
        let directory = try packs.write("reloaded", handler: """
            assert(tapir.config.n == 5)
            tapir.on('frame', function() end)
            """, config: "n = {type = 'integer', default = 5, help = 'h'},")
        let script = try packs.load(directory)
        try packs.host.reload(script)
        let current = try XCTUnwrap(packs.host.scripts.first)
        XCTAssertTrue(try current.state.isTrue("tapir.config.n == 5 and not pcall(os.execute)"))
    }
}
