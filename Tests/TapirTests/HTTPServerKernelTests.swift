import Devices
import Foundation
import Glibc
import XCTest

/// The http-server pack under `tapir run` on a tap in a namespace the test makes, asked by
/// the kernel side's curl, wget and ab (apache2-utils), with hping3 flooding its port.
final class HTTPServerKernelTests: XCTestCase {
    var folder = ""

    /// A folder of files to serve: a page, a nested stylesheet and a 300 KB text file with
    /// multi-byte characters (several windows of TCP, segments split inside characters).
    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "tapir-http-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder + "/css", withIntermediateDirectories: true)
        try "<!doctype html><title>t</title><h1>tapir</h1>\n".write(toFile: folder + "/index.html", atomically: true,
                                                                    encoding: .utf8)
        try "h1 { color: teal }\n".write(toFile: folder + "/css/site.css", atomically: true, encoding: .utf8)
        var big = ""
        for line in 0..<6000 { big += "line \(line): tapir é ü 雅 ✓ " + String(repeating: "x", count: line % 17) + "\n" }
        try big.write(toFile: folder + "/big.txt", atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func startServer(_ settings: [String] = [], device: String, in sandbox: Sandbox) throws -> ChildProcess {
        let arguments = [TapirCommand.lua("packs/http-server"), "--set", "root=\(folder)"]
            + settings.flatMap { ["--set", $0] }
        return try TapirCommand.start(arguments, device: device, in: sandbox, ipv6: true)
    }

    func stop(_ process: ChildProcess, file: StaticString = #filePath, line: UInt = #line) {
        let output = TapirCommand.stop(process)
        XCTAssertEqual(output.status, 0, output.stderr, file: file, line: line)
    }

    /// The bytes of a file a client wrote.
    func bytes(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    func testCurlAndWgetFetchEachFileByteForByte() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-http")
        defer { sandbox.remove() }
        let tapir = try startServer(device: "taph0", in: sandbox)
        let out = folder + ".out"
        defer { try? FileManager.default.removeItem(atPath: out) }

        for (path, file) in [("/", "/index.html"), ("/css/site.css", "/css/site.css"), ("/big.txt", "/big.txt")] {
            let curl = try sandbox.run(["curl", "-sS", "--max-time", "10", "-o", out, "http://198.18.0.2" + path])
            XCTAssertEqual(curl.status, 0, curl.stderr)
            XCTAssertEqual(try bytes(out), try bytes(folder + file), "curl \(path)")
            try? FileManager.default.removeItem(atPath: out)
            let wget = try sandbox.run(["wget", "-q", "-T", "10", "-t", "1", "-O", out, "http://198.18.0.2" + path])
            XCTAssertEqual(wget.status, 0, wget.stderr)
            XCTAssertEqual(try bytes(out), try bytes(folder + file), "wget \(path)")
            try? FileManager.default.removeItem(atPath: out)
        }
        let six = try sandbox.run(["curl", "-sS", "-g", "--max-time", "10", "-o", out, "http://[2001:2::2]/big.txt"])
        XCTAssertEqual(six.status, 0, six.stderr)
        XCTAssertEqual(try bytes(out), try bytes(folder + "/big.txt"), "over IPv6")

        // One connection for several requests, answered in turn.
        let reused = try sandbox.run(["curl", "-sS", "-v", "--max-time", "10", "-o", "/dev/null", "-o", "/dev/null",
                                      "-o", "/dev/null", "http://198.18.0.2/", "http://198.18.0.2/css/site.css",
                                      "http://198.18.0.2/big.txt"])
        XCTAssertEqual(reused.status, 0, reused.stderr)
        XCTAssertEqual(reused.stderr.components(separatedBy: "Re-using existing connection").count - 1, 2, reused.stderr)
        XCTAssertEqual(reused.stderr.components(separatedBy: "HTTP/1.1 200 OK").count - 1, 3, reused.stderr)

        // HEAD: the length of the body it leaves out; what is not there, a method not allowed.
        let head = try sandbox.run(["curl", "-sS", "-I", "--max-time", "5", "http://198.18.0.2/big.txt"])
        let size = try bytes(folder + "/big.txt").count
        XCTAssertTrue(head.stdout.contains("Content-Length: \(size)\r\n"), head.stdout)
        XCTAssertTrue(head.stdout.contains("Content-Type: text/plain; charset=utf-8\r\n"), head.stdout)
        let codes = try sandbox.run(["curl", "-s", "--max-time", "5", "-o", "/dev/null", "-o", "/dev/null",
                                     "-w", "%{http_code} ", "http://198.18.0.2/nope", "-X", "DELETE",
                                     "http://198.18.0.2/big.txt"])
        XCTAssertEqual(codes.stdout, "404 405 ")
        stop(tapir)
    }

    func testAbWithKeepAliveHasNoFailedRequests() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-http")
        defer { sandbox.remove() }
        let tapir = try startServer(device: "taph1", in: sandbox)
        let ab = try sandbox.run(["ab", "-k", "-n", "20000", "-c", "50", "-s", "10", "http://198.18.0.2/"],
                                 timeout: .seconds(180))
        XCTAssertEqual(ab.status, 0, ab.stderr + ab.stdout)
        let report = ab.stdout
        XCTAssertTrue(report.contains("Complete requests:      20000\n"), report)
        XCTAssertTrue(report.contains("Failed requests:        0\n"), report)
        XCTAssertTrue(report.contains("Keep-Alive requests:    20000\n"), report)
        XCTAssertFalse(report.contains("Non-2xx responses"), report)
        let html = try bytes(folder + "/index.html").count
        XCTAssertTrue(report.contains("HTML transferred:       \(20000 * html) bytes\n"), report)
        stop(tapir)
    }

    /// The kernel side's TCP counter `name` (/proc/net/snmp's Tcp lines).
    func tcpCounter(_ name: String, in sandbox: Sandbox) throws -> Int {
        let lines = try sandbox.run(["cat", "/proc/net/snmp"]).stdout.split(separator: "\n")
            .filter { $0.hasPrefix("Tcp: ") }.map { $0.split(separator: " ") }
        guard lines.count == 2, let index = lines[0].firstIndex(of: Substring(name)) else { return -1 }
        return Int(lines[1][index]) ?? -1
    }

    /// curl keeps getting 200 while hping3 floods the port with SYNs for 5 s. Each curl
    /// may take a few seconds: the flood overflows the kernel's queue for the tap (its
    /// TX dropped count), which drops some of curl's SYNs too, and curl sends them again
    /// 1 s and 3 s later; what matters is that every one is answered 200.
    func testCurlKeepsGetting200sThroughASynFlood() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-http")
        defer { sandbox.remove() }
        let tapir = try startServer(device: "taph2", in: sandbox)
        XCTAssertEqual(try sandbox.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                                        "http://198.18.0.2/"]).stdout, "200")
        let segmentsBefore = try tcpCounter("InSegs", in: sandbox)
        // Only at the namespace's own peer address, and for 5 s at most.
        let flood = try sandbox.start(["timeout", "5", "hping3", "-S", "--flood", "-p", "80", "198.18.0.2"])
        usleep(300_000)
        var runs: [String] = []
        while !flood.hasExited {
            let curl = try sandbox.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                                        "--max-time", "10", "http://198.18.0.2/big.txt"], timeout: .seconds(12))
            runs.append(curl.stdout)
        }
        let floodOutput = flood.wait(timeout: .seconds(10))
        let sent = floodOutput.stdout + floodOutput.stderr
        let transmitted = sent.split(separator: "\n").first { $0.contains("packets transmitted") }
            .flatMap { Int($0.split(separator: " ")[0]) } ?? 0
        XCTAssertGreaterThan(transmitted, 10_000, "a flood: \(sent)")
        // The host answered the flood: a SYN-ACK for each SYN it read, which the kernel resets.
        let answered = try tcpCounter("InSegs", in: sandbox) - segmentsBefore
        XCTAssertGreaterThan(answered, 10_000, "SYN-ACKs came back during the flood")
        // One curl whose SYN the flood pushed out of the tap's queue retries at 1 s and 3 s,
        // and can take the whole 5 s: at least one ran, and every one got 200.
        XCTAssertGreaterThanOrEqual(runs.count, 1, "curl ran through the flood: \(runs)")
        XCTAssertEqual(runs.filter { !$0.hasPrefix("200 ") }, [], "every curl during the flood got 200: \(runs)")
        XCTAssertEqual(try sandbox.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                                        "http://198.18.0.2/"]).stdout, "200", "and after it")
        stop(tapir)
    }

    /// A client that sends its header section a byte at a time gets 408 when the header
    /// deadline passes, though each byte comes well within it; an idle one is closed.
    func testSlowAndIdleClientsAreCutOff() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-http")
        defer { sandbox.remove() }
        let tapir = try startServer(["header_timeout=1000", "idle=1500"], device: "taph3", in: sandbox)
        let slow = try sandbox.run(["python3", "-c", """
            import select, socket, time
            s = socket.create_connection(("198.18.0.2", 80), timeout=5)
            s.sendall(b"GET / HTTP/1.1\\r\\nHost: t\\r\\n")
            start = time.monotonic()
            for _ in range(40):  # a byte every 100 ms until the server speaks
                s.sendall(b"X")
                if select.select([s], [], [], 0.1)[0]:
                    break
            answered = time.monotonic()
            answer = b""
            while True:
                data = s.recv(4096)
                if not data:
                    break
                answer += data
            print(answer.split(b"\\r\\n")[0].decode(), round(answered - start, 1))
            s2 = socket.create_connection(("198.18.0.2", 80), timeout=5)
            start = time.monotonic()
            print(repr(s2.recv(100)), round(time.monotonic() - start, 1))
            """], timeout: .seconds(20))
        let lines = slow.stdout.split(separator: "\n").map { $0.split(separator: " ") }
        XCTAssertEqual(lines.count, 2, slow.stdout + slow.stderr)
        guard lines.count == 2 else { return stop(tapir) }
        XCTAssertEqual(lines[0].prefix(3).joined(separator: " "), "HTTP/1.1 408 Request", slow.stdout)
        let slowSeconds = Double(lines[0].last ?? "") ?? 0
        XCTAssertTrue((0.9...2.5).contains(slowSeconds), "408 after the header deadline: \(slow.stdout)")
        XCTAssertEqual(lines[1].first, "b''", "the idle connection closed without a word: \(slow.stdout)")
        let idleSeconds = Double(lines[1].last ?? "") ?? 0
        XCTAssertTrue((1.4...3).contains(idleSeconds), "closed after the idle time: \(slow.stdout)")
        stop(tapir)
    }

    func testAReloadWhileTenDownloadsRunLeavesEveryOneWhole() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-http")
        defer { sandbox.remove() }
        // (7.6 MB, under the pack's 8 MiB of files; ten at once are more than the Lua state's
        // 64 MiB would hold were each answer copied into one string. Made before the server
        // starts, which reads its folder then.)
        let huge = folder + "/huge.txt"
        try String(repeating: try String(contentsOfFile: folder + "/big.txt", encoding: .utf8), count: 28)
            .write(toFile: huge, atomically: true, encoding: .utf8)
        let expected = try bytes(huge)
        let tapir = try startServer(device: "taphr0", in: sandbox)
        let downloads = NSTemporaryDirectory() + "tapir-http-dl-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: downloads, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: downloads) }
        // Ten downloads slowed to about 2 s each, a reload (SIGHUP) in the middle of them. The
        // clients' receive buffers are held to 256 KiB, so the server is still sending when the
        // reload comes: with the kernel's default (up to 6 MiB) a fast server once handed all of
        // a file to the clients' kernel before the reload, and nothing was left to finish.
        let buffers = try sandbox.run(["sysctl", "-qw", "net.ipv4.tcp_rmem=4096 65536 262144"])
        XCTAssertEqual(buffers.status, 0, buffers.stderr)
        let clients = try (0..<10).map { index in
            try sandbox.start(["curl", "-s", "--limit-rate", "4M", "-o", downloads + "/\(index)",
                               "-w", "%{http_code}", "http://198.18.0.2/huge.txt"])
        }
        usleep(700_000)
        tapir.signal(SIGHUP)
        for client in clients {
            let output = client.wait(timeout: .seconds(30))
            XCTAssertEqual(output.stdout, "200", output.stderr)
        }
        for index in 0..<10 {
            XCTAssertEqual(try bytes(downloads + "/\(index)"), expected, "download \(index)")
        }
        // After the reload new connections reach the new version.
        let after = try sandbox.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://198.18.0.2/"])
        XCTAssertEqual(after.stdout, "200")
        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("reloaded"), output.stderr)
        XCTAssertTrue(output.stderr.contains("finishes its"), "the old version finished its connections: " + output.stderr)
    }
}
