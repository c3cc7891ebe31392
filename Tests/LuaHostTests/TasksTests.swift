import Foundation
import Logging
import Packets
import Reactor
import XCTest
@testable import Devices
@testable import LuaHost

/// Tasks on a memory device and a manual clock: tapir.spawn, tapir.sleep, tapir.request,
/// errors and budgets per task.
final class TasksTests: MemoryHostTestCase {
    func advance(milliseconds: Int) {
        timers.advance(by: .milliseconds(milliseconds))
    }

    func testASpawnedTaskRunsAfterItsCallerAndSleepsOnTheHostClock() throws {
        try load("""
            local dev = tapir.devices()[1]
            tapir.spawn(function(a, b)
              dev:write("start " .. a .. b)
              tapir.sleep(50)
              dev:write("slept")
            end, "x", "y")
            dev:write("loaded")
            """)
        XCTAssertEqual(written(), ["loaded"])
        advance(milliseconds: 1)
        XCTAssertEqual(written(), ["start xy"])
        advance(milliseconds: 48)
        XCTAssertEqual(written(), [])
        advance(milliseconds: 2)
        XCTAssertEqual(written(), ["slept"])
        XCTAssertEqual(host.scripts[0].tasks.alive, 0)
        XCTAssertEqual(host.scripts[0].tasks.counters.finished, 1)
    }

    func testManyTasksInterleaveBySleepTime() throws {
        try load("""
            local dev = tapir.devices()[1]
            for i = 1, 3 do
              tapir.spawn(function()
                for round = 1, 2 do
                  tapir.sleep(i * 10)
                  dev:write(i .. ":" .. round)
                end
              end)
            end
            """)
        advance(milliseconds: 65)
        XCTAssertEqual(written(), ["1:1", "2:1", "1:2", "3:1", "2:2", "3:2"])
    }

    func testHandlersAndTimersSpawnTasksToo() throws {
        try load("""
            tapir.on("udp", function(pkt, dev)
              local port = pkt.udp.dport
              tapir.spawn(function() tapir.sleep(5) dev:write("late " .. port) end)
              return true
            end)
            tapir.after(1, function() tapir.spawn(function() tapir.devices()[1]:write("from a timer") end) end)
            """)
        device.inject(TestFrames.udp(dport: 7))
        host.pump(hostDevice)
        advance(milliseconds: 10)
        XCTAssertEqual(Set(written()), ["late 7", "from a timer"])
    }

    func testWaitingOutsideATaskIsAClearError() throws {
        XCTAssertThrowsError(try load("tapir.sleep(10)")) { error in
            XCTAssertTrue("\(error)".contains("script.lua:1: tapir.sleep: only inside a task"), "\(error)")
        }
        XCTAssertThrowsError(try load("coroutine.wrap(function() tapir.sleep(10) end)()", name: "own.lua")) { error in
            XCTAssertTrue("\(error)".contains("not a coroutine of your own"), "\(error)")
        }
    }

    func testAFailingTaskIsLoggedWithItsTracebackAndOthersGoOn() throws {
        try load("""
            local dev = tapir.devices()[1]
            tapir.spawn(function()
              tapir.sleep(1)
              error("task boom")
            end)
            tapir.spawn(function() tapir.sleep(2) dev:write("other done") end)
            """)
        advance(milliseconds: 5)
        XCTAssertEqual(written(), ["other done"])
        let line = try XCTUnwrap(logged.lines.first { $0.contains("task boom") }, "\(logged.lines)")
        XCTAssertTrue(line.contains("script.lua:4: task boom"), line)
        XCTAssertTrue(line.contains("stack traceback"), line)
        XCTAssertEqual(host.scripts[0].tasks.counters.failed, 1)
        XCTAssertEqual(host.scripts[0].tasks.counters.finished, 1)
        XCTAssertEqual(host.scripts[0].tasks.alive, 0)
    }

    func testTheInstructionBudgetCountsPerResume() throws {
        var options = TapirHost.Options()
        options.instructionBudget = 100_000
        try makeHost(options)
        try load("""
            local dev = tapir.devices()[1]
            tapir.spawn(function()
              -- 60,000-odd instructions per resume, 20 resumes: over the budget in all, not per resume
              for round = 1, 20 do
                local x = 0
                for i = 1, 15000 do x = x + i end
                tapir.sleep(1)
              end
              dev:write("patient done")
            end)
            tapir.spawn(function() tapir.sleep(3) while true do end end)
            """)
        advance(milliseconds: 30)
        XCTAssertEqual(written(), ["patient done"])
        XCTAssertTrue(logged.lines.contains { $0.contains("instruction budget exceeded") }, "\(logged.lines)")
        XCTAssertEqual(host.scripts[0].tasks.counters.failed, 1)
    }

    /// A task the host made, resumed by the script from a handler instead of by the host:
    /// coroutine.resume puts the budget's hook on it, and the handler is stopped too.
    func testATaskResumedFromAHandlerIsStopped() throws {
        var options = TapirHost.Options()
        options.instructionBudget = 100_000
        try makeHost(options)
        try load("""
            local dev = tapir.devices()[1]
            local runaway = tapir.spawn(function() while true do end end)
            tapir.on("udp", function()
              local ok, message = coroutine.resume(runaway)
              dev:write(tostring(ok) .. " " .. tostring(message):gsub("^.-: ", ""))
              while true do end
            end)
            """)
        inject(TestFrames.udp(dport: 7))
        XCTAssertEqual(written(), ["false instruction budget exceeded (100000 instructions)"])
        XCTAssertTrue(logged.lines.contains { $0.contains("instruction budget exceeded") }, "\(logged.lines)")
    }

    func testRequestReturnsACopyOfTheFirstMatchingAnswer() throws {
        try load("""
            local dev = tapir.devices()[1]
            tapir.spawn(function()
              local query = tapir.build.eth{src = "02:54:41:50:49:52", dst = "ff:ff:ff:ff:ff:ff", type = 0x0806}
                .. tapir.build.arp{op = 1, sha = "02:54:41:50:49:52", spa = "198.18.0.2", tpa = "198.18.0.1"}
              local answer = tapir.request(query, "arp", {op = 2, spa = "198.18.0.1"}, 500)
              dev:write("answer " .. answer.arp.sha .. " " .. #answer)
              local none, why = tapir.request(query, "arp", {op = 2, spa = "198.18.0.1"}, 100)
              dev:write("then " .. tostring(none) .. " " .. why)
            end)
            tapir.on("arp", function(pkt, dev) dev:write("handler saw " .. pkt.arp.op) end)
            """)
        advance(milliseconds: 1)
        let sent = device.takeWritten()
        XCTAssertEqual(sent.count, 1)
        XCTAssertEqual(sent.first?.count, 42, "the ARP request went out")
        // An answer from someone else is not it; the kernel's is.
        device.inject(arpReply(from: "198.18.0.9"))
        device.inject(arpReply(from: "198.18.0.1"))
        host.pump(hostDevice)
        // The script's handler came first (registration order) and saw both; the request's
        // handler claimed the answer, so unclaimed handlers would not.
        XCTAssertEqual(written(), ["handler saw 2", "handler saw 2"])
        advance(milliseconds: 1)
        let lines = written()
        XCTAssertEqual(lines.first, "answer 02:00:00:00:00:01 42")
        advance(milliseconds: 150)
        XCTAssertEqual(written(), ["then nil timeout"])
        XCTAssertEqual(host.scripts[0].state.handlers.filter(\.isRegistered).count, 1, "request's handlers are off")
    }

    private func arpReply(from address: String) -> [UInt8] {
        var bytes: [UInt8] = []
        EthernetRepr(src: TestFrames.kernelMAC, dst: TestFrames.hostMAC, type: EtherType.arp).emit(appendingTo: &bytes)
        ARPRepr(op: 2, sha: TestFrames.kernelMAC, spa: IPv4Address(address)!, tha: TestFrames.hostMAC,
                tpa: TestFrames.hostIP).emit(appendingTo: &bytes)
        return bytes
    }

    func testTasksEndWithTheirScript() throws {
        try load("""
            tapir.spawn(function() tapir.sleep(100) tapir.devices()[1]:write("never") end)
            """)
        advance(milliseconds: 1)
        host.stop()
        advance(milliseconds: 200)
        XCTAssertEqual(written(), [])
    }
}

/// tapir.verify_checksums and pkt.<layer>.chksum_ok.
final class ChecksumVerificationTests: XCTestCase {
    func testAScriptThatVerifiesNeverSeesABadChecksumAndOthersDo() throws {
        let timers = TimerQueue(clock: ManualClock(now: TimerInstant(nanoseconds: 1)))
        let lines = LogLines()
        let host = TapirHost(timers: timers, logger: Logger(label: "test") { _ in CollectingLogHandler(lines: lines) })
        defer { host.stop() }
        let device = MemoryDevice(name: "mem0", mode: .tap)
        let hostDevice = try host.add(device)
        let directory = NSTemporaryDirectory() + "tapir-chk-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
            tapir.verify_checksums = true
            tapir.on("udp", function(pkt, dev) dev:write("verifier saw " .. pkt.payload) end)
            """.write(toFile: directory + "/verifier.lua", atomically: true, encoding: .utf8)
        try """
            tapir.on("frame", function(pkt, dev)
              dev:write("frame saw ip " .. tostring(pkt.ip.chksum_ok) .. " udp " .. tostring(pkt.udp.chksum_ok))
            end)
            """.write(toFile: directory + "/everything.lua", atomically: true, encoding: .utf8)
        try host.load(path: directory + "/verifier.lua")
        try host.load(path: directory + "/everything.lua")
        var bad = TestFrames.udp(dport: 7, payload: "bad")
        bad[14 + 20 + 6] ^= 0xff
        device.inject(bad)
        device.inject(TestFrames.udp(dport: 7, payload: "good"))
        host.pump(hostDevice)
        XCTAssertEqual(device.takeWritten().map { String(decoding: $0, as: UTF8.self) },
                       ["frame saw ip true udp false", "verifier saw good", "frame saw ip true udp true"])
        XCTAssertEqual(hostDevice.badChecksumFrames, 1)
    }
}
