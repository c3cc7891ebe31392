import Capture
import Devices
import Foundation
import Glibc
import XCTest

/// `tapir console` driven as a user would: through a terminal (tmux), or with lines piped in.
final class ConsoleTests: XCTestCase {
    private var directory = ""
    private var terminals: [TmuxTerminal] = []

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "tapir-console-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        for terminal in terminals { terminal.close() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func terminal(_ arguments: String) throws -> TmuxTerminal {
        guard ChildProcess.locate("tmux") != nil else {
            throw XCTSkip("needs tmux to drive the console through a terminal (apt-get install tmux)")
        }
        let made = try TmuxTerminal(command: "env TERM=screen TAPIR_HISTORY=\(directory)/history "
                                    + "\(TapirCommand.path) console \(arguments)")
        terminals.append(made)
        return made
    }

    /// Two frames: an ARP request for 198.18.0.2 and its reply.
    private func writeCapture() throws -> String {
        let path = directory + "/two.pcap"
        let writer = try PcapWriter(path: path, linkType: .ethernet)
        let kernelMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x01]
        let hostMAC: [UInt8] = [0x02, 0x54, 0x41, 0x50, 0x49, 0x52]
        let request = [UInt8](repeating: 0xff, count: 6) + kernelMAC + [0x08, 0x06]
            + [0, 1, 0x08, 0, 6, 4, 0, 1] + kernelMAC + [198, 18, 0, 1] + [UInt8](repeating: 0, count: 6) + [198, 18, 0, 2]
        let reply = kernelMAC + hostMAC + [0x08, 0x06]
            + [0, 1, 0x08, 0, 6, 4, 0, 2] + hostMAC + [198, 18, 0, 2] + kernelMAC + [198, 18, 0, 1]
        try writer.write(request, time: CaptureTime(seconds: 1_700_000_000))
        try writer.write(reply, time: CaptureTime(seconds: 1_700_000_000, nanoseconds: 500_000_000))
        try writer.close()
        return path
    }

    // MARK: a live sandbox (root)

    func testPromptAnswersPingsSniffsAndKeepsHistory() throws {
        try TapirCommand.requireRoot()
        let console = try terminal("")
        XCTAssertTrue(console.waitFor("sandbox namespace"), console.screen())
        XCTAssertTrue(console.waitFor("> "), console.screen())

        // A handler typed at the prompt: ARP and ICMP echo for 198.18.0.2.
        console.typeLine(#"MAC, IP = "02:54:41:50:49:52", "198.18.0.2""#)
        console.typeLine("tapir.on('arp', {op = 1}, function(p, d) if p.arp.tpa ~= IP then return end "
            + "d:write(tapir.build.eth{src = MAC, dst = p.eth.src, type = 0x0806} .. tapir.build.arp{op = 2, "
            + "sha = MAC, spa = IP, tha = p.arp.sha, tpa = p.arp.spa}) return true end)")
        console.typeLine("tapir.on('icmp', {type = 8}, function(p, d) if p.ip.dst == IP then "
            + "d:write(p:reply{icmp = {type = 0}}) return true end end)")
        console.typeLine("sniff(3)")
        console.typeLine(#"peer("ping -c 2 -W 2 198.18.0.2")"#)
        XCTAssertTrue(console.waitFor("2 received", timeout: .seconds(15)), console.screen())

        let sniffed = console.screen().split(separator: "\n").filter {
            $0.range(of: #"^\d\d:\d\d:\d\d\.\d{6} tapir\d+ (In |Out) "#, options: .regularExpression) != nil
        }
        XCTAssertEqual(sniffed.count, 3, console.screen())

        // Multi-line input, and a table shown readably.
        console.typeLine("function square(n)")
        XCTAssertTrue(console.waitFor(">> "), console.screen())
        console.typeLine("return n * n end")
        console.typeLine("{square(7), answered = #handlers()}")
        XCTAssertTrue(console.waitFor("{ 49, answered = 2 }"), console.screen())

        console.typeLine(#""history " .. "works""#)
        XCTAssertTrue(console.waitFor("\nhistory works"), console.screen())
        console.key("C-d")
        XCTAssertTrue(console.waitForExit(), console.screen())
        let history = try String(contentsOfFile: directory + "/history", encoding: .utf8)
        XCTAssertTrue(history.contains(#"peer("ping -c 2 -W 2 198.18.0.2")"#), history)
        XCTAssertTrue(history.hasSuffix("\"history \" .. \"works\"\n"), history)

        // A new console recalls the last line with up-arrow.
        let again = try terminal("")
        XCTAssertTrue(again.waitFor("sandbox namespace"), again.screen())
        XCTAssertFalse(again.screen().contains("history works"))
        again.key("Up")
        again.key("Enter")
        XCTAssertTrue(again.waitFor("\nhistory works"), again.screen())
        again.key("C-d")
        XCTAssertTrue(again.waitForExit(), again.screen())
    }

    func testSr1ArpingAndPingAnsweredByTheKernel() throws {
        try sr1ArpingAndPingAnsweredByTheKernel(options: "")
    }

    /// The same on a packet-socket device: the sandbox joined by a veth pair.
    func testSr1ArpingAndPingOverAPacketDevice() throws {
        try sr1ArpingAndPingAnsweredByTheKernel(options: "--sandbox-link veth")
    }

    private func sr1ArpingAndPingAnsweredByTheKernel(options: String) throws {
        try TapirCommand.requireRoot()
        let lines = [
            "mac = arping('198.18.0.1')",
            "'kernel mac ' .. mac",
            "echo = tapir.build.eth{src = '02:54:41:50:49:52', dst = mac, type = 0x0800} .. tapir.build.ip{"
                + "src = '198.18.0.2', dst = '198.18.0.1', proto = 1, payload = tapir.build.icmp{type = 8, id = 77, seq = 5}}",
            "sr1(echo)",
            "p = sr1(echo, 'icmp', 2000)",
            "'answer ' .. p.icmp.type .. ' ' .. p.icmp.id .. ' ' .. p.icmp.seq .. ' ' .. p.ip.src",
            "lost = tapir.build.eth{src = '02:54:41:50:49:52', dst = mac, type = 0x0800} .. tapir.build.ip{"
                + "src = '198.18.0.2', dst = '198.18.0.9', proto = 1, payload = tapir.build.icmp{type = 8}}",
            "ok, missed = sr({echo, lost}, nil, 300)",
            "'sr ' .. #ok .. ' ' .. #missed",
            "ping('198.18.0.1', 2)",
            "'done'",
        ]
        let recording = directory + "/console.pcapng"
        let output = try ChildProcess.run(
            ["/bin/sh", "-c", "printf '%s\\n' \"$@\" | \(TapirCommand.path) console \(options) --record \(recording)", "sh"] + lines,
            timeout: .seconds(30))
        XCTAssertEqual(output.status, 0, output.stderr)
        let printed = output.stdout
        // tapir console --record: what sr1 sent is outbound, the kernel's answers inbound.
        if let tshark = ChildProcess.locate("tshark") {
            let fields = try ChildProcess.run([tshark, "-r", recording, "-Y", "icmp.ident == 77", "-T", "fields",
                                               "-e", "icmp.type", "-e", "frame.packet_flags_direction"], timeout: .seconds(60))
            XCTAssertEqual(fields.stdout.split(separator: "\n").map(String.init),
                           Array(repeating: ["8\t0x00000002", "0\t0x00000001"], count: 3).flatMap { $0 }, "sr1, sr1, sr: \(fields.stderr)")
        }
        let mac = try XCTUnwrap(printed.range(of: #"kernel mac ([0-9a-f]{2}:){5}[0-9a-f]{2}"#, options: .regularExpression),
                                printed)
        XCTAssertFalse(printed[mac].hasSuffix("02:54:41:50:49:52"), "the kernel's own MAC")
        // sr1 shows the answer as a packet: tcpdump's line for the echo reply.
        XCTAssertTrue(printed.contains("198.18.0.1 > 198.18.0.2: ICMP echo reply, id 77, seq 5"), printed)
        XCTAssertTrue(printed.contains("answer 0 77 5 198.18.0.1"), printed)
        XCTAssertTrue(printed.contains("sr 1 1"), "198.18.0.9 does not answer: \(printed)")
        XCTAssertTrue(printed.contains("reply from 198.18.0.1: seq=1 ttl=64"), printed)
        XCTAssertTrue(printed.contains("reply from 198.18.0.1: seq=2 ttl=64"), printed)
        XCTAssertTrue(printed.contains("\n2\n"), "ping returns how many were answered: \(printed)")
        XCTAssertTrue(printed.hasSuffix("done\n"), printed)
    }

    func testPeerWaitsJobsKillAndCtrlCStopsAPing() throws {
        try TapirCommand.requireRoot()
        let lines = [
            "out, status = peer('echo hello from the sandbox; exit 3', {wait = true})",
            "'got [' .. out .. '] ' .. status",
            "peer('sleep 30')",
            "jobs()",
            "kill(2)",
            "jobs()",
            "kill(9)",
        ]
        let output = try ChildProcess.run(
            ["/bin/sh", "-c", "printf '%s\\n' \"$@\" | \(TapirCommand.path) console", "sh"] + lines, timeout: .seconds(30))
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stdout.contains("got [hello from the sandbox\n] 3"), output.stdout)
        XCTAssertNotNil(output.stdout.range(of: #"\[2\] \d+ sleep 30\n"#, options: .regularExpression), output.stdout)
        XCTAssertTrue(output.stdout.contains("(no peer command running)"), output.stdout)
        XCTAssertTrue(output.stdout.contains("kill: no peer command [9] is running (jobs() lists them)"), output.stdout)

        // At a terminal, Ctrl-C stops a ping started with peer.
        let console = try terminal("")
        XCTAssertTrue(console.waitFor("sandbox namespace"), console.screen())
        XCTAssertTrue(console.waitFor("> "), console.screen())
        console.typeLine("peer('ping -i 0.2 198.18.0.1')")
        XCTAssertTrue(console.waitFor("icmp_seq=3"), console.screen())
        console.key("C-c")
        XCTAssertTrue(console.waitFor("stopped 1 peer command(s)"), console.screen())
        let count = console.screen().components(separatedBy: "bytes from 198.18.0.1").count
        usleep(800_000)
        XCTAssertEqual(console.screen().components(separatedBy: "bytes from 198.18.0.1").count, count,
                       "no ping line after Ctrl-C: \(console.screen())")
        console.typeLine("jobs()")
        XCTAssertTrue(console.waitFor("(no peer command running)"), console.screen())
        console.key("C-d")
        XCTAssertTrue(console.waitForExit(), console.screen())
    }

    func testHandlersAndSniffGoOnWhileALongChunkRunsAndCtrlCStopsIt() throws {
        try TapirCommand.requireRoot()
        let console = try terminal("")
        XCTAssertTrue(console.waitFor("sandbox namespace"), console.screen())
        XCTAssertTrue(console.waitFor("> "), console.screen())
        console.typeLine(#"MAC, IP = "02:54:41:50:49:52", "198.18.0.2""#)
        console.typeLine("tapir.on('arp', {op = 1}, function(p, d) if p.arp.tpa ~= IP then return end "
            + "d:write(tapir.build.eth{src = MAC, dst = p.eth.src, type = 0x0806} .. tapir.build.arp{op = 2, "
            + "sha = MAC, spa = IP, tha = p.arp.sha, tpa = p.arp.spa}) return true end)")
        console.typeLine("tapir.on('icmp', {type = 8}, function(p, d) if p.ip.dst == IP then "
            + "d:write(p:reply{icmp = {type = 0}}) return true end end)")
        console.typeLine("sniff{count = 4, filter = 'icmp'}")
        console.typeLine(#"peer("sleep 0.5; ping -c 2 -i 0.3 -W 2 198.18.0.2")"#)
        console.typeLine("for i = 1, 3e8 do end print('loop ' .. 'done')")
        XCTAssertTrue(console.waitFor("2 received", timeout: .seconds(20)), console.screen())
        XCTAssertFalse(console.screen().contains("loop done"), "the pings were answered while the chunk ran")
        let sniffed = console.screen().split(separator: "\n").filter { $0.contains("ICMP echo") }
        XCTAssertEqual(sniffed.count, 4, console.screen())
        console.key("C-c")
        XCTAssertTrue(console.waitFor("interrupted!"), console.screen())
        XCTAssertFalse(console.screen().contains("loop done"), console.screen())
        console.typeLine("'still ' .. 'here'")
        XCTAssertTrue(console.waitFor("\nstill here"), console.screen())
        console.key("C-d")
        XCTAssertTrue(console.waitForExit(), console.screen())
    }

    // MARK: no root

    func testCtrlCInterruptsARunningChunk() throws {
        let capture = try writeCapture()
        let console = try terminal("--replay \(capture)")
        XCTAssertTrue(console.waitFor("> "), console.screen())
        // The chunk says when it runs (a Ctrl-C before the line is read would only drop it).
        console.typeLine("print('spin' .. 'ning') while true do end")
        XCTAssertTrue(console.waitFor("\nspinning"), console.screen())
        usleep(200_000)
        XCTAssertFalse(console.screen().contains("interrupted!"))
        console.key("C-c")
        XCTAssertTrue(console.waitFor("interrupted!"), console.screen())
        console.typeLine("1 + 41")
        XCTAssertTrue(console.waitFor("\n42"), console.screen())
        // At the prompt, Ctrl-C drops the line being typed.
        console.type("this is dropped")
        XCTAssertTrue(console.waitFor("> this is dropped"), console.screen())
        console.key("C-c")
        XCTAssertTrue(console.waitFor("this is dropped^C"), console.screen())
        console.typeLine("'still here'")
        XCTAssertTrue(console.waitFor("\nstill here"), console.screen())
        console.key("C-d")
        XCTAssertTrue(console.waitForExit(), console.screen())
    }

    func testHelpAndTabCompletionAtATerminal() throws {
        let capture = try writeCapture()
        let console = try terminal("--replay \(capture)")
        XCTAssertTrue(console.waitFor("> "), console.screen())
        console.typeLine("help()")
        XCTAssertTrue(console.waitFor("The API: help(tapir)"), console.screen())
        XCTAssertTrue(console.screen().contains("  sniff      sniff(n) or sniff{"), console.screen())
        console.typeLine("help(tapir.build.ip)")
        XCTAssertTrue(console.waitFor("tapir.build.ip\n  tapir.build.ip{src, dst, proto"), console.screen())

        // Tab with several candidates lists them; typing on and Tab again completes.
        console.type("tapir.build.i")
        console.key("Tab")
        XCTAssertTrue(console.waitFor("icmp    icmpv6  ip      ipv6"), console.screen())
        console.type("pv")
        console.key("Tab")
        console.type("{nx")
        console.key("Tab")
        console.type(" = 59}")
        console.key("Enter")
        XCTAssertTrue(console.waitFor("> tapir.build.ipv6{nxt = 59}\n"), console.screen())

        // A packet's layers and fields.
        console.typeLine("p = next()")
        XCTAssertTrue(console.waitFor("ARP, Request who-has 198.18.0.2"), console.screen())
        console.type("p.a")
        console.key("Tab")
        console.type(".tp")
        console.key("Tab")
        console.key("Enter")
        XCTAssertTrue(console.waitFor("> p.arp.tpa\n198.18.0.2"), console.screen())
        console.key("C-d")
        XCTAssertTrue(console.waitForExit(), console.screen())
    }

    func testReplayStepsThroughACapture() throws {
        let capture = try writeCapture()
        let script = directory + "/count.lua"
        try "seen = 0\ntapir.on('arp', function(pkt) seen = seen + 1 end)\n"
            .write(toFile: script, atomically: true, encoding: .utf8)
        let lines = ["p = next()", "p.arp.op", "show(p)", "q = next()", "seen", "next()", "'done'"]
        let output = try ChildProcess.run(
            ["/bin/sh", "-c", "printf '%s\\n' \"$@\" | \(TapirCommand.path) console --replay \(capture) \(script)", "sh"]
                + lines, timeout: .seconds(20))
        XCTAssertEqual(output.status, 0, output.stderr)
        let printed = output.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(printed.first, "02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ARP, Request who-has 198.18.0.2 tell 198.18.0.1",
                       output.stdout)
        XCTAssertTrue(printed.contains("1"), output.stdout)
        XCTAssertTrue(printed.contains("###[ arp ]###"), output.stdout)
        XCTAssertTrue(printed.contains { $0.hasPrefix("  tpa") && $0.hasSuffix("\"198.18.0.2\"") }, output.stdout)
        XCTAssertTrue(printed.contains { $0.contains("ARP, Reply 198.18.0.2 is-at 02:54:41:50:49:52") }, output.stdout)
        XCTAssertTrue(printed.contains("2"), output.stdout)  // the script's handler saw both
        XCTAssertEqual(printed.last, "done", output.stdout)
    }

    /// next() dispatches a frame inside the chunk that called it: a packet the script kept
    /// raises in that same chunk once its handler returned, as anywhere else.
    func testAPacketKeptByAHandlerRaisesInTheChunkThatSteppedIt() throws {
        let capture = try writeCapture()
        let script = directory + "/keep.lua"
        try "tapir.on('arp', function(pkt) kept = pkt; tapir.log.info(pkt.arp.op) end)\n"
            .write(toFile: script, atomically: true, encoding: .utf8)
        let lines = ["next()", "(next() and nil) or tostring(select(2, pcall(function() return kept.arp end)))",
                     "'done'"]
        let output = try ChildProcess.run(
            ["/bin/sh", "-c", "printf '%s\\n' \"$@\" | \(TapirCommand.path) console --replay \(capture) \(script)", "sh"]
                + lines, timeout: .seconds(20))
        XCTAssertEqual(output.status, 0, output.stderr)
        let printed = output.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(printed.contains { $0.hasSuffix("packet used after its handler returned (use pkt:copy())") },
                      output.stdout + output.stderr)
        XCTAssertEqual(printed.last, "done", output.stdout)
    }
}

/// A terminal made by tmux on a private server, running one command.
final class TmuxTerminal {
    let socket: String
    private var closed = false

    init(command: String) throws {
        socket = "tapir-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        let started = try ChildProcess.run(["tmux", "-L", socket, "new-session", "-d", "-x", "200", "-y", "80",
                                            "-s", "console", command])
        guard started.succeeded else {
            throw XCTSkip("tmux could not start a session: \(started.stderr)")
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        _ = try? ChildProcess.run(["tmux", "-L", socket, "kill-server"])
        // A killed server leaves its socket file behind.
        let directory = ProcessInfo.processInfo.environment["TMUX_TMPDIR"] ?? "/tmp"
        unlink("\(directory)/tmux-\(getuid())/\(socket)")
    }

    func type(_ text: String) {
        _ = try? ChildProcess.run(["tmux", "-L", socket, "send-keys", "-t", "console", "-l", text])
    }

    func key(_ name: String) {
        _ = try? ChildProcess.run(["tmux", "-L", socket, "send-keys", "-t", "console", name])
    }

    func typeLine(_ text: String) {
        type(text)
        key("Enter")
    }

    /// The pane's text, history included, wrapped lines joined.
    func screen() -> String {
        (try? ChildProcess.run(["tmux", "-L", socket, "capture-pane", "-p", "-J", "-S", "-5000", "-t", "console"]))?
            .stdout ?? ""
    }

    func waitFor(_ text: String, timeout: Duration = .seconds(10)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if screen().contains(text) { return true }
            usleep(50_000)
        }
        return false
    }

    /// Waits until the command has ended (tmux closes the session with it).
    func waitForExit(timeout: Duration = .seconds(10)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let alive = (try? ChildProcess.run(["tmux", "-L", socket, "has-session", "-t", "console"]))?.succeeded ?? false
            if !alive { return true }
            usleep(50_000)
        }
        return false
    }
}
