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
    private func run(until condition: @escaping () -> Bool) -> Bool {
        let loop = self.loop!
        let poll = loop.schedule(after: .milliseconds(2), repeating: .milliseconds(2)) { [unowned self] in
            self.collect()
            if condition() { loop.stop() }
        }
        let deadline = loop.schedule(after: .seconds(3)) { loop.stop() }
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

    func testSigintStopsARunningChunk() throws {
        let mainThread = pthread_self()
        let interrupter = Thread {
            usleep(300_000)
            pthread_kill(mainThread, SIGINT)
        }
        // SIGINT blocked, as tapir's main does; the session unblocks it while a chunk runs.
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGINT)
        pthread_sigmask(SIG_BLOCK, &blocked, nil)
        interrupter.start()
        let started = ContinuousClock.now
        XCTAssertFalse(session.evaluate("while true do end"))
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5))
        collect()
        XCTAssertTrue(text.contains("interrupted!"), text)
        session.evaluate("print(1 + 1)")
        collect()
        XCTAssertTrue(text.hasSuffix("2\n"), text)
        // Blocked again once the chunk is over.
        var current = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &current)
        XCTAssertEqual(sigismember(&current, SIGINT), 1)
    }

    /// The instruction-budget hook runs every thousand instructions in console chunks too;
    /// a SIGINT landing while it runs must not be lost (it once was: the budget hook put
    /// itself back over the interrupt hook the signal handler had just set).
    func testSigintAtAnyMomentStopsTheChunk() throws {
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGINT)
        pthread_sigmask(SIG_BLOCK, &blocked, nil)
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
            collect()
            if !text.contains("interrupted!") { lost += 1 }
            if lost > 0 { break }
        }
        XCTAssertEqual(lost, 0, "a SIGINT did not stop the chunk: \(text)")
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
}
