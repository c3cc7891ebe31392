import Devices
import Foundation
import Logging
@testable import LuaHost
import Packets
import Reactor
import XCTest

/// The packet path into Lua: what the scripts want is cached per host generation, a frame
/// none wants never enters Lua, and filter selectors are checked per link type.
final class PacketDispatchTests: XCTestCase {
    var timers: TimerQueue<ManualClock>!
    var host: TapirHost!
    var device: MemoryDevice!
    var hostDevice: HostDevice!
    var directory: String!

    override func setUpWithError() throws {
        timers = TimerQueue(clock: ManualClock(now: TimerInstant(nanoseconds: 1_000_000_000)))
        host = TapirHost(timers: timers, logger: Logger(label: "test"))
        device = MemoryDevice(name: "mem0", mode: .tap)
        hostDevice = try host.add(device)
        directory = NSTemporaryDirectory() + "tapir-dispatch-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        host.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func load(_ source: String, into host: TapirHost? = nil) throws -> Script {
        let path = directory + "/script-\(UUID().uuidString).lua"
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        return try (host ?? self.host).load(path: path)
    }

    private func handle(_ frame: [UInt8]) {
        frame.withUnsafeBytes { host.dispatch.handle($0, from: hostDevice) }
    }

    func testAFrameNoScriptWantsIsCountedUnclaimedAndNeverEntersLua() throws {
        let script = try load("tapir.on('udp', function() return true end)")
        handle(TestFrames.arpRequest())
        XCTAssertEqual(hostDevice.unclaimedFrames, 1)
        XCTAssertEqual(script.state.handlers[0].calls, 0)
        handle(TestFrames.udp(dport: 7))
        XCTAssertEqual(script.state.handlers[0].calls, 1)
        XCTAssertEqual(hostDevice.unclaimedFrames, 1)
        handle(Array(TestFrames.udp(dport: 7).prefix(20)))  // cut inside the IPv4 header
        XCTAssertEqual(hostDevice.malformedFrames, 1)
    }

    /// Each host counts its own handler changes: another host's scripts leave its cached
    /// view of what its scripts want alone, and its own new handler is dispatched to.
    func testHandlerChangesAreCountedPerHost() throws {
        let other = TapirHost(timers: timers, logger: Logger(label: "other"))
        defer { other.stop() }
        let script = try load("tapir.on('udp', function() return true end)")
        handle(TestFrames.arpRequest())  // what the scripts want is cached: udp only
        let generation = (host.handlerChanges.generation, other.handlerChanges.generation)
        let elsewhere = try load("tapir.on('udp', function() end)", into: other)
        try elsewhere.state.load(chunk: "tapir.on('tcp', function() end)", name: "other")
        XCTAssertEqual(host.handlerChanges.generation, generation.0)
        XCTAssertEqual(other.handlerChanges.generation, generation.1 + 3)  // its script, its udp and tcp handlers
        try script.state.load(chunk: "tapir.on('arp', function(pkt, dev) dev:write('arp') return true end)", name: "more")
        XCTAssertEqual(host.handlerChanges.generation, generation.0 + 1)
        handle(TestFrames.arpRequest())
        XCTAssertEqual(device.takeWritten(), [Array("arp".utf8)])
    }

    func testAFilterSelectorMustCompileForEveryLinkTypeThereIs() {
        let dispatch = PacketDispatch(clock: { TimerInstant(nanoseconds: 0) })
        XCTAssertNil(dispatch.check(.filter("arp"), linkTypes: []))  // no device yet: Ethernet
        XCTAssertNil(dispatch.check(.filter("arp"), linkTypes: [.ethernet]))
        XCTAssertNotNil(dispatch.check(.filter("arp"), linkTypes: [.ethernet, .rawIP]))
        XCTAssertNil(dispatch.check(.filter("udp"), linkTypes: [.ethernet, .rawIP]))
        XCTAssertNil(dispatch.check(.layer(.arp, keys: []), linkTypes: [.rawIP]))
    }
}
