import Devices
import Foundation
import Glibc
import XCTest

/// The dhcpv6-server pack under `tapir run` on a tap in a namespace the test makes, with
/// ISC dhclient and dhcpcd as clients on that tap. dhclient runs with its own lease and pid
/// files in the test's folder and Scripts/dhclient-events.sh (for IPv6 events it only
/// writes them down); dhcpcd with its own config and Scripts/dhcpcd-events.sh as its only
/// hook; neither touches the machine's resolver. dhcpcd's lease file
/// (/var/lib/dhcpcd/IFACE.lease6) is removed at the end.
final class DHCPv6KernelTests: XCTestCase {
    private let device = "tapd6"
    private let mac = "02:00:00:00:d6:01"
    private var directory: URL!

    override func setUpWithError() throws {
        try TapirCommand.requireRoot()
        guard ChildProcess.locate("dhclient") != nil else {
            throw XCTSkip("needs dhclient (apt-get install isc-dhcp-client; scripts/setup)")
        }
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tapir-dhcpv6-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // dhcpcd would rebind a lease an earlier run left rather than solicit
        try? FileManager.default.removeItem(atPath: "/var/lib/dhcpcd/\(device).lease6")
        try """
            ipv6only
            noipv6rs
            option dhcp6_name_servers
            option dhcp6_domain_search
            env DHCP_EVENTS=\(path("dhcpcd.events"))
            ia_na 1
            ia_pd 2 -

            """.write(toFile: path("dhcpcd.conf"), atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        try? FileManager.default.removeItem(atPath: "/var/lib/dhcpcd/\(device).lease6")
    }

    func testDhclientAndDhcpcdGetAddressesAndPrefixesAcrossAReloadAndAReleaseFreesOne() throws {
        let sandbox = try Sandbox(prefix: "tapir-test-dhcp6")
        defer { sandbox.remove() }
        let log = path("tapir.log")
        let tapir = try sandbox.start(["sh", "-c", "exec \"$@\" 2>\"$0\"", log, TapirCommand.path, "run",
                                       TapirCommand.lua("packs/dhcpv6-server"), "--no-watch",
                                       "--set", "dns=2001:2::53", "--set", "search=lab.test", "--dev", device])
        var tapirStopped = false
        defer { if !tapirStopped { tapir.signal(SIGKILL); _ = tapir.wait(timeout: .seconds(5)) } }
        try TapirCommand.waitForDevice(device, in: sandbox, process: tapir)
        try sandbox.ip(["link", "set", "dev", device, "address", mac])
        try sandbox.ip(["link", "set", "dev", device, "up"])
        try waitForLinkLocal(in: sandbox)

        // dhclient asks for an address (-N) and a prefix (-P): Solicit, Advertise, Request, Reply.
        let first = try dhclient(["-1", "-N", "-P"], leases: "first.leases", events: "first.events", in: sandbox)
        XCTAssertEqual(first.status, 0, first.stdout + first.stderr)
        // one BOUND6 event for the address, one for the prefix
        let bound = bound6(path("first.events"))
        XCTAssertFalse(bound.isEmpty, "no BOUND6: \(first.stderr)")
        XCTAssertEqual(bound["new_ip6_address"], "2001:2::1000")
        XCTAssertEqual(bound["new_ip6_prefix"], "2001:2:0:100::/64")
        XCTAssertEqual(bound["new_dhcp6_name_servers"], "2001:2::53")
        XCTAssertEqual(bound["new_dhcp6_domain_search"], "lab.test.")
        XCTAssertEqual(bound["new_max_life"], "3600")

        // A reload keeps the leases (tapir.state): the release after it finds the lease
        // it frees (one the server does not know is not logged as released).
        tapir.signal(SIGHUP)
        try waitFor("reloaded", in: log)
        let release = try dhclient(["-r"], leases: "first.leases", events: "first.events", in: sandbox)
        XCTAssertEqual(release.status, 0, release.stdout + release.stderr)
        try waitFor("released 2001:2::1000", in: log)

        // Another client gets what was freed: dhcpcd when Debian has it, else dhclient with a
        // DUID-LL (another client). (dhclient released the address only, so the prefix is
        // the next one or the same.)
        if ChildProcess.locate("dhcpcd") != nil {
            let second = try sandbox.run(["dhcpcd", "-f", path("dhcpcd.conf"), "-c", hook("dhcpcd-events.sh"),
                                          "-1", "-6", "-B", "-t", "20", device], timeout: .seconds(40))
            XCTAssertEqual(second.status, 0, second.stdout + second.stderr)
            let secondBound = try XCTUnwrap(events(path("dhcpcd.events")).last { $0["reason"] == "BOUND6" },
                                            "no BOUND6 from dhcpcd: \(second.stderr)")
            XCTAssertEqual(secondBound["new_dhcp6_ia_na1_ia_addr1"], "2001:2::1000", "the released address is free again")
            XCTAssertEqual(secondBound["new_dhcp6_ia_pd1_prefix1_length"], "64")
            XCTAssertTrue(secondBound["new_dhcp6_ia_pd1_prefix1"]?.hasPrefix("2001:2:0:10") == true,
                          "a /64 of 2001:2:0:100::/56: \(secondBound)")
            XCTAssertEqual(secondBound["new_dhcp6_name_servers"], "2001:2::53")
            let addresses = try sandbox.ip(["-6", "addr", "show", "dev", device]).stdout
            XCTAssertTrue(addresses.contains("2001:2::1000/128"), "dhcpcd set its address: \(addresses)")
        } else {
            let other = try dhclient(["-1", "-N", "-D", "LL"], leases: "other.leases", events: "other.events", in: sandbox)
            XCTAssertEqual(other.status, 0, other.stdout + other.stderr)
            XCTAssertEqual(bound6(path("other.events"))["new_ip6_address"], "2001:2::1000",
                           "the released address is free again")
            _ = try dhclient(["-r"], leases: "other.leases", events: "other.events", in: sandbox)
        }

        tapir.signal(SIGTERM)
        let output = tapir.wait(timeout: .seconds(10))
        tapirStopped = true
        XCTAssertEqual(output.status, 0, output.stderr)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let releases = ChildProcess.locate("dhcpcd") != nil ? 1 : 2
        XCTAssertTrue(text.contains("release=\(releases)"), text)
        XCTAssertTrue(text.contains("solicit=2 advertise=2 request=2"), text)
        XCTAssertTrue(text.contains("ignored=0"), text)
    }

    // MARK: - Helpers

    private func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    private func hook(_ name: String) -> String {
        TapirCommand.repository.appendingPathComponent("Tests/TapirTests/Scripts/\(name)").path
    }

    /// dhclient -6 on the tap with the test's script, lease and pid files.
    private func dhclient(_ mode: [String], leases: String, events: String, in sandbox: Sandbox) throws -> ProcessOutput {
        try sandbox.run(["dhclient", "-6"] + mode + ["-v", "-e", "DHCP_EVENTS=\(path(events))",
                        "-sf", hook("dhclient-events.sh"), "-lf", path(leases), "-pf", path("dhclient.pid"), device],
                        timeout: .seconds(40))
    }

    /// The tap's link-local address out of duplicate address detection (clients send from it).
    private func waitForLinkLocal(in sandbox: Sandbox) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let shown = try sandbox.ip(["-6", "addr", "show", "dev", device, "scope", "link"]).stdout
            if shown.contains("fe80::") && !shown.contains("tentative") { return }
            usleep(100_000)
        }
        XCTFail("no link-local address on \(device) in 10 s")
    }

    private func waitFor(_ text: String, in log: String) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let logged = try? String(contentsOfFile: log, encoding: .utf8), logged.contains(text) { return }
            usleep(50_000)
        }
        XCTFail("'\(text)' not in tapir's log in 10 s: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    /// Every BOUND6 event's variables, merged.
    private func bound6(_ file: String) -> [String: String] {
        events(file).filter { $0["reason"] == "BOUND6" }.reduce(into: [:]) { $0.merge($1) { _, new in new } }
    }

    /// The events a client's script wrote down: one dictionary per event (reason and new_*).
    private func events(_ file: String) -> [[String: String]] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
        var list: [[String: String]] = []
        var current: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if line == "--" {
                list.append(current)
                current = [:]
            } else if let equals = line.firstIndex(of: "=") {
                current[String(line[..<equals])] = String(line[line.index(after: equals)...])
                    .trimmingCharacters(in: CharacterSet(charactersIn: "'"))
            }
        }
        return list
    }
}
