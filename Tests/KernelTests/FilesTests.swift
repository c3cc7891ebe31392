import Foundation
import Kernel
import SystemPackage
import XCTest

/// The file calls the command line uses instead of Foundation, checked against
/// FileManager's view of the same folders.
final class FilesTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = try Syscalls.makeTemporaryDirectory(prefix: "tapir-files-")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testTemporaryDirectoryIsNewEmptyAndPrivate() throws {
        XCTAssertTrue(Syscalls.isDirectory(directory))
        XCTAssertEqual(try Syscalls.directoryEntries(directory), [])
        let attributes = try FileManager.default.attributesOfItem(atPath: directory)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o700)
        XCTAssertNotEqual(try Syscalls.makeTemporaryDirectory(prefix: "tapir-files-"), directory)
    }

    func testMakeDirectoriesWriteReadAndKinds() throws {
        try Syscalls.makeDirectories(directory + "/a/b/c/")
        try Syscalls.makeDirectories(directory + "/a/b/c")  // there already: fine
        try Syscalls.writeFile(directory + "/a/b/c/file", Array("hello\n".utf8))
        XCTAssertEqual(try Syscalls.readFile(directory + "/a/b/c/file"), Array("hello\n".utf8))
        XCTAssertEqual(Syscalls.kind(of: directory + "/a/b"), .directory)
        XCTAssertEqual(Syscalls.kind(of: directory + "/a/b/c/file"), .file)
        XCTAssertNil(Syscalls.kind(of: directory + "/missing"))
        // A file in the way of a folder is the system's error, named.
        XCTAssertThrowsError(try Syscalls.makeDirectories(directory + "/a/b/c/file/d")) { error in
            XCTAssertEqual((error as? SystemError)?.errno, .notDirectory, "\(error)")
        }
    }

    func testProcFilesReadWholeThoughTheirSizeIsZero() throws {
        let status = String(decoding: try Syscalls.readFile("/proc/self/status"), as: UTF8.self)
        XCTAssertTrue(status.contains("CapEff:"), status)
        XCTAssertThrowsError(try Syscalls.readFile(directory + "/missing")) { error in
            XCTAssertEqual((error as? SystemError)?.errno, .noSuchFileOrDirectory)
            XCTAssertTrue("\(error)".contains("missing"), "\(error)")
        }
    }

    func testCopyTreeCopiesPlainFilesAndRefusesLinks() throws {
        let source = directory + "/source"
        try Syscalls.makeDirectories(source + "/tests")
        try Syscalls.writeFile(source + "/pack.lua", Array("return {}\n".utf8))
        try Syscalls.writeFile(source + "/tests/one_test.lua", [UInt8](repeating: 0x41, count: 200_000))
        try Syscalls.copyTree(source, to: directory + "/copy")
        XCTAssertEqual(try FileManager.default.subpathsOfDirectory(atPath: directory + "/copy").sorted(),
                       ["pack.lua", "tests", "tests/one_test.lua"])
        XCTAssertEqual(FileManager.default.contents(atPath: directory + "/copy/tests/one_test.lua")?.count, 200_000)
        XCTAssertThrowsError(try Syscalls.copyTree(source, to: directory + "/copy"))  // exists already

        XCTAssertEqual(try Syscalls.specialEntries(under: source), [])
        try FileManager.default.createSymbolicLink(atPath: source + "/tests/passwd", withDestinationPath: "/etc/passwd")
        XCTAssertEqual(try Syscalls.specialEntries(under: source), ["tests/passwd"])
        XCTAssertThrowsError(try Syscalls.copyTree(source, to: directory + "/again"))
    }

    func testRemoveTreeRemovesLinksNotWhatTheyPointAt() throws {
        let kept = directory + "/kept"
        try Syscalls.writeFile(kept, [1])
        try Syscalls.makeDirectories(directory + "/tree/deep")
        try FileManager.default.createSymbolicLink(atPath: directory + "/tree/deep/link", withDestinationPath: kept)
        try FileManager.default.createSymbolicLink(atPath: directory + "/tree/up", withDestinationPath: directory)
        try Syscalls.removeTree(directory + "/tree")
        XCTAssertNil(Syscalls.kind(of: directory + "/tree"))
        XCTAssertEqual(try Syscalls.readFile(kept), [1])
        try Syscalls.removeTree(directory + "/tree")  // nothing there: fine
    }

    func testEnvironmentAndResolvedPath() throws {
        XCTAssertNotNil(Syscalls.environment("PATH"))
        XCTAssertNil(Syscalls.environment("TAPIR_SURELY_NOT_SET_\(Syscalls.processID)"))
        try Syscalls.makeDirectories(directory + "/x")
        XCTAssertEqual(Syscalls.resolvedPath(directory + "/x/../x/."),
                       URL(fileURLWithPath: directory + "/x").resolvingSymlinksInPath().path)
        XCTAssertNil(Syscalls.resolvedPath(directory + "/missing"))
    }
}
