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
        XCTAssertTrue(bad.stderr.contains("setting 'ports' = 'seven': 'seven' is not a port (an integer from 0 to 65535) (element 1)"),
                      bad.stderr)
        let ambiguous = try tapir(["run", "udp-echo", "icmp-echo", "--set", "ip=198.18.0.3"])
        XCTAssertTrue(ambiguous.stderr.contains("--set PACK.ip=198.18.0.3"), ambiguous.stderr)
        let missing = try tapir(["run", "no-such-pack"])
        XCTAssertTrue(missing.stderr.contains("no pack 'no-such-pack'"), missing.stderr)
        XCTAssertFalse(missing.stderr.contains("did you mean"), "nothing is near: \(missing.stderr)")
        for (typed, meant) in [("udp-ecko", "udp-echo"), ("virtualhost", "virtual-host"), ("ruter", "router")] {
            let mistyped = try tapir(["run", typed])
            XCTAssertNotEqual(mistyped.status, 0)
            XCTAssertTrue(mistyped.stderr.contains("no pack '\(typed)'"), mistyped.stderr)
            XCTAssertTrue(mistyped.stderr.hasSuffix("; did you mean \(meant)?\n"), mistyped.stderr)
        }
        let info = try tapir(["pack", "info", "icmp-ehco"])
        XCTAssertTrue(info.stderr.contains("did you mean icmp-echo?"), info.stderr)
    }

    func testTheRouterSaysWhichRouteIsWrongAndWhy() throws {
        let cases = [
            ("198.19.0.0/16 through 198.18.2.1", "'198.19.0.0/16 through 198.18.2.1' is not 'PREFIX via GATEWAY' or 'PREFIX dev N'"),
            ("198.19.0.0/33 via 198.18.2.1", "'198.19.0.0/33' is not ADDRESS/LENGTH (like 198.18.1.254/24)"),
            ("198.19.0.1/16 via 198.18.2.1", "198.19.0.1/16 has bits set past its length 16 (did you mean 198.19.0.0/16?)"),
            ("198.19.0.0/16 via 198.18.9.1", "gateway 198.18.9.1 is on no port's network"),
            ("198.19.0.0/16 via 198.18.2.x", "gateway '198.18.2.x' is not an IPv4 address"),
            ("198.19.0.0/16 dev 3", "there is no port 3 (ports are 1 to 2, in device order)"),
            ("198.19.0.0/16 via 198.18.2.1, 198.19.0.0/16 dev 1",
             "'198.19.0.0/16 dev 1' gives 198.19.0.0/16 a second route (it has '198.19.0.0/16 via 198.18.2.1')"),
            ("2001:2:9::1/48 dev 1", "2001:2:9::1/48 has bits set past its length 48 (did you mean 2001:2:9::/48?)"),
            ("2001:2:9::/48 via 2001:2:77::1", "gateway 2001:2:77::1 is on no port's IPv6 network"),
            ("2001:2:9::/48 dev 2", "'2001:2:9::/48 dev 2': port 2 has no IPv6 prefix in 'ports6'"),
        ]
        for (routes, why) in cases {
            let run = try tapir(["test", "router", "--set", "routes=\(routes)", "--set", "ports6=2001:2:0:1::1/64"])
            XCTAssertNotEqual(run.status, 0, routes)
            XCTAssertTrue((run.stdout + run.stderr).contains("setting 'routes': "), "\(routes): \(run.stdout)\(run.stderr)")
            XCTAssertTrue((run.stdout + run.stderr).contains(why), "\(routes): \(run.stdout)\(run.stderr)")
        }
    }

    /// A folder in the working directory named like an installed pack is what runs: run
    /// and pack info say so, naming both.
    func testAPackFolderShadowingAnInstalledPackIsSaid() throws {
        XCTAssertEqual(try tapir(["pack", "new", "udp-echo", "--into", directory]).status, 0)
        func inDirectory(_ arguments: [String]) throws -> ProcessOutput {
            let quoted = ([TapirCommand.path] + arguments).map { "'\($0)'" }.joined(separator: " ")
            return try ChildProcess.run(["/bin/sh", "-c", "cd '\(directory!)' && exec \(quoted)"], timeout: .seconds(60))
        }
        let installed = TapirCommand.lua("packs/udp-echo")
        let said = "./udp-echo, a pack folder in the working directory, is used, not the installed pack "
        let info = try inDirectory(["pack", "info", "udp-echo"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("folder: udp-echo\n"), info.stdout)
        XCTAssertTrue(info.stdout.contains("note: " + said), info.stdout)
        XCTAssertTrue(info.stdout.contains("/udp-echo of the same name"), info.stdout)
        let run = try inDirectory(["run", "udp-echo", "--set", "nosuch=1"])
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.stderr.contains("tapir: warning: " + said), run.stderr)
        // By path, or from elsewhere, nothing is said.
        XCTAssertFalse(try tapir(["pack", "info", "udp-echo"]).stdout.contains("note:"))
        XCTAssertFalse(try inDirectory(["pack", "info", "./udp-echo"]).stdout.contains("note:"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: installed))
    }

    /// pack info shows each setting's limits, as the manifest gives them.
    func testInfoShowsMinMaxChoicesAndAllowEmpty() throws {
        let pack = directory + "/limited"
        try FileManager.default.createDirectory(atPath: pack, withIntermediateDirectories: true)
        try """
            return {
              name = "limited", version = "1.0.0", description = "d", api = 1, handlers = {"main.lua"},
              config = {
                ports = {type = "list", of = "port", default = {7}, min = 1, help = "the ports"},
                mode = {type = "string", default = "drop", choices = {"drop", "allow"}, help = "the mode"},
                extra = {type = "list", of = "ipv4", default = {}, allow_empty = true, help = "more"},
                on = {type = "boolean", default = false, help = "a switch"},
              },
            }
            """.write(toFile: pack + "/pack.lua", atomically: true, encoding: .utf8)
        try "".write(toFile: pack + "/main.lua", atomically: true, encoding: .utf8)
        let info = try tapir(["pack", "info", pack])
        XCTAssertEqual(info.status, 0, info.stderr)
        for line in ["  ports (list of port, default 7, each 1..65535): the ports",
                     "  mode (string, default drop, one of drop, allow): the mode",
                     "  extra (list of ipv4, default , may be empty): more",
                     "  on (boolean, default false, one of true/yes/on/1 or false/no/off/0 in any case): a switch"] {
            XCTAssertTrue(info.stdout.contains(line + "\n"), info.stdout)
        }
    }

    /// A file that is not a gzip tarball gets one line saying so (not tar's three).
    func testInstallingAFileThatIsNotAGzipTarballSaysSoInOneLine() throws {
        let text = directory + "/notes.tar.gz"
        try "just some text\n".write(toFile: text, atomically: true, encoding: .utf8)
        let plain = directory + "/notes.txt"
        try "just some text\n".write(toFile: plain, atomically: true, encoding: .utf8)
        for file in [text, plain] {
            let output = try tapir(["pack", "install", file, "--to", directory + "/packs"])
            XCTAssertEqual(output.status, 1)
            XCTAssertEqual(output.stderr, "tapir: \(file) is not a gzip tarball (.tar.gz) nor a pack folder; give a pack's "
                           + "folder, or an archive of it made with: tar -czf NAME.tar.gz NAME\n")
        }
        let gzipped = directory + "/gzipped.tar.gz"
        XCTAssertEqual(try ChildProcess.run(["/bin/sh", "-c", "gzip -c '\(plain)' > '\(gzipped)'"]).status, 0)
        let output = try tapir(["pack", "install", gzipped, "--to", directory + "/packs"])
        XCTAssertEqual(output.status, 1)
        XCTAssertEqual(output.stderr, "tapir: \(gzipped) is gzip-compressed but holds no tar entries: not a tar "
                       + "archive, or an empty one (a .tar.gz made with: tar -czf NAME.tar.gz NAME)\n")
        // A longer one that tar does read and refuse.
        let long = directory + "/long.tar.gz"
        XCTAssertEqual(try ChildProcess.run(["/bin/sh", "-c", "seq 1 5000 | gzip -c > '\(long)'"]).status, 0)
        let refused = try tapir(["pack", "install", long, "--to", directory + "/packs"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderr, "tapir: \(long) is gzip-compressed but not a tar archive that tar can list "
                       + "(a .tar.gz made with: tar -czf NAME.tar.gz NAME)\n")
        let missing = try tapir(["pack", "install", directory + "/nothing.tar.gz"])
        XCTAssertEqual(missing.stderr, "tapir: \(directory!)/nothing.tar.gz: no such file or folder\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/packs"))
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
