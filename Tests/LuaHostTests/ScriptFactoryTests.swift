import Foundation
import Logging
@testable import LuaHost
import Reactor
import XCTest

/// Making a script: the host's limits, its own folder for require, a pack's settings and
/// permissions, and nothing left behind by one that fails.
final class ScriptFactoryTests: XCTestCase {
    var packs: PackFixture!

    override func setUpWithError() throws {
        packs = try PackFixture()
    }

    override func tearDown() {
        packs = nil
    }

    func testAScriptGetsTheHostsLimitsAndItsOwnFolderForRequire() throws {
        var options = TapirHost.Options()
        options.memoryCap = 8 << 20
        options.instructionBudget = 123_456
        options.moduleDirectories = ["/nowhere"]
        let host = TapirHost(options: options, timers: TimerQueue(clock: ManualClock()), logger: Logger(label: "test"))
        defer { host.stop() }
        let directory = try packs.write("plain", handler: "")
        try "return {answer = 42}".write(toFile: directory + "/helper.lua", atomically: true, encoding: .utf8)
        try "tapir.reassemble = true".write(toFile: directory + "/main.lua", atomically: true, encoding: .utf8)
        let script = try host.scriptFactory.make(path: directory + "/main.lua", name: "main", for: host) { _ in }
        XCTAssertEqual(script.state.options.memoryCap, 8 << 20)
        XCTAssertEqual(script.state.instructionBudget, 123_456)
        XCTAssertEqual(script.state.options.moduleDirectories, [directory, "/nowhere"])
        XCTAssertTrue(script.state.options.trusted)
        XCTAssertTrue(script.wantsReassembly)
        XCTAssertTrue(try script.state.isTrue("require('helper').answer == 42 and io ~= nil"))
        XCTAssertTrue(host.scripts.isEmpty, "made, not loaded")
    }

    func testAPackGetsItsSettingsAndOnlyWhatWasGranted() throws {
        let directory = try packs.write("settings", handler: "", config: """
            ip = {type = "ipv4", default = "198.18.0.2", help = "the address"},
            ports = {type = "list", of = "port", default = {7}, help = "ports"},
            """, permissions: ["io"])
        let pack = try Pack(directory: directory)
        let host = packs.host
        host.packLoads[pack.manifestPath] = PackLoad(pack: pack, config: ["ip": .string("198.18.0.9"),
                                                                          "ports": .list([.integer(7), .integer(9)])],
                                                     granted: [])
        let script = try host.scriptFactory.make(path: pack.manifestPath, name: pack.name, for: host) { _ in }
        XCTAssertFalse(script.state.options.trusted)
        XCTAssertTrue(try script.state.isTrue("tapir.config.ip == '198.18.0.9' and tapir.config.ports[2] == 9"))
        XCTAssertTrue(try script.state.isTrue("not pcall(function() return io.open end)"), "io was not granted")
    }

    func testAScriptThatFailsLeavesNoTimersBehind() throws {
        let timers = TimerQueue(clock: ManualClock())
        let host = TapirHost(timers: timers, logger: Logger(label: "test"))
        defer { host.stop() }
        let directory = try packs.write("failing", handler: "")
        try "tapir.every(10, function() end) error('no')".write(toFile: directory + "/main.lua", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try host.scriptFactory.make(path: directory + "/main.lua", name: "main", for: host) { _ in })
        XCTAssertEqual(timers.count, 0)
    }
}
