import Foundation
import XCTest

/// One test per script in Scripts/ (the files say what each covers).
final class ScriptTests: XCTestCase {
    static var scriptsFolder: URL { Bundle.module.url(forResource: "Scripts", withExtension: nil)! }

    func run(_ name: String, file: StaticString = #filePath, line: UInt = #line) {
        let url = Self.scriptsFolder.appendingPathComponent(name + ".pkt")
        do {
            let text = try String(contentsOf: url, encoding: .utf8)
            try ScriptRunner(script: try Script(text), name: name).run()
        } catch {
            XCTFail("\(name).pkt \(error)", file: file, line: line)
        }
    }

    /// Scripts that have a test method below.
    static let tested: Set<String> = [
        "passive-open",
    ]

    /// A script without a test method below is run here, so none is skipped silently.
    func testScriptsWithoutOwnTest() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.scriptsFolder.path)
            .filter { $0.hasSuffix(".pkt") }.map { String($0.dropLast(4)) }
        XCTAssertFalse(names.isEmpty)
        for name in names.sorted() where !Self.tested.contains(name) { run(name) }
    }

    func testPassiveOpen() { run("passive-open") }
}
