import XCTest
@testable import LuaHost

final class HandlerRegistryTests: XCTestCase {
    func testRegistrationKeepsOrderAndParsesSelectors() throws {
        let state = try LuaState(log: { _, _ in })
        try state.load(chunk: """
            tapir.on("arp", function() end)
            tapir.on("udp", {dport = 53, sport = 1024.0}, function() end)
            tapir.on("icmp[icmptype] == 8 and dst host 198.18.0.2", function() end)
            tapir.on("eth", {src = "02:00:00:00:00:01"}, function() end)
            tapir.on("unclaimed", function() end)
            """, name: "handlers.lua")
        XCTAssertEqual(state.handlers.map(\.selector), [
            .layer(.arp, keys: []),
            .layer(.udp, keys: [HandlerKey(field: "dport", value: .integer(53)),
                                HandlerKey(field: "sport", value: .integer(1024))]),
            .filter("icmp[icmptype] == 8 and dst host 198.18.0.2"),
            .layer(.eth, keys: [HandlerKey(field: "src", value: .string("02:00:00:00:00:01"))]),
            .unclaimed,
        ])
        XCTAssertEqual(state.handlers.map(\.id), state.handlers.map(\.id).sorted())
    }

    func testDispatchRunsInOrderUntilClaimed() throws {
        let state = try LuaState(log: { _, _ in })
        try state.load(chunk: """
            seen = {}
            tapir.on("udp", function(p) seen[#seen + 1] = "first:" .. p end)
            tapir.on("udp", function(p) seen[#seen + 1] = "second:" .. p; return true end)
            tapir.on("udp", function(p) seen[#seen + 1] = "third:" .. p end)
            """, name: "order.lua")
        let claimer = state.dispatch(to: state.handlers, with: .string("x"))
        XCTAssertEqual(claimer?.id, state.handlers[1].id)
        XCTAssertTrue(try state.isTrue("#seen == 2 and seen[1] == 'first:x' and seen[2] == 'second:x'"))
        XCTAssertEqual(state.handlers.map(\.calls), [1, 1, 0])
    }

    func testOnlyBooleanTrueClaims() throws {
        let state = try LuaState(log: { _, _ in })
        try state.load(chunk: """
            tapir.on("frame", function() return 1 end)
            tapir.on("frame", function() return "yes" end)
            tapir.on("frame", function() return true end)
            """, name: "claims.lua")
        XCTAssertEqual(state.handlers.map { state.call($0) }, [.declined, .declined, .claimed])
    }

    func testOffRemovesTheHandlerOnce() throws {
        let state = try LuaState(log: { _, _ in })
        try state.load(chunk: """
            calls = 0
            handle = tapir.on("ip", function() calls = calls + 1 end)
            tapir.on("ip", function() calls = calls + 10 end)
            """, name: "off.lua")
        XCTAssertEqual(state.handlers.count, 2)
        XCTAssertTrue(try state.isTrue("tostring(handle):find('tapir.handle') == 1"))
        XCTAssertTrue(try state.isTrue("handle:off() == true"))
        XCTAssertEqual(state.handlers.count, 1)
        XCTAssertTrue(try state.isTrue("handle:off() == false"))
        XCTAssertTrue(try state.isTrue("tostring(handle) == 'tapir.handle(off)'"))
        state.dispatch(to: state.handlers)
        XCTAssertTrue(try state.isTrue("calls == 10"))
    }

    func testArgumentErrorsNameTheArgumentAndFunction() throws {
        let state = try LuaState(log: { _, _ in })
        let cases: [(String, String)] = [
            ("tapir.on()", "bad argument #1 to 'on' (string expected, got no value)"),
            ("tapir.on('udp', 'x', function() end)", "bad argument #2 to 'on' (table expected, got string)"),
            ("tapir.on('udp', {dport = 53}, 7)", "bad argument #3 to 'on' (function expected, got number)"),
            ("tapir.on('udp')", "bad argument #2 to 'on' (function expected, got no value)"),
            ("tapir.on('udp', {bogus = 1}, function() end)",
             "bad argument #2 to 'on' (unknown key 'bogus' for layer 'udp' (known: sport, dport, len, chksum, chksum_ok))"),
            ("tapir.on('frame', {x = 1}, function() end)",
             "bad argument #2 to 'on' (unknown key 'x' for layer 'frame' (known: payload, malformed))"),
            ("tapir.on('udp', {dport = 1.5}, function() end)",
             "bad argument #2 to 'on' (key 'dport' has no integer representation)"),
            ("tapir.on('udp', {dport = true}, function() end)",
             "bad argument #2 to 'on' (key 'dport' must be an integer or a string, got boolean)"),
            ("tapir.on('udp', {53}, function() end)",
             "bad argument #2 to 'on' (key names must be strings, got number)"),
            ("tapir.on('unclaimed', {dport = 1}, function() end)",
             "bad argument #2 to 'on' ('unclaimed' takes no keys)"),
            ("tapir.on('', function() end)", "bad argument #1 to 'on' (empty selector)"),
            // The argument after the function is the wrong one, not the function as keys.
            ("tapir.on('udp', function() end, 5)", "bad argument #3 to 'on' (nothing goes after the function, "
             + "got number (keys go before it: tapir.on(selector, {keys}, fn)))"),
            ("tapir.on('udp', {}, function() end, 1)",
             "bad argument #4 to 'on' (tapir.on takes (selector, [keys], function), got 4 arguments)"),
            ("local h = tapir.on('udp', function() end); h.off(42)",
             "bad argument #1 to 'off' (tapir.handle expected, got number)"),
        ]
        for (chunk, expected) in cases {
            let error = try XCTUnwrap(state.loadError(chunk, name: "args.lua"))
            XCTAssertEqual(error.kind, .runtime)
            XCTAssertEqual(error.message, "args.lua:1: " + expected, chunk)
            XCTAssertEqual(error.location, "args.lua:1")
        }
        // Refused registrations leave nothing behind; the one good registration stays.
        XCTAssertEqual(state.handlers.count, 1)
        XCTAssertEqual(state.stackDepth, 0)
    }

    func testBindingErrorCaughtByScriptPcall() throws {
        let recorder = LogRecorder()
        let state = try LuaState(log: recorder.sink)
        try state.load(chunk: """
            tapir.log.info(pcall(tapir.on, "udp", "x", print))
            tapir.log.info(pcall(function() tapir.on("udp", "x", print) end))
            """, name: "pcall.lua")
        // Called through pcall, Lua names the function by where it is found (package.loaded).
        XCTAssertEqual(recorder.messages(at: .info), [
            "false\tbad argument #2 to 'tapir.on' (table expected, got string)",
            "false\tpcall.lua:2: bad argument #2 to 'on' (table expected, got string)",
        ])
    }

    func testHandlerErrorIsReportedAndCounted() throws {
        let recorder = LogRecorder()
        let state = try LuaState(log: recorder.sink)
        try state.load(chunk: """
            tapir.on("udp", function(p)
              local t = nil
              return t.field
            end)
            tapir.on("udp", function() return true end)
            """, name: "faulty.lua")
        let outcome = state.call(state.handlers[0], with: .integer(1))
        guard case .failed(let error) = outcome else { return XCTFail("expected a failure, got \(outcome)") }
        XCTAssertEqual(error.kind, .runtime)
        XCTAssertEqual(error.location, "faulty.lua:3")
        XCTAssertTrue(error.message.contains("attempt to index a nil value"), error.message)
        XCTAssertEqual(state.handlers[0].errors, 1)
        XCTAssertEqual(state.handlers[0].calls, 1)
        XCTAssertEqual(state.handlers[0].definedAt, "faulty.lua:1")
        XCTAssertEqual(recorder.messages(at: .error).count, 1)
        XCTAssertTrue(recorder.messages(at: .error)[0].hasPrefix("handler for udp (faulty.lua:1) failed: faulty.lua:3:"),
                      recorder.messages(at: .error)[0])
        XCTAssertTrue(recorder.messages(at: .error)[0].contains("stack traceback:"))
        // The loop goes on.
        XCTAssertEqual(state.dispatch(to: state.handlers)?.id, state.handlers[1].id)
        XCTAssertEqual(state.stackDepth, 0)
    }

    func testErrorStormIsCountedExactlyAndLoggedRateLimited() throws {
        let recorder = LogRecorder()
        let state = try LuaState(options: .init(errorLogInterval: .seconds(60)), log: recorder.sink)
        try state.load(chunk: """
            tapir.on("udp", function(p) error("storm " .. p) end)
            """, name: "storm.lua")
        let handler = state.handlers[0]
        var failures = 0
        for index in 0..<10_000 {
            if case .failed = state.call(handler, with: .integer(Int64(index))) { failures += 1 }
        }
        XCTAssertEqual(failures, 10_000)
        XCTAssertEqual(handler.errors, 10_000)
        XCTAssertEqual(handler.calls, 10_000)
        XCTAssertGreaterThan(handler.timeSpent, .zero)
        let lines = recorder.messages(at: .error)
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines[0].contains("storm.lua:1: storm 0"), lines[0])
        XCTAssertEqual(state.stackDepth, 0)
    }

    func testHandlerReceivesTableAndLightUserdataArguments() throws {
        let state = try LuaState(log: { _, _ in })
        try state.load(chunk: """
            tapir.on("frame", function(pkt, dev) return pkt.len == 60 and type(dev) == "userdata" end)
            """, name: "args.lua")
        let packet = try state.evaluate("return {len = 60}")
        var marker = 0
        let outcome = withUnsafeMutablePointer(to: &marker) { pointer in
            state.call(state.handlers[0], with: [.reference(packet), .lightUserdata(UnsafeRawPointer(pointer))])
        }
        XCTAssertEqual(outcome, .claimed)
    }
}

extension HandlerRegistryTests {
    func testHandlerRemovedDuringDispatchIsNotCalled() throws {
        let state = try LuaState(log: { _, _ in })
        try state.load(chunk: """
            later_calls = 0
            tapir.on("frame", function() later:off() end)
            later = tapir.on("frame", function() later_calls = later_calls + 1 end)
            """, name: "remove.lua")
        let snapshot = state.handlers
        XCTAssertNil(state.dispatch(to: snapshot))
        XCTAssertFalse(snapshot[1].isRegistered)
        XCTAssertEqual(snapshot[1].calls, 0)
        XCTAssertEqual(snapshot[1].errors, 0)
        XCTAssertTrue(try state.isTrue("later_calls == 0"))
        XCTAssertEqual(state.handlers.count, 1)
    }
}
