import Devices
import Foundation
import Glibc
import XCTest

/// The dhcp-server pack under `tapir run` on a tap in a namespace the test makes, with
/// busybox udhcpc as the client. udhcpc runs with Scripts/udhcpc-events.sh, which only
/// sets the interface's address and writes down each event: it never touches the
/// machine's resolver. The second client is a macvlan on the same tap, so both clients
/// hold their leases at once (changing the tap's MAC instead would end the first client).
final class DHCPKernelTests: XCTestCase {
    private let device = "tapd0"
    private let firstMAC = "02:00:00:00:d0:01"
    private let secondMAC = "02:00:00:00:d0:02"
    private let server = "198.18.0.2"
    private var directory: URL!

    override func setUpWithError() throws {
        try TapirCommand.requireRoot()
        guard ChildProcess.locate("udhcpc") != nil else {
            throw XCTSkip("needs busybox udhcpc (apt-get install udhcpc)")
        }
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tapir-dhcp-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    func testUdhcpcLeaseWorksSurvivesAReloadAndASecondClientGetsAnotherAddress() throws {
        let sandbox = try Sandbox(prefix: "tapir-test-dhcp")
        defer { sandbox.remove() }
        let tapir = try sandbox.start([TapirCommand.path, "run", TapirCommand.lua("packs/dhcp-server"),
                                       "--dev", device])
        var tapirStopped = false
        defer { if !tapirStopped { tapir.signal(SIGKILL); _ = tapir.wait(timeout: .seconds(5)) } }
        try TapirCommand.waitForDevice(device, in: sandbox, process: tapir)
        try sandbox.ip(["link", "set", "dev", device, "address", firstMAC])
        try sandbox.ip(["link", "set", "dev", device, "up"])

        // The first client stays running (-f, no -q) so SIGUSR1 can make it renew.
        let firstEvents = path("first.events")
        let first = try sandbox.start(["env", "DHCP_EVENTS=\(firstEvents)"] + udhcpc(on: device, stay: true))
        defer { first.signal(SIGTERM); _ = first.wait(timeout: .seconds(5)) }
        let address = try waitForEvent("bound", in: firstEvents, process: first)
        XCTAssertTrue(address.hasPrefix("198.18.0.") && address != server, address)
        XCTAssertTrue(try sandbox.ip(["-4", "addr", "show", "dev", device]).stdout.contains("\(address)/24"))

        // The address works: the server answers ARP and ping at its own address.
        let ping = try sandbox.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "-I", device, server])
        XCTAssertTrue(ping.stdout.contains("2 received"), ping.stdout + ping.stderr)

        // Reload the pack; its stats show the second load and the lease carried over.
        tapir.signal(SIGHUP)
        let reloaded = try waitForStats(in: sandbox, process: tapir) { $0.contains("loads=2") }
        XCTAssertTrue(reloaded.contains("lease \(address) \(firstMAC) bound"), reloaded)

        // A renewal (unicast to the server, so it ARPs for it) gets the same address.
        first.signal(SIGUSR1)
        let renewed = try waitForEvent("renew", in: firstEvents, process: first)
        XCTAssertEqual(renewed, address)
        XCTAssertEqual(events(firstEvents), ["deconfig", "bound \(address)", "renew \(address)"])

        // A second client, another MAC, after the reload: another address, and it works too.
        try sandbox.ip(["link", "add", "link", device, "name", "dhcp1", "address", secondMAC,
                        "type", "macvlan", "mode", "bridge"])
        try sandbox.ip(["link", "set", "dev", "dhcp1", "up"])
        let secondEvents = path("second.events")
        let second = try sandbox.run(["env", "DHCP_EVENTS=\(secondEvents)"] + udhcpc(on: "dhcp1", stay: false),
                                     timeout: .seconds(30))
        XCTAssertEqual(second.status, 0, second.stdout + second.stderr)
        let other = events(secondEvents).last { $0.hasPrefix("bound ") }.map { String($0.dropFirst(6)) }
        XCTAssertNotNil(other, events(secondEvents).joined(separator: "; "))
        XCTAssertNotEqual(other, address)
        XCTAssertTrue(other?.hasPrefix("198.18.0.") ?? false, other ?? "")
        let ping2 = try sandbox.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "-I", "dhcp1", server])
        XCTAssertTrue(ping2.stdout.contains("2 received"), ping2.stdout + ping2.stderr)

        let final = try waitForStats(in: sandbox, process: tapir) { _ in true }
        XCTAssertTrue(final.contains("lease \(address) \(firstMAC) bound"), final)
        XCTAssertTrue(final.contains("lease \(other ?? "?") \(secondMAC) bound"), final)
        XCTAssertTrue(final.contains("nak=0"), final)
        XCTAssertTrue(final.contains("malformed=0"), final)

        first.signal(SIGTERM)
        _ = first.wait(timeout: .seconds(5))
        tapir.signal(SIGTERM)
        let output = tapir.wait(timeout: .seconds(10))
        tapirStopped = true
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertEqual(output.stderr.components(separatedBy: "reloaded ").count - 1, 1, output.stderr)
        XCTAssertTrue(output.stderr.contains("ACK \(address) to \(firstMAC) (renewing"), output.stderr)
        XCTAssertFalse(output.stderr.contains("tapir: error"), output.stderr)
        try XCTAssertEqual(TapirCommand.errorCounters(in: sandbox).values.filter { $0 != 0 }.count, 0)
    }

    // MARK: - Helpers

    private func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    /// udhcpc on `interface` with the events script; -n -t 5 -T 1: five discovers a second
    /// apart, then it gives up. `stay`: keep running after the lease (else quit, -q).
    private func udhcpc(on interface: String, stay: Bool) -> [String] {
        let script = TapirCommand.repository.appendingPathComponent("Tests/TapirTests/Scripts/udhcpc-events.sh").path
        return ["udhcpc", "-f", "-n", "-t", "5", "-T", "1", "-i", interface, "-s", script] + (stay ? [] : ["-q"])
    }

    /// The events udhcpc's script wrote down, one per line.
    private func events(_ file: String) -> [String] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Waits (at most 20 s) for a `kind` event (bound, renew) and returns its address.
    private func waitForEvent(_ kind: String, in file: String, process: ChildProcess) throws -> String {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let line = events(file).last(where: { $0.hasPrefix(kind + " ") }) {
                return String(line.dropFirst(kind.count + 1))
            }
            if process.hasExited {
                let output = process.wait(timeout: .seconds(1))
                XCTFail("udhcpc ended (\(output.status)) without '\(kind)': \(output.stdout)\(output.stderr)")
                throw XCTSkip("no \(kind)")
            }
            usleep(100_000)
        }
        XCTFail("no '\(kind)' event within 20 s: \(events(file))")
        throw XCTSkip("no \(kind)")
    }

    /// Asks the pack's stats port (a UDP datagram to 198.18.0.2:6767) until `accept` takes
    /// the answer, at most 10 s.
    private func waitForStats(in sandbox: Sandbox, process: ChildProcess,
                              _ accept: (String) -> Bool) throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        var last = ""
        while ContinuousClock.now < deadline {
            last = try sandbox.run(["sh", "-c", "echo stats | nc -u -w1 \(server) 6767"]).stdout
            if accept(last) { return last }
            if process.hasExited { break }
            usleep(200_000)
        }
        XCTFail("the stats never showed what was expected; last: \(last)")
        throw XCTSkip("no stats")
    }
}
