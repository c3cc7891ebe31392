import Foundation
import Glibc
import Logging
import Devices
import Reactor
import SystemPackage
import XCTest
@testable import LuaHost

/// The console's prompt on an event loop, with lines piped in (no terminal, no editing).
final class ConsoleSessionTests: XCTestCase {
    private var loop: EventLoop!
    private var host: TapirHost!
    private var input: (readEnd: FileDescriptor, writeEnd: FileDescriptor)!
    private var output: (readEnd: FileDescriptor, writeEnd: FileDescriptor)!
    private var session: ConsoleSession!
    private var printed: [UInt8] = []
    private var ended = false

    override func setUpWithError() throws {
        loop = try EventLoop()
        let lua = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("lua").path
        var options = TapirHost.Options()
        options.moduleDirectories = [lua]
        options.instructionBudget = 100_000
        host = TapirHost(options: options, loop: loop, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        input = try FileDescriptor.pipe()
        output = try FileDescriptor.pipe()
        _ = fcntl(output.readEnd.rawValue, F_SETFL, O_NONBLOCK)
        let script = try host.load(path: "/dev/null", name: "console")
        let editor = LineEditor(historyPath: nil, input: input.readEnd, output: output.writeEnd)
        session = ConsoleSession(host: host, loop: loop, editor: editor, script: script)
        session.apiReferencePath = APIReference.path(besideLuaDirectory: lua)
        session.onEnd = { [unowned self] in self.ended = true }
        try session.start()
    }

    override func tearDown() {
        session.stop()
        host.stop()
        loop.close()
        for fd in [input.readEnd, input.writeEnd, output.readEnd, output.writeEnd] { try? fd.close() }
    }

    private func type(_ text: String) throws {
        _ = try input.writeEnd.writeAll(text.utf8)
    }

    private var text: String { String(decoding: printed, as: UTF8.self) }

    /// Turns the loop until `condition` holds (or 3 seconds pass), collecting output.
    private func run(until condition: @escaping () -> Bool, limit: Duration = .seconds(3)) -> Bool {
        let loop = self.loop!
        let poll = loop.schedule(after: .milliseconds(2), repeating: .milliseconds(2)) { [unowned self] in
            self.collect()
            if condition() { loop.stop() }
        }
        let deadline = loop.schedule(after: limit) { loop.stop() }
        XCTAssertNoThrow(try loop.run())
        loop.cancel(poll)
        loop.cancel(deadline)
        collect()
        return condition()
    }

    private func collect() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(output.readEnd.rawValue, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            printed.append(contentsOf: chunk[0..<count])
        }
    }

    func testExpressionsPrintTheirValuesAndStatementsPrintNothing() throws {
        try type("x = 6\n=x * 7\nx + 1, 'two'\n{b = 2, a = {1, 2}}\n")
        XCTAssertTrue(run { self.text.contains("{ a = { 1, 2 }, b = 2 }") }, text)
        XCTAssertEqual(text, "42\n7\ttwo\n{ a = { 1, 2 }, b = 2 }\n")
    }

    func testIncompleteChunkGathersLinesUntilItCompiles() throws {
        try type("function square(n)\n  return n * n\nend\nsquare(9)\n")
        XCTAssertTrue(run { self.text.contains("81") }, text)
        XCTAssertEqual(text, "81\n")
    }

    func testErrorsArePrintedAndThePromptGoesOn() throws {
        try type("error('boom')\nx = = 1\nprint('after', 1)\n")
        XCTAssertTrue(run { self.text.contains("after\t1") }, text)
        XCTAssertTrue(text.contains("stdin:1: boom"), text)
        XCTAssertTrue(text.contains("stdin:1: unexpected symbol near '='"), text)
    }

    func testHandlersDefinedAtThePromptAreListed() throws {
        try type("tapir.on('udp', {dport = 53}, function() end)\n#handlers()\nhandlers()[1].selector:sub(1, 3)\n")
        XCTAssertTrue(run { self.text.contains("udp") }, text)
        XCTAssertEqual(text, "tapir.handle(1)\n1\nudp\n")
    }

    func testChunksRunWithoutTheHandlerBudget() throws {
        // The host's budget is 100,000 instructions per call; the prompt has none.
        try type("n = 0 for i = 1, 1000000 do n = n + 1 end\nn\n")
        XCTAssertTrue(run { self.text.contains("1000000") }, text)
    }

    func testEndOfInputEndsTheSession() throws {
        try input.writeEnd.close()
        input = (input.readEnd, try FileDescriptor.open("/dev/null", .writeOnly))
        XCTAssertTrue(run { self.ended })
    }

    /// SIGINT blocked, as tapir's main does (the session unblocks it while a chunk's first
    /// slice runs), and delivered through the loop afterwards, as tapir console does.
    private func routeSigintThroughTheLoop() throws {
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGINT)
        pthread_sigmask(SIG_BLOCK, &blocked, nil)
        try loop.onSignal(SIGINT) { [unowned self] in self.session.interruptAtPrompt() }
    }

    func testSigintStopsARunningChunk() throws {
        try routeSigintThroughTheLoop()
        let mainThread = pthread_self()
        let interrupter = Thread {
            usleep(300_000)
            pthread_kill(mainThread, SIGINT)
        }
        interrupter.start()
        let started = ContinuousClock.now
        XCTAssertFalse(session.evaluate("while true do end"))
        XCTAssertTrue(run { self.text.contains("interrupted!") }, text)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5))
        session.evaluate("print(1 + 1)")
        XCTAssertTrue(run { self.text.hasSuffix("2\n") }, text)
        // Blocked again once the chunk is over.
        var current = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &current)
        XCTAssertEqual(sigismember(&current, SIGINT), 1)
    }

    /// A SIGINT must stop the chunk whenever it lands: in the first slice (the signal
    /// handler and the hooks) or between slices (through the loop).
    func testSigintAtAnyMomentStopsTheChunk() throws {
        try routeSigintThroughTheLoop()
        let mainThread = pthread_self()
        // Long enough (seconds) that a lost interrupt shows as "finished"; each round that
        // is interrupted lasts a few milliseconds.
        let chunk = "local i = 0 while i < 1e8 do i = i + 1 end return 'finished'"
        var lost = 0
        for round in 0..<150 {
            let delay = useconds_t(500 + (round * 37) % 2500)
            let interrupter = Thread {
                usleep(delay)
                pthread_kill(mainThread, SIGINT)
            }
            printed.removeAll()
            interrupter.start()
            session.evaluate(chunk)
            _ = run { self.text.contains("interrupted!") || self.text.contains("finished") }
            if !text.contains("interrupted!") { lost += 1 }
            if lost > 0 { break }
        }
        XCTAssertEqual(lost, 0, "a SIGINT did not stop the chunk: \(text)")
    }

    /// The loop keeps turning while a long chunk runs: a timer fires in the middle of it.
    func testALongChunkGivesTheLoopItsTurn() throws {
        var fired = 0
        let timer = loop.schedule(after: .milliseconds(5), repeating: .milliseconds(5)) { fired += 1 }
        defer { loop.cancel(timer) }
        try type("local i = 0 while i < 3e7 do i = i + 1 end print('counted ' .. i)\n'next line'\n")
        XCTAssertTrue(run(until: { self.text.contains("next line") }, limit: .seconds(60)), text)
        XCTAssertTrue(text.hasPrefix("counted 30000000\nnext line"), "lines typed meanwhile run after it: \(text)")
        XCTAssertGreaterThan(fired, 3, "timers ran while the chunk did")
    }

    func testReloadGivesThePromptTheScriptsFreshState() throws {
        let path = NSTemporaryDirectory() + "tapir-console-reload-\(getpid()).lua"
        try "x = 1\ntapir.on('udp', function() end)\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        session.stop()
        let script = try host.load(path: path)
        let editor = LineEditor(historyPath: nil, input: input.readEnd, output: output.writeEnd)
        session = ConsoleSession(host: host, loop: loop, editor: editor, script: script)
        try session.start()

        try type("x = 5\nx\nreload()\n")
        XCTAssertTrue(run { self.text.contains("reloaded") }, text)
        try type("x\nhexdump('hi')\n")
        XCTAssertTrue(run { self.text.contains("|hi|") }, text)
        XCTAssertEqual(text.split(separator: "\n").map(String.init).filter { $0.count == 1 }, ["5", "1"], text)
        XCTAssertFalse(host.scripts.contains { $0 === script })
    }

    /// An ARP request for 198.18.0.2 from 198.18.0.1, and a UDP datagram.
    private static let arpRequest: [UInt8] = [UInt8](repeating: 0xff, count: 6) + [2, 0, 0, 0, 0, 1, 0x08, 0x06]
        + [0, 1, 0x08, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 198, 18, 0, 2]
    private static let udpDatagram: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]
        + [0x45, 0, 0, 29, 0, 1, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]
        + [0x30, 0x39, 0, 7, 0, 9, 0, 0, 0x78]

    func testSniffPrintsMatchingPacketsUntilItsCountAndSendWrites() throws {
        let device = MemoryDevice(name: "mem0", mode: .tap)
        let hostDevice = try host.add(device)
        try type("sniff{count = 2, filter = 'arp'}\nsend(tapir.build.eth{src = '02:00:00:00:00:09', dst = 'ff:ff:ff:ff:ff:ff', type = 0x0806} .. tapir.build.arp{op = 1, sha = '02:00:00:00:00:09', spa = '198.18.0.9', tpa = '198.18.0.1'})\n'sent'\n")
        XCTAssertTrue(run { self.text.contains("sent") }, text)
        for frame in [Self.udpDatagram, Self.arpRequest, Self.arpRequest] { device.inject(frame) }
        host.pump(hostDevice)
        collect()
        let lines = text.split(separator: "\n").map(String.init)
        let sniffed = lines.filter { $0.contains(" mem0 ") }
        guard sniffed.count == 2 else { return XCTFail("expected 2 sniffed lines: \(text)") }
        XCTAssertTrue(sniffed[0].contains(" mem0 Out ") && sniffed[0].contains("ARP, Request who-has 198.18.0.1 tell 198.18.0.9"), text)
        XCTAssertTrue(sniffed[1].contains(" mem0 In ") && sniffed[1].contains("who-has 198.18.0.2 tell 198.18.0.1"), text)
        XCTAssertEqual(device.takeWritten().count, 1)
    }

    // MARK: help

    func testHelpPrintsTheEntriesOfTheAPIDocumentation() throws {
        let reference = try XCTUnwrap(APIReference(path: session.apiReferencePath ?? ""))
        try type("help(tapir.build.ip)\nhelp('pkt.tcp')\nhelp(sniff)\nhelp(string.rep)\nhelp(tapir.nothing)\n")
        XCTAssertTrue(run { self.text.contains("help: got nil") }, text)
        let ip = try XCTUnwrap(reference.lookup("tapir.build.ip").first)
        XCTAssertTrue(text.hasPrefix("tapir.build.ip\n  \(ip.text)\n"), text)
        XCTAssertFalse(ip.text.contains("`"), "backticks dropped")
        for field in PacketField.allCases where field.layer == .tcp {
            XCTAssertTrue(text.contains("\npkt.tcp.\(field.name) "), "pkt.tcp.\(field.name): \(text)")
        }
        XCTAssertTrue(text.contains("sniff\n  sniff(n) or sniff{count =, seconds =, filter =}"), text)
        XCTAssertTrue(text.contains("string.rep is Lua's own: https://www.lua.org/manual/5.4/manual.html#pdf-string.rep"), text)
    }

    /// help() lists the console section of docs/lua-api.md: each global the prompt adds has
    /// its row there, and each row there is a global the prompt has.
    func testEveryPromptHelperHasItsRowAndHelpListsThem() throws {
        let reference = try XCTUnwrap(APIReference(path: session.apiReferencePath ?? ""))
        let rows = Set(reference.entries.filter { $0.section == APIReference.consoleSection }.map(\.name))
        XCTAssertTrue(rows.contains("help") && rows.contains("sniff"), "\(rows)")
        let plain = try host.load(path: "/dev/null", name: "plain")
        let names = "local n = {} for k in pairs(_G) do n[#n + 1] = k end return table.concat(n, ' ')"
        let before = Set(try plain.state.string(try plain.state.evaluate(names)).split(separator: " ").map(String.init))
        let promptScript = try XCTUnwrap(host.scripts.first { $0.name == "console" })
        let after = Set(try promptScript.state.string(try promptScript.state.evaluate(names)).split(separator: " ").map(String.init))
        // print is Lua's, redirected above the line being typed; next keeps Lua's meaning too.
        let added = after.subtracting(before).union(["next"])
        XCTAssertEqual(added, rows, "prompt globals vs docs/lua-api.md's console rows")

        try type("help()\n")
        XCTAssertTrue(run { self.text.contains("The API: help(tapir)") }, text)
        for row in rows {
            XCTAssertTrue(text.contains("\n  \(row) ") || text.contains("  \(row) "), "\(row) listed: \(text)")
        }
    }

    func testHelpWithoutTheReferenceSaysWhereItLooked() throws {
        session.apiReferencePath = "/nonexistent/docs/lua-api.md"
        try type("help('tapir.on')\n")
        XCTAssertTrue(run { self.text.contains("not installed") }, text)
        XCTAssertTrue(text.contains("help: the API reference is not installed (looked for /nonexistent/docs/lua-api.md)"), text)
    }

    // MARK: Tab

    func testTabCompletesGlobalsFieldsBuildersAndTheirFields() throws {
        XCTAssertEqual(session.complete("tapir.build.i"), LineCompletion(stemLength: 1, candidates: ["icmp", "icmpv6", "ip", "ipv6"]))
        XCTAssertEqual(session.complete("x = tapir.lo"), LineCompletion(stemLength: 2, candidates: ["log"]))
        XCTAssertEqual(session.complete("tapir.log."), LineCompletion(stemLength: 0, candidates: ["debug", "error", "info", "warn"]))
        XCTAssertEqual(session.complete("sni"), LineCompletion(stemLength: 3, candidates: ["sniff"]))
        XCTAssertEqual(session.complete("whi"), LineCompletion(stemLength: 3, candidates: ["while"]))
        XCTAssertEqual(session.complete("tapir.build.udp{sp"), LineCompletion(stemLength: 2, candidates: ["sport"]))
        XCTAssertEqual(session.complete("tapir.build.arp{op = 2, t"), LineCompletion(stemLength: 1, candidates: ["tha", "tpa"]))
        // After '=' a value is typed, not a field name: globals again.
        XCTAssertEqual(session.complete("tapir.build.udp{sport = tap").candidates, ["tapir"])
        XCTAssertEqual(session.complete("nothing.here."), .none)
        XCTAssertEqual(session.complete("tapir..x").candidates, [])
    }

    func testTabCompletesAPacketsLayersFieldsAndMethods() throws {
        let device = MemoryDevice(name: "mem0", mode: .tap)
        let hostDevice = try host.add(device)
        try type("tapir.on('udp', function(pkt) p = pkt:copy() end); print('o' .. 'n')\n")
        XCTAssertTrue(run { self.text.contains("on\n") }, text)
        device.inject(Self.udpDatagram)
        host.pump(hostDevice)
        XCTAssertEqual(session.complete("p."), LineCompletion(stemLength: 0, candidates: [
            "eth", "ip", "layers", "malformed", "payload", "udp"]))
        XCTAssertEqual(session.complete("p.u"), LineCompletion(stemLength: 1, candidates: ["udp"]))
        XCTAssertEqual(session.complete("p.udp.sp"), LineCompletion(stemLength: 2, candidates: ["sport"]))
        XCTAssertEqual(session.complete("p.ip."), LineCompletion(stemLength: 0, candidates: PacketField.allCases
            .filter { $0.layer == .ip }.map { "\($0.name)" }.sorted()))
        XCTAssertEqual(session.complete("p:r"), LineCompletion(stemLength: 1, candidates: ["reply"]))
        XCTAssertEqual(session.complete("p.tcp."), .none, "no TCP layer in this packet")
    }

    func testTabInsideAStringCompletesFileNames() throws {
        let directory = NSTemporaryDirectory() + "tapir-complete-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/scripts", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        FileManager.default.createFile(atPath: directory + "/script.lua", contents: nil)
        FileManager.default.createFile(atPath: directory + "/.hidden", contents: nil)
        XCTAssertEqual(session.complete("dofile(\"\(directory)/scr"),
                       LineCompletion(stemLength: 3, candidates: ["script.lua", "scripts/"]))
        XCTAssertEqual(session.complete("dofile('\(directory)/"),
                       LineCompletion(stemLength: 0, candidates: ["script.lua", "scripts/"]))
        XCTAssertEqual(session.complete("x = 'it''s' .. \"\(directory)/."),
                       LineCompletion(stemLength: 1, candidates: [".hidden"]))
        // A string closed: names again.
        XCTAssertEqual(session.complete("x = 'done' .. sni").candidates, ["sniff"])
    }

    // MARK: asking and waiting

    /// An ARP reply from 198.18.0.1 (02:00:00:00:00:01) to the host's 198.18.0.2.
    private static let arpReply: [UInt8] = [2, 0x54, 0x41, 0x50, 0x49, 0x52, 2, 0, 0, 0, 0, 1, 0x08, 0x06]
        + [0, 1, 0x08, 0, 6, 4, 0, 2, 2, 0, 0, 0, 0, 1, 198, 18, 0, 1, 2, 0x54, 0x41, 0x50, 0x49, 0x52, 198, 18, 0, 2]

    func testSr1WaitsForTheAnswerWhileTheLoopTurnsAndHoldsTheLinesTypedMeanwhile() throws {
        let device = MemoryDevice(name: "mem0", mode: .tap)
        let hostDevice = try host.add(device)
        try type("mac = arping('198.18.0.1')\n'after ' .. tostring(mac)\n")
        XCTAssertTrue(run { device.counters.txPackets > 0 }, text)
        let request = device.takeWritten()
        XCTAssertEqual(request.count, 1)
        // Who-has 198.18.0.1 tell 198.18.0.2, from the host's MAC.
        XCTAssertEqual(Array(request[0][12..<14]), [0x08, 0x06])
        XCTAssertEqual(Array(request[0][38..<42]), [198, 18, 0, 1])
        XCTAssertEqual(Array(request[0][28..<32]), [198, 18, 0, 2])
        XCTAssertFalse(text.contains("after"), "the next line waits for the chunk: \(text)")
        device.inject(Self.arpReply)
        host.pump(hostDevice)
        XCTAssertTrue(run { self.text.contains("after 02:00:00:00:00:01") }, text)
    }

    func testSr1WithoutAnAnswerReturnsNilAndBadFramesAreRefusedAtOnce() throws {
        _ = try host.add(MemoryDevice(name: "mem0", mode: .tap))
        try type("sr1('short')\nx = sr1(tapir.build.eth{type = 0x0806} .. tapir.build.arp{tpa = '198.18.0.7'}, nil, 50)\n"
            + "'x is ' .. tostring(x)\n")
        XCTAssertTrue(run { self.text.contains("x is nil") }, text)
        XCTAssertTrue(text.contains("a frame of 5 bytes has no Ethernet header"), text)
    }

    func testCtrlCDropsAWaitingChunk() throws {
        _ = try host.add(MemoryDevice(name: "mem0", mode: .tap))
        try type("x = sr1(tapir.build.eth{type = 0x0806} .. tapir.build.arp{tpa = '198.18.0.7'}, nil, 200) .. 'never'\n")
        XCTAssertTrue(run { self.host.devices[0].device.counters.txPackets > 0 })
        session.interruptAtPrompt()
        try type("'next ' .. tostring(x)\n")
        XCTAssertTrue(run { self.text.contains("next nil") }, text)
        XCTAssertTrue(text.contains("interrupted!"), text)
        // The dropped chunk's timeout passes without a word.
        let later = ContinuousClock.now + .milliseconds(400)
        XCTAssertFalse(run { ContinuousClock.now > later && false })
        XCTAssertFalse(text.contains("never"), text)
        XCTAssertFalse(text.contains("attempt to concatenate"), text)
    }

    // MARK: dissect

    func testDissectPrintsTsharksFullDissection() throws {
        guard session.tsharkPath != nil else { throw XCTSkip("needs tshark (scripts/setup installs it)") }
        let device = MemoryDevice(name: "mem0", mode: .tap)
        let hostDevice = try host.add(device)
        try type("tapir.on('udp', function(pkt) p = pkt:copy() end); print('o' .. 'n')\n")
        XCTAssertTrue(run { self.text.contains("on\n") }, text)
        device.inject(Self.udpDatagram)
        host.pump(hostDevice)
        try type("dissect(p)\ndissect(p:bytes())\n'dissected'\n")
        XCTAssertTrue(run { self.text.contains("dissected") }, text)
        let udpLine = "User Datagram Protocol, Src Port: 12345, Dst Port: 7"
        XCTAssertEqual(text.components(separatedBy: udpLine).count - 1, 2, text)
        XCTAssertTrue(text.contains("Internet Protocol Version 4, Src: 198.18.0.1, Dst: 198.18.0.2"), text)
        XCTAssertTrue(text.contains("Ethernet II, Src: 02:00:00:00:00:01"), text)
    }

    func testDissectWithoutTsharkSaysHowToInstallIt() throws {
        session.tsharkPath = nil
        try type("dissect('abc')\n")
        XCTAssertTrue(run { self.text.contains("apt-get install tshark") }, text)
        XCTAssertTrue(text.contains("dissect needs tshark, Wireshark's dissectors"), text)
    }
}
