import XCTest
@testable import LuaHost

final class LuaStateTests: XCTestCase {
    func testTapirApiVersionIsOne() throws {
        let state = try LuaState(log: { _, _ in })
        XCTAssertTrue(try state.isTrue("tapir.api == 1 and math.type(tapir.api) == 'integer'"))
        XCTAssertEqual(LuaState.apiVersion, 1)
    }

    func testTapirVersionIsTheHostsVersion() throws {
        let state = try LuaState(log: { _, _ in })
        XCTAssertTrue(try state.isTrue("tapir.version == '\(TapirVersion.text)'"))
        XCTAssertNotNil(TapirVersion.text.wholeMatch(of: /[0-9]+\.[0-9]+\.[0-9]+/), TapirVersion.text)
    }

    func testSyntaxErrorHasKindAndLocation() throws {
        let state = try LuaState(log: { _, _ in })
        let error = try XCTUnwrap(state.loadError("local x = \n x = = 2", name: "broken.lua"))
        XCTAssertEqual(error.kind, .syntax)
        XCTAssertEqual(error.location, "broken.lua:2")
        XCTAssertTrue(error.message.contains("unexpected symbol"), error.message)
    }

    func testRuntimeErrorHasLocationAndTraceback() throws {
        let state = try LuaState(log: { _, _ in })
        let error = try XCTUnwrap(state.loadError("""
            local function inner() error("boom") end
            inner()
            """, name: "script.lua"))
        XCTAssertEqual(error.kind, .runtime)
        XCTAssertEqual(error.message, "script.lua:1: boom")
        XCTAssertEqual(error.location, "script.lua:1")
        let traceback = try XCTUnwrap(error.traceback)
        XCTAssertTrue(traceback.hasPrefix("stack traceback:"), traceback)
        XCTAssertTrue(traceback.contains("inner"), traceback)
    }

    func testNonStringErrorObjectIsDescribed() throws {
        let state = try LuaState(log: { _, _ in })
        let error = try XCTUnwrap(state.loadError("error({})"))
        XCTAssertEqual(error.message, "(error object is a table value)")
        XCTAssertEqual(state.stackDepth, 0)
    }

    func testLoadPathReportsFileLineAndMissingFile() throws {
        let directory = try temporaryDirectory()
        let path = directory + "/bad.lua"
        try "local a = 1\nlocal b = nil + 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let state = try LuaState(log: { _, _ in })
        do {
            try state.load(path: path)
            XCTFail("expected an error")
        } catch {
            XCTAssertEqual(error.kind, .runtime)
            // Lua shortens long chunk names to "...tail" (LUA_IDSIZE).
            XCTAssertTrue(error.location?.hasSuffix("/bad.lua:2") ?? false, error.message)
        }
        do {
            try state.load(path: directory + "/missing.lua")
            XCTFail("expected an error")
        } catch {
            XCTAssertEqual(error.kind, .file)
            XCTAssertTrue(error.message.contains("missing.lua"), error.message)
        }
    }

    func testBinaryChunksAreRefusedEverywhere() throws {
        let state = try LuaState(options: .init(trusted: true), log: { _, _ in })
        XCTAssertTrue(try state.isTrue("""
            (function()
              local dumped = string.dump(function() return 1 end)
              local f1, e1 = load(dumped)
              local f2, e2 = load(dumped, "x", "b")
              local f3, e3 = load(dumped, "x", "bt", {})
              return f1 == nil and f2 == nil and f3 == nil and e2:find("binary") ~= nil
            end)()
            """))
        XCTAssertTrue(try state.isTrue("load('return 7')() == 7"))
        XCTAssertTrue(try state.isTrue("load('return x', 'c', 't', {x = 5})() == 5"))
    }

    func testUntrustedStateHasNoIoDebugOrUnsafeOs() throws {
        let state = try LuaState(log: { _, _ in })
        XCTAssertTrue(try state.isTrue("io == nil and debug == nil"))
        XCTAssertTrue(try state.isTrue("os.execute == nil and os.exit == nil and os.remove == nil and os.getenv == nil"))
        XCTAssertTrue(try state.isTrue("type(os.time) == 'function' and type(os.clock) == 'function'"))
        XCTAssertTrue(try state.isTrue("package.loadlib == nil and package.cpath == ''"))
        XCTAssertTrue(try state.isTrue("type(string.format) == 'function' and type(utf8.char) == 'function' and type(coroutine.wrap) == 'function' and type(table.concat) == 'function'"))
    }

    func testTrustedStateHasIoAndDebug() throws {
        let state = try LuaState(options: .init(trusted: true), log: { _, _ in })
        XCTAssertTrue(try state.isTrue("type(io.open) == 'function' and type(debug.traceback) == 'function' and type(os.getenv) == 'function'"))
        XCTAssertTrue(try state.isTrue("package.cpath == '' and #package.searchers == 2"))
    }

    func testRequireSearchesConfiguredDirectoriesOnly() throws {
        let directory = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory + "/pkg", withIntermediateDirectories: true)
        try "return { answer = 42 }".write(toFile: directory + "/helper.lua", atomically: true, encoding: .utf8)
        try "return { name = 'pkg' }".write(toFile: directory + "/pkg/init.lua", atomically: true, encoding: .utf8)
        let state = try LuaState(options: .init(moduleDirectories: [directory]), log: { _, _ in })
        XCTAssertTrue(try state.isTrue("require('helper').answer == 42 and require('pkg').name == 'pkg'"))
        XCTAssertTrue(try state.isTrue("require('tapir') == tapir"))
        let error = try XCTUnwrap(state.loadError("require('nowhere')"))
        XCTAssertTrue(error.message.contains("module 'nowhere' not found"), error.message)
        XCTAssertTrue(error.message.contains(directory + "/nowhere.lua"), error.message)
    }

    func testRequireRefusesBinaryModule() throws {
        let directory = try temporaryDirectory()
        let maker = try LuaState(options: .init(trusted: true), log: { _, _ in })
        try maker.load(chunk: """
            local f = io.open('\(directory)/compiled.lua', 'wb')
            f:write(string.dump(function() return 1 end))
            f:close()
            """, name: "maker")
        let state = try LuaState(options: .init(moduleDirectories: [directory]), log: { _, _ in })
        let error = try XCTUnwrap(state.loadError("require('compiled')"))
        XCTAssertTrue(error.message.contains("binary"), error.message)
    }

    func testLogFunctionsReachTheSink() throws {
        let recorder = LogRecorder()
        let state = try LuaState(log: recorder.sink)
        try state.load(chunk: """
            tapir.log.debug("d", 1)
            tapir.log.info("i", true, nil)
            tapir.log.warn("w")
            tapir.log.error("e", 2.5)
            """, name: "log")
        XCTAssertEqual(recorder.lines.map(\.level), [.debug, .info, .warn, .error])
        XCTAssertEqual(recorder.lines.map(\.message), ["d\t1", "i\ttrue\tnil", "w", "e\t2.5"])
    }

    func testStateTooSmallForItsCapIsRefused() {
        XCTAssertThrowsError(try LuaState(options: .init(memoryCap: 1024), log: { _, _ in })) { error in
            XCTAssertEqual((error as? LuaError)?.kind, .memory)
        }
    }

    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "tapir-luahost-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}

extension LuaStateTests {
    func testWarningsAndFinalizerErrorsReachTheLog() throws {
        let recorder = LogRecorder()
        // Finalizers only in trusted states: they run with hooks off, beyond the budget.
        let state = try LuaState(options: .init(trusted: true), log: recorder.sink)
        try state.load(chunk: """
            warn("low ", "disk")
            warn("@off"); warn("hidden"); warn("@on")
            setmetatable({}, {__gc = function() error("broken finalizer") end})
            collectgarbage()
            """, name: "warn.lua")
        let warnings = recorder.messages(at: .warn)
        XCTAssertEqual(warnings.count, 2, "\(warnings)")
        XCTAssertEqual(warnings.first, "low disk")
        XCTAssertTrue(warnings.last?.contains("warn.lua:3: broken finalizer") ?? false, "\(warnings)")
    }

    func testUntrustedStateMayNotSetFinalizers() throws {
        let state = try LuaState(log: { _, _ in })
        let error = try XCTUnwrap(state.loadError("""
            setmetatable({}, {__gc = function() while true do end end})
            """, name: "gc.lua"))
        XCTAssertEqual(error.message, "gc.lua:1: bad argument #2 to 'setmetatable' "
                       + "(__gc is not allowed here (finalizers run outside the instruction budget))")
        XCTAssertTrue(try state.isTrue("getmetatable(setmetatable({}, {__index = {x = 1}})).__index.x == 1"))
        XCTAssertTrue(try state.isTrue("setmetatable({}, nil) ~= nil"))
    }
}
