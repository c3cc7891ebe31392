/// SipHash-2-4 (Aumasson and Bernstein, 2012), the keyed hash behind initial sequence
/// numbers (RFC 6528) and SYN cookies (RFC 4987). Streaming, no allocation.
public struct SipHash24 {
    var v0: UInt64, v1: UInt64, v2: UInt64, v3: UInt64
    var tail: UInt64 = 0
    var tailCount = 0
    var length = 0

    public init(key0: UInt64, key1: UInt64) {
        v0 = key0 ^ 0x736f_6d65_7073_6575
        v1 = key1 ^ 0x646f_7261_6e64_6f6d
        v2 = key0 ^ 0x6c79_6765_6e65_7261
        v3 = key1 ^ 0x7465_6462_7974_6573
    }

    @inline(__always)
    mutating func round() {
        v0 = v0 &+ v1; v1 = v1.rotatedLeft(13); v1 ^= v0; v0 = v0.rotatedLeft(32)
        v2 = v2 &+ v3; v3 = v3.rotatedLeft(16); v3 ^= v2
        v0 = v0 &+ v3; v3 = v3.rotatedLeft(21); v3 ^= v0
        v2 = v2 &+ v1; v1 = v1.rotatedLeft(17); v1 ^= v2; v2 = v2.rotatedLeft(32)
    }

    @inline(__always)
    mutating func compress(_ word: UInt64) {
        v3 ^= word
        round(); round()
        v0 ^= word
    }

    public mutating func combine(_ byte: UInt8) {
        tail |= UInt64(byte) << (8 * UInt64(tailCount))
        tailCount += 1
        length += 1
        if tailCount == 8 {
            compress(tail)
            tail = 0
            tailCount = 0
        }
    }

    /// Eight bytes, least significant first (the message as SipHash reads it).
    public mutating func combine(_ word: UInt64) {
        if tailCount == 0 {
            compress(word)
            length += 8
        } else {
            for shift in stride(from: 0, to: 64, by: 8) { combine(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
    }

    public mutating func combine(bytes: UnsafeRawBufferPointer) {
        for byte in bytes { combine(byte) }
    }

    public consuming func finalize() -> UInt64 {
        compress(tail | UInt64(truncatingIfNeeded: length) << 56)
        v2 ^= 0xff
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}

extension UInt64 {
    @inline(__always)
    func rotatedLeft(_ count: UInt64) -> UInt64 { self << count | self >> (64 - count) }
}
