import Devices
import Foundation
import Glibc
import XCTest

/// The `impair` pack between two kernel hosts, each in a namespace of its own with one of
/// its taps (host 1 198.18.0.1 on `ima`, host 2 198.18.0.2 on `imb`). Every run has a
/// fixed seed, so what the pack decides is the same on a loaded machine as on an idle one;
/// the bounds leave room only for what the kernels and the clock add.
final class ImpairKernelTests: XCTestCase {
    func network(_ settings: [String], record: String? = nil) throws -> PackBetweenHosts {
        let arguments = settings.flatMap { ["--set", $0] } + (record.map { ["--record", $0] } ?? [])
        return try PackBetweenHosts(pack: "impair", devices: ["ima", "imb"], arguments: arguments,
                                    prefix: "tapir-test-im")
    }

    func testTenPercentLossOnOneDirection() throws {
        try TapirCommand.requireRoot()
        let network = try network(["seed=1", "match=icmp", "from=ima", "loss=10"])
        defer { network.remove() }
        let ping = try network.hosts[0].run(["ping", "-c", "400", "-i", "0.01", "-W", "2", "-q", network.address(of: 1)],
                                            timeout: .seconds(60))
        let received = try XCTUnwrap(Self.received(ping.stdout), ping.stdout + ping.stderr)
        let lost = 400 - received
        XCTAssertTrue((24...56).contains(lost), "lost \(lost) of 400, not 6-14%: \(ping.stdout)")
        let (status, log) = network.stop()
        XCTAssertEqual(status, 0, log)
        let rule = PackBetweenHosts.counters(in: log, line: "rule 1 \"icmp from ima\":")
        XCTAssertEqual(rule["matched"], 400, "only the requests: \(log)")
        XCTAssertEqual(rule["dropped"], lost, "every loss is the rule's: \(log)")
    }

    func testFiftyMillisecondsEachWayWithJitter() throws {
        try TapirCommand.requireRoot()
        let network = try network(["seed=2", "delay=50", "jitter=5"])
        defer { network.remove() }
        let ping = try network.hosts[0].run(["ping", "-c", "40", "-i", "0.05", "-W", "2", network.address(of: 1)],
                                            timeout: .seconds(60))
        let times = ping.stdout.split(separator: "\n").compactMap { line -> Double? in
            guard let range = line.range(of: "time=") else { return nil }
            return Double(line[range.upperBound...].prefix { $0.isNumber || $0 == "." })
        }.sorted()
        XCTAssertGreaterThanOrEqual(times.count, 38, ping.stdout + ping.stderr)
        let median = times.isEmpty ? 0 : times[times.count / 2]
        XCTAssertTrue((95...110).contains(median), "median RTT \(median) ms: \(times)")
        XCTAssertGreaterThanOrEqual(times.first ?? 0, 90, "no frame left before its delay less the jitter: \(times)")
    }

    func testFivePercentReorderingOfAUDPStream() throws {
        try TapirCommand.requireRoot()
        let network = try network(["seed=3", "match=udp", "from=ima", "delay=50", "reorder=5"])
        defer { network.remove() }
        let count = 1000
        let receiver = try network.hosts[1].start(["python3", "-c", Self.sequenceReceiver, "9000"])
        defer {
            receiver.signal(SIGTERM)
            _ = receiver.wait(timeout: .seconds(5))
        }
        try waitForUDPListener(9000, in: network.hosts[1])
        let sender = try network.hosts[0].run(["python3", "-c", Self.sequenceSender, network.address(of: 1), "9000",
                                               "\(count)"], timeout: .seconds(60))
        XCTAssertEqual(sender.status, 0, sender.stderr)
        let result = Self.fields(receiver.wait(timeout: .seconds(30)).stdout)
        XCTAssertEqual(result["received"], count, "every datagram came: \(result)")
        XCTAssertEqual(result["distinct"], count, "each once: \(result)")
        // A datagram sent ahead lands before those held, so the next to arrive is an older
        // one: one descent in the sequence for each.
        let descents = result["descents"] ?? 0
        XCTAssertTrue((30...70).contains(descents), "\(descents) of \(count) out of order, not about 5%: \(result)")
        let (_, log) = network.stop()
        let rule = PackBetweenHosts.counters(in: log, line: "rule 1 \"udp from ima\":")
        XCTAssertEqual(rule["matched"], count, log)
        XCTAssertGreaterThanOrEqual(rule["reordered"] ?? 0, descents, log)
    }

    func testATCPTransferThroughTwoPercentLossArrivesWhole() throws {
        try TapirCommand.requireRoot()
        let network = try network(["seed=4", "match=tcp", "loss=2"])
        defer { network.remove() }
        let receiver = try network.hosts[1].start(["python3", "-c", Self.hashingReceiver, "9001"])
        defer {
            receiver.signal(SIGTERM)
            _ = receiver.wait(timeout: .seconds(5))
        }
        try waitForTCPListener(9001, in: network.hosts[1])
        let sender = try network.hosts[0].run(["python3", "-c", Self.randomSender, network.address(of: 1), "9001",
                                               "\(2 << 20)"], timeout: .seconds(120))
        XCTAssertEqual(sender.status, 0, sender.stderr)
        let received = receiver.wait(timeout: .seconds(30)).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let sent = sender.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(sent.hasPrefix("2097152 "), sent)
        XCTAssertEqual(received, sent, "the same length and SHA-256")
        let (_, log) = network.stop()
        let rule = PackBetweenHosts.counters(in: log, line: "rule 1 \"tcp\":")
        XCTAssertGreaterThan(rule["dropped"] ?? 0, 0, "segments were lost on the way: \(log)")
    }

    func testTheSameSeedDropsTheSamePings() throws {
        try TapirCommand.requireRoot()
        var runs: [[Int]] = []
        for run in 1...2 {
            let recording = NSTemporaryDirectory() + "tapir-impair-\(getpid())-\(run).pcapng"
            defer { try? FileManager.default.removeItem(atPath: recording) }
            let network = try network(["seed=42", "match=icmp", "from=ima", "loss=30"], record: recording)
            defer { network.remove() }
            let ping = try network.hosts[0].run(["ping", "-c", "100", "-i", "0.01", "-W", "2", "-q",
                                                 network.address(of: 1)], timeout: .seconds(60))
            let (status, log) = network.stop()
            XCTAssertEqual(status, 0, log)
            // The recording (pcapng, an interface a device): on the first device, every
            // request read, and a reply written for each request that crossed.
            let dump = try ChildProcess.run(["tshark", "-r", recording, "-Y",
                                             "icmp.type == 0 && frame.interface_name == \"ima\"",
                                             "-T", "fields", "-e", "icmp.seq"])
            XCTAssertEqual(dump.status, 0, dump.stderr)
            let crossed = dump.stdout.split(separator: "\n").compactMap { Int($0.prefix { $0.isNumber }) }
            XCTAssertEqual(crossed.count, Self.received(ping.stdout), ping.stdout)
            runs.append(crossed)
        }
        XCTAssertEqual(runs[0], runs[1], "the same pings crossed in both runs")
        XCTAssertTrue((55...85).contains(runs[0].count), "\(runs[0].count) of 100 crossed 30% loss")
    }

    func testARulesFileWhoseFunctionDropsEveryThirdEchoReply() throws {
        try TapirCommand.requireRoot()
        let rules = NSTemporaryDirectory() + "tapir-impair-\(getpid())-\(UUID().uuidString).rules"
        try """
            return {
              {match = "icmp[icmptype] == icmp-echoreply", decide = function(pkt, n) if n % 3 == 0 then return "drop" end end},
            }
            """.write(toFile: rules, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: rules) }
        let network = try network(["rules=" + rules])
        defer { network.remove() }
        let ping = try network.hosts[0].run(["ping", "-c", "9", "-i", "0.1", "-W", "1", network.address(of: 1)],
                                            timeout: .seconds(30))
        let answered = ping.stdout.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: "icmp_seq=") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        XCTAssertEqual(answered, [1, 2, 4, 5, 7, 8], ping.stdout + ping.stderr)
        let (status, log) = network.stop()
        XCTAssertEqual(status, 0, log)
        let rule = PackBetweenHosts.counters(in: log, line: "rule 1 \"icmp[icmptype] == icmp-echoreply\":")
        XCTAssertEqual(rule["matched"], 9, log)
        XCTAssertEqual(rule["dropped"], 3, log)
    }

    // MARK: - helpers

    /// "N received" of ping's summary.
    static func received(_ output: String) -> Int? {
        guard let range = output.range(of: " received") else { return nil }
        return Int(output[..<range.lowerBound].split(separator: " ").last ?? "")
    }

    /// "name=value" words of the output as numbers.
    static func fields(_ output: String) -> [String: Int] {
        var fields: [String: Int] = [:]
        for word in output.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = word.split(separator: "=")
            if parts.count == 2, let value = Int(parts[1]) { fields[String(parts[0])] = value }
        }
        return fields
    }

    func waitForUDPListener(_ port: Int, in host: Sandbox) throws {
        try waitFor(port, listed: ["ss", "-uln"], in: host)
    }

    func waitForTCPListener(_ port: Int, in host: Sandbox) throws {
        try waitFor(port, listed: ["ss", "-tln"], in: host)
    }

    private func waitFor(_ port: Int, listed command: [String], in host: Sandbox) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if try host.run(command).stdout.contains(":\(port) ") { return }
            usleep(50_000)
        }
        XCTFail("nothing listened on port \(port)")
    }

    /// Sends COUNT datagrams numbered from 0, 2 ms apart.
    static let sequenceSender = """
        import socket, struct, sys, time
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(int(sys.argv[3])):
            s.sendto(struct.pack("!I", i), (sys.argv[1], int(sys.argv[2])))
            time.sleep(0.002)
        """

    /// Receives numbered datagrams until none came for 3 s; prints how many, how many
    /// distinct, and how many came after a higher-numbered one just before them.
    static let sequenceReceiver = """
        import socket, struct, sys
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind(("0.0.0.0", int(sys.argv[1])))
        s.settimeout(30)
        seen, previous, descents = [], -1, 0
        try:
            while True:
                (n,) = struct.unpack("!I", s.recv(64))
                if n < previous:
                    descents += 1
                previous = n
                seen.append(n)
                s.settimeout(3)
        except socket.timeout:
            pass
        print("received=%d distinct=%d descents=%d" % (len(seen), len(set(seen)), descents), flush=True)
        """

    /// Sends LENGTH random bytes over TCP; prints the length and their SHA-256.
    static let randomSender = """
        import hashlib, os, socket, sys
        data = os.urandom(int(sys.argv[3]))
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        s.recv(1)
        print(len(data), hashlib.sha256(data).hexdigest(), flush=True)
        """

    /// Accepts one connection and reads it to the end; prints the length and SHA-256.
    static let hashingReceiver = """
        import hashlib, socket, sys
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", int(sys.argv[1])))
        listener.listen(1)
        listener.settimeout(60)
        conn, _ = listener.accept()
        conn.settimeout(60)
        digest, length = hashlib.sha256(), 0
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            digest.update(chunk)
            length += len(chunk)
        conn.close()
        print(length, digest.hexdigest(), flush=True)
        """
}
