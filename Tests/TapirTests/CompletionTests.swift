import Devices
import Foundation
import XCTest

/// The bash completion tapir generates (`--generate-completion-script bash`, what
/// scripts/install and the package install), sourced in a real bash: pack names complete
/// after `tapir run`, `tapir test` and `tapir pack info`, and paths after `tapir run`.
final class CompletionTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "tapir-completion-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = try ChildProcess.run([TapirCommand.path, "--generate-completion-script", "bash"])
        XCTAssertEqual(script.status, 0, script.stderr)
        try script.stdout.write(toFile: directory + "/tapir.bash", atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// What bash offers for TAB at the end of `line` (words split on spaces), one a line,
    /// run from `workingDirectory`.
    func complete(_ line: String, in workingDirectory: String? = nil) throws -> [String] {
        let words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        let quoted = ([TapirCommand.path] + words.dropFirst()).map { "'\($0)'" }.joined(separator: " ")
        let commandLine = ([TapirCommand.path] + words.dropFirst()).joined(separator: " ")
        let program = """
            \(workingDirectory.map { "cd '\($0)' || exit 1" } ?? "")
            source '\(directory!)/tapir.bash'
            COMP_WORDS=(\(quoted))
            COMP_CWORD=\(words.count - 1)
            COMP_LINE='\(commandLine)'
            COMP_POINT=${#COMP_LINE}
            _tapir '\(TapirCommand.path)' '\(words.last!)' '\(words.count > 1 ? words[words.count - 2] : "")'
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let output = try ChildProcess.run(["bash", "--norc", "--noprofile", "-c", program], timeout: .seconds(30))
        XCTAssertEqual(output.status, 0, output.stderr)
        return output.stdout.split(separator: "\n").map(String.init).sorted()
    }

    func testRunCompletesAPackName() throws {
        XCTAssertEqual(try complete("tapir run vi"), ["virtual-host"])
    }

    func testTestAndPackInfoCompletePackNames() throws {
        XCTAssertEqual(try complete("tapir test udp-"), ["udp-echo", "udp-filter"].filter {
            FileManager.default.fileExists(atPath: TapirCommand.lua("packs/" + $0))
        })
        XCTAssertEqual(try complete("tapir pack info arp"), ["arp-responder"])
        XCTAssertEqual(try complete("tapir run no-such-pa"), [])
    }

    func testRunCompletesScriptsAndFoldersByPath() throws {
        try FileManager.default.createDirectory(atPath: directory + "/handlers", withIntermediateDirectories: true)
        try "".write(toFile: directory + "/handlers/echo.lua", atomically: true, encoding: .utf8)
        try "".write(toFile: directory + "/handlers/notes.txt", atomically: true, encoding: .utf8)
        XCTAssertEqual(try complete("tapir run hand", in: directory), ["handlers/"])
        XCTAssertEqual(try complete("tapir run handlers/", in: directory), ["handlers/echo.lua"])
    }
}
