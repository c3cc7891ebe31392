import XCTest
@testable import Packets

final class ChecksumTests: XCTestCase {
    /// RFC 1071 done the obvious way: big-endian 16-bit words, byte by byte.
    static func naiveSum(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var sum: UInt32 = 0
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let high = UInt32(bytes[index])
            let low = index + 1 < bytes.endIndex ? UInt32(bytes[index + 1]) : 0
            sum += high << 8 | low
            sum = (sum & 0xffff) + (sum >> 16)
            index += 2
        }
        return UInt16(sum)
    }

    func testMatchesNaiveSumAtRandomLengthsAndAlignments() {
        var random = SplitMix64(seed: 1071)
        let pool = (0..<4200).map { _ in UInt8.random(in: 0...255, using: &random) }
        for round in 0..<20_000 {
            let start = Int.random(in: 0..<64, using: &random)
            let length = round < 200 ? round : Int.random(in: 0...4096, using: &random)
            let slice = pool[start..<(start + length)]
            slice.withUnsafeBytes { raw in  // unaligned start: `start` is random
                XCTAssertEqual(Checksum.sum(raw), Self.naiveSum(slice), "start \(start) length \(length)")
            }
        }
    }

    func testAllOnesAndCarries() {
        for length in 0..<100 {
            let bytes = [UInt8](repeating: 0xff, count: length)
            bytes.withUnsafeBytes { XCTAssertEqual(Checksum.sum($0), Self.naiveSum(bytes[...])) }
        }
    }

    /// RFC 1071 section 3's example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
    func testRFC1071Example() {
        let bytes: [UInt8] = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]
        bytes.withUnsafeBytes { raw in
            XCTAssertEqual(Checksum.sum(raw), 0xddf2)
            XCTAssertEqual(Checksum.compute(raw), ~0xddf2)
        }
    }

    func testPseudoHeaderSums() {
        // By hand: the same header written out as bytes and summed.
        let v4: [UInt8] = [198, 18, 0, 1, 198, 18, 0, 2, 0, 17, 0, 61]
        let sum4 = Checksum.pseudoHeaderSum(source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(198, 18, 0, 2),
                                            protocol: 17, length: 61)
        XCTAssertEqual(sum4, Self.naiveSum(v4[...]))
        let source = IPv6Address("2001:2::1")!
        let destination = IPv6Address("ff02::1:ff00:2")!
        let v6 = source.bytes + destination.bytes + [0, 0, 0x01, 0x20, 0, 0, 0, 58]
        XCTAssertEqual(Checksum.pseudoHeaderSum(source: source, destination: destination, protocol: 58, length: 0x120),
                       Self.naiveSum(v6[...]))
        XCTAssertEqual(IPPseudoHeader.v6(source: source, destination: destination).sum(protocol: 58, length: 0x120),
                       Self.naiveSum(v6[...]))
    }

    /// RFC 1624: changing one word and adjusting gives what a full recompute gives.
    func testIncrementalUpdate() {
        var random = SplitMix64(seed: 1624)
        for _ in 0..<5_000 {
            var words = (0..<10).map { _ in UInt16.random(in: 0...0xffff, using: &random) }
            var bytes = words.flatMap { [UInt8($0 >> 8), UInt8(truncatingIfNeeded: $0)] }
            let before = bytes.withUnsafeBytes { Checksum.compute($0) }
            let index = Int.random(in: 0..<10, using: &random)
            let old = words[index]
            words[index] = UInt16.random(in: 0...0xffff, using: &random)
            bytes[index * 2] = UInt8(words[index] >> 8)
            bytes[index * 2 + 1] = UInt8(truncatingIfNeeded: words[index])
            let after = bytes.withUnsafeBytes { Checksum.compute($0) }
            let adjusted = Checksum.adjusted(before, replacing: old, with: words[index])
            // 0x0000 and 0xffff are the same one's-complement number.
            XCTAssertTrue(adjusted == after || (adjusted | after) == 0xffff && (adjusted & after) == 0,
                          "\(adjusted) vs \(after)")
        }
    }
}
