import Devices
import Foundation
import Glibc
import XCTest

/// A runaway handler (infinite loop, also in pcall or a coroutine), a memory bomb (also
/// one held in a global) and an error storm each leave the host answering pings.
final class RunawayKernelTests: XCTestCase {
    func testMisbehavingHandlersLeaveTheHostAnsweringPings() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let script = TapirCommand.repository.appendingPathComponent("Tests/TapirTests/Scripts/runaway.lua").path
        let tapir = try sandbox.start([TapirCommand.path, "run", script, TapirCommand.lua("examples/responder.lua"), "--dev", "tapr0",
                                       "--budget", "2000000", "--memory", "16"])
        try TapirCommand.waitForDevice("tapr0", in: sandbox, process: tapir)
        try sandbox.ip(["addr", "add", "198.18.0.1/24", "dev", "tapr0"])
        try sandbox.ip(["link", "set", "tapr0", "up"])

        let before = try sandbox.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "198.18.0.2"])
        XCTAssertTrue(before.stdout.contains("2 received"), before.stdout)
        // Each misbehaving port gets a few datagrams; 6 gets a storm of them.
        for port in 1...5 {
            _ = try sandbox.run(["sh", "-c", "for i in 1 2 3; do echo x | nc -u -w0 198.18.0.2 \(port); done"])
            let ping = try sandbox.run(["ping", "-c", "2", "-i", "0.2", "-W", "3", "198.18.0.2"])
            XCTAssertTrue(ping.stdout.contains("2 received"), "after port \(port): \(ping.stdout)")
        }
        _ = try sandbox.run(["sh", "-c", "for i in $(seq 1 500); do echo x; done | nc -u -w1 -q0 198.18.0.2 6 || true"])
        let after = try sandbox.run(["ping", "-c", "3", "-i", "0.2", "-W", "3", "198.18.0.2"])
        XCTAssertTrue(after.stdout.contains("3 received"), after.stdout)

        tapir.signal(SIGTERM)
        let output = tapir.wait(timeout: .seconds(10))
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("instruction budget exceeded"), output.stderr)
        XCTAssertTrue(output.stderr.contains("memory"), output.stderr)
        XCTAssertTrue(output.stderr.contains("storm"), output.stderr)
        // Each failure names the handler's file:line.
        XCTAssertTrue(output.stderr.contains("runaway.lua:"), output.stderr)
    }
}
