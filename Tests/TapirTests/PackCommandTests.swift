import Devices
import Foundation
import XCTest

/// `tapir test`, `tapir pack ...` and `tapir run`'s settings, as a user runs them.
final class PackCommandTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "tapir-pack-commands-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func tapir(_ arguments: [String], environment: [String] = []) throws -> ProcessOutput {
        try ChildProcess.run(["/usr/bin/env"] + environment + [TapirCommand.path] + arguments, timeout: .seconds(60))
    }

    func testEveryBundledPackPassesItsOwnTests() throws {
        let output = try tapir(["test"])
        XCTAssertEqual(output.status, 0, output.stdout + output.stderr)
        XCTAssertTrue(output.stdout.contains(" passed, 0 failed"), output.stdout)
        XCTAssertFalse(output.stdout.contains(" 0 passed"), output.stdout)
    }

    func testAFailingOrEmptyTestFailsTheRun() throws {
        XCTAssertEqual(try tapir(["pack", "new", "sample", "--into", directory]).status, 0)
        let pack = directory + "/sample"
        try "function test_nothing() end\n".write(toFile: pack + "/tests/empty_test.lua", atomically: true, encoding: .utf8)
        let output = try tapir(["test", pack])
        XCTAssertNotEqual(output.status, 0)
        XCTAssertTrue(output.stdout.contains("asserted nothing"), output.stdout)
        // the skeleton's own tests pass; the empty one is the one failure
        XCTAssertTrue(output.stdout.contains(" passed, 1 failed") && !output.stdout.contains("\n0 passed"),
                      output.stdout)
    }

    func testANewPackChecksClean() throws {
        XCTAssertEqual(try tapir(["pack", "new", "fresh", "--into", directory]).status, 0)
        let check = try tapir(["pack", "check", directory + "/fresh"])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
        XCTAssertTrue(check.stdout.contains("2 passed, 0 failed"), check.stdout)
    }

    func testCheckReportsASyntaxError() throws {
        XCTAssertEqual(try tapir(["pack", "new", "broken", "--into", directory]).status, 0)
        try "tapir.on(\"udp\", function(\n".write(toFile: directory + "/broken/main.lua", atomically: true, encoding: .utf8)
        let check = try tapir(["pack", "check", directory + "/broken"])
        XCTAssertNotEqual(check.status, 0)
        XCTAssertTrue(check.stderr.contains("main.lua:"), check.stderr)
    }

    func testListAndInfo() throws {
        let list = try tapir(["pack", "list"])
        for name in ["arp-responder", "icmp-echo", "udp-echo", "virtual-host"] {
            XCTAssertTrue(list.stdout.contains(name), list.stdout)
        }
        let info = try tapir(["pack", "info", "virtual-host"])
        XCTAssertTrue(info.stdout.contains("ip (ipv4, default 198.18.0.2)"), info.stdout)
        XCTAssertTrue(info.stdout.contains("udp_echo_ports (list of port, default 7)"), info.stdout)
    }

    func testRunChecksSettingsBeforeAnythingElse() throws {
        let bad = try tapir(["run", TapirCommand.lua("packs/udp-echo"), "--set", "ports=seven"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("setting 'ports' = 'seven' is not a comma-separated list of port values"), bad.stderr)
        let ambiguous = try tapir(["run", "udp-echo", "icmp-echo", "--set", "ip=198.18.0.3"])
        XCTAssertTrue(ambiguous.stderr.contains("--set PACK.ip=198.18.0.3"), ambiguous.stderr)
        let missing = try tapir(["run", "no-such-pack"])
        XCTAssertTrue(missing.stderr.contains("no pack 'no-such-pack'"), missing.stderr)
    }

    func testInstallFromAFolderAndAnArchive() throws {
        let data = directory + "/data"
        XCTAssertEqual(try tapir(["pack", "new", "mine", "--into", directory]).status, 0)
        let fromFolder = try tapir(["pack", "install", directory + "/mine"], environment: ["XDG_DATA_HOME=\(data)"])
        XCTAssertEqual(fromFolder.status, 0, fromFolder.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: data + "/tapir/packs/mine/pack.lua"))
        let listed = try tapir(["pack", "list"], environment: ["XDG_DATA_HOME=\(data)"])
        XCTAssertTrue(listed.stdout.contains("mine"), listed.stdout)

        XCTAssertEqual(try ChildProcess.run(["tar", "-czf", directory + "/mine.tar.gz", "-C", directory, "mine"]).status, 0)
        let again = try tapir(["pack", "install", directory + "/mine.tar.gz"], environment: ["XDG_DATA_HOME=\(data)"])
        XCTAssertTrue(again.stderr.contains("exists already"), again.stderr)
        let forced = try tapir(["pack", "install", "--force", directory + "/mine.tar.gz"],
                               environment: ["XDG_DATA_HOME=\(data)"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
    }

    func testInstallRefusesEscapingAndLinkedEntries() throws {
        let staging = directory + "/staging"
        try FileManager.default.createDirectory(atPath: staging + "/evil", withIntermediateDirectories: true)
        try "x".write(toFile: directory + "/outside.lua", atomically: true, encoding: .utf8)
        XCTAssertEqual(try ChildProcess.run(["tar", "-czf", directory + "/dotdot.tar.gz", "-C", staging,
                                             "--transform", "s,^,evil/../../,", "../outside.lua"]).status, 0)
        let dotdot = try tapir(["pack", "install", directory + "/dotdot.tar.gz", "--to", directory + "/packs"])
        XCTAssertNotEqual(dotdot.status, 0)
        XCTAssertTrue(dotdot.stderr.contains("points outside the archive"), dotdot.stderr)

        try FileManager.default.createSymbolicLink(atPath: staging + "/evil/passwd", withDestinationPath: "/etc/passwd")
        XCTAssertEqual(try ChildProcess.run(["tar", "-czf", directory + "/link.tar.gz", "-C", staging, "evil"]).status, 0)
        let link = try tapir(["pack", "install", directory + "/link.tar.gz", "--to", directory + "/packs"])
        XCTAssertNotEqual(link.status, 0)
        XCTAssertTrue(link.stderr.contains("is a link"), link.stderr)

        XCTAssertEqual(try ChildProcess.run(["tar", "-czf", directory + "/absolute.tar.gz", "-P", directory + "/outside.lua"]).status, 0)
        let absolute = try tapir(["pack", "install", directory + "/absolute.tar.gz", "--to", directory + "/packs"])
        XCTAssertNotEqual(absolute.status, 0)
        XCTAssertTrue(absolute.stderr.contains("points outside the archive"), absolute.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/packs"))
    }
}
