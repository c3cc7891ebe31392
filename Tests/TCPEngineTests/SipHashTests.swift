import XCTest
@testable import TCPEngine

final class SipHashTests: XCTestCase {
    // The reference key of the SipHash paper (Aumasson and Bernstein, appendix A): bytes
    // 00 01 ... 0f, read as two little-endian words.
    let key0: UInt64 = 0x0706_0504_0302_0100
    let key1: UInt64 = 0x0f0e_0d0c_0b0a_0908

    func hash(_ bytes: [UInt8]) -> UInt64 {
        var hasher = SipHash24(key0: key0, key1: key1)
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        return hasher.finalize()
    }

    func testPaperVector() {
        // Appendix A: the 15-byte message 00 01 ... 0e.
        XCTAssertEqual(hash(Array(0...14)), 0xa129_ca61_49be_45e5)
    }

    func testEmptyMessage() {
        // The reference implementation's vectors.h, first entry (31 0e 0e dd 47 db 6f 72).
        XCTAssertEqual(hash([]), 0x726f_db47_dd0e_0e31)
    }

    func testWordsAreLittleEndianBytes() {
        var words = SipHash24(key0: key0, key1: key1)
        words.combine(0x0706_0504_0302_0100 as UInt64)
        words.combine(UInt8(8))
        words.combine(UInt8(9))
        words.combine(0x1110_0f0e_0d0c_0b0a as UInt64)
        let bytes: [UInt8] = Array(0...9) + [0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11]
        XCTAssertEqual(words.finalize(), hash(bytes))
    }
}
