import Devices
import Glibc
import Kernel
import SystemPackage
import XCTest

/// LinkWatcher on a scripted kernel: what it makes of netlink's news, a device that moves
/// to another namespace, lost events, and each way of failing.
final class LinkWatcherTests: XCTestCase {
    private func watched(_ io: ScriptedDeviceIO) throws -> LinkWatcher {
        io.namespaceResult = 50
        let device = try TunTapDevice.open(.init(name: "scripted0", mode: .tun), io: io)
        return try LinkWatcher(following: device, io: io)
    }

    func testAnMTUChangeIsReportedOnceAndNothingElseIsNews() throws {
        let io = ScriptedDeviceIO()
        let watcher = try watched(io)
        XCTAssertEqual(watcher.mtu, 1500)
        io.linkChanges = [.success(LinkChanges(mtu: 1280)), .success(LinkChanges(mtu: 1280)), .success(LinkChanges())]
        XCTAssertEqual(watcher.readChanges(), LinkWatcher.Outcome(mtu: 1280))
        XCTAssertEqual(watcher.readChanges(), LinkWatcher.Outcome(), "the same MTU again is no change")
        XCTAssertEqual(watcher.readChanges(), LinkWatcher.Outcome())
        XCTAssertEqual(watcher.mtu, 1280)
        XCTAssertEqual(watcher.descriptor?.rawValue, 202)
    }

    func testADeviceThatLeftItsNamespaceIsFollowedWithNewSocketsAndItsMTUReadThere() throws {
        let io = ScriptedDeviceIO()
        let watcher = try watched(io)
        io.mtu = 9000
        io.linkChanges = [.success(LinkChanges(removed: true))]
        XCTAssertEqual(watcher.readChanges(), LinkWatcher.Outcome(mtu: 9000, descriptorChanged: true))
        XCTAssertEqual(watcher.descriptor?.rawValue, 204, "the new namespace's socket")
        XCTAssertTrue(io.closed.contains(202) && io.closed.contains(203) && io.closed.contains(50),
                      "the old sockets and the namespace descriptors closed: \(io.closed)")
    }

    func testLostEventsMakeItReadTheMTUAfresh() throws {
        let io = ScriptedDeviceIO()
        let watcher = try watched(io)
        io.mtu = 1400
        io.linkChanges = [.failure(.noBufferSpace)]
        XCTAssertEqual(watcher.readChanges(), LinkWatcher.Outcome(mtu: 1400, descriptorChanged: true))
    }

    func testAMoveItCannotFollowAfterPrivilegesWereDroppedStopsItSayingWhy() throws {
        let io = ScriptedDeviceIO()
        let watcher = try watched(io)
        io.linkSocketsError = .notPermitted
        io.linkChanges = [.success(LinkChanges(removed: true))]
        let outcome = watcher.readChanges()
        XCTAssertTrue(outcome.descriptorChanged)
        XCTAssertEqual(outcome.stopped, "scripted0 left its network namespace or was deleted; its MTU is no longer "
                       + "followed (privileges were dropped, so its new namespace cannot be entered)")
        XCTAssertNil(watcher.descriptor)
        XCTAssertEqual(watcher.readChanges(), LinkWatcher.Outcome(), "closed: nothing more")
    }

    func testAReadThatFailsStopsIt() throws {
        let io = ScriptedDeviceIO()
        let watcher = try watched(io)
        io.linkChanges = [.failure(.ioError)]
        XCTAssertEqual(watcher.readChanges().stopped,
                       "scripted0: reading link changes failed: \(Errno.ioError); its MTU is no longer followed")
        XCTAssertNil(watcher.descriptor)
    }

    func testAKernelWithoutTUNGETDEVNETNSIsAnErrorNamingTheCall() throws {
        let io = ScriptedDeviceIO()
        let device = try TunTapDevice.open(.init(name: "scripted0", mode: .tun), io: io)
        io.namespaceResult = -EINVAL
        XCTAssertThrowsError(try LinkWatcher(following: device, io: io)) { error in
            XCTAssertTrue("\(error)".contains("TUNGETDEVNETNS of scripted0"), "\(error)")
        }
    }

    // MARK: - An interface of the caller's namespace (a packet socket's)

    func testAnInterfaceIsFollowedInTheCallersOwnNamespace() throws {
        let io = ScriptedDeviceIO()
        io.mtu = 1500
        let watcher = try LinkWatcher(interface: "eth1", mtu: 1500, io: io)
        XCTAssertEqual(io.linkSocketsNamespaces, [-1], "no namespace entered")
        io.linkChanges = [.success(LinkChanges(mtu: 1280))]
        XCTAssertEqual(watcher.readChanges(), LinkWatcher.Outcome(mtu: 1280))
        XCTAssertEqual(watcher.mtu, 1280)
    }

    func testAnInterfaceThatIsDeletedIsNoLongerFollowed() throws {
        let io = ScriptedDeviceIO()
        let watcher = try LinkWatcher(interface: "eth1", mtu: 1500, io: io)
        io.linkSocketsError = Errno(rawValue: ENODEV)
        io.linkChanges = [.success(LinkChanges(removed: true))]
        let outcome = watcher.readChanges()
        XCTAssertEqual(outcome.stopped, "eth1 left the network namespace or was deleted; its MTU is no longer followed")
        XCTAssertNil(watcher.descriptor)
        XCTAssertEqual(io.linkSocketsNamespaces, [-1, -1], "looked for again here, nowhere else")
    }
}
