import Devices
import Foundation
import Glibc
import XCTest

/// The host's TCP under `tapir run` on a tap in a namespace the test makes, with the
/// kernel's own TCP as the peer (nc, python3): the tcp-echo pack, a large transfer
/// compared byte for byte, a script's tapir.request and tapir.tcp.connect.
final class TCPKernelTests: XCTestCase {
    func startEcho(_ device: String, in sandbox: Sandbox, settings: [String] = []) throws -> ChildProcess {
        try TapirCommand.start([TapirCommand.lua("packs/tcp-echo")] + settings.flatMap { ["--set", $0] },
                               device: device, in: sandbox, ipv6: true)
    }

    func stop(_ process: ChildProcess, file: StaticString = #filePath, line: UInt = #line) -> String {
        let output = TapirCommand.stop(process)
        XCTAssertEqual(output.status, 0, output.stderr, file: file, line: line)
        return output.stderr + output.stdout
    }

    func testNcGetsItsLinesEchoedOverIPv4AndIPv6AndChargenItsPattern() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-tcp")
        defer { sandbox.remove() }
        let record = NSTemporaryDirectory() + "tapir-tcp-\(getpid())-\(UUID().uuidString).pcap"
        defer { try? FileManager.default.removeItem(atPath: record) }
        let tapir = try TapirCommand.start([TapirCommand.lua("packs/tcp-echo"), "--record", record],
                                           device: "tapt0", in: sandbox, ipv6: true)
        let echoed = try sandbox.run(["sh", "-c", "printf 'hello\\nworld\\n' | nc -N -w 5 198.18.0.2 7"])
        XCTAssertEqual(echoed.stdout, "hello\nworld\n", echoed.stderr)
        let echoed6 = try sandbox.run(["sh", "-c", "printf 'over six\\n' | nc -N -w 5 2001:2::2 7"])
        XCTAssertEqual(echoed6.stdout, "over six\n", echoed6.stderr)
        let chargen = try sandbox.run(["sh", "-c", "nc -w 5 198.18.0.2 19 | head -c 148"])
        let ring = (32...126).map { Character(UnicodeScalar(UInt8($0))) }
        let expected = String(ring[0..<72]) + "\r\n" + String(ring[1..<73]) + "\r\n"
        XCTAssertEqual(chargen.stdout, expected)
        let discard = try sandbox.run(["sh", "-c", "head -c 100000 /dev/zero | nc -N -w 5 198.18.0.2 9 | wc -c"])
        XCTAssertEqual(discard.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "0")
        try XCTAssertEqual(TapirCommand.errorCounters(in: sandbox).values.filter { $0 != 0 }.count, 0)
        _ = stop(tapir)
        // tshark, checksums checked, finds nothing malformed, and no bad checksum on what the
        // host sent. (The kernel's own segments are left out of the checksum check: now and
        // then one carries 0xffff where tshark computes 0x0000, the same sum in one's
        // complement, which tshark marks bad.)
        guard let tshark = ChildProcess.locate("tshark") else { throw XCTSkip("tshark is not installed") }
        let marks = try ChildProcess.run([tshark, "-r", record, "-o", "tcp.check_checksum:TRUE",
                                          "-o", "ip.check_checksum:TRUE",
                                          "-Y", "_ws.malformed || (ip.src == 198.18.0.2 && "
                                              + "(tcp.checksum.status == 0 || ip.checksum.status == 0))"])
        XCTAssertEqual(marks.stdout, "", "tshark marks the recording")
        let segments = try ChildProcess.run([tshark, "-r", record, "-Y", "tcp.srcport == 7 || tcp.srcport == 19"]).stdout
        XCTAssertGreaterThan(segments.split(separator: "\n").count, 10, "the host's segments were recorded")
    }

    /// A transfer through the echo service: what comes back has the same SHA-256.
    func transfer(megabytes: Int, in sandbox: Sandbox, directory: String) throws {
        let input = directory + "/in.bin"
        let output = directory + "/back.bin"
        _ = try ChildProcess.run(["sh", "-c", "head -c \(megabytes * 1_048_576) /dev/urandom > \(input)"])
        let started = ContinuousClock.now
        let sent = try sandbox.run(["sh", "-c", "nc -N -w 30 198.18.0.2 7 < \(input) > \(output)"],
                                   timeout: .seconds(300))
        XCTAssertEqual(sent.status, 0, sent.stderr)
        let elapsed = started.duration(to: .now)
        let sums = try ChildProcess.run(["sha256sum", input, output]).stdout.split(separator: "\n")
            .map { $0.split(separator: " ")[0] }
        XCTAssertEqual(sums.count, 2)
        XCTAssertEqual(sums.first, sums.last, "the echoed bytes differ")
        print("tcp echo: \(megabytes) MiB each way in \(elapsed)")
    }

    func testA200MiBTransferComesBackIdentical() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-tcp")
        defer { sandbox.remove() }
        let directory = NSTemporaryDirectory() + "tapir-tcp-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tapir = try startEcho("tapt1", in: sandbox)
        try transfer(megabytes: 200, in: sandbox, directory: directory)
        _ = stop(tapir)
    }

    func testATransferAcrossDelayLossAndReorderingComesBackIdentical() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-tcp")
        defer { sandbox.remove() }
        let tapir = try startEcho("tapt2", in: sandbox)
        let netem = try sandbox.run(["tc", "qdisc", "add", "dev", "tapt2", "root", "netem",
                                     "delay", "10ms", "loss", "3%", "reorder", "5%"])
        guard netem.status == 0 else {
            _ = stop(tapir)
            throw XCTSkip("this kernel has no netem queueing discipline (sch_netem): \(netem.stderr)")
        }
        let directory = NSTemporaryDirectory() + "tapir-tcp-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try transfer(megabytes: 20, in: sandbox, directory: directory)
        _ = stop(tapir)
    }

    func testAScriptAsksTheKernelsMACWithRequestThenConnectsToAKernelListener() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-tcp")
        defer { sandbox.remove() }
        let directory = NSTemporaryDirectory() + "tapir-tcp-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let received = directory + "/received.txt"
        let script = directory + "/client.lua"
        try """
            local ME, MAC = "198.18.0.2", "02:54:41:50:49:52"
            tapir.on("arp", {op = 1, tpa = ME}, function(pkt, dev)
              dev:write(pkt:reply{arp = {op = 2, sha = MAC}, eth = {src = MAC}})
              return true
            end)
            tapir.spawn(function()
              tapir.sleep(1500)  -- the kernel side gets its address and nc its socket
              local who = tapir.build.eth{src = MAC, dst = "ff:ff:ff:ff:ff:ff", type = 0x0806}
                .. tapir.build.arp{op = 1, sha = MAC, spa = ME, tpa = "198.18.0.1"}
              local answer = tapir.request(who, "arp", {op = 2, spa = "198.18.0.1"}, 2000)
              assert(answer, "no ARP answer")
              tapir.log.info("kernel is at " .. answer.arp.sha)
              local conn, err = tapir.tcp.connect{ip = "198.18.0.1", port = 5555, from = ME, mac = answer.arp.sha}
              assert(conn, err)
              conn:send("hello kernel\\n")
              local line = conn:receive()
              tapir.log.info("kernel said: " .. tostring(line))
              conn:close()
            end)
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let tapir = try TapirCommand.start([script], device: "tapt3", in: sandbox)
        // The kernel side is addressed now; the script connects a second after it started.
        let listener = try sandbox.start(["sh", "-c", "printf 'hello script\\n' | nc -l -N -w 10 198.18.0.1 5555 > \(received)"])
        let done = listener.wait(timeout: .seconds(15))
        XCTAssertEqual(done.status, 0, done.stderr)
        XCTAssertEqual(try String(contentsOfFile: received, encoding: .utf8), "hello kernel\n")
        let log = stop(tapir)
        let mac = try sandbox.run(["cat", "/sys/class/net/tapt3/address"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(log.contains("kernel is at \(mac)"), log)
        XCTAssertTrue(log.contains("kernel said: hello script"), log)
    }

    func testAThousandConnectionsHeldOpenAreAllServedAfterwards() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-tcp")
        defer { sandbox.remove() }
        let tapir = try startEcho("tapt4", in: sandbox, settings: ["idle=0"])
        let client = """
            import socket, sys
            held = []
            for i in range(1000):
                held.append(socket.create_connection(("198.18.0.2", 7), timeout=10))
            print("open", len(held), flush=True)
            for i, s in enumerate(held):
                s.sendall(b"line %d\\n" % i)
            answered = 0
            for i, s in enumerate(held):
                data = b""
                while not data.endswith(b"\\n"):
                    chunk = s.recv(100)
                    if not chunk:
                        break
                    data += chunk
                answered += data == b"line %d\\n" % i
                s.close()
            print("answered", answered)
            """
        let output = try sandbox.run(["sh", "-c", "ulimit -n 4096; python3 -c '\(client)'"], timeout: .seconds(120))
        XCTAssertEqual(output.stdout, "open 1000\nanswered 1000\n", output.stderr)
        _ = stop(tapir)
    }
}
