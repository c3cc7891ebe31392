import Devices
import Foundation
import Logging
@testable import LuaHost
import Packets
import Reactor
import XCTest

/// The host on memory devices and a manual clock: dispatch, timers, devices, stats.
final class TapirHostTests: MemoryHostTestCase {
    func testHandlersSeeOnlyTheLayersTheyAskedFor() throws {
        try load("""
            seen = {}
            tapir.on("arp", function() seen[#seen + 1] = "arp" end)
            tapir.on("udp", function() seen[#seen + 1] = "udp" end)
            tapir.on("frame", function() seen[#seen + 1] = "frame" end)
            tapir.on("tcp", function() seen[#seen + 1] = "tcp" end)
            tapir.on("unclaimed", function(pkt, dev) dev:write("unclaimed:" .. table.concat(seen, ",")) end)
            """)
        inject(TestFrames.arpRequest())
        inject(TestFrames.udp(dport: 7))
        XCTAssertEqual(device.takeWritten().map { String(decoding: $0, as: UTF8.self) },
                       ["unclaimed:arp,frame", "unclaimed:arp,frame,udp,frame"])
    }

    func testKeysAreMatchedNativelyAndAClaimStopsLaterHandlers() throws {
        try load("""
            tapir.on("udp", {dport = 53}, function(pkt, dev) dev:write("dns") return true end)
            tapir.on("udp", {dport = 7, sport = 40000}, function(pkt, dev) dev:write("echo") return true end)
            tapir.on("arp", {op = 1, tpa = "198.18.0.2"}, function(pkt, dev) dev:write("who-has") return true end)
            tapir.on("frame", function(pkt, dev) dev:write("other") end)
            tapir.on("unclaimed", function(pkt, dev) dev:write("unclaimed") end)
            """)
        inject(TestFrames.udp(dport: 53))
        inject(TestFrames.udp(dport: 7))
        inject(TestFrames.udp(dport: 7, sport: 1))
        inject(TestFrames.arpRequest())
        inject(TestFrames.arpRequest(for: IPv4Address("198.18.0.9")!))
        XCTAssertEqual(device.takeWritten().map { String(decoding: $0, as: UTF8.self) },
                       ["dns", "echo", "other", "unclaimed", "who-has", "other", "unclaimed"])
        XCTAssertEqual(hostDevice.unclaimedFrames, 2)
    }

    func testFilterExpressionsRunNativelyPerLinkType() throws {
        try load("""
            tapir.on("udp dst port 7 and src host 198.18.0.1", function(pkt, dev) dev:write("bpf") return true end)
            """)
        inject(TestFrames.udp(dport: 7))
        inject(TestFrames.udp(dport: 8))
        XCTAssertEqual(device.takeWritten().map { String(decoding: $0, as: UTF8.self) }, ["bpf"])
    }

    func testAFilterThatCannotApplyToADevicesLinkTypeIsAnErrorAtOn() throws {
        try host.add(MemoryDevice(name: "tun0", mode: .tun))
        XCTAssertThrowsError(try load("""
            tapir.on("ether host 02:00:00:00:00:01", function() end)
            """)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("script.lua:1"), message)
            XCTAssertTrue(message.contains("bad argument #1 to 'on'"), message)
            XCTAssertTrue(message.contains("raw IP"), message)
        }
    }

    /// "dns" is no layer and no filter: both readings are said, libpcap's error as
    /// tcpdump shows it for the same expression.
    func testABareWordThatIsNeitherALayerNorAFilterSaysBoth() throws {
        XCTAssertThrowsError(try load("""
            tapir.on("dns", function() end)
            """)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("script.lua:1: bad argument #1 to 'on' ('dns' is not a layer (layers: "
                + "frame, eth, vlan, arp, ip, ipv6, icmp, icmpv6, udp, tcp, and unclaimed); as a pcap filter: "),
                message)
            if let tcpdump = ChildProcess.locate("tcpdump"),
               let said = try? ChildProcess.run([tcpdump, "-d", "-y", "EN10MB", "dns"]).stderr,
               said.hasPrefix("tcpdump: ") {
                let reason = said.dropFirst("tcpdump: ".count).trimmingCharacters(in: .whitespacesAndNewlines)
                XCTAssertTrue(message.contains("as a pcap filter: \(reason))"),
                              message + " / tcpdump: " + said)
            }
        }
        // A filter with more than one word keeps the filter's own message.
        XCTAssertThrowsError(try load("tapir.on(\"udp and dns\", function() end)", name: "two.lua")) { error in
            XCTAssertTrue("\(error)".contains("pcap filter 'udp and dns' does not compile"), "\(error)")
        }
    }

    /// A tun or tap never carries a frame shorter than its link's header: dev:write says
    /// so once (the first time), returns false and counts every one.
    func testAFrameTooShortForItsLinkIsRefusedSaidOnceAndCounted() throws {
        device.refusesShortFrames = true
        let tun = MemoryDevice(name: "tun0", mode: .tun)
        tun.refusesShortFrames = true
        try host.add(tun)
        let script = try load("""
            tapir.on("udp", function(pkt, dev)
              local tun = tapir.devices()[2]
              results = {dev:write(string.rep("e", 13)), dev:write(string.rep("e", 13)), dev:write(string.rep("e", 14)),
                         tun:write("\\x45" .. string.rep("4", 18)), tun:write("\\x45" .. string.rep("4", 19)),
                         tun:write("\\x60" .. string.rep("6", 38)), tun:write("\\x60" .. string.rep("6", 39))}
              errors = tapir.stats().devices.mem0.write_errors
            end)
            """)
        inject(TestFrames.udp(dport: 7))
        XCTAssertTrue(try script.state.isTrue("""
            results[1] == false and results[2] == false and results[3] == true and results[4] == false
              and results[5] == true and results[6] == false and results[7] == true and errors == 2
            """))
        XCTAssertEqual(device.takeWritten().map(\.count), [14])
        XCTAssertEqual(tun.takeWritten().map(\.count), [20, 40])
        let said = logged.lines.filter { $0.contains("refused: shorter than") }
        XCTAssertEqual(said.count, 2, "once per device: \(logged.lines)")
        XCTAssertTrue(said.contains { $0.contains("dev:write of 13 bytes to mem0 (tap) refused: shorter than an Ethernet header (14 bytes)") },
                      "\(said)")
        XCTAssertTrue(said.contains { $0.contains("dev:write of 19 bytes to tun0 (tun) refused: shorter than an IPv4 header (20 bytes)") },
                      "\(said)")
        XCTAssertEqual(hostDevice.shortWrites, 2)
    }

    func testKeysOfTheWrongTypeAreRefusedAtOn() throws {
        XCTAssertThrowsError(try load(#"tapir.on("udp", {dport = "53"}, function() end)"#)) { error in
            XCTAssertTrue("\(error)".contains("key 'dport': an integer expected"), "\(error)")
        }
        XCTAssertThrowsError(try load(#"tapir.on("ip", {src = "300.1.1.1"}, function() end)"#)) { error in
            XCTAssertTrue("\(error)".contains("an IPv4 address expected"), "\(error)")
        }
    }

    func testScriptsRunInLoadOrderAndAClaimInOneHidesThePacketFromTheNext() throws {
        try load(#"tapir.on("udp", {dport = 7}, function(pkt, dev) dev:write("first") return true end)"#,
                 name: "first.lua")
        try load(#"tapir.on("udp", function(pkt, dev) dev:write("second") end)"#, name: "second.lua")
        inject(TestFrames.udp(dport: 7))
        inject(TestFrames.udp(dport: 8))
        XCTAssertEqual(device.takeWritten().map { String(decoding: $0, as: UTF8.self) }, ["first", "second"])
    }

    func testAFailingHandlerIsCountedAndTheNextOneStillRuns() throws {
        try load("""
            tapir.on("udp", function() error("boom") end)
            tapir.on("udp", function(pkt, dev) dev:write("still here") end)
            """)
        for _ in 0..<3 { inject(TestFrames.udp(dport: 7)) }
        XCTAssertEqual(device.takeWritten().count, 3)
        XCTAssertEqual(host.scripts[0].state.handlers[0].errors, 3)
        XCTAssertEqual(logged.lines.filter { $0.contains("boom") }.count, 1, "\(logged.lines)")
        XCTAssertTrue(logged.lines.first { $0.contains("boom") }?.contains("script.lua:1") == true)
    }

    func testTimersRunOnTheHostClockInOrderAndCanBeCancelled() throws {
        try load("""
            local dev = tapir.devices()[1]
            tapir.after(30, function() dev:write("after 30") end)
            tapir.after(10, function() dev:write("after 10") end)
            local ticks = 0
            local every
            every = tapir.every(20, function()
              ticks = ticks + 1
              dev:write("tick " .. ticks)
              if ticks == 3 then every:cancel() end
            end)
            local never = tapir.after(15, function() dev:write("never") end)
            assert(never:cancel() == true)
            assert(never:cancel() == false)
            """)
        timers.advance(by: .milliseconds(100))
        XCTAssertEqual(device.takeWritten().map { String(decoding: $0, as: UTF8.self) },
                       ["after 10", "tick 1", "after 30", "tick 2", "tick 3"])
        XCTAssertEqual(host.scripts[0].timers.count, 0)
    }

    func testTimerArgumentsAreChecked() throws {
        XCTAssertThrowsError(try load(#"tapir.after("soon", function() end)"#)) { error in
            XCTAssertTrue("\(error)".contains("bad argument #1 to 'after' (number expected, got string)"), "\(error)")
        }
        XCTAssertThrowsError(try load("tapir.every(0, function() end)")) { error in
            XCTAssertTrue("\(error)".contains("at least 1 ms"), "\(error)")
        }
        XCTAssertThrowsError(try load("tapir.after(5)")) { error in
            XCTAssertTrue("\(error)".contains("bad argument #2 to 'after' (function expected"), "\(error)")
        }
    }

    func testDevicesStatsAndTheDeviceArgument() throws {
        try load("""
            local devices = tapir.devices()
            assert(#devices == 1, #devices)
            local dev = devices[1]
            assert(dev.name == "mem0" and dev.mode == "tap", tostring(dev))
            assert(tostring(dev) == "tapir.device(mem0)")
            tapir.on("udp", function(pkt, d)
              assert(d == dev, "the handler's device is the same value as tapir.devices()'s")
              local stats = tapir.stats()
              d:write(string.format("%d %d %s", stats.devices.mem0.rx_packets,
                                    stats.handlers[1].calls, stats.handlers[1].selector))
            end)
            """)
        inject(TestFrames.udp(dport: 7))
        inject(TestFrames.udp(dport: 7))
        XCTAssertEqual(device.takeWritten().map { String(decoding: $0, as: UTF8.self) }, ["1 0 udp", "2 1 udp"])
    }

    func testFailedWritesAreSaidOncePerBurstCountedAndTheirEndIsSaid() throws {
        try load("""
            tapir.on("udp", function(pkt, dev) dev:write("reply") end)
            """)
        device.failNextWrites(3, errno: EIO)
        for _ in 0..<4 { inject(TestFrames.udp(dport: 7)) }
        XCTAssertEqual(device.takeWritten().count, 1)
        XCTAssertEqual(device.counters.writeErrors, 3)
        let failures = logged.lines.filter { $0.contains("write to mem0 failed") }
        XCTAssertEqual(failures.count, 1, "\(logged.lines)")
        XCTAssertTrue(failures.first?.contains("EIO: the link is down") == true, "\(failures)")
        XCTAssertTrue(failures.first?.contains("write_errors") == true, "\(failures)")
        XCTAssertTrue(logged.lines.contains { $0.contains("writes to mem0 go out again, after 3 failed") },
                      "\(logged.lines)")
    }

    func testAPacketLargerThanTheMaximumIsRefusedSaidAndCounted() throws {
        var options = TapirHost.Options()
        options.maxPacketSize = 100
        let lines = logged!
        let limited = TapirHost(options: options, timers: timers,
                                logger: Logger(label: "test") { _ in CollectingLogHandler(lines: lines) })
        defer { limited.stop() }
        let memory = MemoryDevice(name: "mem1", mode: .tap)
        let limitedDevice = try limited.add(memory)
        let path = directory + "/big.lua"
        try """
            tapir.on("udp", function(pkt, dev)
              tapir.state.small = dev:write(string.rep("s", 100))
              tapir.state.big = dev:write(string.rep("b", 101))
              tapir.state.errors = tapir.stats().devices.mem1.write_errors
            end)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let script = try limited.load(path: path)
        memory.inject(TestFrames.udp(dport: 7))
        limited.pump(limitedDevice)
        XCTAssertEqual(memory.takeWritten().map(\.count), [100])
        XCTAssertTrue(try script.state.isTrue("tapir.state.small == true and tapir.state.big == false"))
        XCTAssertTrue(try script.state.isTrue("tapir.state.errors == 1"))
        XCTAssertEqual(limitedDevice.oversizedWrites, 1)
        XCTAssertTrue(logged.lines.contains { $0.contains("dev:write of 101 bytes to mem1 refused: larger than its maximum packet size, 100 bytes") },
                      "\(logged.lines)")
        XCTAssertNil(hostDevice.maxPacketSize, "no limit on a device of unknown MTU unless one is set")
    }

    /// Each device has a metatable of its own (fields and write read as table lookups);
    /// it is hidden from scripts, and write still refuses anything but a device as self.
    func testADevicesMetatableIsHiddenAndWriteChecksItsSelf() throws {
        try load("""
            local dev = tapir.devices()[1]
            assert(getmetatable(dev) == "device", tostring(getmetatable(dev)))
            assert(dev.nosuch == nil)
            assert(not pcall(setmetatable, dev, {}))
            for _, wrong in ipairs({42, "text", {}, io and io.stdout or 1}) do
              local ok, message = pcall(dev.write, wrong, "x")
              assert(not ok and message:find("tapir.device expected", 1, true), tostring(message))
            end
            assert(dev.write(dev, "by the function") == true)
            """)
        XCTAssertEqual(device.takeWritten().map { String(decoding: $0, as: UTF8.self) }, ["by the function"])
    }

    /// pkt:reply(overrides, dev) writes the same bytes dev:write(pkt:reply(overrides)) would,
    /// and returns what write returns; a second argument that is not a device is refused.
    func testReplyGivenADeviceWritesItThere() throws {
        try load("""
            tapir.on("udp", function(pkt, dev)
              local bytes = pkt:reply{udp = {sport = 9}}
              assert(pkt:reply({udp = {sport = 9}}, dev) == true)
              assert(pkt:reply(nil, dev) == true)
              dev:write(bytes)
              local ok, message = pcall(pkt.reply, pkt, nil, "not a device")
              assert(not ok and message:find("tapir.device expected", 1, true), message)
              return true
            end)
            """)
        inject(TestFrames.udp(dport: 7))
        let written = device.takeWritten()
        XCTAssertEqual(written.count, 3)
        guard written.count == 3 else { return }
        // Each reply has a fresh IPv4 identification (and so header checksum): compare the rest.
        func withoutIdentification(_ frame: [UInt8]) -> [UInt8] {
            var frame = frame
            for offset in [18, 19, 24, 25] where offset < frame.count { frame[offset] = 0 }
            return frame
        }
        XCTAssertEqual(withoutIdentification(written[0]), withoutIdentification(written[2]),
                       "the reply written from the host's buffer is the reply as bytes")
        XCTAssertNotEqual(written[0], written[2], "a fresh identification each")
        XCTAssertNotEqual(written[0], written[1], "overrides apply")
        XCTAssertEqual(host.scripts.first?.state.handlers.first?.errors, 0)
    }

    func testWriteAcceptsStringsOnlyAndNamesTheArgument() throws {
        XCTAssertThrowsError(try load("tapir.devices()[1]:write(42)")) { error in
            XCTAssertTrue("\(error)".contains("bad argument #2 to 'write' (string or packet expected, got number)")
                          || "\(error)".contains("string or packet expected"), "\(error)")
        }
    }

    func testOpenReturnsTheDeviceTheHostHasAndExplainsWhenItCannotOpen() throws {
        try load("""
            local again = tapir.open{name = "mem0", mode = "tap"}
            assert(again == tapir.devices()[1])
            local ok, message = pcall(tapir.open, {name = "other0"})
            assert(not ok)
            opened_error = message
            local ok2, message2 = pcall(tapir.open, {name = "mem0", mode = "bogus"})
            assert(not ok2 and message2:find("unknown or ill%-typed option 'mode'"), message2)
            local ok3, message3 = pcall(tapir.open, {mode = "tap"})
            assert(not ok3 and message3:find("'name'"), message3)
            """)
    }

    func testOpenUsesTheDeviceOpener() throws {
        let opened = MemoryDevice(name: "tap7", mode: .tap)
        host.deviceOpener = { request in
            XCTAssertEqual(request.name, "tap7")
            return opened
        }
        try load("""
            local dev = tapir.open{name = "tap7", mode = "tap"}
            dev:write("hi")
            assert(#tapir.devices() == 2)
            """)
        XCTAssertEqual(opened.takeWritten(), [Array("hi".utf8)])
    }

    func testOnStopFunctionsRunAtStopAndTimersEnd() throws {
        try load("""
            local dev = tapir.devices()[1]
            tapir.every(10, function() dev:write("tick") end)
            tapir.on_stop(function() dev:write("bye") end)
            """)
        timers.advance(by: .milliseconds(25))
        host.stop()
        timers.advance(by: .milliseconds(100))
        XCTAssertEqual(device.takeWritten().map { String(decoding: $0, as: UTF8.self) }, ["tick", "tick", "bye"])
    }

    func testNowFollowsTheHostClock() throws {
        let script = try load("start = tapir.now()")
        timers.advance(by: .milliseconds(250))
        try script.state.load(chunk: "assert(tapir.now() - start == 250, tapir.now() - start)", name: "check")
    }

    func testTimeIsTheWallClockWithSubMillisecondSteps() throws {
        // The manual host clock does not move tapir.time: it is the real time.
        let before = Date().timeIntervalSince1970
        let script = try load("""
            first = tapir.time()
            local step = 1
            for _ = 1, 1000 do
              local a, b = tapir.time(), tapir.time()
              while b == a do b = tapir.time() end
              if b - a < step then step = b - a end
            end
            smallest_step = step
            """)
        let after = Date().timeIntervalSince1970
        try script.state.load(chunk: """
            assert(math.type(first) == "float")
            assert(first >= \(before) - 0.001 and first <= \(after) + 0.001, string.format("%.6f", first))
            assert(smallest_step > 0 and smallest_step < 0.001, smallest_step)
            """, name: "check")
    }

    func testMalformedFramesAreCountedAndStillReachFrameHandlers() throws {
        try load(#"tapir.on("frame", function(pkt, dev) dev:write("frame") end)"#)
        let truncated = Array(TestFrames.udp(dport: 7).prefix(30))
        inject(truncated)
        XCTAssertEqual(device.takeWritten().count, 1)
        XCTAssertEqual(hostDevice.malformedFrames, 1)
    }

    func testALoadErrorLeavesNoScriptBehind() throws {
        XCTAssertThrowsError(try load("tapir.after(10, function() end)\nerror('broken at load')"))
        XCTAssertTrue(host.scripts.isEmpty)
    }
}

final class LogLines: @unchecked Sendable {
    var lines: [String] = []
}

struct CollectingLogHandler: LogHandler {
    let lines: LogLines
    var logLevel: Logger.Level = .debug
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        lines.lines.append("\(event.level): \(event.message)")
    }
}
