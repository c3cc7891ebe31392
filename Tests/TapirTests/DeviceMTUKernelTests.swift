import Devices
import Foundation
import Glibc
import XCTest

/// A tun/tap's MTU follows the kernel's while Tapir runs (`ip link set DEV mtu N`), in
/// the namespace Tapir opened it in and after it moved to another: scripts see it in
/// `dev.mtu`, the router fragments and refuses by it.
final class DeviceMTUKernelTests: XCTestCase {
    /// Answers UDP port 7 with "mtu=N", N the device's MTU as the script sees it.
    static let script = TapirCommand.udpAnswerer(reply: "\"mtu=\" .. tostring(dev.mtu)")

    /// Asks until the answer is `expected` (the kernel's notice reaches Tapir soon after
    /// `ip link set`, not at once), at most 5 s; returns the last answer.
    func askUntil(_ expected: String, in sandbox: Sandbox) throws -> String {
        var answer = ""
        let deadline = ContinuousClock.now + .seconds(5)
        repeat {
            answer = try sandbox.run(["sh", "-c", "printf x | nc -u -w1 198.18.0.2 7"]).stdout
            if answer == expected { break }
            usleep(100_000)
        } while ContinuousClock.now < deadline
        return answer
    }

    func testDevMTUFollowsTheKernelHereAndInTheNamespaceTheDeviceMovesTo() throws {
        try TapirCommand.requireRoot()
        let opener = try Sandbox(prefix: "tapir-test-mtu")
        defer { opener.remove() }
        let other = try Sandbox(prefix: "tapir-test-mtu")
        defer { other.remove() }
        let script = NSTemporaryDirectory() + "tapir-mtu-\(getpid())-\(UUID().uuidString).lua"
        defer { try? FileManager.default.removeItem(atPath: script) }
        try Self.script.write(toFile: script, atomically: true, encoding: .utf8)
        let tapir = try TapirCommand.start([script, "--no-watch", "--log-level", "info"], device: "mtut0", in: opener)
        defer { _ = TapirCommand.stop(tapir) }

        XCTAssertEqual(try askUntil("mtu=1500", in: opener), "mtu=1500")
        try opener.ip(["link", "set", "mtut0", "mtu", "1280"])
        XCTAssertEqual(try askUntil("mtu=1280", in: opener), "mtu=1280")

        try opener.ip(["link", "set", "mtut0", "netns", other.namespace])
        try other.ip(["addr", "add", "198.18.0.1/24", "dev", "mtut0"])
        try other.ip(["link", "set", "mtut0", "up"])
        try other.ip(["link", "set", "mtut0", "mtu", "1400"])
        XCTAssertEqual(try askUntil("mtu=1400", in: other), "mtu=1400", "followed into the namespace it moved to")
        try other.ip(["link", "set", "mtut0", "mtu", "9000"])
        XCTAssertEqual(try askUntil("mtu=9000", in: other), "mtu=9000")

        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("mtut0: MTU 1500 -> 1280"), output.stderr)
        XCTAssertFalse(output.stderr.contains("no longer followed"), output.stderr)
    }
}

extension RouterKernelTests {
    /// Host 2's link shrinks to 1280 after the router opened it: a 1300-byte datagram with
    /// Don't Fragment gets "fragmentation needed" with the new MTU, and one without gets
    /// through in fragments of it.
    func testAPortsMTUChangedWhileRunningIsTheOneTheRouterUses() throws {
        try TapirCommand.requireRoot()
        let (tapir, host1, host2) = try routerBetweenTwoHosts()
        defer { _ = TapirCommand.stop(tapir) }
        let before = try ping(host1, ["-c", "1", "-W", "2", "-M", "do", "-s", "1300", "198.18.2.1"])
        XCTAssertTrue(before.contains("1 received"), before)

        try host2.ip(["link", "set", "rtb", "mtu", "1280"])
        var refused = ""
        let deadline = ContinuousClock.now + .seconds(5)
        repeat {
            refused = try ping(host1, ["-c", "1", "-W", "2", "-M", "do", "-s", "1300", "198.18.2.1"])
            if refused.contains("mtu = 1280") || refused.contains("mtu=1280") { break }
            usleep(100_000)
        } while ContinuousClock.now < deadline
        XCTAssertTrue(refused.contains("Frag needed and DF set (mtu = 1280)") || refused.contains("mtu=1280"), refused)
        let fragmented = try ping(host1, ["-c", "1", "-W", "2", "-M", "dont", "-s", "1300", "198.18.2.1"])
        XCTAssertTrue(fragmented.contains("1 received"), fragmented)
    }
}
