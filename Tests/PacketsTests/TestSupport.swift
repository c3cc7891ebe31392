import Foundation
import XCTest
@testable import Packets

/// One record of a classic pcap file.
struct PcapRecord {
    var bytes: [UInt8]
}

/// A test-only reader of classic pcap files (24-byte header, 16-byte record headers, either
/// byte order, micro- or nanosecond magic). Capture's libpcap reader is not for this target.
enum TinyPcap {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func read(_ data: [UInt8]) throws -> (linkType: UInt32, records: [PcapRecord]) {
        guard data.count >= 24 else { throw Failure(description: "pcap shorter than its header") }
        func u32(_ at: Int, _ swapped: Bool) -> UInt32 {
            let value = UInt32(data[at]) | UInt32(data[at + 1]) << 8 | UInt32(data[at + 2]) << 16 | UInt32(data[at + 3]) << 24
            return swapped ? value.byteSwapped : value
        }
        let magic = u32(0, false)
        let swapped: Bool
        switch magic {
        case 0xa1b2_c3d4, 0xa1b2_3c4d: swapped = false
        case 0xd4c3_b2a1, 0x4d3c_b2a1: swapped = true
        default: throw Failure(description: "not a classic pcap (magic \(String(magic, radix: 16)))")
        }
        let linkType = u32(20, swapped) & 0x0fff_ffff
        var records: [PcapRecord] = []
        var at = 24
        while at + 16 <= data.count {
            let captured = Int(u32(at + 8, swapped))
            guard at + 16 + captured <= data.count else { throw Failure(description: "record runs past the file") }
            records.append(PcapRecord(bytes: Array(data[(at + 16)..<(at + 16 + captured)])))
            at += 16 + captured
        }
        return (linkType, records)
    }
}

enum Fixture {
    static var kernelFramesURL: URL {
        get throws {
            guard let url = Bundle.module.url(forResource: "kernel-frames", withExtension: "pcap",
                                              subdirectory: "Fixtures") else {
                throw TinyPcap.Failure(description: "Fixtures/kernel-frames.pcap missing from the test bundle")
            }
            return url
        }
    }

    static func kernelFrames() throws -> [[UInt8]] {
        let data = try Data(contentsOf: kernelFramesURL)
        let file = try TinyPcap.read([UInt8](data))
        XCTAssertEqual(file.linkType, LinkType.ethernet.pcapLinkType)
        return file.records.map(\.bytes)
    }
}

/// A seeded generator (SplitMix64), so random tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// Runs tshark on a file and returns one array of field strings per frame; skips the test
/// when tshark is not installed.
enum TShark {
    static func path() throws -> String {
        for candidate in ["/usr/bin/tshark", "/usr/local/bin/tshark", "/opt/homebrew/bin/tshark"]
            where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw XCTSkip("tshark is not installed (apt-get install tshark); the field-by-field comparison needs it")
    }

    static func fields(_ file: URL, _ fields: [String]) throws -> [[String]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try path())
        var arguments = ["-r", file.path, "-n", "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
                         "-o", "tcp.relative_sequence_numbers:FALSE", "-T", "fields", "-E", "separator=\t",
                         "-E", "occurrence=f"]
        for field in fields { arguments += ["-e", field] }
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()  // ends when tshark exits
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            throw TinyPcap.Failure(description: "tshark did not finish in 60 s")
        }
        guard process.terminationStatus == 0 else {
            throw TinyPcap.Failure(description: "tshark exited with status \(process.terminationStatus)")
        }
        let text = String(decoding: data, as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }
}

func hex(_ value: some BinaryInteger, digits: Int) -> String {
    let text = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, digits - text.count)) + text
}

extension Array where Element == UInt8 {
    /// Bytes from a hex string; spaces and newlines are ignored.
    init(hex text: String) {
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in text.unicodeScalars {
            guard let value = UInt8(String(character), radix: 16) else { continue }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        self = bytes
    }
}
