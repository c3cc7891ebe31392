import Devices
import Foundation
import Glibc
import XCTest

/// `tapir run` with several devices: repeated `--dev` (with per-device modes), and
/// `--hosts N`, which makes N sandbox namespaces joined only through the host's scripts.
final class MultiDeviceKernelTests: XCTestCase {
    func testRepeatedDevGivesEveryDeviceItsModeAndIdInOrder() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try sandbox.start([TapirCommand.path, "run", hub, "--no-watch",
                                       "--dev", "mda0", "--dev", "mdb0:tun", "--dev", "mdc0"])
        for device in ["mda0", "mdb0", "mdc0"] {
            try TapirCommand.waitForDevice(device, in: sandbox, process: tapir)
        }
        let details = try sandbox.ip(["-d", "link", "show", "mdb0"]).stdout
        XCTAssertTrue(details.contains("tun type tun"), details)
        tapir.signal(SIGTERM)
        let output = tapir.wait(timeout: .seconds(10))
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("devices 1=mda0/tap 2=mdb0/tun 3=mdc0/tap"), output.stderr)
    }

    func testHostsMakesOneNamespacePerDeviceAddressedInOrderAndRemovesThem() throws {
        try TapirCommand.requireRoot()
        let tapir = try ChildProcess.spawn([TapirCommand.path, "run", hub, "--no-watch", "--hosts", "3"])
        let namespaces = try TapirCommand.sandboxNamespaces(of: tapir, count: 3)
        // Host 1 reaches host 3 over IPv4 and host 3 reaches host 2 over IPv6, through the hub.
        let ping = try pingUntilAnswered(from: namespaces[0], ["198.18.0.3"])
        XCTAssertTrue(ping.stdout.contains("2 received"), ping.stdout + ping.stderr)
        let ping6 = try pingUntilAnswered(from: namespaces[2], ["-6", "2001:2::2"])
        XCTAssertTrue(ping6.stdout.contains("2 received"), ping6.stdout + ping6.stderr)

        tapir.signal(SIGTERM)
        let output = tapir.wait(timeout: .seconds(10))
        XCTAssertEqual(output.status, 0, output.stderr)
        for (index, namespace) in namespaces.enumerated() {
            XCTAssertTrue(output.stdout.contains("host \(index + 1): namespace \(namespace),"), output.stdout)
            XCTAssertTrue(output.stdout.contains("kernel side 198.18.0.\(index + 1)/24"), output.stdout)
        }
        XCTAssertTrue(output.stderr.contains("devices 1=tapir"), output.stderr)
        let after = try ChildProcess.run(["ip", "netns", "list"]).stdout
        for namespace in namespaces {
            XCTAssertFalse(after.contains(namespace), "\(namespace) is removed: \(after)")
        }
    }

    func testABadDevArgumentOrHostsWithDevIsAUsageError() throws {
        let bad = try ChildProcess.run([TapirCommand.path, "run", hub, "--dev", "x:ethernet"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("expected NAME, NAME:tap, NAME:tun or NAME:packet"), bad.stderr)
        let both = try ChildProcess.run([TapirCommand.path, "run", hub, "--dev", "x", "--hosts", "2"])
        XCTAssertEqual(both.status, 64)
        XCTAssertTrue(both.stderr.contains("--hosts makes its own devices"), both.stderr)
        let twice = try ChildProcess.run([TapirCommand.path, "run", hub, "--dev", "x", "--dev", "x:tun"])
        XCTAssertEqual(twice.status, 64)
        XCTAssertTrue(twice.stderr.contains("named twice"), twice.stderr)
    }

    private var hub: String {
        TapirCommand.repository.appendingPathComponent("Tests/TapirTests/Scripts/hub.lua").path
    }

    private func pingUntilAnswered(from namespace: String, _ target: [String]) throws -> ProcessOutput {
        var ping = try ChildProcess.run(["true"])
        for _ in 0..<30 {
            ping = try ChildProcess.run(["ip", "netns", "exec", namespace, "ping", "-c", "2", "-i", "0.2", "-W", "2"]
                                        + target, timeout: .seconds(10))
            if ping.stdout.contains("2 received") { break }
            usleep(100_000)
        }
        return ping
    }
}
