/// A TCP sequence number: 32 bits compared modulo 2^32 (RFC 9293 section 3.4), so `a < b`
/// means b is ahead of a by less than 2^31.
public struct TCPSeq: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32

    @inlinable public init(_ value: UInt32) { self.value = value }

    @inlinable public static func < (a: TCPSeq, b: TCPSeq) -> Bool { Int32(bitPattern: a.value &- b.value) < 0 }
    @inlinable public static func + (a: TCPSeq, n: Int) -> TCPSeq { TCPSeq(a.value &+ UInt32(truncatingIfNeeded: n)) }
    @inlinable public static func - (a: TCPSeq, n: Int) -> TCPSeq { TCPSeq(a.value &- UInt32(truncatingIfNeeded: n)) }
    /// The signed distance from `b` to `a` (a - b).
    @inlinable public static func - (a: TCPSeq, b: TCPSeq) -> Int { Int(Int32(bitPattern: a.value &- b.value)) }
    @inlinable public static func += (a: inout TCPSeq, n: Int) { a = a + n }

    @inlinable public static func max(_ a: TCPSeq, _ b: TCPSeq) -> TCPSeq { a < b ? b : a }
    @inlinable public static func min(_ a: TCPSeq, _ b: TCPSeq) -> TCPSeq { a < b ? a : b }

    public var description: String { String(value) }
}
