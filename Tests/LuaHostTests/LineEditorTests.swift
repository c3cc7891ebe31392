import Glibc
import LuaHost
import Reactor
import SystemPackage
import XCTest

final class LineEditorTests: XCTestCase {
    private var loop: EventLoop!
    private var directory = ""
    private var lines: [String?] = []

    override func setUpWithError() throws {
        loop = try EventLoop()
        var template = Array("/tmp/tapir-line-editor-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Errno(rawValue: errno) }
        directory = String(cString: made)
        lines = []
    }

    override func tearDown() {
        loop.close()
        if let entries = opendir(directory) {
            while let entry = readdir(entries) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) {
                    String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
                }
                if name != "." && name != ".." { unlink(directory + "/" + name) }
            }
            closedir(entries)
        }
        rmdir(directory)
    }

    private var historyPath: String { directory + "/history" }

    // MARK: terminal

    func testTypedLineIsDelivered() throws {
        let terminal = try PseudoTerminal(loop: loop)
        let editor = try attachedEditor(on: terminal)
        defer { editor.detach() }
        XCTAssertTrue(editor.isInteractive)
        XCTAssertTrue(run { terminal.output.contains("> ") }, "no prompt drawn: \(terminal.output)")

        terminal.type("print(1)\n")
        XCTAssertTrue(run { self.lines.count == 1 })
        XCTAssertEqual(lines, ["print(1)"])
    }

    func testLineTypedInTwoWritesIsOneLine() throws {
        let terminal = try PseudoTerminal(loop: loop)
        let editor = try attachedEditor(on: terminal)
        defer { editor.detach() }

        terminal.type("pri")
        XCTAssertTrue(run { terminal.output.contains("pri") })
        XCTAssertEqual(lines, [])
        terminal.type("nt(2)\n")
        XCTAssertTrue(run { self.lines.count == 1 })
        XCTAssertEqual(lines, ["print(2)"])
    }

    func testBackspaceDeletesTheCharacterBeforeTheCursor() throws {
        let terminal = try PseudoTerminal(loop: loop)
        let editor = try attachedEditor(on: terminal)
        defer { editor.detach() }

        terminal.type("abx\u{7F}c\n")  // DEL, the erase key of a pty
        terminal.type("de\u{8}f\n")    // ^H
        XCTAssertTrue(run { self.lines.count == 2 })
        XCTAssertEqual(lines, ["abc", "df"])
    }

    func testUpArrowRecallsThePreviousLine() throws {
        let terminal = try PseudoTerminal(loop: loop)
        let editor = try attachedEditor(on: terminal)
        defer { editor.detach() }

        terminal.type("first\n")
        terminal.type("second\n")
        XCTAssertTrue(run { self.lines.count == 2 })
        terminal.type("\u{1B}[A\u{1B}[A\n")
        XCTAssertTrue(run { self.lines.count == 3 })
        XCTAssertEqual(lines, ["first", "second", "first"])
    }

    func testHistorySurvivesARestart() throws {
        let terminal = try PseudoTerminal(loop: loop)
        let first = try attachedEditor(on: terminal)
        terminal.type("one\n")
        terminal.type("   \n")  // blank: not kept
        terminal.type("two\n")
        XCTAssertTrue(run { self.lines.count == 3 })
        first.detach()
        XCTAssertNil(first.historyError)

        var status = stat()
        XCTAssertEqual(stat(historyPath, &status), 0)
        XCTAssertEqual(status.st_mode & 0o777, 0o600)

        lines = []
        let second = try attachedEditor(on: terminal)
        defer { second.detach() }
        XCTAssertEqual(second.historyEntries, ["one", "two"])
        terminal.type("\u{1B}[A\u{1B}[A\n")
        XCTAssertTrue(run { self.lines.count == 1 })
        XCTAssertEqual(lines, ["one"])
    }

    func testHistoryIsCapped() throws {
        let terminal = try PseudoTerminal(loop: loop)
        let editor = LineEditor(historyPath: historyPath, input: terminal.slave,
                                output: terminal.slave, terminalType: "xterm", historyLimit: 3)
        try editor.attach(to: loop) { self.lines.append($0) }
        terminal.type("a\nb\nc\nd\nd\ne\n")
        XCTAssertTrue(run { self.lines.count == 6 })
        editor.detach()
        XCTAssertEqual(editor.historyEntries, ["c", "d", "e"])
        XCTAssertEqual(try contents(of: historyPath), "c\nd\ne\n")
    }

    func testCtrlDOnAnEmptyLineGivesNil() throws {
        let terminal = try PseudoTerminal(loop: loop)
        let editor = try attachedEditor(on: terminal)
        defer { editor.detach() }

        terminal.type("x\u{7F}\u{4}")  // type, erase, then Ctrl-D on the empty line
        XCTAssertTrue(run { self.lines.count == 1 })
        XCTAssertEqual(lines, [nil])
        XCTAssertTrue(run { terminal.output.hasSuffix("\r\n") }, "the cursor is left on a fresh line")
    }

    func testPrintKeepsTheHalfTypedLine() throws {
        let terminal = try PseudoTerminal(loop: loop)
        let editor = try attachedEditor(on: terminal)
        defer { editor.detach() }

        terminal.type("abc")
        XCTAssertTrue(run { terminal.output.contains("abc") })
        let before = terminal.output.count
        editor.print("packet 1")
        // After the printed line, the prompt and the half line are drawn again.
        XCTAssertTrue(run {
            let after = String(terminal.output.dropFirst(before))
            guard let printed = after.range(of: "packet 1") else { return false }
            return after[printed.upperBound...].contains("> abc")
        }, "output: \(terminal.output.debugDescription)")

        terminal.type("def\n")
        XCTAssertTrue(run { self.lines.count == 1 })
        XCTAssertEqual(lines, ["abcdef"])
    }

    func testPrintAboveALineThatWrapsErasesAllOfIt() throws {
        let terminal = try PseudoTerminal(loop: loop)
        let editor = try attachedEditor(on: terminal)  // xterm: 80 columns
        defer { editor.detach() }

        let long = String(repeating: "x", count: 100)
        terminal.type(long)
        XCTAssertTrue(run { terminal.output.filter { $0 == "x" }.count >= 100 })
        let before = terminal.output.count
        editor.print("packet 2")
        XCTAssertTrue(run { terminal.output.dropFirst(before).contains(long.suffix(20)) })
        // One row up (the cursor is on the second row), to column 0, clear to the end,
        // the text, and the prompt and line again.
        XCTAssertTrue(terminal.output.dropFirst(before).hasPrefix("\u{1B}[A\r\u{1B}[Jpacket 2\r\n> x"),
                      "output: \(terminal.output.dropFirst(before).debugDescription)")
        terminal.type("y\n")
        XCTAssertTrue(run { self.lines.count == 1 })
        XCTAssertEqual(lines, [long + "y"])
    }

    func testNonASCIICharactersSurviveEditing() throws {
        let terminal = try PseudoTerminal(loop: loop)
        let editor = try attachedEditor(on: terminal)
        defer { editor.detach() }

        terminal.type("print(\"héllo ✓\u{7F}\")\n")
        XCTAssertTrue(run { self.lines.count == 1 })
        XCTAssertEqual(lines, ["print(\"héllo \")"])
    }

    func testALoneEscapeDoesNotHoldTheLoop() throws {
        let terminal = try PseudoTerminal(loop: loop)
        let editor = try attachedEditor(on: terminal)
        defer { editor.detach() }

        terminal.type("ab\u{1B}")
        var timerFired = false
        loop.schedule(after: .milliseconds(20)) { timerFired = true }
        XCTAssertTrue(run(for: .seconds(1)) { timerFired })
        terminal.type("c\n")
        XCTAssertTrue(run { self.lines.count == 1 })
        XCTAssertEqual(lines, ["abc"], "the cut-short escape sequence is dropped")
    }

    func testTheTerminalGoingAwayGivesNil() throws {
        let terminal = try PseudoTerminal(loop: loop)
        let editor = try attachedEditor(on: terminal)
        defer { editor.detach() }

        terminal.type("half")
        XCTAssertTrue(run { terminal.output.contains("half") })
        terminal.hangUp()
        XCTAssertTrue(run { self.lines.count == 1 })
        XCTAssertEqual(lines, [nil])
    }

    func testCancelLineDropsTheTypedTextAndStartsAFreshLine() throws {
        let terminal = try PseudoTerminal(loop: loop)
        let editor = try attachedEditor(on: terminal)
        defer { editor.detach() }

        terminal.type("junk")
        XCTAssertTrue(run { terminal.output.contains("junk") })
        editor.cancelLine()
        XCTAssertTrue(terminal.output.hasSuffix("junk^C\r\n> ") || run {
            terminal.output.hasSuffix("junk^C\r\n> ")
        }, "output: \(terminal.output.debugDescription)")
        terminal.type("ok\n")
        XCTAssertTrue(run { self.lines.count == 1 })
        XCTAssertEqual(lines, ["ok"])
    }

    func testThePromptSetInTheCallbackIsShownForTheNextLine() throws {
        let terminal = try PseudoTerminal(loop: loop)
        let editor = LineEditor(historyPath: historyPath, input: terminal.slave,
                                output: terminal.slave, terminalType: "xterm")
        defer { editor.detach() }
        try editor.attach(to: loop) { line in
            self.lines.append(line)
            editor.print("result")  // between lines: plain output
            editor.setPrompt(line == "for i=1,2 do" ? ">> " : "> ")
        }
        terminal.type("for i=1,2 do\n")
        XCTAssertTrue(run { terminal.output.hasSuffix("result\r\n>> ") },
                      "output: \(terminal.output.debugDescription)")
        terminal.type("end\n")
        XCTAssertTrue(run { terminal.output.hasSuffix(">> end\r\nresult\r\n> ") },
                      "output: \(terminal.output.debugDescription)")
        XCTAssertEqual(lines, ["for i=1,2 do", "end"])
    }

    func testDetachRestoresTheTerminalSettings() throws {
        let terminal = try PseudoTerminal(loop: loop)
        var before = termios()
        XCTAssertEqual(tcgetattr(terminal.slave.rawValue, &before), 0)
        let editor = try attachedEditor(on: terminal)
        var editing = termios()
        XCTAssertEqual(tcgetattr(terminal.slave.rawValue, &editing), 0)
        XCTAssertEqual(editing.c_lflag & tcflag_t(ICANON), 0, "not in raw mode while editing")
        editor.detach()
        var after = termios()
        XCTAssertEqual(tcgetattr(terminal.slave.rawValue, &after), 0)
        XCTAssertEqual(after.c_lflag, before.c_lflag)
        XCTAssertEqual(after.c_oflag, before.c_oflag)
        XCTAssertEqual(after.c_iflag, before.c_iflag)
    }

    // MARK: plain input

    func testPipedLinesArriveInOrderThenNil() throws {
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        let reader = FileDescriptor(rawValue: ends[0])
        let writer = FileDescriptor(rawValue: ends[1])
        defer { try? reader.close() }
        let output = try FileDescriptor.open(directory + "/out", .writeOnly,
                                             options: [.create], permissions: [.ownerReadWrite])
        defer { try? output.close() }

        let editor = LineEditor(historyPath: historyPath, input: reader, output: output)
        XCTAssertFalse(editor.isInteractive)
        try editor.attach(to: loop) { self.lines.append($0) }
        defer { editor.detach() }

        _ = try writer.writeAll("first\nsec".utf8)
        XCTAssertTrue(run { self.lines.count == 1 })
        _ = try writer.writeAll("ond\r\nthird".utf8)  // CRLF and no final newline
        try writer.close()
        XCTAssertTrue(run { self.lines.count == 4 })
        XCTAssertEqual(lines, ["first", "second", "third", nil])

        editor.print("out\n")
        editor.print("more")
        XCTAssertEqual(try contents(of: directory + "/out"), "out\nmore\n")  // no escape sequences
        XCTAssertEqual(access(historyPath, F_OK), -1, "piped lines are not history")
    }

    func testLinesFromARegularFileArriveThenNil() throws {
        let path = directory + "/script.lua"
        let file = try FileDescriptor.open(path, .readWrite, options: [.create],
                                           permissions: [.ownerReadWrite])
        defer { try? file.close() }
        _ = try file.writeAll("x = 1\nprint(x)\n".utf8)
        _ = try file.seek(offset: 0, from: .start)

        let editor = LineEditor(historyPath: nil, input: file, output: .standardError)
        try editor.attach(to: loop) { self.lines.append($0) }
        defer { editor.detach() }
        XCTAssertTrue(run { self.lines.count == 3 })
        XCTAssertEqual(lines, ["x = 1", "print(x)", nil])
    }

    func testDetachInTheCallbackStopsTheLines() throws {
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        let reader = FileDescriptor(rawValue: ends[0])
        defer { try? reader.close() }
        let editor = LineEditor(historyPath: nil, input: reader, output: .standardError)
        try editor.attach(to: loop) { line in
            self.lines.append(line)
            editor.detach()
        }
        _ = try FileDescriptor(rawValue: ends[1]).writeAll("a\nb\n".utf8)
        try FileDescriptor(rawValue: ends[1]).close()
        XCTAssertTrue(run { self.lines.count == 1 })
        XCTAssertFalse(run(for: .milliseconds(50)) { self.lines.count > 1 })
        XCTAssertEqual(lines, ["a"])
    }

    // MARK: helpers

    private func attachedEditor(on terminal: PseudoTerminal) throws -> LineEditor {
        let editor = LineEditor(historyPath: historyPath, input: terminal.slave,
                                output: terminal.slave, terminalType: "xterm")
        try editor.attach(to: loop) { self.lines.append($0) }
        return editor
    }

    /// Runs the loop until `condition` holds or `timeout` passes; returns `condition()`.
    @discardableResult
    private func run(for timeout: Duration = .seconds(3), until condition: @escaping () -> Bool) -> Bool {
        if condition() { return true }
        let loop = self.loop!
        let poll = loop.schedule(after: .milliseconds(2), repeating: .milliseconds(2)) {
            if condition() { loop.stop() }
        }
        let deadline = loop.schedule(after: timeout) { loop.stop() }
        XCTAssertNoThrow(try loop.run())
        loop.cancel(poll)
        loop.cancel(deadline)
        return condition()
    }

    private func contents(of path: String) throws -> String {
        let fd = try FileDescriptor.open(path, .readOnly)
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A pseudo-terminal: the editor gets the slave as its terminal, the test types on the
/// master and collects everything drawn (the master is drained by the loop, so the
/// editor never blocks on a full pty).
private final class PseudoTerminal {
    let master: FileDescriptor
    let slave: FileDescriptor
    private let loop: EventLoop
    private(set) var outputBytes: [UInt8] = []
    var output: String { String(decoding: outputBytes, as: UTF8.self) }

    init(loop: EventLoop) throws {
        self.loop = loop
        let masterFD = PTY.openMaster(O_RDWR | O_NOCTTY | O_NONBLOCK)
        guard masterFD >= 0 else { throw Errno(rawValue: errno) }
        var name = [CChar](repeating: 0, count: 128)
        guard PTY.grant(masterFD) == 0, PTY.unlock(masterFD) == 0,
              PTY.slaveName(masterFD, &name, name.count) == 0 else {
            let error = Errno(rawValue: errno)
            close(masterFD)
            throw error
        }
        let slaveFD = name.withUnsafeBufferPointer { open($0.baseAddress!, O_RDWR | O_NOCTTY) }
        guard slaveFD >= 0 else {
            let error = Errno(rawValue: errno)
            close(masterFD)
            throw error
        }
        master = FileDescriptor(rawValue: masterFD)
        slave = FileDescriptor(rawValue: slaveFD)
        try loop.register(master) { [unowned self] _ in self.drain() }
    }

    private var isHungUp = false

    deinit {
        if !isHungUp { hangUp() }
        try? slave.close()
    }

    /// Closes the master: the slave reads EIO from then on.
    func hangUp() {
        loop.deregister(master)
        try? master.close()
        isHungUp = true
    }

    func type(_ text: String) {
        _ = try? master.writeAll(text.utf8)
    }

    private func drain() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while let count = try? chunk.withUnsafeMutableBytes({ try master.read(into: $0) }),
              count > 0 {
            outputBytes += chunk[0..<count]
        }
    }
}

/// glibc's pty functions, looked up at run time: <stdlib.h> declares them only under
/// _XOPEN_SOURCE, so Glibc's Swift module lacks them.
private enum PTY {
    typealias FDFunction = @convention(c) (Int32) -> Int32
    typealias NameFunction = @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32

    static let openMaster: FDFunction = function("posix_openpt")
    static let grant: FDFunction = function("grantpt")
    static let unlock: FDFunction = function("unlockpt")
    static let slaveName: NameFunction = function("ptsname_r")

    private static func function<F>(_ name: String) -> F {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else {
            fatalError("glibc has no \(name)")
        }
        return unsafeBitCast(symbol, to: F.self)
    }
}
