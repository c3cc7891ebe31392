import Devices
import Foundation
import Glibc
import XCTest

/// The `udp-filter` pack between two kernel hosts, each in a namespace of its own with one
/// of its taps: a UDP echo server on host 2 (ports 7777 and 9999), datagrams from host 1.
final class UDPFilterKernelTests: XCTestCase {
    func testAllowModeLetsThroughOnlyTheAllowedPortAndPing() throws {
        try TapirCommand.requireRoot()
        let network = try PackBetweenHosts(pack: "udp-filter", devices: ["fla", "flb"],
                                           arguments: ["--set", "mode=allow", "--set", "rules=udp port 7777"],
                                           prefix: "tapir-test-sw")
        defer { network.remove() }
        try exchange(through: network, answered: 7777, blocked: 9999)
        let (status, log) = network.stop()
        XCTAssertEqual(status, 0, log)
        XCTAssertTrue(log.contains("rule 1 \"udp port 7777\": matched=2"), "the datagram and its echo: \(log)")
        let first = PackBetweenHosts.counters(in: log, line: "port fla:")
        let second = PackBetweenHosts.counters(in: log, line: "port flb:")
        XCTAssertEqual(first["not_allowed"], 1, log)
        XCTAssertEqual(second["not_allowed"], 0, log)
        XCTAssertEqual((first["denied"] ?? -1) + (second["denied"] ?? -1), 0, log)
        // Every datagram but the blocked one was forwarded or refused at once (write_failed);
        // one that came before the other side's link was up is refused by its kernel later
        // (EIO), in the host's write_errors.
        XCTAssertEqual(first["rx"], (first["forwarded"] ?? 0) + (first["write_failed"] ?? 0) + 1,
                       "all but the blocked datagram crossed: \(log)")
    }

    func testDenyModeDropsTheBlockedPortAndLetsTheRestThrough() throws {
        try TapirCommand.requireRoot()
        let network = try PackBetweenHosts(pack: "udp-filter", devices: ["fla", "flb"],
                                           arguments: ["--set", "rules=udp port 9999; udp port 5"],
                                           prefix: "tapir-test-sw")
        defer { network.remove() }
        try exchange(through: network, answered: 7777, blocked: 9999)
        let (status, log) = network.stop()
        XCTAssertEqual(status, 0, log)
        XCTAssertTrue(log.contains("rule 1 \"udp port 9999\": matched=1"), log)
        XCTAssertTrue(log.contains("rule 2 \"udp port 5\": matched=0"), log)
        let first = PackBetweenHosts.counters(in: log, line: "port fla:")
        let second = PackBetweenHosts.counters(in: log, line: "port flb:")
        XCTAssertEqual(first["denied"], 1, log)
        XCTAssertEqual(second["denied"], 0, log)
        XCTAssertEqual((first["not_allowed"] ?? -1) + (second["not_allowed"] ?? -1), 0, log)
        XCTAssertEqual(second["rx"], (second["forwarded"] ?? 0) + (second["write_failed"] ?? 0),
                       "everything from host 2 crossed (or met a link not up yet): \(log)")
    }

    /// Host 1 pings host 2, then sends one datagram to each port: `answered` comes back,
    /// `blocked` does not.
    func exchange(through network: PackBetweenHosts, answered: Int, blocked: Int,
                  file: StaticString = #filePath, line: UInt = #line) throws {
        let ping = try network.ping(from: 0, to: 1)
        XCTAssertTrue(ping.stdout.contains("2 received"), ping.stdout + ping.stderr, file: file, line: line)
        let server = try network.hosts[1].start(["python3", "-c", Self.echoServer, "\(answered)", "\(blocked)"])
        defer {
            server.signal(SIGTERM)
            _ = server.wait(timeout: .seconds(5))
        }
        try waitForListeners(on: [answered, blocked], in: network.hosts[1])
        XCTAssertEqual(try send(from: network, to: answered), "answered: hello-\(answered)", file: file, line: line)
        XCTAssertEqual(try send(from: network, to: blocked), "no answer", file: file, line: line)
    }

    /// One datagram from host 1 to host 2's `port`; what came back within 2 s.
    func send(from network: PackBetweenHosts, to port: Int) throws -> String {
        let output = try network.hosts[0].run(["python3", "-c", """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(2)
            s.sendto(("hello-" + sys.argv[2]).encode(), (sys.argv[1], int(sys.argv[2])))
            try:
                print("answered: " + s.recv(2048).decode())
            except socket.timeout:
                print("no answer")
            """, network.address(of: 1), "\(port)"], timeout: .seconds(10))
        return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + output.stderr
    }

    /// Echoes every datagram on the ports given, for 30 s at most.
    static let echoServer = """
        import select, socket, sys, time
        sockets = []
        for port in sys.argv[1:]:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("0.0.0.0", int(port)))
            sockets.append(s)
        end = time.time() + 30
        while time.time() < end:
            ready, _, _ = select.select(sockets, [], [], 0.5)
            for s in ready:
                data, peer = s.recvfrom(2048)
                s.sendto(data, peer)
        """

    func waitForListeners(on ports: [Int], in host: Sandbox) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let listening = try host.run(["ss", "-uln"]).stdout
            if ports.allSatisfy({ listening.contains(":\($0) ") }) { return }
            usleep(50_000)
        }
        XCTFail("the echo server did not start listening on \(ports)")
    }
}
