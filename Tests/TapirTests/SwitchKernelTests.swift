import Devices
import Foundation
import Glibc
import XCTest

/// The `switch` pack between three kernel hosts, each in a namespace of its own with one
/// of the switch's taps: they reach each other only through it.
final class SwitchKernelTests: XCTestCase {
    func testThreeHostsPingEachOtherAndLearnedUnicastIsForwardedNotFlooded() throws {
        try TapirCommand.requireRoot()
        let network = try PackBetweenHosts(pack: "switch", devices: ["swa", "swb", "swc"], prefix: "tapir-test-sw")
        defer { network.remove() }
        let pairs = (0..<3).flatMap { from in (0..<3).filter { $0 != from }.map { (from, $0) } }

        // The first exchange: every host pings every other; ARP broadcasts teach the switch.
        for (from, to) in pairs {
            let ping = try network.ping(from: from, to: to)
            XCTAssertTrue(ping.stdout.contains("2 received"), "host \(from + 1) -> \(to + 1): \(ping.stdout)\(ping.stderr)")
        }
        let macs = try (0..<3).map { try network.mac(of: $0) }
        for host in 0..<3 {
            let neighbours = try network.hosts[host].ip(["neigh", "show", "dev", network.devices[host]]).stdout
            for other in 0..<3 where other != host {
                XCTAssertTrue(neighbours.contains("\(network.address(of: other)) lladdr \(macs[other])"),
                              "host \(host + 1) knows host \(other + 1) at \(macs[other]): \(neighbours)")
            }
        }
        XCTAssertTrue(network.reloadAndWait(for: "] port swc:", lines: 1), "counters logged on SIGHUP: \(network.log)")
        let learned = network.log

        // The second: unicast only, to addresses the switch has learned.
        for (from, to) in pairs {
            let ping = try network.ping(from: from, to: to, count: 5, attempts: 1)
            XCTAssertTrue(ping.stdout.contains("5 received"), "host \(from + 1) -> \(to + 1): \(ping.stdout)\(ping.stderr)")
        }
        let (status, log) = network.stop()
        XCTAssertEqual(status, 0, log)
        for device in network.devices {
            let before = PackBetweenHosts.counters(in: learned, line: "port \(device):")
            let after = PackBetweenHosts.counters(in: log, line: "port \(device):")
            XCTAssertGreaterThan(before["forwarded"] ?? 0, 0, "\(device) forwarded in the first exchange: \(learned)")
            XCTAssertEqual(after["flooded"], before["flooded"], "\(device) flooded nothing once learned: \(log)")
            // 5 echo requests to each of the two others, and 5 replies to each.
            XCTAssertGreaterThanOrEqual((after["forwarded"] ?? 0) - (before["forwarded"] ?? 0), 20, "\(device): \(log)")
            XCTAssertEqual(after["dropped"], 0, "\(device): \(log)")
            XCTAssertEqual(after["macs"], 1, "one host behind \(device): \(log)")
            XCTAssertEqual(after["rx"], (after["flooded"] ?? 0) + (after["forwarded"] ?? 0), "\(device): \(log)")
        }
    }

    /// scripts/simulated-network, README's three-host example: every pair pings, and the
    /// namespaces it made are gone afterwards.
    func testTheSimulatedNetworkScriptRunsAndCleansUp() throws {
        try TapirCommand.requireRoot()
        let script = TapirCommand.repository.appendingPathComponent("scripts/simulated-network").path
        let output = try ChildProcess.run(["env", "TAPIR=\(TapirCommand.path)", script], timeout: .seconds(90))
        XCTAssertEqual(output.status, 0, output.stdout + output.stderr)
        XCTAssertEqual(output.stdout.components(separatedBy: "2 received, 0% packet loss").count - 1, 6, output.stdout)
        XCTAssertTrue(output.stdout.contains("the namespaces are gone"), output.stdout)
        let namespaces = output.stdout.split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: "namespace ") else { return nil }
            return line[range.upperBound...].split(separator: ",").first.map(String.init)
        }
        XCTAssertEqual(namespaces.count, 3, output.stdout)
        let listed = try ChildProcess.run(["ip", "netns", "list"]).stdout
        let after = Set(listed.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        for namespace in namespaces {
            XCTAssertFalse(after.contains(namespace), "\(namespace) is removed: \(listed)")
        }
    }
}
