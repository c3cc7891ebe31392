import Devices
import Foundation
import Glibc
import XCTest

/// pkt:reply to neighbour discovery with no overrides, the kernel as the peer: it accepts
/// only hop limit 255 (RFC 4861) and never a multicast source, and pkt:reply gives both.
final class NeighbourDiscoveryKernelTests: XCTestCase {
    /// Answers solicitations and pings for 2001:2::2 with bare replies.
    static let advertiser = """
        tapir.on("icmpv6", {type = 135, target = "2001:2::2"}, function(pkt, dev)
          if pkt.ipv6.src == "::" then return end
          dev:write(pkt:reply{icmpv6 = {type = 136, flags = 0x60, lladdr = "02:54:41:50:49:52"}})
          return true
        end)
        tapir.on("icmpv6", {type = 128}, function(pkt, dev)
          dev:write(pkt:reply{icmpv6 = {type = 129}})
          return true
        end)
        """

    /// Answers router solicitations with an advertisement of 2001:2:0:1::/64 (autonomous,
    /// on-link) and router lifetime 0, so the kernel adds an address and no default route.
    static let router = """
        local PREFIX = "\\x20\\x01\\x00\\x02\\x00\\x00\\x00\\x01" .. string.rep("\\0", 8)
        tapir.on("icmpv6", {type = 133}, function(pkt, dev)
          local body = string.pack(">I4I4 BBBB I4I4I4 c16", 0, 0, 3, 4, 64, 0xc0, 86400, 14400, 0, PREFIX)
          dev:write(pkt:reply{eth = {src = "02:54:41:50:49:52"}, icmpv6 = {type = 134}, payload = body})
          return true
        end)
        """

    func script(_ source: String) throws -> String {
        let path = NSTemporaryDirectory() + "tapir-nd-\(getpid())-\(UUID().uuidString).lua"
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testTheKernelResolvesTheHostFromABareAdvertisement() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try TapirCommand.start([try script(Self.advertiser)], device: "tapnd0", in: sandbox, ipv6: true)
        let ndisc = try sandbox.run(["ndisc6", "-1", "-r", "3", "-w", "1000", "2001:2::2", "tapnd0"])
        XCTAssertTrue(ndisc.stdout.contains("02:54:41:50:49:52"), ndisc.stdout + ndisc.stderr)
        let ping = try sandbox.run(["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "2001:2::2"])
        XCTAssertTrue(ping.stdout.contains("3 received"), ping.stdout + ping.stderr)
        let neighbour = try sandbox.ip(["-6", "neigh", "show", "2001:2::2", "dev", "tapnd0"])
        XCTAssertTrue(neighbour.stdout.contains("lladdr 02:54:41:50:49:52"), neighbour.stdout)
        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
    }

    /// The kernel's own router solicitation (sent when the link comes up) is answered, and
    /// the kernel takes the advertisement: it configures an address in the prefix (SLAAC),
    /// which it does only for one with hop limit 255 from a link-local source.
    func testTheKernelTakesABareRouterAdvertisement() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try TapirCommand.start([try script(Self.router)], device: "tapra0", in: sandbox, ipv6: true)
        let rdisc = try sandbox.run(["rdisc6", "-1", "-r", "3", "-w", "1000", "tapra0"])
        XCTAssertTrue(rdisc.stdout.contains("2001:2:0:1::/64"), rdisc.stdout + rdisc.stderr)
        XCTAssertTrue(rdisc.stdout.contains("from fe80::54:41ff:fe50:4952"), rdisc.stdout + rdisc.stderr)
        var addresses = ""
        for _ in 0..<100 where !addresses.contains("inet6 2001:2:0:1:") {
            usleep(100_000)
            addresses = try sandbox.ip(["-6", "addr", "show", "dev", "tapra0"]).stdout
        }
        XCTAssertTrue(addresses.contains("inet6 2001:2:0:1:"), "no address from the advertised prefix: " + addresses)
        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
    }
}
