import Foundation
import XCTest

/// tapir-bench-tcp (Benchmarks/TCPBulk): two engines back to back move 16 MiB, every byte
/// checked; in steady state no segment may allocate (MallocCounter counts every malloc of
/// the process, so this runs as its own program). The build puts it beside the tests.
final class BulkTransferTests: XCTestCase {
    func bench(_ arguments: [String]) throws -> String {
        // An AddressSanitizer build (CI's second run) owns malloc: MallocCounter's malloc
        // would give ASan memory it does not know, and the bench aborts before its main.
        if dlsym(nil, "__asan_init") != nil {
            throw XCTSkip("built with AddressSanitizer, which owns malloc: no allocations to count (the normal build runs this)")
        }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = bundle.deletingLastPathComponent()
        var path: String?
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("tapir-bench-tcp").path
            if FileManager.default.isExecutableFile(atPath: candidate) { path = candidate; break }
            directory = directory.deletingLastPathComponent()
        }
        let binary = try XCTUnwrap(path, "tapir-bench-tcp is not built beside the tests (swift build --build-tests builds it)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, output)
        return output
    }

    func testNoAllocationPerSegmentInSteadyState() throws {
        let output = try bench(["16"])
        XCTAssertTrue(output.contains("steady state: 0 heap allocations in "), output)
        XCTAssertTrue(output.contains("retransmitted 0,"), output)
    }

    /// One data segment in 50 lost: each burst's out-of-order segments get a duplicate ACK
    /// each, so fast retransmit repairs every loss without a timeout; still no allocation.
    func testLossIsRepairedByFastRetransmit() throws {
        let output = try bench(["16", "--loss", "50"])
        XCTAssertTrue(output.contains("steady state: 0 heap allocations in "), output)
        let counts = try XCTUnwrap(numbers(after: ["retransmitted ", "fast retransmits ", "timeouts ", "dropped "], in: output))
        XCTAssertGreaterThan(counts[3], 100, output)
        XCTAssertEqual(counts[0], counts[3], "one retransmission per loss: \(output)")
        XCTAssertEqual(counts[1], counts[3], "each by fast retransmit: \(output)")
        XCTAssertEqual(counts[2], 0, output)
    }

    /// The client sends super-segments (superSegmentBytes, as with a tap's offloads) and the
    /// server takes them whole: every byte right, under a tenth of the data segments
    /// 1448-byte ones make (342 measured, against 11,588), and still no allocation per segment.
    func testSuperSegmentsArriveWholeAndRight() throws {
        let output = try bench(["16", "--super", "65000"])
        XCTAssertTrue(output.contains("steady state: 0 heap allocations in "), output)
        let counts = try XCTUnwrap(numbers(after: ["segments (", "retransmitted "], in: output))
        XCTAssertLessThan(counts[0], (16 << 20) / 1448 / 10, "not a tenth of the MSS-size segments: \(output)")
        XCTAssertEqual(counts[1], 0, output)
    }

    func numbers(after labels: [String], in text: String) -> [Int]? {
        var values: [Int] = []
        for label in labels {
            guard let range = text.range(of: label) else { return nil }
            values.append(Int(text[range.upperBound...].prefix(while: \.isNumber)) ?? -1)
        }
        return values
    }
}
