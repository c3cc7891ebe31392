/// The Internet checksum (RFC 1071): the one's-complement of the one's-complement sum of
/// 16-bit big-endian words. Sums are kept as 16-bit values in network order so partial sums
/// (a pseudo-header, a header, a payload) combine with `add`.
public enum Checksum {
    /// The one's-complement sum (not inverted) of `bytes`, read as big-endian 16-bit words;
    /// an odd last byte is padded with zero. Reads eight bytes at a time.
    @inlinable
    public static func sum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var accumulator: UInt64 = 0
        var offset = 0
        let count = bytes.count
        // Native-order words: the one's-complement sum is byte-order independent up to a
        // final swap (RFC 1071 section 2B).
        while offset + 32 <= count {
            accumulator = addCarrying(accumulator, bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            accumulator = addCarrying(accumulator, bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
            accumulator = addCarrying(accumulator, bytes.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self))
            accumulator = addCarrying(accumulator, bytes.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self))
            offset += 32
        }
        while offset + 8 <= count {
            accumulator = addCarrying(accumulator, bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset += 8
        }
        if offset + 4 <= count {
            accumulator = addCarrying(accumulator, UInt64(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            offset += 4
        }
        if offset + 2 <= count {
            accumulator = addCarrying(accumulator, UInt64(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
            offset += 2
        }
        if offset < count {
            let last = UInt64(bytes.load(fromByteOffset: offset, as: UInt8.self))
            #if _endian(little)
            accumulator = addCarrying(accumulator, last)
            #else
            accumulator = addCarrying(accumulator, last << 8)
            #endif
        }
        // Fold 64 -> 32 -> 16 bits with end-around carry.
        var folded = (accumulator >> 32) + (accumulator & 0xffff_ffff)
        folded = (folded >> 32) + (folded & 0xffff_ffff)
        folded = (folded >> 16) + (folded & 0xffff)
        folded = (folded >> 16) + (folded & 0xffff)
        return UInt16(bigEndian: UInt16(truncatingIfNeeded: folded))
    }

    @inlinable @inline(__always)
    static func addCarrying(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return sum &+ (overflow ? 1 : 0)
    }

    /// One's-complement addition of two partial sums.
    @inlinable @inline(__always)
    public static func add(_ a: UInt16, _ b: UInt16) -> UInt16 {
        let sum = UInt32(a) + UInt32(b)
        return UInt16(truncatingIfNeeded: (sum & 0xffff) + (sum >> 16))
    }

    /// The checksum field value for `bytes` (with its checksum field zero) plus an optional
    /// pseudo-header sum.
    @inlinable
    public static func compute(_ bytes: UnsafeRawBufferPointer, pseudoHeader: UInt16 = 0) -> UInt16 {
        ~add(sum(bytes), pseudoHeader)
    }

    /// True when `bytes`, checksum field included, plus `pseudoHeader` sum to all ones.
    @inlinable
    public static func verify(_ bytes: UnsafeRawBufferPointer, pseudoHeader: UInt16 = 0) -> Bool {
        add(sum(bytes), pseudoHeader) == 0xffff
    }

    /// The sum of the IPv4 pseudo-header (RFC 768, RFC 793).
    @inlinable
    public static func pseudoHeaderSum(source: IPv4Address, destination: IPv4Address,
                                       protocol proto: UInt8, length: Int) -> UInt16 {
        var sum: UInt32 = (source.value >> 16) + (source.value & 0xffff)
        sum += (destination.value >> 16) + (destination.value & 0xffff)
        sum += UInt32(proto) + UInt32(truncatingIfNeeded: length & 0xffff)
        sum = (sum >> 16) + (sum & 0xffff)
        sum = (sum >> 16) + (sum & 0xffff)
        return UInt16(truncatingIfNeeded: sum)
    }

    /// The sum of the IPv6 pseudo-header (RFC 8200 section 8.1).
    @inlinable
    public static func pseudoHeaderSum(source: IPv6Address, destination: IPv6Address,
                                       protocol proto: UInt8, length: Int) -> UInt16 {
        var sum = wordSum(source.high) + wordSum(source.low)
        sum += wordSum(destination.high) + wordSum(destination.low)
        let length32 = UInt64(UInt32(truncatingIfNeeded: length))
        sum += (length32 >> 16) + (length32 & 0xffff) + UInt64(proto)
        while sum > 0xffff { sum = (sum >> 16) + (sum & 0xffff) }
        return UInt16(truncatingIfNeeded: sum)
    }

    @inlinable @inline(__always)
    static func wordSum(_ word: UInt64) -> UInt64 {
        (word >> 48) + ((word >> 32) & 0xffff) + ((word >> 16) & 0xffff) + (word & 0xffff)
    }

    /// The checksum after one 16-bit word of the covered data changed from `old` to `new`
    /// (RFC 1624 equation 3), without summing the data again.
    @inlinable
    public static func adjusted(_ checksum: UInt16, replacing old: UInt16, with new: UInt16) -> UInt16 {
        ~add(add(~checksum, ~old), new)
    }
}

/// The addresses a transport checksum covers, besides the protocol number and length.
public enum IPPseudoHeader: Hashable, Sendable {
    case v4(source: IPv4Address, destination: IPv4Address)
    case v6(source: IPv6Address, destination: IPv6Address)

    @inlinable
    public func sum(protocol proto: UInt8, length: Int) -> UInt16 {
        switch self {
        case let .v4(source, destination):
            Checksum.pseudoHeaderSum(source: source, destination: destination, protocol: proto, length: length)
        case let .v6(source, destination):
            Checksum.pseudoHeaderSum(source: source, destination: destination, protocol: proto, length: length)
        }
    }
}

extension IPPseudoHeader {
    /// Fills the checksum of a UDP, TCP or ICMPv6 message (`segment`: the whole transport
    /// message, header first) over this pseudo-header, when its checksum field is 0: an
    /// emitter writes 0 where no checksum was given, and a given one is kept. A UDP sum of 0
    /// is sent as 0xffff (0 means "none"). Other protocols, and a segment shorter than its
    /// protocol's header, are left alone.
    @inlinable @inline(__always)
    public func fillTransportChecksumIfZero(protocol proto: UInt8, segment: UnsafeMutableRawBufferPointer) {
        let checksumOffset: Int
        switch proto {
        case IPProtocol.udp where segment.count >= UDPField.headerLength: checksumOffset = UDPField.checksum
        case IPProtocol.tcp where segment.count >= TCPField.headerLength: checksumOffset = TCPField.checksum
        case IPProtocol.icmpv6 where segment.count >= ICMPv6Field.headerLength: checksumOffset = ICMPv6Field.checksum
        default: return
        }
        let message = UnsafeRawBufferPointer(segment)
        guard message.u16(checksumOffset) == 0 else { return }
        var checksum = Checksum.compute(message, pseudoHeader: sum(protocol: proto, length: segment.count))
        if checksum == 0 && proto == IPProtocol.udp { checksum = 0xffff }
        segment.setU16(checksumOffset, checksum)
    }
}
