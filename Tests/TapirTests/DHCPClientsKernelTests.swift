import Devices
import Foundation
import Glibc
import XCTest

/// The dhcp-server pack under `tapir run` on a tap in a namespace the test makes, with the
/// two clients that ask for more than udhcpc does: ISC dhclient and dhcpcd. dhclient runs
/// with its own config, lease and pid files in the test's folder and the script
/// Scripts/dhclient-events.sh (it sets the interface's address only); dhcpcd with its own
/// config and Scripts/dhcpcd-events.sh as its only hook, so neither touches the machine's
/// resolver. dhcpcd keeps its lease in /var/lib/dhcpcd/IFACE.lease: removed at the end.
final class DHCPClientsKernelTests: XCTestCase {
    private let device = "tapd0"
    private let macvlan = "tapirdc\(getpid() % 100_000)"
    private let firstMAC = "02:00:00:00:d0:01"
    private let secondMAC = "02:00:00:00:d0:02"
    private let server = "198.18.0.2"
    private var directory: URL!

    override func setUpWithError() throws {
        try TapirCommand.requireRoot()
        guard ChildProcess.locate("dhclient") != nil, ChildProcess.locate("dhcpcd") != nil else {
            throw XCTSkip("needs dhclient and dhcpcd (apt-get install isc-dhcp-client dhcpcd-base; scripts/setup)")
        }
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tapir-dhcp-clients-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try """
            option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;
            request subnet-mask, broadcast-address, time-offset, routers, domain-name, domain-name-servers,
                    domain-search, host-name, interface-mtu, rfc3442-classless-static-routes, ntp-servers;
            timeout 20;

            """.write(toFile: path("dhclient.conf"), atomically: true, encoding: .utf8)
        try """
            ipv4only
            noipv4ll
            option classless_static_routes, ntp_servers, domain_name_servers, domain_search, interface_mtu
            env DHCP_EVENTS=\(path("second.events"))

            """.write(toFile: path("dhcpcd.conf"), atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        try? FileManager.default.removeItem(atPath: "/var/lib/dhcpcd/\(macvlan).lease")
    }

    func testDhclientAndDhcpcdGetRoutesAndNTPAndAReleasedAddressComesBack() throws {
        let sandbox = try Sandbox(prefix: "tapir-test-dhcpc")
        defer { sandbox.remove() }
        let tapir = try sandbox.start([TapirCommand.path, "run", TapirCommand.lua("packs/dhcp-server"),
                                       "--set", "router=198.18.0.1", "--set", "ntp=198.18.0.123,198.18.0.124",
                                       "--set", "routes=198.19.0.0/16 via 198.18.0.254",
                                       "--dev", device])
        var tapirStopped = false
        defer { if !tapirStopped { tapir.signal(SIGKILL); _ = tapir.wait(timeout: .seconds(5)) } }
        try TapirCommand.waitForDevice(device, in: sandbox, process: tapir)
        try sandbox.ip(["link", "set", "dev", device, "address", firstMAC])
        try sandbox.ip(["link", "set", "dev", device, "up"])

        // dhclient asks for 121 and 42 and gets both: the routes with the default route
        // via option 3's router added (RFC 3442), and the two NTP servers.
        let first = try dhclient(["-1"], events: "first.events", in: sandbox)
        XCTAssertEqual(first.status, 0, first.stdout + first.stderr)
        let bound = try XCTUnwrap(events(path("first.events")).last { $0["reason"] == "BOUND" },
                                  "no BOUND: \(first.stderr)")
        let address = try XCTUnwrap(bound["new_ip_address"])
        XCTAssertTrue(address.hasPrefix("198.18.0.") && address != server, address)
        XCTAssertEqual(bound["new_rfc3442_classless_static_routes"], "16 198 19 198 18 0 254 0 198 18 0 1")
        XCTAssertEqual(bound["new_ntp_servers"], "198.18.0.123 198.18.0.124")
        XCTAssertEqual(bound["new_routers"], "198.18.0.1")

        // The address works (and the server's MAC is known, so the unicast RELEASE goes out
        // at once, before the script takes the address away); it releases the address (and
        // its daemon ends).
        let ping = try sandbox.run(["ping", "-c", "1", "-W", "2", "-I", device, server])
        XCTAssertTrue(ping.stdout.contains("1 received"), ping.stdout + ping.stderr)
        let release = try dhclient(["-r"], events: "first.events", in: sandbox)
        XCTAssertEqual(release.status, 0, release.stdout + release.stderr)
        XCTAssertTrue(release.stderr.contains("DHCPRELEASE of \(address)"), release.stderr)

        // dhcpcd, another MAC on the same link, asks for the same options; it gets them, and
        // a never-leased address: the released one is kept for its client.
        try sandbox.ip(["link", "add", "link", device, "name", macvlan, "address", secondMAC,
                        "type", "macvlan", "mode", "bridge"])
        try sandbox.ip(["link", "set", "dev", macvlan, "up"])
        let hook = TapirCommand.repository.appendingPathComponent("Tests/TapirTests/Scripts/dhcpcd-events.sh").path
        let second = try sandbox.run(["dhcpcd", "-f", path("dhcpcd.conf"), "-c", hook, "-1", "-4", "-B", "-t", "20",
                                      macvlan], timeout: .seconds(40))
        XCTAssertEqual(second.status, 0, second.stdout + second.stderr)
        let secondBound = try XCTUnwrap(events(path("second.events")).last { $0["reason"] == "BOUND" },
                                        "no BOUND from dhcpcd: \(second.stderr)")
        let other = try XCTUnwrap(secondBound["new_ip_address"])
        XCTAssertNotEqual(other, address, "a new client does not get the address another just released")
        XCTAssertEqual(secondBound["new_classless_static_routes"], "198.19.0.0/16 198.18.0.254 0.0.0.0/0 198.18.0.1")
        XCTAssertEqual(secondBound["new_ntp_servers"], "198.18.0.123 198.18.0.124")
        let stats = try sandbox.run(["sh", "-c", "echo stats | nc -u -w1 \(server) 6767"]).stdout
        XCTAssertTrue(stats.contains("lease \(address) \(firstMAC) released"), stats)

        // The first client asks again, its lease file gone (so it names no address): it gets
        // its previous address back (RFC 2131 4.3.1).
        try? FileManager.default.removeItem(atPath: path("first.leases"))
        let again = try dhclient(["-1"], events: "again.events", in: sandbox)
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
        XCTAssertTrue(again.stderr.contains("DHCPOFFER of \(address) "), again.stderr)
        let rebound = events(path("again.events")).last { $0["reason"] == "BOUND" }
        XCTAssertEqual(rebound?["new_ip_address"], address)
        _ = try dhclient(["-r"], events: "again.events", in: sandbox)

        tapir.signal(SIGTERM)
        let output = tapir.wait(timeout: .seconds(10))
        tapirStopped = true
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("\(firstMAC) released \(address)"), output.stderr)
        XCTAssertFalse(output.stderr.contains("NAK"), output.stderr)
    }

    // MARK: - Helpers

    private func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    /// dhclient on the tap with the test's config, script, lease and pid files. With -1 it
    /// returns once bound (its daemon left running, ended by -r); -r releases and ends it.
    private func dhclient(_ mode: [String], events: String, in sandbox: Sandbox) throws -> ProcessOutput {
        let script = TapirCommand.repository.appendingPathComponent("Tests/TapirTests/Scripts/dhclient-events.sh").path
        return try sandbox.run(["dhclient"] + mode + ["-v", "-e", "DHCP_EVENTS=\(path(events))",
                                "-cf", path("dhclient.conf"), "-sf", script, "-lf", path("first.leases"),
                                "-pf", path("dhclient.pid"), device], timeout: .seconds(40))
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
