// IPv4 (RFC 791).
//
//   0        1     2        4    6              8     9      10      12    16    20
//   | ver/ihl | tos | length | id | flags/offset | ttl | proto | chksum | src | dst | options... |

public enum IPv4Field {
    public static let versionAndHeaderLength = 0
    public static let tos = 1
    public static let totalLength = 2
    public static let identification = 4
    public static let flagsAndFragmentOffset = 6
    public static let ttl = 8
    public static let proto = 9
    public static let checksum = 10
    public static let source = 12
    public static let destination = 16
    public static let headerLength = 20
    public static let maxHeaderLength = 60
}

/// The 3-bit flags field, Scapy style: DF = 2, MF = 1.
public enum IPv4Flags {
    public static let reserved: UInt8 = 4
    public static let dontFragment: UInt8 = 2
    public static let moreFragments: UInt8 = 1
}

/// A checked view of an IPv4 datagram. The constructor checks the version, the header
/// length, the total length against the buffer (which may be longer: Ethernet padding) and
/// that every option ends inside the header.
public struct IPv4Packet {
    public let buffer: UnsafeRawBufferPointer

    public init(_ buffer: UnsafeRawBufferPointer) throws(PacketError) {
        guard buffer.count >= IPv4Field.headerLength else { throw .truncated }
        let first = buffer.u8(IPv4Field.versionAndHeaderLength)
        guard first >> 4 == 4 else { throw .badVersion }
        let headerLength = Int(first & 0x0f) * 4
        guard headerLength >= IPv4Field.headerLength else { throw .badHeaderLength }
        guard headerLength <= buffer.count else { throw .headerPastBuffer }
        let totalLength = Int(buffer.u16(IPv4Field.totalLength))
        guard totalLength >= headerLength, totalLength <= buffer.count else { throw .badLength }
        try IPv4Packet.checkOptions(buffer, from: IPv4Field.headerLength, to: headerLength)
        self.buffer = buffer
    }

    @usableFromInline
    init(unchecked buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
    }

    /// Options are type-length-value except End (0) and No-op (1), which are one byte.
    static func checkOptions(_ buffer: UnsafeRawBufferPointer, from start: Int, to end: Int) throws(PacketError) {
        var at = start
        while at < end {
            let type = buffer.u8(at)
            if type == 0 { return }
            if type == 1 {
                at += 1
                continue
            }
            guard at + 1 < end else { throw .badOption }
            let length = Int(buffer.u8(at + 1))
            guard length >= 2, at + length <= end else { throw .badOption }
            at += length
        }
    }

    @inlinable public var version: UInt8 { buffer.u8(IPv4Field.versionAndHeaderLength) >> 4 }
    /// Header length in 32-bit words.
    @inlinable public var ihl: UInt8 { buffer.u8(IPv4Field.versionAndHeaderLength) & 0x0f }
    /// Header length in bytes.
    @inlinable public var headerLength: Int { Int(ihl) * 4 }
    /// The whole DSCP/ECN byte.
    @inlinable public var tos: UInt8 { buffer.u8(IPv4Field.tos) }
    @inlinable public var dscp: UInt8 { tos >> 2 }
    @inlinable public var ecn: UInt8 { tos & 3 }
    /// Total length, header included.
    @inlinable public var len: UInt16 { buffer.u16(IPv4Field.totalLength) }
    @inlinable public var id: UInt16 { buffer.u16(IPv4Field.identification) }
    /// The three flag bits: reserved 4, DF 2, MF 1.
    @inlinable public var flags: UInt8 { UInt8(buffer.u16(IPv4Field.flagsAndFragmentOffset) >> 13) }
    /// Fragment offset in 8-byte units.
    @inlinable public var frag: UInt16 { buffer.u16(IPv4Field.flagsAndFragmentOffset) & 0x1fff }
    @inlinable public var dontFragment: Bool { flags & IPv4Flags.dontFragment != 0 }
    @inlinable public var moreFragments: Bool { flags & IPv4Flags.moreFragments != 0 }
    /// A fragment of a larger datagram (more fragments follow, or not the first).
    @inlinable public var isFragment: Bool { buffer.u16(IPv4Field.flagsAndFragmentOffset) & 0x3fff != 0 }
    @inlinable public var ttl: UInt8 { buffer.u8(IPv4Field.ttl) }
    @inlinable public var proto: UInt8 { buffer.u8(IPv4Field.proto) }
    @inlinable public var chksum: UInt16 { buffer.u16(IPv4Field.checksum) }
    @inlinable public var src: IPv4Address { IPv4Address(loading: buffer, at: IPv4Field.source) }
    @inlinable public var dst: IPv4Address { IPv4Address(loading: buffer, at: IPv4Field.destination) }

    /// The option bytes (between the fixed header and the header length).
    public var options: UnsafeRawBufferPointer { buffer.slice(IPv4Field.headerLength, headerLength) }
    /// The datagram's payload: header end to total length (no link-layer padding).
    public var payload: UnsafeRawBufferPointer { buffer.slice(headerLength, Int(len)) }
    /// The header's bytes.
    public var header: UnsafeRawBufferPointer { buffer.slice(0, headerLength) }

    public func verifyChecksum() -> Bool { Checksum.verify(header) }

    /// The pseudo-header for this datagram's transport checksum.
    public var pseudoHeader: IPPseudoHeader { .v4(source: src, destination: dst) }
}

/// A checked mutable view of an IPv4 datagram.
@dynamicMemberLookup
public struct MutableIPv4Packet {
    public let buffer: UnsafeMutableRawBufferPointer
    public let view: IPv4Packet

    public init(_ buffer: UnsafeMutableRawBufferPointer) throws(PacketError) {
        self.buffer = buffer
        view = try IPv4Packet(UnsafeRawBufferPointer(buffer))
    }

    @usableFromInline
    init(unchecked buffer: UnsafeMutableRawBufferPointer) {
        self.buffer = buffer
        view = IPv4Packet(unchecked: UnsafeRawBufferPointer(buffer))
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<IPv4Packet, T>) -> T { view[keyPath: keyPath] }
    public func verifyChecksum() -> Bool { view.verifyChecksum() }

    public func setTOS(_ tos: UInt8) { buffer.setU8(IPv4Field.tos, tos) }
    public func setID(_ id: UInt16) { buffer.setU16(IPv4Field.identification, id) }
    public func setFlags(_ flags: UInt8, frag: UInt16) {
        buffer.setU16(IPv4Field.flagsAndFragmentOffset, UInt16(flags & 7) << 13 | (frag & 0x1fff))
    }
    public func setTTL(_ ttl: UInt8) { buffer.setU8(IPv4Field.ttl, ttl) }
    public func setProto(_ proto: UInt8) { buffer.setU8(IPv4Field.proto, proto) }
    public func setChksum(_ checksum: UInt16) { buffer.setU16(IPv4Field.checksum, checksum) }
    public func setSrc(_ address: IPv4Address) { address.store(into: buffer, at: IPv4Field.source) }
    public func setDst(_ address: IPv4Address) { address.store(into: buffer, at: IPv4Field.destination) }

    /// Recomputes the header checksum.
    public func fillChecksum() {
        setChksum(0)
        setChksum(Checksum.compute(view.header))
    }

    /// Decrements the TTL and updates the checksum incrementally (RFC 1624); returns the
    /// new TTL, or nil (and leaves the datagram alone) when it was already 0.
    @discardableResult
    public func decrementTTL() -> UInt8? {
        let ttl = view.ttl
        guard ttl > 0 else { return nil }
        let oldWord = view.buffer.u16(IPv4Field.ttl)  // TTL and protocol form one 16-bit word
        setTTL(ttl - 1)
        let newWord = view.buffer.u16(IPv4Field.ttl)
        setChksum(Checksum.adjusted(view.chksum, replacing: oldWord, with: newWord))
        return ttl - 1
    }
}

/// An IPv4 header as owned values. `emit` writes the header only, with the total length
/// from `payloadLength` and the header checksum: `checksum` as given, computed when nil
/// (`parse` leaves it nil).
public struct IPv4Repr: Hashable, Sendable, CustomStringConvertible {
    public var src: IPv4Address
    public var dst: IPv4Address
    public var proto: UInt8
    public var ttl: UInt8
    public var tos: UInt8
    public var id: UInt16
    /// Flag bits: DF 2, MF 1.
    public var flags: UInt8
    /// Fragment offset in 8-byte units.
    public var frag: UInt16
    /// Option bytes; emitted padded with zeros (End of Options) to a multiple of four.
    public var options: [UInt8]
    public var payloadLength: Int
    public var checksum: UInt16?

    @inlinable
    public init(src: IPv4Address, dst: IPv4Address, proto: UInt8, payloadLength: Int, ttl: UInt8 = 64,
                tos: UInt8 = 0, id: UInt16 = 0, flags: UInt8 = IPv4Flags.dontFragment, frag: UInt16 = 0,
                options: [UInt8] = [], checksum: UInt16? = nil) {
        self.src = src
        self.dst = dst
        self.proto = proto
        self.payloadLength = payloadLength
        self.ttl = ttl
        self.tos = tos
        self.id = id
        self.flags = flags
        self.frag = frag
        self.options = options.count <= IPv4Field.maxHeaderLength - IPv4Field.headerLength
            ? options : Array(options.prefix(IPv4Field.maxHeaderLength - IPv4Field.headerLength))
        self.checksum = checksum
    }

    public static func parse(_ packet: IPv4Packet, checkChecksum: Bool = true) throws(PacketError) -> IPv4Repr {
        if checkChecksum, !packet.verifyChecksum() { throw .badChecksum }
        return IPv4Repr(src: packet.src, dst: packet.dst, proto: packet.proto,
                        payloadLength: Int(packet.len) - packet.headerLength, ttl: packet.ttl,
                        tos: packet.tos, id: packet.id, flags: packet.flags, frag: packet.frag,
                        options: Array(packet.options))
    }

    @inlinable
    public var headerLength: Int { IPv4Field.headerLength + (options.count + 3) / 4 * 4 }
    @inlinable
    public var bufferLength: Int { headerLength }

    @discardableResult
    @inlinable @inline(__always)
    public func emit(into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard buffer.count >= bufferLength, payloadLength >= 0, headerLength + payloadLength <= 0xffff else { return false }
        buffer.setU8(IPv4Field.versionAndHeaderLength, 0x40 | UInt8(headerLength / 4))
        buffer.setU8(IPv4Field.tos, tos)
        buffer.setU16(IPv4Field.totalLength, UInt16(truncatingIfNeeded: headerLength + payloadLength))
        buffer.setU16(IPv4Field.identification, id)
        buffer.setU16(IPv4Field.flagsAndFragmentOffset, UInt16(flags & 7) << 13 | (frag & 0x1fff))
        buffer.setU8(IPv4Field.ttl, ttl)
        buffer.setU8(IPv4Field.proto, proto)
        src.store(into: buffer, at: IPv4Field.source)
        dst.store(into: buffer, at: IPv4Field.destination)
        buffer.copy(options, to: IPv4Field.headerLength)
        buffer.zero(IPv4Field.headerLength + options.count, headerLength - IPv4Field.headerLength - options.count)
        let header = MutableIPv4Packet(unchecked: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<headerLength]))
        if let checksum { header.setChksum(checksum) } else { header.fillChecksum() }
        return true
    }

    public func emit(appendingTo bytes: inout [UInt8]) {
        bytes += emitToArray(bufferLength) { emit(into: $0) }
    }

    public var pseudoHeader: IPPseudoHeader { .v4(source: src, destination: dst) }

    public var description: String {
        var text = "IP \(src) > \(dst): \(IPProtocol.name(proto)), ttl \(ttl), id \(id), len \(headerLength + payloadLength)"
        if flags & IPv4Flags.dontFragment != 0 { text += ", DF" }
        if flags & IPv4Flags.moreFragments != 0 || frag != 0 { text += ", frag \(Int(frag) * 8)" + (flags & 1 != 0 ? "+" : "") }
        if !options.isEmpty { text += ", options \(options.count) bytes" }
        return text
    }
}
