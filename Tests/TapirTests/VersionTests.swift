import Devices
import Foundation
import XCTest

/// `tapir --version` prints the one version (Sources/LuaHost/TapirVersion.swift, which
/// scripts/package reads too), and a pack asking for a newer host API is refused by every
/// command that takes packs, with both API versions named.
final class VersionTests: XCTestCase {
    /// The version as scripts/package reads it: the string literal of TapirVersion.text.
    static var sourceVersion: String? {
        let file = TapirCommand.repository.appendingPathComponent("Sources/LuaHost/TapirVersion.swift").path
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
              let match = text.firstMatch(of: /static let text = "([^"]+)"/) else { return nil }
        return String(match.1)
    }

    func testVersionIsTheOneInTheSource() throws {
        let output = try ChildProcess.run([TapirCommand.path, "--version"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let expected = try XCTUnwrap(Self.sourceVersion)
        XCTAssertEqual(output.stdout, expected + "\n")
    }

    func testLuaSeesTheSameVersion() throws {
        let directory = NSTemporaryDirectory() + "tapir-version-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = directory + "/version.lua"
        try "print(tapir.version)\n".write(toFile: script, atomically: true, encoding: .utf8)
        let capture = TapirCommand.repository.appendingPathComponent("Tests/PacketsTests/Fixtures").path
        let pcap = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: capture)
            .first { $0.hasSuffix(".pcap") }.map { capture + "/" + $0 })
        let output = try ChildProcess.run([TapirCommand.path, "replay", pcap, script])
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertEqual(output.stdout.split(separator: "\n").first.map(String.init), Self.sourceVersion)
    }

    func testAPackAskingForANewerAPIIsRefusedWithBothVersions() throws {
        let directory = NSTemporaryDirectory() + "tapir-api-\(getpid())-\(UUID().uuidString)"
        let pack = directory + "/future"
        try FileManager.default.createDirectory(atPath: pack + "/tests", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
            return {name = "future", version = "1.0.0", description = "needs a newer tapir", api = 2,
                    handlers = {"main.lua"}}
            """.write(toFile: pack + "/pack.lua", atomically: true, encoding: .utf8)
        try "tapir.on('udp', function() end)\n".write(toFile: pack + "/main.lua", atomically: true, encoding: .utf8)
        let commands: [[String]] = [
            ["test", pack], ["run", pack], ["pack", "check", pack], ["pack", "info", pack],
            ["pack", "install", pack, "--to", directory + "/installed"],
        ]
        for command in commands {
            let output = try ChildProcess.run([TapirCommand.path] + command)
            XCTAssertEqual(output.status, 1, "\(command): \(output.stdout)")
            XCTAssertTrue(output.stderr.contains("the pack needs host API 2; this tapir offers API 1"),
                          "\(command): \(output.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/installed/future"))
    }
}
