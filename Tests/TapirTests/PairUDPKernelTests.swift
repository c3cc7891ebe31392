import Devices
import Foundation
import Glibc
import XCTest

/// Twisted's pairudp.py, ported to lua/examples/pairudp.lua, prints what a kernel-side
/// sender sent to UDP port 42, run as the README says; its ARPProtocol answers the
/// kernel's ARP, so no static neighbour entry is needed.
final class PairUDPKernelTests: XCTestCase {
    func testThePortedExamplePrintsWhatTheKernelSent() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try sandbox.start([TapirCommand.path, "run", TapirCommand.lua("examples/pairudp.lua"),
                                       "--dev", "tap0"])
        try TapirCommand.waitForDevice("tap0", in: sandbox, process: tapir)
        try sandbox.ip(["addr", "add", "198.18.0.1/24", "dev", "tap0"])
        try sandbox.ip(["link", "set", "tap0", "up"])
        // Sent three times, 100 ms apart: a datagram sent the instant the link comes up can
        // be lost on a busy machine (seen once in CI), and one arrival is all that is asked.
        for _ in 0..<3 {
            _ = try sandbox.run(["sh", "-c", "printf 'hello twisted' | nc -u -w0 -p 4242 198.18.0.2 42"])
            usleep(100_000)
        }
        usleep(300_000)
        let neighbours = try sandbox.ip(["neigh", "show", "198.18.0.2", "dev", "tap0"])
        XCTAssertTrue(neighbours.stdout.contains("lladdr 02:00:00:00:00:02"), "learned by ARP: " + neighbours.stdout)
        tapir.signal(SIGTERM)
        let output = tapir.wait(timeout: .seconds(10))
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stdout.contains("\"hello twisted\" from 198.18.0.1:4242"), output.stdout + output.stderr)
    }
}
