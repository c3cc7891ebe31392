import XCTest
@testable import LuaHost

final class MemoryCapTests: XCTestCase {
    private let cap = 4 << 20

    private func makeState() throws -> LuaState {
        let state = try LuaState(options: .init(memoryCap: cap, instructionBudget: 50_000_000), log: { _, _ in })
        try state.load(chunk: """
            tapir.on("frame", function()
              local t = {}
              for i = 1, 100 do t[i] = tostring(i) .. "x" end
              return #t == 100
            end)
            """, name: "good.lua")
        return state
    }

    private func assertFailsWithMemory(_ outcome: HandlerOutcome, file: StaticString = #filePath, line: UInt = #line) {
        guard case .failed(let error) = outcome else {
            return XCTFail("expected a memory failure, got \(outcome)", file: file, line: line)
        }
        XCTAssertEqual(error.kind, .memory, error.message, file: file, line: line)
        XCTAssertTrue(error.message.contains("not enough memory"), error.message, file: file, line: line)
        XCTAssertTrue(error.message.contains("memory cap of \(cap) bytes"), error.message, file: file, line: line)
    }

    func testStringBombIsStopped() throws {
        let state = try makeState()
        try state.load(chunk: """
            tapir.on("frame", function() local s = "x" while true do s = s .. s end end)
            """, name: "bomb.lua")
        assertFailsWithMemory(state.call(state.handlers[1]))
        XCTAssertLessThanOrEqual(state.memoryPeak, cap)
        XCTAssertEqual(state.call(state.handlers[0]), .claimed)
        XCTAssertEqual(state.stackDepth, 0)
    }

    func testTableBombIsStopped() throws {
        let state = try makeState()
        try state.load(chunk: """
            tapir.on("frame", function() local t = {} for i = 1, math.huge do t[i] = {i} end end)
            """, name: "tables.lua")
        assertFailsWithMemory(state.call(state.handlers[1]))
        XCTAssertLessThanOrEqual(state.memoryPeak, cap)
        XCTAssertEqual(state.call(state.handlers[0]), .claimed)
    }

    func testMemoryKeptInGlobalFailsThatStateOnly() throws {
        let hog = try makeState()
        let other = try makeState()
        try hog.load(chunk: """
            kept = {}
            tapir.on("frame", function()
              for i = 1, math.huge do kept[i] = string.rep("x", 1000) .. i end
            end)
            """, name: "hog.lua")
        assertFailsWithMemory(hog.call(hog.handlers[1]))
        XCTAssertGreaterThan(hog.memoryUsed, cap - (64 << 10))
        // The memory is still held: the state's handlers now fail, clearly, and keep failing.
        assertFailsWithMemory(hog.call(hog.handlers[0]))
        assertFailsWithMemory(hog.call(hog.handlers[0]))
        XCTAssertEqual(hog.handlers[0].errors, 2)
        XCTAssertEqual(hog.stackDepth, 0)
        // Another state is unaffected.
        XCTAssertEqual(other.call(other.handlers[0]), .claimed)
        XCTAssertLessThan(other.memoryUsed, 1 << 20)
    }

    func testAllocationFailureInsideBindingIsCaught() throws {
        let state = try makeState()
        try state.load(chunk: """
            keys, fn = {dport = 53}, function() end
            function register()
              result_ok, result_error = pcall(tapir.on, "udp", keys, fn)
            end
            -- the same call depth as register, allocating nothing
            function probe()
              result_ok, result_error = pcall(type, keys)
            end
            """, name: "bind.lua")
        let register = try state.evaluate("return register")
        let probe = try state.evaluate("return probe")
        state.collectGarbage()  // no garbage left for an emergency collection to free
        try state.call(probe)   // call frames for this depth exist from now on
        state.memoryCap = state.memoryUsed  // no room for tapir.on's handle or reference
        try state.call(register)
        state.memoryCap = cap
        // Only the pcall around tapir.on caught it: the failure was inside the binding.
        XCTAssertTrue(try state.isTrue("result_ok == false and result_error == 'not enough memory'"))
        XCTAssertEqual(state.handlers.count, 1, "a refused registration leaves no handler")

        try state.call(register)
        XCTAssertTrue(try state.isTrue("result_ok == true and tostring(result_error):find('tapir.handle') == 1"))
        XCTAssertEqual(state.handlers.count, 2)
        XCTAssertEqual(state.stackDepth, 0)
    }

    func testAllocationFailureWhilePushingArgumentsIsCaught() throws {
        let state = try makeState()
        state.memoryCap = state.memoryUsed
        let big = String(repeating: "x", count: 100_000)
        guard case .failed(let error) = state.call(state.handlers[0], with: .string(big)) else {
            return XCTFail("expected the argument push to fail")
        }
        XCTAssertEqual(error.kind, .memory)
        state.memoryCap = cap
        XCTAssertEqual(state.call(state.handlers[0], with: .string(big)), .claimed)
        XCTAssertEqual(state.stackDepth, 0)
    }

    func testLogBindingAtCapFailsInsideLuaNotSwift() throws {
        let recorder = LogRecorder()
        let state = try LuaState(options: .init(memoryCap: cap), log: recorder.sink)
        try state.load(chunk: """
            piece = string.rep("y", 512 * 1024)
            function shout() tapir.log.info(piece, piece, piece, piece, piece, piece, piece, piece) end
            """, name: "shout.lua")
        let shout = try state.evaluate("return shout")
        XCTAssertThrowsError(try state.call(shout)) { error in
            XCTAssertEqual((error as? LuaError)?.kind, .memory)
        }
        XCTAssertTrue(recorder.lines.isEmpty)
    }

    func testRunawayRecursionIsStopped() throws {
        let state = try makeState()
        try state.load(chunk: """
            tapir.on("frame", function()
              local function deeper(n) return 1 + deeper(n + 1) end
              return deeper(1)
            end)
            """, name: "recursion.lua")
        guard case .failed(let error) = state.call(state.handlers[1]) else {
            return XCTFail("expected the recursion to be stopped")
        }
        // Whichever limit comes first: Lua's stack limit or the memory cap.
        XCTAssertTrue(error.kind == .memory || error.message.contains("stack overflow"), error.message)
        XCTAssertEqual(state.call(state.handlers[0]), .claimed)
        XCTAssertEqual(state.stackDepth, 0)
    }

    /// Freed small blocks are handed out again (clua_memory.c): strings and tables of every
    /// small size, grown through the size classes, made and freed over rounds while half
    /// of them are kept, all still hold what was written into them.
    func testBlocksKeptForReuseHoldWhatIsWrittenInThem() throws {
        let state = try LuaState(options: .init(memoryCap: 64 << 20), log: { _, _ in })
        try state.load(chunk: """
            kept = {}
            function text(size, round) return string.rep(string.char(65 + (size + round) % 26), size) .. size end
            function make(round)
              local made = {}
              for size = 1, 300 do
                local t = {}
                for i = 1, size % 70 do t[i] = size * i end
                local fields = {}
                for i = 1, size % 9 do fields["k" .. i] = i end
                made[#made + 1] = {s = text(size, round), t = t, fields = fields, size = size, round = round}
              end
              for i = 1, #made, 2 do kept[#kept + 1] = made[i] end
            end
            """, name: "blocks.lua")
        for round in 1...20 {
            try state.load(chunk: "make(\(round))", name: "round.lua")
            state.collectGarbage()
        }
        XCTAssertTrue(try state.evaluateBoolean("""
            for _, k in ipairs(kept) do
              if k.s ~= text(k.size, k.round) then return false end
              for i = 1, k.size % 70 do if k.t[i] ~= k.size * i then return false end end
              for i = 1, k.size % 9 do if k.fields["k" .. i] ~= i then return false end end
            end
            return #kept == 20 * 150
            """))
    }

    func testUsageIsTrackedAndFreedMemoryReturns() throws {
        let state = try LuaState(options: .init(memoryCap: 0), log: { _, _ in })
        let before = state.memoryUsed
        try state.load(chunk: "big = string.rep('z', 1000000)", name: "big.lua")
        XCTAssertGreaterThan(state.memoryUsed, before + 1_000_000)
        try state.load(chunk: "big = nil", name: "free.lua")
        state.collectGarbage()
        XCTAssertLessThan(state.memoryUsed, before + 100_000)
        XCTAssertGreaterThan(state.memoryPeak, before + 1_000_000)
    }
}
