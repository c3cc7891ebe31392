import Foundation
import Glibc
import SystemPackage
import XCTest
@testable import Reactor

final class FileWatcherTests: XCTestCase {
    var directory: FilePath = "/"
    let settle = Duration.milliseconds(50)

    override func setUpWithError() throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("tapir-watch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        directory = FilePath(path)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory.string)
    }

    func testRenameOverSaveIsOneChange() throws {
        let target = directory.appending("config.lua")
        try write("old", to: target)
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var changes: [FileChange] = []
        try loop.watchFile(target, settle: settle) { changes.append($0) }
        loop.schedule(after: .milliseconds(5)) {
            let temporary = self.directory.appending(".config.lua.tmp")
            try? self.write("new contents", to: temporary)
            rename(temporary.string, target.string)
        }
        try runLoop(loop, for: .milliseconds(300))
        XCTAssertEqual(changes, [.changed])
        XCTAssertEqual(try String(contentsOfFile: target.string, encoding: .utf8), "new contents")
    }

    func testInPlaceWriteIsOneChange() throws {
        let target = directory.appending("config.lua")
        try write("old", to: target)
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var changes: [FileChange] = []
        try loop.watchFile(target, settle: settle) { changes.append($0) }
        loop.schedule(after: .milliseconds(5)) { try? self.write("new", to: target) }
        try runLoop(loop, for: .milliseconds(300))
        XCTAssertEqual(changes, [.changed])
    }

    func testAHalfWrittenFileIsNeverReported() throws {
        let target = directory.appending("config.lua")
        try write("old", to: target)
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var changes: [FileChange] = []
        var contentsWhenReported: [String] = []
        try loop.watchFile(target, settle: settle) { change in
            changes.append(change)
            contentsWhenReported.append((try? String(contentsOfFile: target.string, encoding: .utf8)) ?? "?")
        }
        var file: FileDescriptor?
        var changesWhileOpen: [FileChange]?
        loop.schedule(after: .milliseconds(5)) {
            file = try? FileDescriptor.open(target, .writeOnly, options: [.truncate])
            _ = try? file?.writeAll(Array("first half, ".utf8))
        }
        // Three settle delays later, the file is still open: nothing may be reported.
        loop.schedule(after: .milliseconds(5) + settle * 3) {
            changesWhileOpen = changes
            _ = try? file?.writeAll(Array("second half".utf8))
            try? file?.close()
        }
        try runLoop(loop, for: .milliseconds(500))
        XCTAssertNotNil(file, "the test could not open the file")
        XCTAssertEqual(changesWhileOpen, [])
        XCTAssertEqual(changes, [.changed])
        XCTAssertEqual(contentsWhenReported, ["first half, second half"])
    }

    func testDeletionIsReportedAsGone() throws {
        let target = directory.appending("config.lua")
        try write("old", to: target)
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var changes: [FileChange] = []
        try loop.watchFile(target, settle: settle) { changes.append($0) }
        loop.schedule(after: .milliseconds(5)) { unlink(target.string) }
        try runLoop(loop, for: .milliseconds(300))
        XCTAssertEqual(changes, [.gone])
    }

    func testRenamingAwayIsGoneAndABackupThenWriteSaveIsOneChange() throws {
        let target = directory.appending("config.lua")
        try write("old", to: target)
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var changes: [FileChange] = []
        try loop.watchFile(target, settle: settle) { changes.append($0) }
        // An editor that keeps a backup: move the file away, then write a new one.
        loop.schedule(after: .milliseconds(5)) {
            rename(target.string, self.directory.appending("config.lua~").string)
            try? self.write("new", to: target)
        }
        loop.schedule(after: .milliseconds(200)) {
            rename(target.string, self.directory.appending("elsewhere.lua").string)
        }
        try runLoop(loop, for: .milliseconds(450))
        XCTAssertEqual(changes, [.changed, .gone])
    }

    func testAFileCreatedAfterTheWatchStartedIsReported() throws {
        let target = directory.appending("later.lua")
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var changes: [FileChange] = []
        try loop.watchFile(target, settle: settle) { changes.append($0) }
        loop.schedule(after: .milliseconds(5)) { try? self.write("hello", to: target) }
        try runLoop(loop, for: .milliseconds(300))
        XCTAssertEqual(changes, [.changed])
    }

    func testFilesInOneDirectoryShareOneWatchAndAreReportedSeparately() throws {
        let first = directory.appending("a.lua")
        let second = directory.appending("b.lua")
        try write("a", to: first)
        try write("b", to: second)
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var reports: [String] = []
        try loop.watchFile(first, settle: settle) { reports.append("a \($0)") }
        let secondWatch = try loop.watchFile(second, settle: settle) { reports.append("b \($0)") }
        XCTAssertEqual(try inotifyWatchCount(loop), 1)
        loop.schedule(after: .milliseconds(5)) { try? self.write("a2", to: first) }
        try runLoop(loop, for: .milliseconds(300))
        XCTAssertEqual(reports, ["a changed"])

        loop.unwatchFile(secondWatch)
        XCTAssertEqual(try inotifyWatchCount(loop), 1, "a.lua still needs the directory watch")
        loop.schedule(after: .milliseconds(5)) { try? self.write("b2", to: second) }
        try runLoop(loop, for: .milliseconds(300))
        XCTAssertEqual(reports, ["a changed"], "b.lua is no longer watched")
    }

    func testUnwatchingDropsAPendingReport() throws {
        let target = directory.appending("config.lua")
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var changes: [FileChange] = []
        let watch = try loop.watchFile(target, settle: settle) { changes.append($0) }
        loop.schedule(after: .milliseconds(5)) { try? self.write("x", to: target) }
        loop.schedule(after: .milliseconds(30)) { loop.unwatchFile(watch) }
        try runLoop(loop, for: .milliseconds(300))
        XCTAssertEqual(changes, [])
        XCTAssertEqual(try inotifyWatchCount(loop), 0)
    }

    func testWatchingInAMissingDirectoryThrows() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        let path = directory.appending("missing").appending("config.lua")
        XCTAssertThrowsError(try loop.watchFile(path) { _ in }) { error in
            XCTAssertEqual(error as? ReactorError,
                           .cannotWatch(path: directory.appending("missing").string, errno: .noSuchFileOrDirectory))
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
    }

    // MARK: helpers

    /// Writes `text` to `path` in one go: open (create/truncate), write, close.
    func write(_ text: String, to path: FilePath) throws {
        let file = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate],
                                           permissions: [.ownerReadWrite])
        try file.closeAfter { _ = try file.writeAll(Array(text.utf8)) }
    }

    /// How many inotify watches the loop's inotify fd holds (from /proc/self/fdinfo).
    func inotifyWatchCount(_ loop: EventLoop) throws -> Int {
        guard let fd = loop.fileWatcher?.fd else { return 0 }
        let info = try String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8)
        return info.split(separator: "\n").filter { $0.hasPrefix("inotify wd:") }.count
    }
}

extension FileWatcherTests {
    func testRemovingTheDirectoryReportsItsFilesGone() throws {
        let subdirectory = directory.appending("sub")
        try FileManager.default.createDirectory(atPath: subdirectory.string, withIntermediateDirectories: false)
        let target = subdirectory.appending("config.lua")
        try write("x", to: target)
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var changes: [FileChange] = []
        try loop.watchFile(target, settle: settle) { changes.append($0) }
        loop.schedule(after: .milliseconds(5)) {
            try? FileManager.default.removeItem(atPath: subdirectory.string)
        }
        try runLoop(loop, for: .milliseconds(300))
        XCTAssertEqual(changes, [.gone])
        XCTAssertEqual(try inotifyWatchCount(loop), 0)
    }
}
