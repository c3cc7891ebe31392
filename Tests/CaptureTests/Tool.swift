import Foundation
import XCTest

/// Runs the command-line tools the tests compare against (tshark, mount).
enum Tool {
    static func find(_ name: String) throws -> String {
        for dir in ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"] {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw XCTSkip("\(name) is not installed (scripts/setup installs it)")
    }

    /// Runs to completion and returns standard output; a non-zero exit throws with stderr.
    @discardableResult
    static func run(_ path: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ToolFailure(command: ([path] + arguments).joined(separator: " "),
                              status: process.terminationStatus, stderr: String(decoding: err, as: UTF8.self))
        }
        return String(decoding: out, as: UTF8.self)
    }

    struct ToolFailure: Error, CustomStringConvertible {
        var command: String, status: Int32, stderr: String
        var description: String { "\(command) exited \(status): \(stderr)" }
    }
}
