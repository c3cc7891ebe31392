import Devices
import Foundation
import Glibc
import XCTest

/// Hot reload under load: `tapir run` on a tap in a namespace answers a kernel-side
/// stream of numbered UDP datagrams (Benchmarks/peers/udp_stream.c) while its script
/// file is replaced by rename; the replies show which version answered and a counter
/// kept in tapir.state.
final class ReloadKernelTests: XCTestCase {
    private let device = "tapl0"
    private var directory: URL!

    override func setUpWithError() throws {
        try TapirCommand.requireRoot()
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tapir-reload-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    // MARK: - The tests

    func testThreeRenamesMidStreamSwitchTheReplyOnceEachAndKeepTheCounter() throws {
        let stream = try compileStream()
        let script = try writeVersion("v1", as: "echo.lua")
        for form in ["v2", "v3", "v4"] { _ = try writeVersion(form, as: "\(form).lua.tmp") }
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try startTapir(script, in: sandbox)

        // 10,000 datagrams a second for 3 s; a new version at 0.75 s, 1.5 s and 2.25 s.
        let rate = 10_000, renamesAt = [750, 1500, 2250]
        var arguments = [stream, "--rate", "\(rate)", "--duration", "3", "--tail-ms", "500"]
        for (form, milliseconds) in zip(["v2", "v3", "v4"], renamesAt) {
            arguments += ["--rename-at", "\(milliseconds):\(path("\(form).lua.tmp")):\(script)"]
        }
        let result = try sandbox.run(arguments, timeout: .seconds(30))
        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(output.status, 0, output.stderr)
        let report = StreamReport(result.stdout)


        // Every datagram got exactly one reply.
        XCTAssertEqual(report.summary["sent"], 30_000, result.stdout)
        XCTAssertEqual(report.summary["replied_once"], 30_000, result.stdout)
        XCTAssertEqual(report.summary["duplicates"], 0, result.stdout)
        XCTAssertEqual(report.summary["missing"], 0, result.stdout)
        XCTAssertEqual(report.summary["unparsed"], 0, result.stdout)
        XCTAssertGreaterThanOrEqual(report.summary["rate_per_s"] ?? 0, 9_500, "the stream was too slow: \(result.stdout)")

        // In sequence order the form changes exactly three times, v1 → v2 → v3 → v4, never back.
        XCTAssertEqual(report.changes.map(\.form), ["v1", "v2", "v3", "v4"], result.stdout)
        XCTAssertEqual(report.summary["form_regressions"], 0, result.stdout)
        // Each change comes after its rename (a datagram sent before it cannot see the
        // new version) and before the next one.
        let renameSequences = renamesAt.map { $0 * rate / 1000 }
        for (index, change) in report.changes.dropFirst().enumerated() {
            XCTAssertGreaterThan(change.sequence, renameSequences[index], "\(change.form) too early: \(result.stdout)")
            if index + 1 < renameSequences.count {
                XCTAssertLessThan(change.sequence, renameSequences[index + 1], "\(change.form) too late: \(result.stdout)")
            }
        }

        // The counter carries over: one more per reply, across versions, from the warm-up
        // datagram's 1.
        XCTAssertEqual(report.changes.first?.counter, 2, result.stdout)
        XCTAssertEqual(report.summary["counter_breaks"], 0, result.stdout)
        for change in report.changes {
            XCTAssertEqual(change.counter, change.sequence + 1, "counter reset at \(change.form): \(result.stdout)")
        }
        XCTAssertEqual(output.stderr.components(separatedBy: "reloaded ").count - 1, 3, output.stderr)
        try assertNoUDPErrors(sandbox)
    }

    func testABrokenNewVersionLeavesTheOldOneAnsweringAndSaysFileAndLine() throws {
        let stream = try compileStream()
        let script = try writeVersion("v1", as: "echo.lua")
        // Line 5 of each broken version is the fault (line 4 is `local FORM = ...`).
        _ = try writeVersion("v2", as: "syntax.lua.tmp", insertingAtLine5: "local = 'a syntax error'")
        _ = try writeVersion("v3", as: "toplevel.lua.tmp", insertingAtLine5: "error('the top level fails')")
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try startTapir(script, in: sandbox)

        var counted = 1  // the warm-up datagram of each stream counts too
        func streamAnswersV1(after step: String) throws {
            let result = try sandbox.run([stream, "--rate", "2000", "--count", "1000", "--tail-ms", "300"],
                                         timeout: .seconds(30))
            XCTAssertEqual(result.status, 0, result.stderr)
            let report = StreamReport(result.stdout)
            XCTAssertEqual(report.summary["replied_once"], 1000, "\(step): \(result.stdout)")
            XCTAssertEqual(report.changes.map(\.form), ["v1"], "\(step): \(result.stdout)")
            XCTAssertEqual(report.changes.first?.counter, counted + 1, "\(step): the counter was reset: \(result.stdout)")
            counted += 1001
        }

        try streamAnswersV1(after: "start")
        try replace(script, with: path("syntax.lua.tmp"))
        try streamAnswersV1(after: "a syntax error")
        try replace(script, with: path("toplevel.lua.tmp"))
        try streamAnswersV1(after: "an error in the top level")

        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        // Each failure is said with the file:line of the fault and Lua's message.
        XCTAssertTrue(output.stderr.contains("echo.lua:5: <name> expected near '='"), output.stderr)
        XCTAssertTrue(output.stderr.contains("echo.lua:5: the top level fails"), output.stderr)
        XCTAssertEqual(output.stderr.components(separatedBy: "the old version keeps running").count - 1, 2,
                       output.stderr)
        XCTAssertFalse(output.stderr.contains("reloaded "), "a broken version was swapped in: \(output.stderr)")
    }

    // MARK: - Helpers

    private func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    /// Compiles udp_stream.c with gcc into the test's directory.
    private func compileStream() throws -> String {
        guard ChildProcess.locate("gcc") != nil else {
            throw XCTSkip("needs gcc to build Benchmarks/peers/udp_stream.c")
        }
        let source = TapirCommand.repository.appendingPathComponent("Benchmarks/peers/udp_stream.c").path
        let binary = path("udp_stream")
        let result = try ChildProcess.run(["gcc", "-O2", "-Wall", "-o", binary, source], timeout: .seconds(60))
        guard result.succeeded else {
            XCTFail("gcc failed: \(result.stderr)")
            throw XCTSkip("udp_stream did not compile")
        }
        return binary
    }

    /// Writes Scripts/reload-echo.lua with its FORM set to `form` (and, for a broken
    /// version, `line` inserted as line 5) to `name` in the test's directory.
    private func writeVersion(_ form: String, as name: String, insertingAtLine5 line: String? = nil) throws -> String {
        let template = TapirCommand.repository.appendingPathComponent("Tests/TapirTests/Scripts/reload-echo.lua")
        var lines = try String(contentsOf: template, encoding: .utf8).components(separatedBy: "\n")
        guard lines.count > 4, lines[3] == "local FORM = \"v1\"" else {
            XCTFail("reload-echo.lua: line 4 must be `local FORM = \"v1\"`")
            throw XCTSkip("bad template")
        }
        lines[3] = "local FORM = \"\(form)\""
        if let line { lines.insert(line, at: 4) }
        let destination = path(name)
        try lines.joined(separator: "\n").write(toFile: destination, atomically: false, encoding: .utf8)
        return destination
    }

    /// Replaces `script` by `source` (a rename in the same directory) and gives the
    /// watch time to settle (50 ms) and tapir time to try the new version.
    private func replace(_ script: String, with source: String) throws {
        guard rename(source, script) == 0 else {
            throw XCTSkip("rename \(source): \(String(cString: strerror(errno)))")
        }
        usleep(500_000)
    }

    private func startTapir(_ script: String, in sandbox: Sandbox) throws -> ChildProcess {
        let process = try sandbox.start([TapirCommand.path, "run", script, "--dev", device])
        try TapirCommand.waitForDevice(device, in: sandbox, process: process)
        // No IPv6: no router solicitations or MLD reports in the stream's way.
        _ = try sandbox.run(["sysctl", "-qw", "net.ipv6.conf.\(device).disable_ipv6=1"])
        try sandbox.ip(["addr", "add", "198.18.0.1/24", "dev", device])
        try sandbox.ip(["link", "set", device, "up"])
        return process
    }

    private func assertNoUDPErrors(_ sandbox: Sandbox, file: StaticString = #filePath, line: UInt = #line) throws {
        for (name, value) in try TapirCommand.errorCounters(in: sandbox) where name.hasPrefix("Udp") {
            XCTAssertEqual(value, 0, name, file: file, line: line)
        }
    }
}

/// The lines udp_stream prints: `summary k=v ...` and `change seq=… form=… counter=…`.
private struct StreamReport {
    struct Change {
        var sequence: Int
        var form: String
        var counter: Int
    }

    var summary: [String: Int] = [:]
    var changes: [Change] = []

    init(_ output: String) {
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard let kind = words.first else { continue }
            var fields: [String: String] = [:]
            for word in words.dropFirst() {
                let pair = word.split(separator: "=", maxSplits: 1)
                if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
            }
            switch kind {
            case "summary":
                for (key, value) in fields { summary[key] = Double(value).map { Int($0) } }
            case "change":
                if let sequence = fields["seq"].flatMap({ Int($0) }), let form = fields["form"],
                   let counter = fields["counter"].flatMap({ Int($0) }) {
                    changes.append(Change(sequence: sequence, form: form, counter: counter))
                }
            default:
                continue
            }
        }
    }
}
