import Foundation
import Logging
@testable import LuaHost
import Reactor
import XCTest

/// Packs written into a temporary folder for a test, and a host to load them into.
final class PackFixture {
    let root: String
    let timers = TimerQueue(clock: ManualClock())
    let host: TapirHost

    init() throws {
        root = NSTemporaryDirectory() + "tapir-packs-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        host = TapirHost(timers: timers, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    deinit {
        host.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// A pack named `name` with one handler file; `manifestExtra` is added to the manifest.
    @discardableResult
    func write(_ name: String, handler: String, manifest: String? = nil, config: String = "",
               permissions: [String] = []) throws -> String {
        let directory = root + "/" + name
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let listed = permissions.map { "\"\($0)\"" }.joined(separator: ", ")
        let text = manifest ?? """
            return {
              name = "\(name)", version = "1.0.0", description = "a test pack", api = 1,
              handlers = {"main.lua"},
              config = {\(config)},
              permissions = {\(listed)},
            }
            """
        try text.write(toFile: directory + "/pack.lua", atomically: true, encoding: .utf8)
        try handler.write(toFile: directory + "/main.lua", atomically: true, encoding: .utf8)
        return directory
    }

    /// Loads the pack in `directory` with its defaults (and `given` settings).
    @discardableResult
    func load(_ directory: String, given: [String: String] = [:], allowed: Set<PackPermission> = []) throws -> Script {
        let pack = try Pack(directory: directory)
        return try host.load(pack: pack, config: try pack.manifest.resolve(given), allowed: allowed)
    }

    /// The message of the error loading the pack gives.
    func loadError(_ directory: String, allowed: Set<PackPermission> = [],
                   file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            try load(directory, allowed: allowed)
            XCTFail("the pack loaded", file: file, line: line)
            return ""
        } catch {
            return "\(error)"
        }
    }
}
