import Foundation
import Kernel
import SystemPackage
import XCTest

/// Pipes and reads on plain descriptors.
final class DescriptorsTests: XCTestCase {
    func testPipeReadsNothingThenWhatWasWrittenThenEndOfFile() throws {
        let pipe = try Syscalls.pipe()
        defer { Syscalls.close(pipe.read) }
        try Syscalls.setNonBlocking(pipe.read)
        var buffer = [UInt8](repeating: 0, count: 16)
        XCTAssertNil(try buffer.withUnsafeMutableBytes { try Syscalls.readNonBlocking(pipe.read, into: $0) })
        try Syscalls.writeAll(pipe.write, [1, 2, 3])
        Syscalls.close(pipe.write)
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { try Syscalls.readNonBlocking(pipe.read, into: $0) }, 3)
        XCTAssertEqual(Array(buffer.prefix(3)), [1, 2, 3])
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { try Syscalls.readNonBlocking(pipe.read, into: $0) }, 0)
    }

    func testRenameReplacesTheDestinationAndAMissingSourceIsTheSystemError() throws {
        let directory = NSTemporaryDirectory() + "tapir-rename-\(Syscalls.processID)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (source, destination) = (directory + "/new", directory + "/old")
        try Data("new".utf8).write(to: URL(fileURLWithPath: source))
        try Data("old".utf8).write(to: URL(fileURLWithPath: destination))
        try Syscalls.rename(source, to: destination)
        XCTAssertEqual(try String(contentsOfFile: destination, encoding: .utf8), "new")
        XCTAssertFalse(Syscalls.fileExists(source))
        XCTAssertThrowsError(try Syscalls.rename(source, to: destination)) {
            XCTAssertEqual($0 as? SystemError,
                           SystemError(operation: "rename \(source) to \(destination)", errno: .noSuchFileOrDirectory))
        }
    }
}
