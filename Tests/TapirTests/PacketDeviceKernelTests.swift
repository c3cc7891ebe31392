import Capture
import Devices
import Foundation
import Glibc
import XCTest

/// `--dev NAME:packet`: tapir serving an existing interface (one end of a veth pair)
/// through an AF_PACKET socket, in a node namespace the test makes, with kernel clients
/// in namespaces of their own at the other ends, as a container lab wires a node.
final class PacketDeviceKernelTests: XCTestCase {
    private var sandboxes: [Sandbox] = []
    private var directory: URL!

    override func setUpWithError() throws {
        try TapirCommand.requireRoot()
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tapir-packet-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        for sandbox in sandboxes { sandbox.remove() }
        sandboxes = []
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    // MARK: - The tests

    func testPingPing6UDPAndTCPThroughAVethServedByTheVirtualHostPack() throws {
        let (node, client) = try nodeWithClient()
        let tapir = try start([TapirCommand.lua("packs/virtual-host"), "--dev", "eth1:packet"], in: node)
        try waitForPing("198.18.0.2", from: client, tapir: tapir)
        try assertClientMatrix(from: client)

        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
    }

    func testRecordAndReloadOnAPacketDevice() throws {
        let (node, client) = try nodeWithClient()
        let script = directory.appendingPathComponent("echo.lua")
        try TapirCommand.taggedEcho("v1").write(to: script, atomically: true, encoding: .utf8)
        let record = directory.appendingPathComponent("run.pcap").path
        let tapir = try start([script.path, "--dev", "eth1:packet", "--record", record], in: node)
        try waitForPing(nil, from: client, tapir: tapir)

        let first = try client.run(["sh", "-c", "echo hello | nc -u -w1 198.18.0.2 7"])
        XCTAssertEqual(first.stdout, "v1:hello\n", first.stderr)
        let next = directory.appendingPathComponent("echo.lua.tmp")
        try TapirCommand.taggedEcho("v2").write(to: next, atomically: false, encoding: .utf8)
        XCTAssertEqual(rename(next.path, script.path), 0)
        var answer = ""
        for _ in 0..<50 where !answer.hasPrefix("v2:") {
            usleep(100_000)
            answer = try client.run(["sh", "-c", "echo again | nc -u -w1 198.18.0.2 7"]).stdout
        }
        XCTAssertEqual(answer, "v2:again\n", "the reload did not take")

        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("reloaded"), output.stderr)
        // The recording holds the datagrams in and the answers out, as on a tap.
        let frames = try PcapReader(path: record).readAll().map(\.bytes)
        let payloads = frames.compactMap { udpPayload($0) }
        XCTAssertTrue(payloads.contains("hello\n"), "\(payloads)")
        XCTAssertTrue(payloads.contains("v1:hello\n"), "\(payloads)")
        XCTAssertTrue(payloads.contains("v2:again\n"), "\(payloads)")
    }

    func testTheKernelFilterKeepsFramesNoHandlerWantsOutOfUserSpace() throws {
        // Only ARP and UDP port 7 wanted: 400 pings never reach tapir, by its own counters.
        let quiet = try runFloodedByPings(extraHandler: "")
        XCTAssertLessThan(quiet.received, 100, "ICMP reached user space: \(quiet)")
        XCTAssertEqual(quiet.echoed, "v1:still-here\n")
        // The same with a handler that wants every frame: now they all come up.
        let open = try runFloodedByPings(extraHandler: "tapir.on(\"frame\", function() end)")
        XCTAssertGreaterThanOrEqual(open.received, 400, "\(open)")
    }

    /// Container-lab wiring by hand: a node namespace with veth eth1 and eth2 to two client
    /// namespaces, `tapir run switch` on both as packet devices; the clients ping each other.
    func testASwitchOnEth1AndEth2OfANodeJoinsTwoClients() throws {
        let node = try makeSandbox("tapir-test-node")
        let left = try makeSandbox("tapir-test-left")
        let right = try makeSandbox("tapir-test-right")
        try wire(node: node, "eth1", to: left, address: "198.18.0.1/24", ipv6: "2001:2::1/64")
        try wire(node: node, "eth2", to: right, address: "198.18.0.3/24", ipv6: "2001:2::3/64")
        let tapir = try start(["switch", "--dev", "eth1:packet", "--dev", "eth2:packet"], in: node)
        try waitForPing("198.18.0.3", from: left, tapir: tapir)

        let there = try left.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.0.3"])
        XCTAssertTrue(there.stdout.contains(" 0% packet loss"), there.stdout + there.stderr)
        let back = try right.run(["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "2001:2::1"])
        XCTAssertTrue(back.stdout.contains(" 0% packet loss"), back.stdout + back.stderr)
        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
    }

    func testSandboxLinkVethServesTheSandboxThroughAPacketDevice() throws {
        let tapir = try ChildProcess.spawn([TapirCommand.path, "run", TapirCommand.lua("packs/virtual-host"),
                                            "--sandbox-link", "veth"])
        let namespace = try TapirCommand.sandboxNamespace(of: tapir)
        let ping = try ChildProcess.run(["ip", "netns", "exec", namespace, "ping", "-c", "2", "-i", "0.2", "-W", "2",
                                         "198.18.0.2"], timeout: .seconds(10))
        XCTAssertTrue(ping.stdout.contains(" 0% packet loss"), ping.stdout + ping.stderr)
        let udp = try ChildProcess.run(["ip", "netns", "exec", namespace, "sh", "-c",
                                        "echo veth-sandbox | nc -u -w1 198.18.0.2 7"], timeout: .seconds(10))
        XCTAssertEqual(udp.stdout, "veth-sandbox\n", udp.stderr)
        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertFalse(try TapirCommand.namespaceExists(namespace), "the sandbox was left behind")
        let links = try ChildProcess.run(["ip", "-o", "link", "show"]).stdout
        XCTAssertFalse(links.contains("tv\(tapir.pid)-"), "the veth pair was left behind: \(links)")
    }

    /// The kernel tells a packet socket ENETDOWN both when its interface goes down and when
    /// it is deleted: down and up again, tapir goes on answering; deleted, it says so and stops.
    func testAnInterfaceDownAndUpIsServedAgainAndADeletedOneEndsTheRun() throws {
        let (node, client) = try nodeWithClient()
        let tapir = try start([TapirCommand.lua("packs/virtual-host"), "--dev", "eth1:packet"], in: node)
        try waitForPing("198.18.0.2", from: client, tapir: tapir)

        try node.ip(["link", "set", "eth1", "down"])
        usleep(300_000)
        try node.ip(["link", "set", "eth1", "up"])
        try waitForPing("198.18.0.2", from: client, tapir: tapir)
        XCTAssertFalse(tapir.hasExited, "a link down ended the run")

        try node.ip(["link", "del", "eth1"])
        let output = tapir.wait(timeout: .seconds(10))
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("interface eth1 is gone"), output.stderr)
        XCTAssertTrue(output.stderr.contains("no device left to serve"), output.stderr)
    }

    /// Deleted while down: the kernel says nothing more (its ENETDOWN came with the down),
    /// so tapir's lookup of a down interface finds it gone.
    func testAnInterfaceDeletedWhileDownEndsTheRun() throws {
        let (node, client) = try nodeWithClient()
        let tapir = try start([TapirCommand.lua("packs/virtual-host"), "--dev", "eth1:packet"], in: node)
        try waitForPing("198.18.0.2", from: client, tapir: tapir)
        try node.ip(["link", "set", "eth1", "down"])
        usleep(300_000)
        XCTAssertFalse(tapir.hasExited, "a link down ended the run")
        try node.ip(["link", "del", "eth1"])
        let output = tapir.wait(timeout: .seconds(10))
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("interface eth1 is gone"), output.stderr)
    }

    /// A 16 MiB upload into a Lua sink over a veth whose peer keeps its offloads (TSO/GSO
    /// on, as by default): with the device's offloads (PACKET_VNET_HDR, the default) the
    /// peer's super-frames arrive whole and the TCP engine takes them so, far fewer segments
    /// than a 1448-byte MSS makes, and the sink writes what was sent, by SHA-256.
    func testBulkTCPUploadWithThePeersOffloadsOnKeepsItsSHA256() throws {
        let (node, client) = try nodeWithClient()
        let output = directory.appendingPathComponent("out.bin").path
        let size = 16 << 20
        let input = try TCPTransfer.randomFile(in: directory.path, size: size)
        let tapir = try node.start(["env", "TAPIR_SINK_FILE=\(output)", TapirCommand.path, "run", TCPTransfer.sink,
                                    "--dev", "eth1:packet"])
        // The sink answers ARP only: serving once an ARP request is answered.
        var answered = false
        for _ in 0..<20 where !answered && !tapir.hasExited {
            answered = try client.run(["arping", "-c", "1", "-w", "1", "-I", "eth0", "198.18.0.2"]).status == 0
        }
        XCTAssertTrue(answered, "no ARP answer through the packet device")
        let upload = try client.run(["sh", "-c", "nc -N -w 10 198.18.0.2 9 < \(input)"], timeout: .seconds(60))
        XCTAssertEqual(upload.status, 0, upload.stderr)
        let result = TapirCommand.stop(tapir)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stderr.contains("cut short"), result.stderr)
        guard let line = result.stderr.split(separator: "\n").first(where: { $0.contains("sink: ") }) else {
            return XCTFail("the sink never finished: \(result.stderr)")
        }
        let numbers = line.split(separator: " ").compactMap { Int($0) }
        XCTAssertEqual(numbers.first, size, String(line))
        XCTAssertLessThan(numbers.dropFirst().first ?? .max, size / 1448 / 4, "super-segments taken whole: \(line)")
        XCTAssertEqual(try TCPTransfer.sha256(output), try TCPTransfer.sha256(input),
                       "what the sink wrote is not what was sent")
    }

    /// Without offloads (`--no-offloads`): a megabyte echoed over TCP when the peer
    /// segments its own TCP; with the peer's TSO on, its super-frames are longer than a
    /// ring slot: cut short, counted, and said once.
    func testBulkTCPWithoutOffloadsWithThePeersTSOOffAndTheWarningWithItOn() throws {
        let (node, client) = try nodeWithClient()
        let offloads = try client.run(["ethtool", "-K", "eth0", "tso", "off", "gso", "off"])
        guard offloads.status == 0 else { throw XCTSkip("ethtool is needed (scripts/setup): \(offloads.stderr)") }
        let tapir = try start([TapirCommand.lua("packs/virtual-host"), "--dev", "eth1:packet", "--no-offloads"],
                              in: node)
        try waitForPing("198.18.0.2", from: client, tapir: tapir)
        let echo = """
            import os, socket, sys, threading
            data = os.urandom(int(sys.argv[1]))
            s = socket.create_connection(("198.18.0.2", 7), timeout=4)
            threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)), daemon=True).start()
            back = bytearray()
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    back += chunk
            except socket.timeout:
                pass
            print(len(back), bytes(back) == data)
            """
        let bulk = try client.run(["python3", "-c", echo, "1048576"], timeout: .seconds(30))
        XCTAssertEqual(bulk.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "1048576 True", bulk.stderr)

        _ = try client.run(["ethtool", "-K", "eth0", "tso", "on", "gso", "on"])
        _ = try client.run(["python3", "-c", echo, "262144"], timeout: .seconds(30))
        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("eth1: frames longer than its MTU allows arrive and are cut short"),
                      output.stderr)
        XCTAssertEqual(output.stderr.components(separatedBy: "are cut short").count - 1, 1, "said once: \(output.stderr)")
    }

    /// `ip link set eth1 mtu N` while tapir serves it: `dev.mtu` follows; a datagram over
    /// the new MTU is written in fragments (the kernel refuses a packet socket's frame
    /// over the MTU, so a whole answer proves tapir cut it); a jumbo MTU makes the receive
    /// ring's slots grow, so a 8000-byte frame is read whole (without offloads; with them
    /// each slot holds 64 KiB from the start).
    func testDevMTUTheFragmentingAndTheRingSlotsFollowTheInterfacesMTU() throws {
        let (node, client) = try nodeWithClient()
        let script = directory.appendingPathComponent("mtu.lua")
        try """
            tapir.on("udp", {dport = 9}, function(pkt, dev)
              local size = tonumber(pkt.payload:match("^big (%d+)$"))
              dev:write(pkt:reply{payload = size and string.rep("b", size) or ("mtu=" .. tostring(dev.mtu))})
              return true
            end)
            """.write(to: script, atomically: true, encoding: .utf8)
        // Without offloads: their ring's slots hold 64 KiB frames already.
        let tapir = try start([script.path, TapirCommand.lua("packs/virtual-host"), "--dev", "eth1:packet",
                               "--no-offloads", "--log-level", "info"], in: node)
        try waitForPing("198.18.0.2", from: client, tapir: tapir)
        XCTAssertEqual(try askUntil("mtu=1500", from: client), "mtu=1500")
        XCTAssertEqual(try udpExchange(from: client, to: "2001:2::2", port: 9, "big 1400"), "1400 bytes")

        try node.ip(["link", "set", "eth1", "mtu", "1280"])
        XCTAssertEqual(try askUntil("mtu=1280", from: client), "mtu=1280")
        XCTAssertEqual(try udpExchange(from: client, to: "2001:2::2", port: 9, "big 1400"), "1400 bytes",
                       "a 1400-byte IPv6 answer over a 1280 MTU comes in fragments")

        try node.ip(["link", "set", "eth1", "mtu", "9000"])
        try client.ip(["link", "set", "eth0", "mtu", "9000"])
        XCTAssertEqual(try askUntil("mtu=9000", from: client), "mtu=9000")
        let jumbo = String(repeating: "j", count: 8000)
        XCTAssertEqual(try udpExchange(from: client, to: "198.18.0.2", port: 7, jumbo), "8000 bytes",
                       "an 8000-byte frame read whole and echoed")

        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("eth1: MTU 1500 -> 1280"), output.stderr)
        XCTAssertTrue(output.stderr.contains("eth1: receive ring slots 2048 -> 16384 bytes for MTU 9000"), output.stderr)
        XCTAssertFalse(output.stderr.contains("cut short"), output.stderr)
        XCTAssertFalse(output.stderr.contains("no longer followed"), output.stderr)
    }

    func testAMissingInterfaceIsSaidClearly() throws {
        let node = try makeSandbox("tapir-test-node")
        let run = try node.run([TapirCommand.path, "run", TapirCommand.lua("packs/virtual-host"), "--dev", "eth9:packet"])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("there is no interface eth9"), run.stderr)
        let bad = try node.run([TapirCommand.path, "run", TapirCommand.lua("packs/virtual-host"), "--dev", "eth1:packet,loud"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("NAME:packet[,promisc]"), bad.stderr)
    }

    // MARK: - Helpers

    /// What every device kind is held to, from a kernel client of the virtual-host pack at
    /// 198.18.0.2 and 2001:2::2: ping, ping -6, a UDP echo and TCP echoes over IPv4 and
    /// IPv6 (the host's TCP engine), with no error in the client's IP, ICMP, UDP or TCP
    /// counters.
    func assertClientMatrix(from client: Sandbox, file: StaticString = #filePath, line: UInt = #line) throws {
        let ping = try client.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.0.2"])
        XCTAssertTrue(ping.stdout.contains(" 0% packet loss"), ping.stdout + ping.stderr, file: file, line: line)
        let ping6 = try client.run(["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "2001:2::2"])
        XCTAssertTrue(ping6.stdout.contains(" 0% packet loss"), ping6.stdout + ping6.stderr, file: file, line: line)
        let udp = try client.run(["sh", "-c", "echo over-a-packet-device | nc -u -w1 198.18.0.2 7"])
        XCTAssertEqual(udp.stdout, "over-a-packet-device\n", udp.stderr, file: file, line: line)
        let tcp = try client.run(["sh", "-c", "printf 'one\\ntwo\\n' | nc -q 2 -w 3 198.18.0.2 7"])
        XCTAssertEqual(tcp.stdout, "one\ntwo\n", tcp.stderr, file: file, line: line)
        let tcp6 = try client.run(["sh", "-c", "printf 'six\\n' | nc -6 -q 2 -w 3 2001:2::2 7"])
        XCTAssertEqual(tcp6.stdout, "six\n", tcp6.stderr, file: file, line: line)
        try XCTAssertEqual(TapirCommand.errorCounters(in: client).filter { $0.value != 0 }, [:], file: file, line: line)
    }

    func makeSandbox(_ prefix: String) throws -> Sandbox {
        let sandbox = try Sandbox(prefix: prefix)
        sandboxes.append(sandbox)
        return sandbox
    }

    /// A node namespace whose eth1 is a veth to a client namespace's eth0 (198.18.0.1/24, 2001:2::1/64).
    private func nodeWithClient() throws -> (node: Sandbox, client: Sandbox) {
        let node = try makeSandbox("tapir-test-node")
        let client = try makeSandbox("tapir-test-client")
        try wire(node: node, "eth1", to: client, address: "198.18.0.1/24", ipv6: "2001:2::1/64")
        return (node, client)
    }

    /// A veth pair: `name` in the node (no addresses, no IPv6 of its own: tapir answers
    /// there), `eth0` in the client, addressed and up.
    func wire(node: Sandbox, _ name: String, to client: Sandbox, address: String, ipv6: String) throws {
        let made = try ChildProcess.run(["ip", "link", "add", name, "netns", node.namespace, "type", "veth",
                                         "peer", "name", "eth0", "netns", client.namespace])
        XCTAssertEqual(made.status, 0, made.stderr)
        try node.ip(["link", "set", name, "addrgenmode", "none"])
        try node.ip(["link", "set", name, "up"])
        try client.ip(["addr", "add", address, "dev", "eth0"])
        try client.ip(["-6", "addr", "add", ipv6, "dev", "eth0", "nodad"])
        try client.ip(["link", "set", "eth0", "up"])
    }

    func start(_ arguments: [String], in node: Sandbox) throws -> ChildProcess {
        try node.start([TapirCommand.path, "run"] + arguments)
    }

    /// Pings (or sends a UDP datagram to port 7 when `address` is nil) until an answer
    /// comes: tapir is serving. At most 20 s.
    func waitForPing(_ address: String?, from client: Sandbox, tapir: ChildProcess) throws {
        let probe = address.map { ["ping", "-c", "1", "-W", "1", $0] }
            ?? ["sh", "-c", "echo probe | nc -u -w1 198.18.0.2 7 | grep -q probe"]
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if try client.run(probe).status == 0 { return }
            if tapir.hasExited {
                let output = tapir.wait(timeout: .seconds(1))
                XCTFail("tapir exited early (\(output.status)): \(output.stderr)")
                throw XCTSkip("tapir did not start")
            }
        }
        XCTFail("no answer through the packet device in 20 s")
        throw XCTSkip("no answer")
    }

    /// Sends `message` in one UDP datagram to `address` and `port` (up to three times) and
    /// says how long the answer was: "N bytes", or "no answer".
    private func udpExchange(from client: Sandbox, to address: String, port: Int, _ message: String) throws -> String {
        let exchange = """
            import socket, sys
            address, port, message = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
            s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(1)
            for _ in range(3):
                s.sendto(message, (address, port))
                try:
                    print(len(s.recv(65536)), "bytes")
                    break
                except socket.timeout:
                    pass
            else:
                print("no answer")
            """
        let run = try client.run(["python3", "-c", exchange, address, String(port), message], timeout: .seconds(10))
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Asks UDP port 9 until the answer is `expected` (the kernel's notice of a new MTU
    /// reaches tapir soon after `ip link set`, not at once), at most 5 s; the last answer.
    private func askUntil(_ expected: String, from client: Sandbox) throws -> String {
        var answer = ""
        let deadline = ContinuousClock.now + .seconds(5)
        repeat {
            answer = try client.run(["sh", "-c", "printf x | nc -u -w1 198.18.0.2 9"]).stdout
            if answer == expected { break }
            usleep(100_000)
        } while ContinuousClock.now < deadline
        return answer
    }

    /// Runs an ARP + UDP-echo script (plus `extraHandler`) on a packet device, floods it
    /// with 400 pings, and returns the frames its device read (tapir.stats at stop).
    private func runFloodedByPings(extraHandler: String) throws -> (received: Int, echoed: String) {
        let (node, client) = try nodeWithClient()
        let statsFile = directory.appendingPathComponent("stats-\(extraHandler.isEmpty ? "quiet" : "open")").path
        let script = directory.appendingPathComponent("filtered.lua")
        try (TapirCommand.taggedEcho("v1") + """

            \(extraHandler)
            tapir.on_stop(function()
              local file = assert(io.open("\(statsFile)", "w"))
              file:write(tostring(tapir.stats().devices.eth1.rx_packets))
              file:close()
            end)
            """).write(to: script, atomically: true, encoding: .utf8)
        let tapir = try start([script.path, "--dev", "eth1:packet"], in: node)
        try waitForPing(nil, from: client, tapir: tapir)
        _ = try client.run(["ping", "-q", "-c", "400", "-i", "0.002", "-W", "0.01", "198.18.0.2"], timeout: .seconds(20))
        let echoed = try client.run(["sh", "-c", "echo still-here | nc -u -w1 198.18.0.2 7"]).stdout
        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        let received = Int(try String(contentsOfFile: statsFile, encoding: .utf8)) ?? -1
        return (received, echoed)
    }

    /// The payload of an IPv4 UDP frame, as text; nil for any other frame.
    private func udpPayload(_ frame: [UInt8]) -> String? {
        guard frame.count >= 42, frame[12] == 0x08, frame[13] == 0x00, frame[23] == 17 else { return nil }
        let ihl = Int(frame[14] & 0x0f) * 4
        let start = 14 + ihl + 8
        guard start <= frame.count else { return nil }
        return String(decoding: frame[start...], as: UTF8.self)
    }
}
