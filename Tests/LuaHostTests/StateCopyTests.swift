import XCTest
@testable import LuaHost

final class StateCopyTests: XCTestCase {
    func testPlainDataRoundTripsWithSharedTablesAndCycles() throws {
        let old = try LuaState(log: { _, _ in })
        try old.load(chunk: """
            local shared = {name = "shared"}
            tapir.state.count = 42
            tapir.state.ratio = 0.5
            tapir.state.on = true
            tapir.state.off = false
            tapir.state.bytes = "a\\0b\\255"
            tapir.state.leases = { ["198.18.0.10"] = {mac = "02:00:00:00:00:0a", expires = 3600} }
            tapir.state.list = {1, 2, 3, [10] = "ten", [2.5] = "float key", [true] = "yes"}
            tapir.state.a, tapir.state.b = shared, shared
            tapir.state.self = tapir.state
            """, name: "old.lua")
        let fresh = try LuaState(log: { _, _ in })
        try fresh.copyPersistentState(from: old)
        XCTAssertTrue(try fresh.isTrue("""
            (function()
              local s = tapir.state
              return s.count == 42 and math.type(s.count) == "integer" and s.ratio == 0.5
                and s.on == true and s.off == false and s.bytes == "a\\0b\\255"
                and s.leases["198.18.0.10"].mac == "02:00:00:00:00:0a"
                and s.leases["198.18.0.10"].expires == 3600
                and s.list[3] == 3 and s.list[10] == "ten" and s.list[2.5] == "float key"
                and s.list[true] == "yes"
                and s.a == s.b and s.a.name == "shared" and s.self == s
            end)()
            """))
        // The copy is separate: changing it does not touch the old state.
        try fresh.load(chunk: "tapir.state.count = 0", name: "fresh.lua")
        XCTAssertTrue(try old.isTrue("tapir.state.count == 42"))
    }

    func testFunctionsAndUserdataAreSkippedWithWarning() throws {
        let old = try LuaState(log: { _, _ in })
        try old.load(chunk: """
            tapir.state.kept = 1
            tapir.state.callback = function() end
            tapir.state.handle = tapir.on("arp", function() end)
            tapir.state.thread = coroutine.create(function() end)
            tapir.state[print] = "function key"
            """, name: "old.lua")
        let recorder = LogRecorder()
        let fresh = try LuaState(log: recorder.sink)
        try fresh.copyPersistentState(from: old)
        XCTAssertTrue(try fresh.isTrue("tapir.state.kept == 1 and next(tapir.state, next(tapir.state)) == nil"))
        let warnings = recorder.messages(at: .warn)
        XCTAssertEqual(warnings.count, 4, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("skipped function at key \"callback\"") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("skipped userdata at key \"handle\"") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("skipped thread at key \"thread\"") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("at key (a function)") }, "\(warnings)")
    }

    func testTooDeepNestingIsRefusedAndNothingReplaced() throws {
        let old = try LuaState(log: { _, _ in })
        try old.load(chunk: """
            local t = tapir.state
            for i = 1, 200 do t.next = {}; t = t.next end
            """, name: "deep.lua")
        let fresh = try LuaState(log: { _, _ in })
        try fresh.load(chunk: "tapir.state.mine = true", name: "fresh.lua")
        XCTAssertThrowsError(try fresh.copyPersistentState(from: old)) { error in
            let error = error as? LuaError
            XCTAssertEqual(error?.kind, .runtime)
            XCTAssertTrue(error?.message.contains("nested deeper than 100") ?? false, "\(String(describing: error))")
        }
        XCTAssertTrue(try fresh.isTrue("tapir.state.mine == true"))
        XCTAssertEqual(old.stackDepth, 0)
        XCTAssertEqual(fresh.stackDepth, 0)
    }

    func testCopyIntoStateWithoutRoomFailsWithMemoryError() throws {
        let old = try LuaState(log: { _, _ in })
        try old.load(chunk: "tapir.state.blob = string.rep('q', 2000000)", name: "old.lua")
        let fresh = try LuaState(options: .init(memoryCap: 1 << 20), log: { _, _ in })
        XCTAssertThrowsError(try fresh.copyPersistentState(from: old)) { error in
            XCTAssertEqual((error as? LuaError)?.kind, .memory)
        }
        XCTAssertTrue(try fresh.isTrue("next(tapir.state) == nil"))
    }

    func testReplacedStateTableIsTheOneCopied() throws {
        let old = try LuaState(log: { _, _ in })
        try old.load(chunk: "tapir.state = {replaced = 'yes'}", name: "old.lua")
        let fresh = try LuaState(log: { _, _ in })
        try fresh.copyPersistentState(from: old)
        XCTAssertTrue(try fresh.isTrue("tapir.state.replaced == 'yes'"))
    }
}
