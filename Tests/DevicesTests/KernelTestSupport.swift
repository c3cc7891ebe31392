import Devices
import Glibc
import XCTest

/// Polls `devices` (100 ms at a time) and hands every packet read to `handle`, until
/// `done()` says so or `limit` passes. Returns the `.gone` reasons seen, by device index.
@discardableResult
func serve(_ devices: [TunTapDevice], for limit: Duration, until done: () -> Bool,
           _ handle: (Int, UnsafeRawBufferPointer) -> Void) -> [Int: String] {
    let buffer = ReadBuffer()
    defer { withExtendedLifetime(buffer) {} }  // `.bytes` does not keep it alive
    let drain = DeviceDrain()
    let deadline = ContinuousClock.now + limit
    var gone: [Int: String] = [:]
    while ContinuousClock.now < deadline, !done() {
        var fds = devices.map { pollfd(fd: $0.fileDescriptor?.rawValue ?? -1, events: Int16(POLLIN), revents: 0) }
        guard poll(&fds, nfds_t(fds.count), 100) > 0 else { continue }
        for (index, device) in devices.enumerated() where fds[index].revents != 0 && !device.isGone {
            let report = drain.drain(device, into: buffer.bytes) { handle(index, $0) }
            if case .gone(let reason) = report.stop { gone[index] = reason }
        }
    }
    return gone
}

func requireRoot() throws {
    guard getuid() == 0 else {
        throw XCTSkip("needs root (CAP_NET_ADMIN) to create tun/tap devices and network namespaces")
    }
    guard access("/dev/net/tun", F_OK) == 0 else {
        throw XCTSkip("/dev/net/tun is missing (modprobe tun)")
    }
}

/// A sandbox namespace for a test, `tapir-test-<pid>-<n>`, removed when the test ends.
func makeTestSandbox(_ test: XCTestCase) throws -> Sandbox {
    let sandbox = try Sandbox(prefix: "tapir-test")
    test.addTeardownBlock { sandbox.remove() }
    return sandbox
}
