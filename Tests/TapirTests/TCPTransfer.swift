import Devices
import Foundation
import XCTest

/// Bulk TCP transfers between the kernel (nc in a sandbox) and a Lua script under
/// `tapir run`, for the offload and loss-repair tests: the scripts (Scripts/tcp-source.lua,
/// Scripts/tcp-sink.lua), files of random bytes and their SHA-256, and one run of a transfer.
enum TCPTransfer {
    static let source = script("tcp-source.lua")
    static let sink = script("tcp-sink.lua")

    private static func script(_ name: String) -> String {
        TapirCommand.repository.appendingPathComponent("Tests/TapirTests/Scripts/\(name)").path
    }

    /// A folder of the test's own under the temporary directory; the caller removes it.
    static func makeDirectory(_ prefix: String) throws -> String {
        let directory = NSTemporaryDirectory() + "\(prefix)-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// `size` random bytes in `directory`/in.bin; its path.
    static func randomFile(in directory: String, size: Int) throws -> String {
        let path = directory + "/in.bin"
        _ = try ChildProcess.run(["sh", "-c", "head -c \(size) /dev/urandom > \(path)"], timeout: .seconds(120))
        return path
    }

    static func sha256(_ path: String) throws -> String {
        let output = try ChildProcess.run(["sha256sum", path], timeout: .seconds(120)).stdout
        return String(output.split(separator: " ").first ?? "")
    }

    /// What one transfer gave: the script's log line, its numbers, and how long the client took.
    struct Outcome {
        var line: Substring
        var numbers: [Int]
        var elapsed: Duration
    }

    /// Runs `tapir run ARGUMENTS` on `device` in a fresh sandbox with `environment`, then
    /// `prepare` (tc filters, say), then the shell `client` in the sandbox (5 minutes at most),
    /// and stops tapir; returns the script's line holding `lineMark` ("source: ", "sink: ")
    /// and the line's numbers, or nil after failing the test when the script never logged it.
    static func run(_ arguments: [String], device: String, environment: [String], client: String,
                    lineMark: String, prefix: String,
                    prepare: (Sandbox) throws -> Void = { _ in }) throws -> Outcome? {
        let sandbox = try Sandbox(prefix: prefix)
        defer { sandbox.remove() }
        let tapir = try TapirCommand.start(arguments, device: device, in: sandbox, environment: environment)
        do {
            try prepare(sandbox)
        } catch {
            _ = TapirCommand.stop(tapir)
            throw error
        }
        let started = ContinuousClock.now
        let transfer: ProcessOutput
        do {
            transfer = try sandbox.run(["sh", "-c", client], timeout: .seconds(300))
        } catch {
            _ = TapirCommand.stop(tapir)
            throw error
        }
        let elapsed = started.duration(to: .now)
        XCTAssertEqual(transfer.status, 0, transfer.stderr)
        let result = TapirCommand.stop(tapir)
        XCTAssertEqual(result.status, 0, result.stderr)
        let log = result.stderr + result.stdout
        guard let line = log.split(separator: "\n").first(where: { $0.contains(lineMark) }) else {
            XCTFail("no '\(lineMark)' line (\(arguments.joined(separator: " "))): \(log)")
            return nil
        }
        let numbers = line.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .punctuationCharacters)) }
        return Outcome(line: line, numbers: numbers, elapsed: elapsed)
    }
}
