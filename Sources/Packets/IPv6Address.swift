/// A 128-bit IPv6 address. Text form: RFC 5952 (lower case, longest run of two or more zero
/// groups as `::`, IPv4-mapped addresses as `::ffff:198.18.0.1`).
public struct IPv6Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Bytes 0..<8, first byte highest.
    public var high: UInt64
    /// Bytes 8..<16.
    public var low: UInt64

    public static let unspecified = IPv6Address(high: 0, low: 0)
    /// Bytes `formatted(into:)` writes at most.
    public static let maxTextLength = 45

    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Reads sixteen bytes at `offset`; the caller has checked the room.
    @inlinable
    public init(loading buffer: UnsafeRawBufferPointer, at offset: Int) {
        high = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        low = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
    }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        high = bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
        low = bytes.dropFirst(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The eight 16-bit groups, first group first.
    public init(groups: [UInt16]) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, group) in groups.prefix(8).enumerated() {
            if index < 4 { high |= UInt64(group) << UInt64(48 - 16 * index) }
            else { low |= UInt64(group) << UInt64(48 - 16 * (index - 4)) }
        }
        self.init(high: high, low: low)
    }

    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ IPv6Address.parse($0) }) else { return nil }
        self = parsed
    }

    @inlinable
    public func store(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.storeBytes(of: high.bigEndian, toByteOffset: offset, as: UInt64.self)
        buffer.storeBytes(of: low.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
    }

    public var bytes: [UInt8] {
        (0..<16).map { index in
            let word = index < 8 ? high : low
            return UInt8(truncatingIfNeeded: word >> UInt64(56 - 8 * (index % 8)))
        }
    }

    /// Group `index` (0...7).
    @inlinable
    public func group(_ index: Int) -> UInt16 {
        let word = index < 4 ? high : low
        return UInt16(truncatingIfNeeded: word >> UInt64(48 - 16 * (index & 3)))
    }

    public var isMulticast: Bool { high >> 56 == 0xff }
    public var isUnspecified: Bool { high == 0 && low == 0 }
    public var isLinkLocal: Bool { high >> 54 == 0x3fa }

    /// The solicited-node multicast address for this address (ff02::1:ffXX:XXXX).
    public var solicitedNodeMulticast: IPv6Address {
        IPv6Address(high: 0xff02_0000_0000_0000, low: 0x0000_0001_ff00_0000 | (low & 0xff_ffff))
    }

    /// Writes the RFC 5952 text form at `out` (room for `maxTextLength` bytes), returns its length.
    @inlinable
    public func formatted(into out: UnsafeMutablePointer<UInt8>) -> Int {
        if high == 0, low >> 32 == 0xffff {
            // ::ffff:a.b.c.d
            out[0] = 58
            out[1] = 58
            for index in 2..<6 { out[index] = 102 }
            out[6] = 58
            return 7 + IPv4Address(value: UInt32(truncatingIfNeeded: low)).formatted(into: out + 7)
        }
        // The longest run of zero groups (two or more; the first such run on a tie).
        var bestStart = -1
        var bestLength = 1
        var runStart = -1
        for index in 0...8 {
            if index < 8, group(index) == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength {
                    bestStart = runStart
                    bestLength = index - runStart
                }
                runStart = -1
            }
        }
        var count = 0
        var index = 0
        while index < 8 {
            if index == bestStart {
                out[count] = 58
                out[count + 1] = 58
                count += 2
                index += bestLength
                continue
            }
            if index > 0, index != bestStart + bestLength || bestStart < 0 {
                out[count] = 58
                count += 1
            }
            count += writeHex16(group(index), to: out + count)
            index += 1
        }
        return count
    }

    public var description: String {
        makeASCIIString(capacity: Self.maxTextLength) { formatted(into: $0) }
    }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    /// Parses groups separated by `:`, at most one `::`, and an optional trailing dotted quad.
    static func parse(_ text: UnsafeBufferPointer<UInt8>) -> IPv6Address? {
        guard text.count >= 2, text.count <= 64 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        var index = 0
        if text[0] == 58 {
            guard text[1] == 58 else { return nil }
            sawGap = true
            index = 2
        }
        while index < text.count {
            // One group, or a dotted quad at the end.
            var end = index
            var isQuad = false
            while end < text.count, text[end] != 58 {
                if text[end] == 46 { isQuad = true }
                end += 1
            }
            if isQuad {
                guard end == text.count, let quad = parseDottedQuad(text, index, end) else { return nil }
                let groups = [UInt16(quad >> 16), UInt16(truncatingIfNeeded: quad)]
                if sawGap { tail += groups } else { head += groups }
                index = end
                break
            }
            guard end > index, end - index <= 4 else { return nil }
            var group: UInt16 = 0
            for position in index..<end {
                guard let digit = hexValue(text[position]) else { return nil }
                group = group << 4 | UInt16(digit)
            }
            if sawGap { tail.append(group) } else { head.append(group) }
            index = end
            if index < text.count {
                // A ':' follows; '::' marks the gap.
                index += 1
                if index < text.count, text[index] == 58 {
                    guard !sawGap else { return nil }
                    sawGap = true
                    index += 1
                } else if index == text.count {
                    return nil  // trailing single ':'
                }
            }
        }
        let total = head.count + tail.count
        if sawGap {
            guard total <= 7 else { return nil }
            return IPv6Address(groups: head + [UInt16](repeating: 0, count: 8 - total) + tail)
        }
        guard total == 8 else { return nil }
        return IPv6Address(groups: head)
    }
}
