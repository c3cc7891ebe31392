import Devices
import Foundation
import Logging
@testable import LuaHost
import Reactor
import XCTest

/// Reloading a script: a fresh state beside the old, tapir.state carried over, swapped
/// only when the new version loads; a broken new version leaves the old one running.
final class ReloadTests: XCTestCase {
    var timers: TimerQueue<ManualClock>!
    var host: TapirHost!
    var device: MemoryDevice!
    var hostDevice: HostDevice!
    var logged: LogLines!
    var path: String!

    override func setUpWithError() throws {
        timers = TimerQueue(clock: ManualClock())
        logged = LogLines()
        let lines = logged!
        host = TapirHost(timers: timers, logger: Logger(label: "test") { _ in CollectingLogHandler(lines: lines) })
        device = MemoryDevice()
        hostDevice = try host.add(device)
        let directory = NSTemporaryDirectory() + "tapir-reload-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/echo.lua"
    }

    override func tearDownWithError() throws {
        host.stop()
        try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
    }

    /// What a script's file watch covers: its own file and the modules it required from
    /// beside it, read out of its state as plain data.
    func testTheWatchedFilesAreTheScriptAndTheModulesBesideIt() throws {
        let directory = (path as NSString).deletingLastPathComponent
        try "return {}".write(toFile: directory + "/helper.lua", atomically: true, encoding: .utf8)
        try "return {}".write(toFile: directory + "/other.lua", atomically: true, encoding: .utf8)
        try "local helper = require 'helper'\n".write(toFile: path, atomically: true, encoding: .utf8)
        let script = try host.load(path: path)
        XCTAssertEqual(script.sourceFiles(), [path, directory + "/helper.lua"])
    }

    func version(_ reply: String, extra: String = "") -> String {
        """
        tapir.state.count = tapir.state.count or 0
        tapir.on("udp", function(pkt, dev)
          tapir.state.count = tapir.state.count + 1
          dev:write("\(reply) " .. tapir.state.count)
          return true
        end)
        \(extra)
        """
    }

    func send() -> [String] {
        device.inject(TestFrames.udp(dport: 7))
        host.pump(hostDevice)
        return device.takeWritten().map { String(decoding: $0, as: UTF8.self) }
    }

    func testANewVersionAnswersAndKeepsTheStateCounter() throws {
        try version("one").write(toFile: path, atomically: true, encoding: .utf8)
        let script = try host.load(path: path)
        XCTAssertEqual(send(), ["one 1"])
        XCTAssertEqual(send(), ["one 2"])
        try version("two", extra: #"tapir.on("arp", function() end)"#).write(toFile: path, atomically: true, encoding: .utf8)
        let report = try host.reload(script)
        XCTAssertEqual(report.added, ["arp"])
        XCTAssertEqual(report.removed, [])
        XCTAssertEqual(send(), ["two 3"])
        XCTAssertTrue(logged.lines.contains { $0.contains("reloaded") && $0.contains("handlers added: arp") }, "\(logged.lines)")
    }

    func testOnReloadMigratesTheOldState() throws {
        try version("one").write(toFile: path, atomically: true, encoding: .utf8)
        let script = try host.load(path: path)
        _ = send()
        try version("two", extra: "function tapir.on_reload(old) old.count = old.count + 100 end")
            .write(toFile: path, atomically: true, encoding: .utf8)
        try host.reload(script)
        XCTAssertEqual(send(), ["two 102"])
    }

    func testABrokenNewVersionLeavesTheOldOneAnswering() throws {
        try version("one").write(toFile: path, atomically: true, encoding: .utf8)
        let script = try host.load(path: path)
        try "tapir.on('udp', function() end\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try host.reload(script)) { error in
            XCTAssertTrue("\(error)".contains("echo.lua:"), "\(error)")
        }
        XCTAssertEqual(send(), ["one 1"])
        try "tapir.on('udp', function() end)\nerror('broken top level')\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try host.reload(host.scripts[0])) { error in
            XCTAssertTrue("\(error)".contains("echo.lua:2: broken top level"), "\(error)")
        }
        XCTAssertEqual(send(), ["one 2"])
        XCTAssertTrue(host.scripts[0] === script)
    }

    func testTheOldVersionsTimersAreCancelledAndANewVersionWithoutHandlersIsWarnedAbout() throws {
        try """
            local dev = tapir.devices()[1]
            tapir.every(10, function() dev:write("old tick") end)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let script = try host.load(path: path)
        timers.advance(by: .milliseconds(15))
        XCTAssertEqual(device.takeWritten().count, 1)
        try "-- nothing here\n".write(toFile: path, atomically: true, encoding: .utf8)
        try host.reload(script)
        timers.advance(by: .milliseconds(100))
        XCTAssertEqual(device.takeWritten().count, 0)
        XCTAssertTrue(logged.lines.contains { $0.contains("registers no handlers") }, "\(logged.lines)")
    }

    func testSavingTheFileReloadsItThroughTheLoopsWatch() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let live = TapirHost(loop: loop, logger: Logger(label: "test") { _ in CollectingLogHandler(lines: LogLines()) })
        let memory = MemoryDevice()
        let liveDevice = try live.add(memory)
        try version("one").write(toFile: path, atomically: true, encoding: .utf8)
        try live.load(path: path)
        live.watchScripts()
        // An editor's save: write a temporary file, rename it over the script.
        let temporary = path + ".tmp"
        try version("two").write(toFile: temporary, atomically: false, encoding: .utf8)
        rename(temporary, path)
        var answered: [String] = []
        loop.schedule(after: .milliseconds(20), repeating: .milliseconds(20)) {
            memory.inject(TestFrames.udp(dport: 7))
            live.pump(liveDevice)
            answered += memory.takeWritten().map { String(decoding: $0, as: UTF8.self) }
            if answered.last?.hasPrefix("two") == true || answered.count > 100 { loop.stop() }
        }
        try loop.run()
        live.stop()
        XCTAssertEqual(answered.last, "two \(answered.count)", "\(answered)")
    }
}
