@testable import Devices
import Glibc
import XCTest

final class SandboxTests: XCTestCase {
    func testCreateAdoptRunRemove() throws {
        try requireRoot()
        let sandbox = try makeTestSandbox(self)
        XCTAssertNotNil(Sandbox.ownerPID(of: sandbox.namespace, prefix: "tapir-test"))
        XCTAssertTrue(sandbox.namespace.hasPrefix("tapir-test-\(getpid())-"), sandbox.namespace)
        XCTAssertTrue(sandbox.exists)

        let device = try TunTapDevice.open(.init(name: "tps%d", mode: .tap))
        try sandbox.adopt(device)
        XCTAssertEqual(sandbox.devices, [device.name])
        XCTAssertFalse(try ChildProcess.run(["ip", "link", "show", "dev", device.name]).succeeded,
                       "the device left this namespace")

        let addresses = try ChildProcess.run(["ip", "-n", sandbox.namespace, "addr", "show", "dev", device.name])
        XCTAssertTrue(addresses.stdout.contains("inet 198.18.0.1/24"), addresses.stdout)
        XCTAssertTrue(addresses.stdout.contains("inet6 2001:2::1/64"), addresses.stdout)
        XCTAssertTrue(addresses.stdout.contains("UP"), addresses.stdout)

        let inside = try sandbox.run(["ip", "-o", "link", "show"])
        XCTAssertTrue(inside.succeeded, inside.stderr)
        XCTAssertTrue(inside.stdout.contains(device.name), inside.stdout)

        // The descriptor opened before the move still works.
        let frame = [UInt8](repeating: 0xff, count: 6) + PingResponder.mac + [0x08, 0x06]
            + [UInt8](repeating: 0, count: 28)
        XCTAssertEqual(device.write(frame), .written)

        sandbox.remove()
        XCTAssertFalse(sandbox.exists)
        sandbox.remove()  // idempotent
    }

    func testStaleNamespaceOfADeadProcessIsRemovedByTheNextSandbox() throws {
        try requireRoot()
        let finished = try ChildProcess.spawn(["true"])
        let deadPID = finished.pid
        XCTAssertTrue(finished.wait(timeout: .seconds(5)).succeeded)
        let stale = "tapir-test-\(deadPID)-0"
        let live = "tapir-test-\(getpid())-9999"
        for name in [stale, live] {
            XCTAssertTrue(try ChildProcess.run(["ip", "netns", "add", name]).succeeded)
            addTeardownBlock { _ = try? ChildProcess.run(["ip", "netns", "del", name]) }
        }

        let sandbox = try makeTestSandbox(self)
        XCTAssertTrue(sandbox.removedStale.contains(stale), "\(sandbox.removedStale)")
        XCTAssertFalse(sandbox.removedStale.contains(live))
        let list = try ChildProcess.run(["ip", "netns", "list"]).stdout
        XCTAssertFalse(list.contains(stale), list)
        XCTAssertTrue(list.contains(live), "a live process's namespace is kept: \(list)")
    }

    func testOwnerPIDParsing() {
        XCTAssertEqual(Sandbox.ownerPID(of: "tapir-123-4", prefix: "tapir"), 123)
        XCTAssertEqual(Sandbox.ownerPID(of: "tapir-test-123-4", prefix: "tapir-test"), 123)
        XCTAssertNil(Sandbox.ownerPID(of: "tapir-test-123-4", prefix: "tapir"))
        XCTAssertNil(Sandbox.ownerPID(of: "tapir-123", prefix: "tapir"))
        XCTAssertNil(Sandbox.ownerPID(of: "tapir-abc-1", prefix: "tapir"))
        XCTAssertNil(Sandbox.ownerPID(of: "tapir-0-1", prefix: "tapir"))
        XCTAssertNil(Sandbox.ownerPID(of: "other-123-4", prefix: "tapir"))
    }
}
