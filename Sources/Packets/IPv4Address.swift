/// A 32-bit IPv4 address. Text form: dotted quad `198.18.0.1`.
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The address as a number, first byte highest.
    public var value: UInt32

    public static let any = IPv4Address(value: 0)
    public static let broadcast = IPv4Address(value: 0xffff_ffff)
    /// Bytes `formatted(into:)` writes at most.
    public static let maxTextLength = 15

    @inlinable
    public init(value: UInt32) {
        self.value = value
    }

    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) {
        value = UInt32(b0) << 24 | UInt32(b1) << 16 | UInt32(b2) << 8 | UInt32(b3)
    }

    /// Reads four bytes at `offset`; the caller has checked the room.
    @inlinable
    public init(loading buffer: UnsafeRawBufferPointer, at offset: Int) {
        value = buffer.u32(offset)
    }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 4 else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ parseDottedQuad($0, 0, $0.count) }) else { return nil }
        value = parsed
    }

    @inlinable
    public func store(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.setU32(offset, value)
    }

    public var bytes: [UInt8] {
        [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    public var isBroadcast: Bool { value == 0xffff_ffff }
    public var isMulticast: Bool { value >> 28 == 0xe }
    public var isUnspecified: Bool { value == 0 }

    /// Writes the text form at `out` (room for `maxTextLength` bytes), returns its length.
    @inlinable
    public func formatted(into out: UnsafeMutablePointer<UInt8>) -> Int {
        var count = 0
        for index in 0..<4 {
            if index > 0 {
                out[count] = 46
                count += 1
            }
            count += writeDecimal(UInt8(truncatingIfNeeded: value >> UInt32(24 - 8 * index)), to: out + count)
        }
        return count
    }

    public var description: String {
        makeASCIIString(capacity: Self.maxTextLength) { formatted(into: $0) }
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}
