import Devices
import Foundation
import Glibc
import XCTest

/// `tapir run --queues 2` on a multi-queue tap in a namespace the test makes: the kernel
/// spreads the flows of many UDP source ports over the two queues, each queue's host
/// (its own thread, loop and Lua states) answers its own, and tapir.stats() adds the
/// queues up. A second script answers UDP port 9 with what its queue sees: which queue
/// it is, how many times its state was loaded, and the stats.
final class MultiQueueKernelTests: XCTestCase {
    static let statsScript = """
        tapir.state.loads = (tapir.state.loads or 0) + 1
        local function echo_calls(stats)
          for _, handler in ipairs(stats.handlers or {}) do
            if handler.selector:find("dst port 7", 1, true) then return handler.calls end
          end
          return 0
        end
        local function rx(stats, name)
          return stats.devices and stats.devices[name] and stats.devices[name].rx_packets or 0
        end
        tapir.on("udp", {dport = 9}, function(pkt, dev)
          local stats = tapir.stats()
          local calls, received, claimed = {}, {}, {}
          for index, queue in ipairs(stats.queues) do
            calls[index] = echo_calls(queue)
            received[index] = rx(queue, dev.name)
            claimed[index] = queue.tcp and queue.tcp.segments_claimed or 0
          end
          dev:write(pkt:reply{payload = string.format("queue=%d/%d loads=%d echo=%s echo_total=%d rx=%s rx_total=%d tcp=%s",
            tapir.queue, tapir.queues, tapir.state.loads, table.concat(calls, ","), echo_calls(stats),
            table.concat(received, ","), rx(stats, dev.name), table.concat(claimed, ","))})
          return true
        end)
        """

    /// Sends one datagram from each of `count` sockets (each its own source port) to
    /// 198.18.0.2:`port` and prints each answer on a line; "lost N" for those unanswered
    /// (`wait` seconds for each answer).
    static func client(port: Int, count: Int, payload: String, wait: Double = 3) -> String {
        """
        import socket, select
        sockets = []
        for n in range(\(count)):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("198.18.0.1", 0))
            s.sendto(b"\(payload)%d" % n, ("198.18.0.2", \(port)))
            sockets.append(s)
        answers = []
        for s in sockets:
            s.settimeout(\(wait))
            try:
                answers.append(s.recv(2000).decode())
            except socket.timeout:
                pass
        for a in answers: print(a)
        print("lost", \(count) - len(answers))
        """
    }

    struct QueueReport {
        var queue = 0, queues = 0, loads = 0, echo: [Int] = [], echoTotal = 0, rx: [Int] = [], rxTotal = 0
        var tcpClaimed: [Int] = []

        init?(_ line: Substring) {
            for field in line.split(separator: " ") {
                let parts = field.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { return nil }
                let numbers = parts[1].split(whereSeparator: { $0 == "," || $0 == "/" }).compactMap { Int($0) }
                switch parts[0] {
                case "queue": (queue, queues) = (numbers.first ?? 0, numbers.last ?? 0)
                case "loads": loads = numbers.first ?? 0
                case "echo": echo = numbers
                case "echo_total": echoTotal = numbers.first ?? 0
                case "rx": rx = numbers
                case "rx_total": rxTotal = numbers.first ?? 0
                case "tcp": tcpClaimed = numbers
                default: return nil
                }
            }
        }
    }

    /// Asks port 9 from many source ports, so both queues answer.
    func askQueues(_ sandbox: Sandbox) throws -> [QueueReport] {
        let output = try sandbox.run(["python3", "-c", Self.client(port: 9, count: 32, payload: "stats")])
        return output.stdout.split(separator: "\n").compactMap(QueueReport.init)
    }

    func testFlowsSpreadOverQueuesAndStatsAddUp() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let tapir = try TapirCommand.start([TapirCommand.lua("packs/udp-echo"), try statsScript(in: folder),
                                            "--queues", "2", "--record", folder + "/run.pcapng"],
                                           device: "tapmq0", in: sandbox, ipv6: true)
        // Neighbour discovery answered on whichever queue it lands, IPv6 echoed.
        let echo6 = try sandbox.run(["sh", "-c", "echo over-v6 | nc -6 -u -w1 2001:2::2 7"])
        XCTAssertEqual(echo6.stdout, "over-v6\n", echo6.stderr)
        try assertQueuesShareTheFlows(client: sandbox, tapir: tapir, savedScript: folder + "/queue-stats.lua",
                                      earlierEchoes: 1)

        // Each queue recorded its own file; together they hold every echo, in and out.
        var recordedEchoes = 0
        for queue in 1...2 {
            let file = folder + "/run-queue\(queue).pcapng"
            let tshark = try ChildProcess.run(["tshark", "-r", file, "-Y", "udp.port == 7"])
            let frames = tshark.stdout.split(separator: "\n").count
            XCTAssertGreaterThan(frames, 0, "queue \(queue)'s recording: \(tshark.stderr)")
            recordedEchoes += frames
        }
        XCTAssertEqual(recordedEchoes, 2 * (flows + 1), "the 200 flows and the IPv6 one, in and out")
    }

    /// The same on a packet device: two sockets on a veth end in a PACKET_FANOUT group,
    /// the client in a namespace of its own at the other end.
    func testFlowsSpreadOverAPacketDevicesFanout() throws {
        try TapirCommand.requireRoot()
        let node = try Sandbox(prefix: "tapir-test-node")
        defer { node.remove() }
        let client = try Sandbox(prefix: "tapir-test-client")
        defer { client.remove() }
        let made = try ChildProcess.run(["ip", "link", "add", "eth1", "netns", node.namespace, "type", "veth",
                                         "peer", "name", "eth0", "netns", client.namespace])
        XCTAssertEqual(made.status, 0, made.stderr)
        try node.ip(["link", "set", "eth1", "addrgenmode", "none"])
        try node.ip(["link", "set", "eth1", "up"])
        try client.ip(["addr", "add", "198.18.0.1/24", "dev", "eth0"])
        try client.ip(["link", "set", "eth0", "up"])
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let tapir = try node.start([TapirCommand.path, "run", TapirCommand.lua("packs/udp-echo"),
                                    try statsScript(in: folder), "--queues", "2", "--dev", "eth1:packet"])
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, !tapir.hasExited {
            // Port 9 (the stats script's): the echo handler's calls stay the flows'.
            if try client.run(["sh", "-c", "echo probe | nc -u -w1 198.18.0.2 9 | grep -q queue="]).status == 0 { break }
        }
        try assertQueuesShareTheFlows(client: client, tapir: tapir)
    }

    /// On the virtual-host pack: TCP connections spread over the queues, each carried whole
    /// by its queue's engine (the tun driver keeps a flow on the queue that answers it); a
    /// runaway handler is stopped by the instruction budget on whichever queue's thread runs
    /// it; tapir.open in a queue's script is refused with why.
    func testTCPRunawayHandlersAndTapirOpenUnderQueues() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let runaway = folder + "/runaway.lua"
        try """
            tapir.on("udp", {dport = 13}, function() while true do end end)
            tapir.on("udp", {dport = 12}, function() tapir.open{name = "tapmqx", mode = "tap"} end)
            """.write(toFile: runaway, atomically: true, encoding: .utf8)
        let tapir = try TapirCommand.start([TapirCommand.lua("packs/virtual-host"), try statsScript(in: folder), runaway,
                                            "--queues", "2", "--budget", "2000000"], device: "tapmq1", in: sandbox)

        // 32 connections at once, 64 KiB each way, every byte back in order.
        let tcp = try sandbox.run(["python3", "-c", """
            import socket, threading, hashlib, os
            results = []
            def fetch(n):
                data = os.urandom(65536)
                s = socket.create_connection(("198.18.0.2", 7), timeout=10)
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                back = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk: break
                    back += chunk
                    if len(back) >= len(data): break
                s.close()
                results.append(hashlib.sha256(back).digest() == hashlib.sha256(data).digest())
            threads = [threading.Thread(target=fetch, args=(n,)) for n in range(32)]
            for t in threads: t.start()
            for t in threads: t.join()
            print("same", results.count(True), "of", len(results))
            """], timeout: .seconds(60))
        XCTAssertTrue(tcp.stdout.contains("same 32 of 32"), tcp.stdout + tcp.stderr)
        usleep(300_000)
        let reports = try askQueues(sandbox)
        XCTAssertEqual(Set(reports.map(\.queue)), [1, 2], "\(reports)")
        for report in reports {
            XCTAssertEqual(report.tcpClaimed.count, 2)
            XCTAssertTrue(report.tcpClaimed.allSatisfy { $0 > 0 }, "both queues' engines carried connections: \(report)")
        }

        // Runaway handlers on both queues, then tapir.open: each queue goes on.
        _ = try sandbox.run(["python3", "-c", Self.client(port: 13, count: 16, payload: "spin", wait: 0.1)], timeout: .seconds(30))
        _ = try sandbox.run(["python3", "-c", Self.client(port: 12, count: 4, payload: "open", wait: 0.1)], timeout: .seconds(30))
        let echo = try sandbox.run(["python3", "-c", Self.client(port: 7, count: 64, payload: "after")])
        XCTAssertTrue(echo.stdout.contains("lost 0"), echo.stdout.suffix(300) + echo.stderr)
        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        let lines = output.stderr.split(separator: "\n")
        for queue in 1...2 {
            XCTAssertTrue(lines.contains { $0.hasPrefix("tapir[\(queue)]") && $0.contains("instruction budget exceeded") },
                          "queue \(queue)'s runaway handler stopped: \(output.stderr)")
        }
        XCTAssertTrue(output.stderr.contains("is not available with --queues"), output.stderr)
    }

    /// Waits (10 s at most) until both queues say their state was loaded `times` times.
    func assertEveryQueueLoaded(times: Int, client: Sandbox, file: StaticString, line: UInt) throws {
        var reloaded: [QueueReport] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            usleep(200_000)
            reloaded = try askQueues(client)
            if Set(reloaded.filter { $0.loads == times }.map(\.queue)) == [1, 2] { break }
        }
        XCTAssertEqual(Set(reloaded.filter { $0.loads == times }.map(\.queue)), [1, 2], "\(reloaded)",
                       file: file, line: line)
        XCTAssertTrue(reloaded.allSatisfy { $0.loads == times }, "\(reloaded)", file: file, line: line)
    }

    let flows = 200

    func makeFolder() throws -> String {
        let folder = NSTemporaryDirectory() + "tapir-mq-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    func statsScript(in folder: String) throws -> String {
        let script = folder + "/queue-stats.lua"
        try Self.statsScript.write(toFile: script, atomically: true, encoding: .utf8)
        return script
    }

    /// 200 flows (source ports), each one datagram to the echo port: every one echoed, by
    /// one queue or the other, each queue's share counted and added up in tapir.stats();
    /// then SIGHUP reloads both queues' states, each keeping its own tapir.state; then
    /// tapir stops cleanly.
    /// `earlierEchoes` datagrams were echoed before. With `savedScript`, saving that script again reloads every queue too (each queue
    /// watches it).
    func assertQueuesShareTheFlows(client: Sandbox, tapir: ChildProcess, savedScript: String? = nil,
                                   earlierEchoes: Int = 0, file: StaticString = #filePath, line: UInt = #line) throws {
        let echo = try client.run(["python3", "-c", Self.client(port: 7, count: flows, payload: "flow")])
        XCTAssertTrue(echo.stdout.contains("lost 0"), echo.stdout.suffix(300) + echo.stderr, file: file, line: line)
        let echoed = echo.stdout.split(separator: "\n").filter { $0.hasPrefix("flow") }
        XCTAssertEqual(Set(echoed).count, flows, file: file, line: line)

        usleep(300_000)  // past the 50 ms in which each queue publishes its counters
        let reports = try askQueues(client)
        XCTAssertEqual(Set(reports.map(\.queue)), [1, 2], "both queues answer some of the 32 flows: \(reports)",
                       file: file, line: line)
        for report in reports {
            XCTAssertEqual(report.queues, 2, file: file, line: line)
            XCTAssertEqual(report.loads, 1, file: file, line: line)
            XCTAssertEqual(report.echo.count, 2, file: file, line: line)
            XCTAssertTrue(report.echo.allSatisfy { $0 > 0 }, "each queue echoed some flows: \(report.echo)",
                          file: file, line: line)
            XCTAssertEqual(report.echo.reduce(0, +), flows + earlierEchoes, "per-queue echo calls add up to the flows sent",
                           file: file, line: line)
            XCTAssertEqual(report.echoTotal, flows + earlierEchoes, "tapir.stats() adds the queues' handler calls up",
                           file: file, line: line)
            XCTAssertTrue(report.rx.allSatisfy { $0 > 0 }, "\(report.rx)", file: file, line: line)
            XCTAssertEqual(report.rxTotal, report.rx.reduce(0, +), "tapir.stats() adds the queues' device counters up",
                           file: file, line: line)
            XCTAssertGreaterThanOrEqual(report.rxTotal, flows, file: file, line: line)
        }

        tapir.signal(SIGHUP)
        try assertEveryQueueLoaded(times: 2, client: client, file: file, line: line)
        if let savedScript {
            try (Self.statsScript + "\n-- saved again\n").write(toFile: savedScript, atomically: true, encoding: .utf8)
            try assertEveryQueueLoaded(times: 3, client: client, file: file, line: line)
        }

        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr, file: file, line: line)
        XCTAssertTrue(output.stderr.contains("serving 2 queues"), output.stderr, file: file, line: line)
    }

    /// A queue thread the kernel refuses (a pids cgroup holding tapir to three tasks: the
    /// main thread and two queues of eight) fails the run with why, after the queues that
    /// did start are stopped: no hang, no crash.
    func testAQueueThreadThatCannotStartFailsTheRun() throws {
        try TapirCommand.requireRoot()
        let group = try PidsCgroup(name: "tapir-test-\(getpid())-queues", maximum: 3)
        defer { group.remove() }
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        // Into the cgroup before entering the namespace (ip netns exec mounts a /sys of its
        // own, without the cgroups); ip then becomes tapir, one task.
        let run = "echo $$ > \(group.path)/cgroup.procs && exec ip netns exec \(sandbox.namespace) "
            + "\(TapirCommand.path) run \(TapirCommand.lua("packs/udp-echo")) --dev tapmq2 --queues 8"
        let started = ContinuousClock.now
        let output = try ChildProcess.run(["sh", "-c", run], timeout: .seconds(60))
        XCTAssertEqual(output.status, 1, output.stderr)
        XCTAssertTrue(output.stderr.contains("tapir: cannot start a queue's thread: Resource temporarily unavailable"),
                      output.stderr)
        XCTAssertFalse(output.stderr.contains("serving 8 queues"), output.stderr)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(30), "the started queues were stopped")
        XCTAssertEqual(try String(contentsOfFile: group.path + "/cgroup.procs", encoding: .utf8), "",
                       "nothing of the run is left")
    }

    /// What --queues cannot do says so before anything is opened (no root needed).
    func testQueuesRefusesWhatItCannotDo() throws {
        let cases: [([String], String)] = [
            (["--queues", "0"], "--queues must be 1 to 64"),
            (["--queues", "2", "--user", "nobody"], "--queues and --user exclude each other"),
            (["--queues", "2", "--record", "-"], "--record - cannot be split"),
        ]
        for (arguments, expected) in cases {
            let output = try ChildProcess.run([TapirCommand.path, "run", TapirCommand.lua("packs/udp-echo")] + arguments)
            XCTAssertNotEqual(output.status, 0, arguments.joined(separator: " "))
            XCTAssertTrue(output.stderr.contains(expected), "\(arguments): \(output.stderr)")
        }
        let console = try ChildProcess.run([TapirCommand.path, "console", "--queues", "2"])
        XCTAssertNotEqual(console.status, 0)
        XCTAssertTrue(console.stderr.contains("Unknown option '--queues'"), console.stderr)
    }
}

/// A pids cgroup of its own (cgroup v1's pids hierarchy, or v2 with the pids controller
/// given to children), holding what is moved into it to `maximum` tasks; skips the test
/// where the machine has neither.
struct PidsCgroup {
    let path: String

    init(name: String, maximum: Int) throws {
        let candidates = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"]
        guard let root = candidates.first(where: { FileManager.default.fileExists(atPath: $0 + "/cgroup.procs") }) else {
            throw XCTSkip("no cgroup hierarchy at /sys/fs/cgroup")
        }
        path = root + "/" + name
        try? FileManager.default.removeItem(atPath: path)
        guard mkdir(path, 0o755) == 0 else { throw XCTSkip("cannot make a cgroup at \(path): errno \(errno)") }
        guard FileManager.default.fileExists(atPath: path + "/pids.max") else {
            rmdir(path)
            throw XCTSkip("no pids controller in \(root)")
        }
        try "\(maximum)".write(toFile: path + "/pids.max", atomically: false, encoding: .utf8)
    }

    func remove() { rmdir(path) }
}
