import Devices
import Foundation
import Glibc
import XCTest

/// The router pack's IPv6 side under `tapir run`, as RouterKernelTests does for IPv4: two
/// taps in the router's namespace, each moved into a host namespace. Host 1 takes its
/// address and default route from the router's advertisements (SLAAC, accept_ra as a fresh
/// namespace has it); host 2 is 2001:2:0:2::5/64, static, routing through 2001:2:0:2::1.
final class RouterIPv6KernelTests: XCTestCase {
    static let prefix = "tapir-test-r6"
    static let host2 = "2001:2:0:2::5"
    static let routerLinkLocal = "fe80::54:41ff:fe50:5201"   // port 1's, from its MAC 02:54:41:50:52:01

    struct Network {
        let tapir: ChildProcess
        let host1: Sandbox
        let host2: Sandbox
        /// Host 1's SLAAC address in 2001:2:0:1::/64.
        let address1: String
    }

    /// The router between host 1 (SLAAC on `rta`) and host 2 (static on `rtb`), once host 1
    /// has its address from an advertisement.
    func routerBetweenTwoHosts(settings: [String] = []) throws -> Network {
        var made: [Sandbox] = []
        addTeardownBlock { made.forEach { $0.remove() } }
        for _ in 0..<3 { made.append(try Sandbox(prefix: Self.prefix)) }
        let (router, host1, host2) = (made[0], made[1], made[2])
        var arguments = [TapirCommand.path, "run", TapirCommand.lua("packs/router"), "--no-watch",
                         "--set", "ports=198.18.1.254/24, 198.18.2.254/24",
                         "--set", "ports6=2001:2:0:1::1/64, 2001:2:0:2::1/64"]
        for setting in settings { arguments += ["--set", setting] }
        arguments += ["--dev", "rta", "--dev", "rtb"]
        let tapir = try router.start(arguments)
        do {
            try TapirCommand.waitForDevice("rta", in: router, process: tapir)
            try TapirCommand.waitForDevice("rtb", in: router, process: tapir)
            try router.ip(["link", "set", "rta", "netns", host1.namespace])
            try router.ip(["link", "set", "rtb", "netns", host2.namespace])
            try sysctl(host2, "net.ipv6.conf.rtb.accept_ra=0")
            try host2.ip(["addr", "add", Self.host2 + "/64", "dev", "rtb", "nodad"])
            try host2.ip(["link", "set", "rtb", "up"])
            try host2.ip(["-6", "route", "add", "default", "via", "2001:2:0:2::1"])
            try sysctl(host1, "net.ipv6.conf.rta.accept_ra=1")
            try host1.ip(["link", "set", "rta", "up"])
            let address1 = try slaacAddress(of: host1, device: "rta")
            return Network(tapir: tapir, host1: host1, host2: host2, address1: address1)
        } catch {
            _ = TapirCommand.stop(tapir)
            throw error
        }
    }

    func sysctl(_ host: Sandbox, _ setting: String) throws {
        let output = try host.run(["sysctl", "-q", "-w", setting])
        XCTAssertEqual(output.status, 0, output.stderr)
    }

    /// The global address the kernel made from the advertised prefix, waited for (the
    /// link-local address's duplicate detection, a solicitation, the answer, then the new
    /// address's own detection: about 2 s), at most 15 s.
    func slaacAddress(of host: Sandbox, device: String) throws -> String {
        let deadline = ContinuousClock.now + .seconds(15)
        var shown = ""
        while ContinuousClock.now < deadline {
            shown = try host.ip(["-6", "addr", "show", "dev", device, "scope", "global"]).stdout
            if !shown.contains("tentative"), let range = shown.range(of: #"2001:2:0:1:[0-9a-f:]+(?=/64)"#,
                                                                     options: .regularExpression) {
                return String(shown[range])
            }
            usleep(100_000)
        }
        XCTFail("no SLAAC address in 15 s: \(shown)")
        throw XCTSkip("no address")
    }

    func ping(_ host: Sandbox, _ arguments: [String]) throws -> String {
        let output = try host.run(["ping", "-6"] + arguments, timeout: .seconds(20))
        return output.stdout + output.stderr
    }

    func counters(in stderr: String) -> [String: Int] {
        PackBetweenHosts.counters(in: stderr, line: "router: forwarded=")
    }

    func testASLAACHostGetsItsAddressAndDefaultRouteFromAdvertisementsAndPingsAcross() throws {
        try TapirCommand.requireRoot()
        let network = try routerBetweenTwoHosts(settings: ["ra_dns=2001:2:0:1::53"])
        defer { _ = TapirCommand.stop(network.tapir) }

        let routes = try network.host1.ip(["-6", "route", "show", "default"]).stdout
        XCTAssertTrue(routes.contains("via \(Self.routerLinkLocal) dev rta proto ra"), routes)
        let across = try ping(network.host1, ["-c", "3", "-i", "0.2", "-W", "2", Self.host2])
        XCTAssertTrue(across.contains("3 received"), across)
        XCTAssertTrue(across.contains("ttl=63"), "one hop lowers the hop limit by one: \(across)")
        let back = try ping(network.host2, ["-c", "1", "-W", "2", network.address1])
        XCTAssertTrue(back.contains("1 received"), back)
        let router = try ping(network.host1, ["-c", "1", "-W", "2", "2001:2:0:2::1"])
        XCTAssertTrue(router.contains("1 received"), "the router answers on its other port's address: \(router)")

        let expired = try ping(network.host1, ["-c", "1", "-W", "2", "-t", "1", Self.host2])
        XCTAssertTrue(expired.contains("From 2001:2:0:1::1") && expired.contains("Time exceeded: Hop limit"), expired)
        let noRoute = try ping(network.host1, ["-c", "1", "-W", "2", "2001:2:77::1"])
        XCTAssertTrue(noRoute.contains("From 2001:2:0:1::1") && noRoute.contains("No route"), noRoute)
        if ChildProcess.locate("traceroute6") != nil {
            let trace = try network.host1.run(["traceroute6", "-n", "-w", "2", "-q", "1", Self.host2],
                                              timeout: .seconds(20))
            XCTAssertTrue(trace.stdout.contains(" 1  2001:2:0:1::1") && trace.stdout.contains(" 2  \(Self.host2)"),
                          trace.stdout + trace.stderr)
        }
        let neighbour = try network.host1.ip(["-6", "neigh", "show", Self.routerLinkLocal, "dev", "rta"]).stdout
        XCTAssertTrue(neighbour.contains("02:54:41:50:52:01") && neighbour.contains("router"), neighbour)

        let output = TapirCommand.stop(network.tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        let counted = counters(in: output.stderr)
        XCTAssertGreaterThanOrEqual(counted["forwarded"] ?? 0, 8, output.stderr)
        XCTAssertGreaterThanOrEqual(counted["ra_sent"] ?? 0, 1, output.stderr)
        XCTAssertGreaterThanOrEqual(counted["ttl_expired"] ?? 0, 1, output.stderr)
        XCTAssertEqual(counted["no_route"], 1, output.stderr)
        XCTAssertEqual(counted["bad_header"], 0, output.stderr)
    }

    /// Port 2's MTU is 1280 by the `mtu` setting (the tap itself takes 1500): host 1's
    /// 1,448-byte datagram gets packet too big, the kernel lowers its path MTU to 1280 and
    /// the next pings go, fragmented by host 1.
    func testAPortMTUOf1280GivesPacketTooBigAndPathMTUDiscoveryThenWorks() throws {
        try TapirCommand.requireRoot()
        let network = try routerBetweenTwoHosts(settings: ["mtu=0,1280"])
        defer { _ = TapirCommand.stop(network.tapir) }

        let pings = try ping(network.host1, ["-c", "3", "-i", "0.3", "-W", "2", "-s", "1400", Self.host2])
        XCTAssertTrue(pings.contains("From 2001:2:0:1::1") && pings.contains("Packet too big: mtu=1280"), pings)
        XCTAssertTrue(pings.contains("2 received"), "the second and third get through: \(pings)")
        let route = try network.host1.ip(["-6", "route", "get", Self.host2]).stdout
        XCTAssertTrue(route.contains("mtu 1280"), "the kernel's path MTU: \(route)")

        let output = TapirCommand.stop(network.tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertEqual(counters(in: output.stderr)["too_big"], 1, output.stderr)
    }
}
