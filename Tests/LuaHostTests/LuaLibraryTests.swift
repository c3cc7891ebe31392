import Foundation
import Logging
@testable import LuaHost
import XCTest

/// The tests of the modules under lua/tapir (tapir.addr, tapir.proto.*): lua/tapir/tests/*_test.lua,
/// written as a pack's tests are (`test.equal`, `test.pcap` for the captures beside them), run by
/// the pack test runner with a pack that holds nothing but them.
final class LuaLibraryTests: XCTestCase {
    static let luaDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("lua").path

    func testEveryLibraryTestPasses() throws {
        let root = NSTemporaryDirectory() + "tapir-library-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try """
            return {name = "tapir-library", version = "1.0.0", description = "lua/tapir's tests", api = 1,
                    handlers = {"none.lua"}}
            """.write(toFile: root + "/pack.lua", atomically: true, encoding: .utf8)
        try "-- the library's tests load no handler\n".write(toFile: root + "/none.lua", atomically: true, encoding: .utf8)
        let tests = Self.luaDirectory + "/tapir/tests"
        try FileManager.default.createSymbolicLink(atPath: root + "/tests", withDestinationPath: tests)

        var options = TapirHost.Options()
        options.moduleDirectories = [Self.luaDirectory]
        let runner = PackTestRunner(logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }, options: options)
        let pack = try Pack(directory: root)
        let results = runner.run(pack, config: [:])
        for result in results where !result.passed {
            XCTFail("\(result.file.replacingOccurrences(of: root + "/tests", with: tests)) \(result.test): \(result.failure ?? "")")
        }
        let files = Set(results.map { ($0.file as NSString).lastPathComponent })
        let expected = try FileManager.default.contentsOfDirectory(atPath: tests).filter { $0.hasSuffix("_test.lua") }
        XCTAssertEqual(files, Set(expected), "every test file ran")
        XCTAssertGreaterThan(results.count, expected.count, "more than one test a file")
    }
}
