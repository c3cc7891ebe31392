import CLua
import XCTest
@testable import LuaHost

final class InstructionBudgetTests: XCTestCase {
    private func makeState(_ recorder: LogRecorder = LogRecorder()) throws -> LuaState {
        let state = try LuaState(options: .init(instructionBudget: 100_000), log: recorder.sink)
        try state.load(chunk: """
            good_calls = 0
            tapir.on("frame", function() good_calls = good_calls + 1; return true end)
            """, name: "good.lua")
        return state
    }

    /// Calls the handler registered last, expects the budget to stop it, then checks the
    /// good handler still runs.
    private func assertStoppedByBudget(_ state: LuaState, file: StaticString = #filePath, line: UInt = #line) throws {
        let bad = try XCTUnwrap(state.handlers.last, file: file, line: line)
        let outcome = state.call(bad)
        guard case .failed(let error) = outcome else {
            return XCTFail("expected the budget to stop the handler, got \(outcome)", file: file, line: line)
        }
        XCTAssertEqual(error.kind, .budget, error.message, file: file, line: line)
        XCTAssertTrue(error.message.contains("instruction budget exceeded (100000 instructions)"), error.message,
                      file: file, line: line)
        XCTAssertNotNil(error.location, error.message, file: file, line: line)
        XCTAssertEqual(bad.errors, 1, file: file, line: line)
        XCTAssertEqual(state.call(state.handlers[0]), .claimed, file: file, line: line)
        XCTAssertTrue(try state.isTrue("good_calls == 1"), file: file, line: line)
        XCTAssertEqual(state.stackDepth, 0, file: file, line: line)
    }

    func testInfiniteLoopIsStopped() throws {
        let state = try makeState()
        try state.load(chunk: """
            tapir.on("frame", function()
              while true do end
            end)
            """, name: "loop.lua")
        try assertStoppedByBudget(state)
    }

    func testPcallCannotSwallowTheBudget() throws {
        let state = try makeState()
        try state.load(chunk: """
            swallowed = 0
            tapir.on("frame", function()
              while true do
                local ok = pcall(function() while true do end end)
                swallowed = swallowed + 1
              end
            end)
            """, name: "pcall.lua")
        try assertStoppedByBudget(state)
    }

    func testErrorHandlerInXpcallCannotSwallowTheBudget() throws {
        let state = try makeState()
        try state.load(chunk: """
            tapir.on("frame", function()
              for i = 1, math.huge do
                xpcall(function() while true do end end, function(m) return m end)
              end
            end)
            """, name: "xpcall.lua")
        try assertStoppedByBudget(state)
    }

    func testLoopInsideCoroutineIsStopped() throws {
        let state = try makeState()
        try state.load(chunk: """
            tapir.on("frame", function()
              local co = coroutine.create(function() while true do end end)
              local ok, message = coroutine.resume(co)
              -- the coroutine inherited the hook (else resume never returns) and resume
              -- caught the error; looping on must still be stopped
              inner = tostring(ok) .. ": " .. message
              while true do coroutine.resume(coroutine.create(function() while true do end end)) end
            end)
            """, name: "coroutine.lua")
        try assertStoppedByBudget(state)
        XCTAssertTrue(try state.isTrue("inner == 'false: coroutine.lua:2: instruction budget exceeded (100000 instructions)'"))
    }

    func testLoopInsideWrappedCoroutineIsStopped() throws {
        let state = try makeState()
        try state.load(chunk: """
            tapir.on("frame", function()
              local step = coroutine.wrap(function() while true do coroutine.yield() end end)
              while true do step() end
            end)
            """, name: "wrap.lua")
        try assertStoppedByBudget(state)
    }

    /// The coroutine made by coroutine.wrap loops itself: nothing the host entered runs,
    /// so only the hook coroutine.wrap set on its thread can stop it.
    func testLoopInsideACoroutineWrapIsStopped() throws {
        let state = try makeState()
        try state.load(chunk: """
            tapir.on("frame", function()
              local spin = coroutine.wrap(function() while true do end end)
              spin()
            end)
            """, name: "wrapped.lua")
        try assertStoppedByBudget(state)
    }

    /// A to-be-closed variable of a coroutine closed by the script runs on that coroutine.
    func testLoopInCloseOfACoroutineIsStopped() throws {
        let state = try makeState()
        try state.load(chunk: """
            tapir.on("frame", function()
              local co = coroutine.create(function()
                local guard <close> = setmetatable({}, {__close = function() while true do end end})
                coroutine.yield()
              end)
              coroutine.resume(co)
              coroutine.close(co)
              while true do end
            end)
            """, name: "closed.lua")
        try assertStoppedByBudget(state)
    }

    /// Under the budget a handler runs with no hook at all (the watchdog arms one only
    /// when a call outlives its slice); a long one still counts, and is stopped.
    func testAShortCallRunsUnhookedAndALongOneIsArmed() throws {
        let state = try LuaState(options: .init(instructionBudget: 5_000_000, trusted: true), log: { _, _ in })
        try state.load(chunk: """
            tapir.on("frame", function() short_hook = debug.gethook() == nil return true end)
            tapir.on("frame", function()
              local started = os.clock()
              while os.clock() - started < 0.02 do end  -- well past the slice, under the budget
              long_hook = debug.gethook() ~= nil
              while true do end
            end)
            """, name: "hooks.lua")
        XCTAssertEqual(state.call(state.handlers[0]), .claimed)
        XCTAssertTrue(try state.isTrue("short_hook"))
        guard case .failed(let error) = state.call(state.handlers[1]) else { return XCTFail("not stopped") }
        XCTAssertEqual(error.kind, .budget, error.message)
        XCTAssertTrue(try state.isTrue("long_hook"))
        XCTAssertEqual(state.call(state.handlers[0]), .claimed)
        XCTAssertTrue(try state.isTrue("short_hook"), "the next call starts unhooked again")
    }

    /// Calls about as long as the watchdog's slice, so its signal lands at any point of
    /// them (and sometimes just after one ends): every call still finishes normally, with
    /// and without a script coroutine running when it lands.
    func testTheWatchdogsSignalAtAnyMomentOfACallIsHarmless() throws {
        let state = try LuaState(options: .init(instructionBudget: 500_000_000), log: { _, _ in })
        try state.load(chunk: """
            local function spin(seconds)
              local started = os.clock()
              while os.clock() - started < seconds do end
            end
            calls = 0
            tapir.on("frame", function()
              spin(0.0015 + (calls % 7) * 0.0002)
              local co = coroutine.wrap(function() spin(0.0005) coroutine.yield(1) return 2 end)
              assert(co() == 1 and co() == 2)
              calls = calls + 1
              return true
            end)
            """, name: "slices.lua")
        for _ in 0..<300 {
            XCTAssertEqual(state.call(state.handlers[0]), .claimed)
        }
        XCTAssertTrue(try state.isTrue("calls == 300"))
        XCTAssertEqual(state.stackDepth, 0)
    }

    func testCoroutineKeptAcrossCallsIsBudgetedAgain() throws {
        let state = try makeState()
        try state.load(chunk: """
            runner = coroutine.create(function()
              while true do
                for i = 1, 10 do coroutine.yield(i) end
                while true do end
              end
            end)
            tapir.on("frame", function() return coroutine.resume(runner) end)
            """, name: "kept.lua")
        let kept = state.handlers[1]
        XCTAssertEqual(state.call(kept), .claimed)  // the coroutine yields fine under budget
        // Run it into the loop: the coroutine dies with the budget error, resume returns false.
        for _ in 0..<12 { _ = state.call(kept) }
        XCTAssertEqual(state.call(state.handlers[0]), .claimed)
    }

    func testLoopInCloseMethodIsStopped() throws {
        let state = try makeState()
        try state.load(chunk: """
            tapir.on("frame", function()
              local guard <close> = setmetatable({}, {__close = function() while true do end end})
              while true do end
            end)
            """, name: "close.lua")
        try assertStoppedByBudget(state)
    }

    func testTopLevelOfChunkRunsUnderBudget() throws {
        let state = try makeState()
        let error = try XCTUnwrap(state.loadError("while true do end", name: "top.lua"))
        XCTAssertEqual(error.kind, .budget)
        XCTAssertEqual(error.location, "top.lua:1")
        XCTAssertEqual(state.call(state.handlers[0]), .claimed)
    }

    func testBudgetIsPerCall() throws {
        let state = try makeState()
        try state.load(chunk: """
            tapir.on("frame", function() for i = 1, 5000 do end return true end)
            """, name: "short.lua")
        // Each call is far under 100,000 instructions; together they are far over.
        for _ in 0..<200 {
            XCTAssertEqual(state.call(state.handlers[1]), .claimed)
        }
    }

    func testStateWithoutBudgetRunsLongLoops() throws {
        let state = try LuaState(options: .init(instructionBudget: 0), log: { _, _ in })
        try state.load(chunk: "for i = 1, 3000000 do end", name: "long.lua")
    }

    /// A line observer (the fuzz targets' Lua coverage) rides on the budget's hook: it is
    /// told each line of a state made after it is set, and the budget still stops a loop.
    func testALineObserverSeesEachLineAndTheBudgetStillHolds() throws {
        ObservedLines.lines = []
        clua_set_line_observer { source, line in
            guard let source, String(cString: source) == "=observed.lua" else { return }
            ObservedLines.lines.append(Int(line))
        }
        defer { clua_set_line_observer(nil) }
        let state = try makeState()
        try state.load(chunk: """
            local n = 0
            tapir.on("frame", function(pkt)
              if n > 0 then
                n = n + 2
              else
                n = n + 1
              end
              while n > 2 do end
            end)
            """, name: "observed.lua")
        XCTAssertEqual(Set(ObservedLines.lines), [1, 2, 9], "the top level, not the function's body")
        ObservedLines.lines = []
        XCTAssertEqual(state.call(state.handlers[1]), .declined)
        XCTAssertEqual(ObservedLines.lines, [3, 6, 8, 9], "the else branch")
        ObservedLines.lines = []
        try assertStoppedByBudget(state)
        XCTAssertEqual(Array(ObservedLines.lines.prefix(3)), [3, 4, 8], "the then branch, then the loop")
    }
}

/// What the line observer of testALineObserverSeesEachLineAndTheBudgetStillHolds saw.
private enum ObservedLines {
    nonisolated(unsafe) static var lines: [Int] = []
}
