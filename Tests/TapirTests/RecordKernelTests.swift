import Capture
import Devices
import Foundation
import Glibc
import XCTest

/// `--record`: `tapir run x.lua --record - | tcpdump -r -` reads a clean capture (the
/// banner and the script's print go to standard error), and a pcapng recording keeps
/// each packet's direction, which tshark reads and `tapir replay` uses to pass over the
/// recorded host's own answers. The kernel is the peer, in a namespace.
final class RecordKernelTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        try TapirCommand.requireRoot()
        directory = NSTemporaryDirectory() + "tapir-record-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The example responder (ARP and ping for 198.18.0.2), behind a script that prints
    /// at load and for every echo request.
    private func printingResponder() throws -> String {
        let path = directory + "/printing.lua"
        try """
            print("hello from the script")
            tapir.on("icmp", {type = 8}, function(pkt) print("echo request seen", pkt.icmp.seq) end)
            dofile(\(String(reflecting: TapirCommand.lua("examples/responder.lua"))))
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `PREFIX tapir run SCRIPT --record - ARGUMENTS | tee rec.pcapng | tcpdump -n -r -`
    /// in a shell; tapir's pid comes back through a file, for the SIGTERM that ends it.
    private func startPipeline(prefix: [String], script: String, arguments: [String]) throws -> (ChildProcess, pid_t) {
        let pidFile = directory + "/tapir.pid"
        let command = (prefix + [TapirCommand.path, "run", script, "--record", "-"] + arguments)
            .map { "'\($0)'" }.joined(separator: " ")
        let shell = try ChildProcess.spawn(["/bin/sh", "-c", """
            ( \(command) & echo $! > '\(pidFile)'; wait ) | tee '\(directory)/rec.pcapng' \
            | tcpdump -n -r - > '\(directory)/tcpdump.txt'
            """])
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
               let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return (shell, pid)
            }
            usleep(20_000)
        }
        shell.signal(SIGTERM)
        XCTFail("the pipeline did not start: \(shell.wait(timeout: .seconds(2)).stderr)")
        throw XCTSkip("no pipeline")
    }

    /// Pings 198.18.0.2 from `namespace`, stops tapir and returns what the shell printed
    /// on standard error (tapir's banner and prints, tcpdump's "reading from file") and
    /// tcpdump's lines.
    private func pingThenStop(_ shell: ChildProcess, tapir pid: pid_t, namespace: String) throws -> (String, String) {
        let ping = try ChildProcess.run(["ip", "netns", "exec", namespace, "ping", "-c", "2", "-i", "0.3", "-W", "2",
                                         "198.18.0.2"], timeout: .seconds(15))
        XCTAssertTrue(ping.stdout.contains("2 received"), ping.stdout + ping.stderr)
        kill(pid, SIGTERM)
        let output = shell.wait(timeout: .seconds(20))
        XCTAssertEqual(output.status, 0, "tcpdump read the stream without error: \(output.stderr)")
        XCTAssertEqual(output.stdout, "")
        let dump = (try? String(contentsOfFile: directory + "/tcpdump.txt", encoding: .utf8)) ?? ""
        return (output.stderr, dump)
    }

    private func assertRecordedBothWays(_ dump: String, _ stderr: String, file: StaticString = #filePath,
                                        line: UInt = #line) throws {
        XCTAssertTrue(stderr.contains("hello from the script"), stderr, file: file, line: line)
        XCTAssertTrue(stderr.contains("echo request seen\t2"), stderr, file: file, line: line)
        XCTAssertTrue(dump.contains("ARP, Request who-has 198.18.0.2"), dump, file: file, line: line)
        XCTAssertTrue(dump.contains("ARP, Reply 198.18.0.2 is-at"), dump, file: file, line: line)
        XCTAssertEqual(dump.components(separatedBy: "ICMP echo request").count - 1, 2, dump, file: file, line: line)
        XCTAssertEqual(dump.components(separatedBy: "ICMP echo reply").count - 1, 2, dump, file: file, line: line)

        // tshark reads the same stream (tee'd to a file) with each packet's direction.
        guard let tshark = ChildProcess.locate("tshark") else { return }
        let fields = try ChildProcess.run([tshark, "-r", directory + "/rec.pcapng", "-Y", "icmp", "-T", "fields",
                                           "-e", "icmp.type", "-e", "frame.packet_flags_direction"],
                                          timeout: .seconds(60))
        XCTAssertEqual(fields.status, 0, fields.stderr, file: file, line: line)
        XCTAssertEqual(fields.stdout.split(separator: "\n").map(String.init),
                       ["8\t0x00000001", "0\t0x00000002", "8\t0x00000001", "0\t0x00000002"],
                       file: file, line: line)
    }

    func testRecordToStandardOutputInASandboxPipesIntoTcpdump() throws {
        let (shell, pid) = try startPipeline(prefix: [], script: try printingResponder(), arguments: [])
        var namespace = ""
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let list = (try? ChildProcess.run(["ip", "netns", "list"]).stdout) ?? ""
            namespace = list.split(separator: "\n").map { String($0.split(separator: " ")[0]) }
                .first { $0.hasPrefix("tapir-\(pid)-") } ?? ""
            if !namespace.isEmpty, let addresses = try? ChildProcess.run(["ip", "-n", namespace, "addr"]).stdout,
               addresses.contains("198.18.0.1/24") { break }
            usleep(50_000)
        }
        let (stderr, dump) = try pingThenStop(shell, tapir: pid, namespace: namespace)
        XCTAssertTrue(stderr.contains("tapir: sandbox namespace \(namespace)"), stderr)
        try assertRecordedBothWays(dump, stderr)
        XCTAssertFalse(try TapirCommand.namespaceExists(namespace), "the sandbox is removed")
    }

    func testRecordToStandardOutputWithDevPipesIntoTcpdumpAndReplayPassesOverTheHostsAnswers() throws {
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let (shell, pid) = try startPipeline(prefix: ["ip", "netns", "exec", sandbox.namespace],
                                             script: try printingResponder(), arguments: ["--dev", "taprec0"])
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, (try? sandbox.ip(["link", "show", "taprec0"])) == nil {
            usleep(50_000)
        }
        try sandbox.ip(["addr", "add", "198.18.0.1/24", "dev", "taprec0"])
        try sandbox.ip(["link", "set", "taprec0", "up"])
        let (stderr, dump) = try pingThenStop(shell, tapir: pid, namespace: sandbox.namespace)
        try assertRecordedBothWays(dump, stderr)

        // Replayed, the recording feeds the handlers only what the kernel sent: the
        // responder answers 2 echo requests (and the ARP request), not its own replies.
        let counter = directory + "/count.lua"
        try """
            local seen = 0
            tapir.on("icmp", function(pkt) seen = seen + 1 end)
            tapir.on_stop(function() io.stderr:write("icmp seen: ", seen, "\\n") end)
            """.write(toFile: counter, atomically: true, encoding: .utf8)
        let replayed = try ChildProcess.run([TapirCommand.path, "replay", directory + "/rec.pcapng", counter])
        XCTAssertEqual(replayed.status, 0, replayed.stderr)
        XCTAssertTrue(replayed.stderr.contains("icmp seen: 2\n"), replayed.stderr)
        XCTAssertTrue(replayed.stderr.contains("passed over"), replayed.stderr)
        let everything = try ChildProcess.run([TapirCommand.path, "replay", "--include-outbound",
                                               directory + "/rec.pcapng", counter])
        XCTAssertTrue(everything.stderr.contains("icmp seen: 4\n"), everything.stderr)
    }
}
