import Devices
import Foundation
import Logging
@testable import LuaHost
import Reactor
import XCTest

/// A host on a memory tap device and a manual clock, with its log collected and a folder
/// for scripts: the set-up the host's tests share (TapirHostTests, TasksTests,
/// TCPServiceTests).
class MemoryHostTestCase: XCTestCase {
    var timers: TimerQueue<ManualClock>!
    var host: TapirHost!
    var device: MemoryDevice!
    var hostDevice: HostDevice!
    var logged: LogLines!
    var directory: String!

    override func setUpWithError() throws {
        try makeHost(TapirHost.Options())
        directory = NSTemporaryDirectory() + "tapir-host-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        host.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A new host (the old one stopped) with `options`, its clock at 1 s, one memory tap.
    func makeHost(_ options: TapirHost.Options) throws {
        host?.stop()
        timers = TimerQueue(clock: ManualClock(now: TimerInstant(nanoseconds: 1_000_000_000)))
        logged = LogLines()
        let lines = logged!
        host = TapirHost(options: options, timers: timers,
                         logger: Logger(label: "test") { _ in CollectingLogHandler(lines: lines) })
        device = MemoryDevice(name: "mem0", mode: .tap)
        hostDevice = try host.add(device)
    }

    /// Writes `source` into the folder as `name` and loads it.
    @discardableResult
    func load(_ source: String, name: String = "script.lua") throws -> Script {
        let path = directory + "/" + name
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        return try host.load(path: path)
    }

    /// One frame read from the device and dispatched.
    func inject(_ frame: [UInt8]) {
        device.inject(frame)
        host.pump(hostDevice)
    }

    /// What the host wrote since the last call, as text.
    func written() -> [String] {
        device.takeWritten().map { String(decoding: $0, as: UTF8.self) }
    }
}
