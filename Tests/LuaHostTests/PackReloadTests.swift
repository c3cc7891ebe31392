import Devices
import Foundation
import Glibc
import Logging
@testable import LuaHost
import Reactor
import XCTest

/// A pack reloads when one of its handler files is saved, and stays a sandboxed pack with
/// its settings.
final class PackReloadTests: XCTestCase {
    func testSavingAHandlerFileReloadsThePack() throws {
        let packs = try PackFixture()
        let version = { (word: String) in """
            tapir.on("udp", function(pkt, dev)
              dev:write("\(word) " .. tapir.config.greeting .. " " .. tostring(pcall(os.execute)))
              return true
            end)
            """ }
        let directory = try packs.write("live", handler: version("one"),
                                        config: "greeting = {type = 'string', default = 'hi', help = 'h'},")
        let loop = try EventLoop()
        defer { loop.close() }
        let live = TapirHost(loop: loop, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let memory = MemoryDevice()
        let liveDevice = try live.add(memory)
        let pack = try Pack(directory: directory)
        try live.load(pack: pack, config: pack.manifest.resolve(["greeting": "hello"]))
        live.watchPackHandlers()
        var answered: [String] = []
        memory.inject(TestFrames.udp(dport: 7))
        live.pump(liveDevice)
        answered += memory.takeWritten().map { String(decoding: $0, as: UTF8.self) }
        let path = directory + "/main.lua"
        let temporary = path + ".tmp"
        try version("two").write(toFile: temporary, atomically: false, encoding: .utf8)
        rename(temporary, path)
        loop.schedule(after: .milliseconds(20), repeating: .milliseconds(20)) {
            memory.inject(TestFrames.udp(dport: 7))
            live.pump(liveDevice)
            answered += memory.takeWritten().map { String(decoding: $0, as: UTF8.self) }
            if answered.last?.hasPrefix("two") == true || answered.count > 100 { loop.stop() }
        }
        try loop.run()
        live.stop()
        XCTAssertEqual(answered.first, "one hello false")
        XCTAssertEqual(answered.last, "two hello false", "\(answered)")
    }
}
