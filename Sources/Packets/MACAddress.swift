/// A 48-bit Ethernet address. Text form: `02:00:00:00:00:0a` (lower case); parsing also
/// takes `-` separators and upper case.
public struct MACAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The six bytes in the low 48 bits, first byte highest.
    public var value: UInt64

    public static let broadcast = MACAddress(value: 0xffff_ffff_ffff)
    public static let zero = MACAddress(value: 0)
    /// Bytes `formatted(into:)` writes at most.
    public static let maxTextLength = 17

    @inlinable
    public init(value: UInt64) {
        self.value = value & 0xffff_ffff_ffff
    }

    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        value = UInt64(b0) << 40 | UInt64(b1) << 32 | UInt64(b2) << 24
            | UInt64(b3) << 16 | UInt64(b4) << 8 | UInt64(b5)
    }

    /// Reads six bytes at `offset`; the caller has checked the room.
    @inlinable
    public init(loading buffer: UnsafeRawBufferPointer, at offset: Int) {
        let high = UInt64(buffer.u16(offset))
        let low = UInt64(buffer.u32(offset + 2))
        value = high << 32 | low
    }

    /// Six bytes, or nil when `bytes` is not six long.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 6 else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    public init?(_ text: String) {
        var text = text
        let parsed: UInt64? = text.withUTF8 { utf8 in
            guard utf8.count == 17 else { return nil }
            var result: UInt64 = 0
            for group in 0..<6 {
                let at = group * 3
                guard let high = hexValue(utf8[at]), let low = hexValue(utf8[at + 1]) else { return nil }
                if group < 5, utf8[at + 2] != 58, utf8[at + 2] != 45 { return nil }  // ':' or '-'
                result = result << 8 | UInt64(high << 4 | low)
            }
            return result
        }
        guard let parsed else { return nil }
        value = parsed
    }

    @inlinable
    public func store(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.setU16(offset, UInt16(truncatingIfNeeded: value >> 32))
        buffer.setU32(offset + 2, UInt32(truncatingIfNeeded: value))
    }

    public var bytes: [UInt8] {
        (0..<6).map { UInt8(truncatingIfNeeded: value >> UInt64(40 - 8 * $0)) }
    }

    public var isBroadcast: Bool { value == 0xffff_ffff_ffff }
    /// The group bit: broadcast and multicast destinations.
    public var isMulticast: Bool { value & 0x0100_0000_0000 != 0 }

    /// Writes the text form at `out` (room for `maxTextLength` bytes), returns its length.
    @inlinable
    public func formatted(into out: UnsafeMutablePointer<UInt8>) -> Int {
        for index in 0..<6 {
            let byte = UInt8(truncatingIfNeeded: value >> UInt64(40 - 8 * index))
            out[index * 3] = hexDigit(byte >> 4)
            out[index * 3 + 1] = hexDigit(byte)
            if index < 5 { out[index * 3 + 2] = 58 }
        }
        return 17
    }

    public var description: String {
        makeASCIIString(capacity: Self.maxTextLength) { formatted(into: $0) }
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.value < rhs.value }
}
