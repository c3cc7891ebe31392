import Devices
import Foundation
import Glibc
import XCTest

/// The router pack under `tapir run` with two devices in a namespace of its own; each
/// device is then moved into a namespace standing for a host on its own subnet (host 1
/// 198.18.1.1/24, host 2 198.18.2.1/24, each routing through the router's port address),
/// and the Linux kernels ping through it.
final class RouterKernelTests: XCTestCase {
    static let prefix = "tapir-test-rt"
    static let ports = "ports=198.18.1.254/24, 198.18.2.254/24"

    /// Three namespaces: the router's and two hosts', removed when the test ends (after
    /// its own defers have stopped tapir).
    func routerAndTwoHosts() throws -> (router: Sandbox, host1: Sandbox, host2: Sandbox) {
        var made: [Sandbox] = []
        addTeardownBlock { made.forEach { $0.remove() } }
        for _ in 0..<3 { made.append(try Sandbox(prefix: Self.prefix)) }
        return (made[0], made[1], made[2])
    }

    /// `tapir run router --dev ...` in `router`, once every device has appeared.
    func startRouter(in router: Sandbox, devices: [String], settings: [String] = []) throws -> ChildProcess {
        var arguments = [TapirCommand.path, "run", TapirCommand.lua("packs/router"), "--set", Self.ports]
        for setting in settings { arguments += ["--set", setting] }
        for device in devices { arguments += ["--dev", device] }
        let process = try router.start(arguments)
        for device in devices {
            let name = String(device.split(separator: ":").first ?? "")
            try TapirCommand.waitForDevice(name, in: router, process: process)
        }
        return process
    }

    /// Moves `device` out of the router's namespace into `host`, addressed `address`, with
    /// its default route through the router (`gateway`, or straight out of a tun).
    func attach(_ device: String, to host: Sandbox, from router: Sandbox, address: String, gateway: String,
                tun: Bool = false) throws {
        try router.ip(["link", "set", device, "netns", host.namespace])
        try host.ip(["addr", "add", address, "dev", device])
        try host.ip(["link", "set", device, "up"])
        if tun {
            try host.ip(["route", "add", "default", "dev", device])
        } else {
            try host.ip(["route", "add", "default", "via", gateway])
        }
    }

    /// The router running between host 1 (198.18.1.1 on tap `rta`) and host 2 (198.18.2.1 on
    /// tap `rtb`, or tun `rtt`), each host routing through it.
    func routerBetweenTwoHosts(secondIsTun: Bool = false) throws -> (tapir: ChildProcess, host1: Sandbox, host2: Sandbox) {
        let (router, host1, host2) = try routerAndTwoHosts()
        let second = secondIsTun ? "rtt" : "rtb"
        let tapir = try startRouter(in: router, devices: secondIsTun ? ["rta:tap", "rtt:tun"] : ["rta", "rtb"])
        do {
            try attach("rta", to: host1, from: router, address: "198.18.1.1/24", gateway: "198.18.1.254")
            try attach(second, to: host2, from: router, address: "198.18.2.1/24", gateway: "198.18.2.254",
                       tun: secondIsTun)
        } catch {
            _ = TapirCommand.stop(tapir)
            throw error
        }
        return (tapir, host1, host2)
    }

    func ping(_ host: Sandbox, _ arguments: [String]) throws -> String {
        let output = try host.run(["ping"] + arguments, timeout: .seconds(20))
        return output.stdout + output.stderr
    }

    /// The `router: name=N ...` line the pack logs when it stops, as numbers.
    func counters(in stderr: String) -> [String: Int] {
        PackBetweenHosts.counters(in: stderr, line: "router: forwarded=")
    }

    func assertNoKernelErrors(_ hosts: [Sandbox], file: StaticString = #filePath, line: UInt = #line) throws {
        for host in hosts {
            for (name, value) in try TapirCommand.errorCounters(in: host) {
                XCTAssertEqual(value, 0, "\(host.namespace) \(name)", file: file, line: line)
            }
        }
    }

    func testTwoHostsOnTapsPingAcrossAndGetTheRoutersICMPErrors() throws {
        try TapirCommand.requireRoot()
        let (tapir, host1, host2) = try routerBetweenTwoHosts()
        defer { _ = TapirCommand.stop(tapir) }

        let across = try ping(host1, ["-c", "3", "-i", "0.2", "-W", "2", "198.18.2.1"])
        XCTAssertTrue(across.contains("3 received"), across)
        XCTAssertTrue(across.contains("ttl=63"), "one hop lowers the TTL by one: \(across)")
        let back = try ping(host2, ["-c", "3", "-i", "0.2", "-W", "2", "198.18.1.1"])
        XCTAssertTrue(back.contains("3 received"), back)
        // the pack's default static route: 198.19.0.0/16 via host 2
        try host2.ip(["addr", "add", "198.19.0.1/32", "dev", "lo"])
        let behind = try ping(host1, ["-c", "1", "-W", "2", "198.19.0.1"])
        XCTAssertTrue(behind.contains("1 received"), "through the static route: \(behind)")
        let farPort = try ping(host1, ["-c", "1", "-W", "2", "198.18.2.254"])
        XCTAssertTrue(farPort.contains("1 received"), "the router answers on its other port's address: \(farPort)")

        let expired = try ping(host1, ["-c", "1", "-W", "2", "-t", "1", "198.18.2.1"])
        XCTAssertTrue(expired.contains("From 198.18.1.254") && expired.contains("Time to live exceeded"), expired)
        let noRoute = try ping(host1, ["-c", "1", "-W", "2", "198.18.200.1"])
        XCTAssertTrue(noRoute.contains("From 198.18.1.254") && noRoute.contains("Destination Net Unreachable"), noRoute)
        // nobody answers ARP for .77: three requests a second apart, then host unreachable
        let noHost = try ping(host1, ["-c", "1", "-W", "6", "198.18.2.77"])
        XCTAssertTrue(noHost.contains("From 198.18.1.254") && noHost.contains("Destination Host Unreachable"), noHost)

        let neighbour = try host1.ip(["neigh", "show", "198.18.1.254", "dev", "rta"]).stdout
        XCTAssertTrue(neighbour.contains("02:54:41:50:52:01"), neighbour)
        try assertNoKernelErrors([host1, host2])

        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        let counted = counters(in: output.stderr)
        XCTAssertEqual(counted["forwarded"], 14, "4 pings one way and 3 the other, requests and replies: \(output.stderr)")
        XCTAssertEqual(counted["echo_replies"], 1, output.stderr)
        XCTAssertEqual(counted["ttl_expired"], 1, output.stderr)
        XCTAssertEqual(counted["no_route"], 1, output.stderr)
        XCTAssertEqual(counted["host_unreachable"], 1, output.stderr)
        XCTAssertEqual(counted["arp_failed"], 1, output.stderr)
        XCTAssertEqual(counted["bad_header"], 0, output.stderr)
    }

    /// Host 1's link takes 9000 bytes, host 2's (as the router opened it) 1500.
    func testDatagramsOverTheEgressMTUAreRefusedWithDFAndFragmentedWithout() throws {
        try TapirCommand.requireRoot()
        let (tapir, host1, host2) = try routerBetweenTwoHosts()
        defer { _ = TapirCommand.stop(tapir) }
        try host1.ip(["link", "set", "rta", "mtu", "9000"])

        let refused = try ping(host1, ["-c", "1", "-W", "2", "-M", "do", "-s", "2000", "198.18.2.1"])
        XCTAssertTrue(refused.contains("From 198.18.1.254") && refused.contains("Frag needed and DF set (mtu = 1500)"),
                      refused)
        let fragmented = try ping(host1, ["-c", "1", "-W", "2", "-M", "dont", "-s", "2000", "198.18.2.1"])
        XCTAssertTrue(fragmented.contains("1 received"), fragmented)
        // host 2 fragments itself; the router forwards each fragment
        let fragments = try ping(host2, ["-c", "1", "-W", "2", "-s", "3000", "198.18.1.1"])
        XCTAssertTrue(fragments.contains("1 received"), fragments)
        try assertNoKernelErrors([host1, host2])

        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertEqual(counters(in: output.stderr)["too_big"], 1, output.stderr)
    }

    func testATunPortAndATapPortPingAcross() throws {
        try TapirCommand.requireRoot()
        let (tapir, host1, host2) = try routerBetweenTwoHosts(secondIsTun: true)
        defer { _ = TapirCommand.stop(tapir) }

        let across = try ping(host1, ["-c", "3", "-i", "0.2", "-W", "2", "198.18.2.1"])
        XCTAssertTrue(across.contains("3 received") && across.contains("ttl=63"), across)
        let back = try ping(host2, ["-c", "3", "-i", "0.2", "-W", "2", "198.18.1.1"])
        XCTAssertTrue(back.contains("3 received") && back.contains("ttl=63"), back)
        let expired = try ping(host2, ["-c", "1", "-W", "2", "-t", "1", "198.18.1.1"])
        XCTAssertTrue(expired.contains("From 198.18.2.254") && expired.contains("Time to live exceeded"), expired)
        try assertNoKernelErrors([host1, host2])

        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertEqual(counters(in: output.stderr)["forwarded"], 12, output.stderr)
    }

    /// What ARP learned lives in tapir.state: after a reload (SIGHUP) the router forwards
    /// to both hosts without asking again.
    func testTheNextHopCacheSurvivesAReload() throws {
        try TapirCommand.requireRoot()
        let (tapir, host1, _) = try routerBetweenTwoHosts()
        defer { _ = TapirCommand.stop(tapir) }

        let before = try ping(host1, ["-c", "2", "-i", "0.2", "-W", "2", "198.18.2.1"])
        XCTAssertTrue(before.contains("2 received"), before)
        tapir.signal(SIGHUP)
        usleep(1_500_000)
        let after = try ping(host1, ["-c", "2", "-i", "0.2", "-W", "2", "198.18.2.1"])
        XCTAssertTrue(after.contains("2 received"), after)

        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("reloaded router"), output.stderr)
        let counted = counters(in: output.stderr)
        XCTAssertEqual(counted["forwarded"], 8, output.stderr)
        XCTAssertEqual(counted["arp_requests"], 1, "host 2 asked for once, before the reload: \(output.stderr)")
    }
}
