// IPv6 (RFC 8200), and its extension headers up to the upper-layer header.
//
//   0               4             6        7     8     24    40
//   | ver/tc/flow   | payload len | next   | hlim | src | dst | extension headers... | upper layer |
//
// Extension headers walked: Hop-by-Hop (0), Routing (43), Fragment (44), Destination
// Options (60): [next header, length in 8-byte units not counting the first 8, data...];
// Fragment is always 8 bytes; Authentication Header (51) counts its length in 4-byte units.

public enum IPv6Field {
    public static let versionTrafficClassFlow = 0
    public static let payloadLength = 4
    public static let nextHeader = 6
    public static let hopLimit = 7
    public static let source = 8
    public static let destination = 24
    public static let headerLength = 40
    /// Extension headers are walked at most this deep.
    public static let maxExtensionHeaders = 10
}

public enum IPv6FragmentField {
    public static let nextHeader = 0
    public static let offsetAndFlags = 2
    public static let identification = 4
    public static let length = 8
}

/// A checked view of an IPv6 datagram. The constructor checks the payload length against
/// the buffer and walks the extension headers to the upper layer, each inside the payload.
public struct IPv6Packet {
    public let buffer: UnsafeRawBufferPointer
    /// Where the upper-layer header starts (40 without extension headers).
    public let upperLayerOffset: Int
    /// The upper-layer protocol: the last next-header value of the chain.
    public let proto: UInt8
    /// Where the Fragment header is, or 0 when there is none.
    public let fragmentHeaderOffset: Int
    public let extensionHeaderCount: Int

    public init(_ buffer: UnsafeRawBufferPointer) throws(PacketError) {
        guard buffer.count >= IPv6Field.headerLength else { throw .truncated }
        guard buffer.u8(IPv6Field.versionTrafficClassFlow) >> 4 == 6 else { throw .badVersion }
        let end = IPv6Field.headerLength + Int(buffer.u16(IPv6Field.payloadLength))
        guard end <= buffer.count else { throw .badLength }
        var next = buffer.u8(IPv6Field.nextHeader)
        var at = IPv6Field.headerLength
        var fragmentAt = 0
        var count = 0
        while IPv6Packet.isExtensionHeader(next) {
            count += 1
            guard count <= IPv6Field.maxExtensionHeaders else { throw .tooManyExtensionHeaders }
            guard at + 8 <= end else { throw .extensionHeaderPastEnd }
            let length: Int
            switch next {
            case IPProtocol.ipv6Fragment: length = IPv6FragmentField.length
            case IPProtocol.ah: length = (Int(buffer.u8(at + 1)) + 2) * 4
            default: length = (Int(buffer.u8(at + 1)) + 1) * 8
            }
            guard at + length <= end else { throw .extensionHeaderPastEnd }
            let isFragmentHeader = next == IPProtocol.ipv6Fragment
            if isFragmentHeader, fragmentAt == 0 { fragmentAt = at }
            next = buffer.u8(at)
            at += length
            // After a non-first fragment come data bytes, not more headers.
            if isFragmentHeader, buffer.u16(at - length + IPv6FragmentField.offsetAndFlags) >> 3 != 0 { break }
        }
        self.buffer = buffer
        upperLayerOffset = at
        proto = next
        fragmentHeaderOffset = fragmentAt
        extensionHeaderCount = count
    }

    @usableFromInline
    init(unchecked buffer: UnsafeRawBufferPointer, upperLayerOffset: Int, proto: UInt8,
         fragmentHeaderOffset: Int, extensionHeaderCount: Int) {
        self.buffer = buffer
        self.upperLayerOffset = upperLayerOffset
        self.proto = proto
        self.fragmentHeaderOffset = fragmentHeaderOffset
        self.extensionHeaderCount = extensionHeaderCount
    }

    @inlinable
    public static func isExtensionHeader(_ next: UInt8) -> Bool {
        next == IPProtocol.hopByHop || next == IPProtocol.ipv6Route || next == IPProtocol.ipv6Fragment
            || next == IPProtocol.ipv6DestinationOptions || next == IPProtocol.ah
    }

    @inlinable public var version: UInt8 { buffer.u8(IPv6Field.versionTrafficClassFlow) >> 4 }
    /// Traffic class.
    @inlinable public var tc: UInt8 { UInt8(truncatingIfNeeded: buffer.u32(IPv6Field.versionTrafficClassFlow) >> 20) }
    /// Flow label (20 bits).
    @inlinable public var flow: UInt32 { buffer.u32(IPv6Field.versionTrafficClassFlow) & 0xf_ffff }
    /// Payload length: everything after the fixed header, extension headers included.
    @inlinable public var plen: UInt16 { buffer.u16(IPv6Field.payloadLength) }
    /// The first next-header field (that of the fixed header).
    @inlinable public var nxt: UInt8 { buffer.u8(IPv6Field.nextHeader) }
    @inlinable public var hlim: UInt8 { buffer.u8(IPv6Field.hopLimit) }
    @inlinable public var src: IPv6Address { IPv6Address(loading: buffer, at: IPv6Field.source) }
    @inlinable public var dst: IPv6Address { IPv6Address(loading: buffer, at: IPv6Field.destination) }

    @inlinable public var hasFragmentHeader: Bool { fragmentHeaderOffset != 0 }
    /// Fragment offset in 8-byte units (0 without a Fragment header).
    @inlinable public var frag: UInt16 {
        hasFragmentHeader ? buffer.u16(fragmentHeaderOffset + IPv6FragmentField.offsetAndFlags) >> 3 : 0
    }
    @inlinable public var moreFragments: Bool {
        hasFragmentHeader && buffer.u16(fragmentHeaderOffset + IPv6FragmentField.offsetAndFlags) & 1 != 0
    }
    /// The Fragment header's identification (0 without one).
    @inlinable public var fragmentID: UInt32 {
        hasFragmentHeader ? buffer.u32(fragmentHeaderOffset + IPv6FragmentField.identification) : 0
    }
    /// A fragment of a larger datagram: a Fragment header with more to come or a non-zero offset.
    @inlinable public var isFragment: Bool { hasFragmentHeader && (frag != 0 || moreFragments) }

    /// The extension headers' bytes.
    public var extensionHeaders: UnsafeRawBufferPointer { buffer.slice(IPv6Field.headerLength, upperLayerOffset) }
    /// The upper-layer bytes (after the extension headers, up to the payload length).
    public var payload: UnsafeRawBufferPointer {
        buffer.slice(upperLayerOffset, IPv6Field.headerLength + Int(plen))
    }

    /// The pseudo-header for this datagram's upper-layer checksum.
    public var pseudoHeader: IPPseudoHeader { .v6(source: src, destination: dst) }
}

/// A checked mutable view of an IPv6 datagram.
@dynamicMemberLookup
public struct MutableIPv6Packet {
    public let buffer: UnsafeMutableRawBufferPointer
    public let view: IPv6Packet

    public init(_ buffer: UnsafeMutableRawBufferPointer) throws(PacketError) {
        self.buffer = buffer
        view = try IPv6Packet(UnsafeRawBufferPointer(buffer))
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<IPv6Packet, T>) -> T { view[keyPath: keyPath] }

    public func setTC(_ tc: UInt8) {
        let word = view.buffer.u32(IPv6Field.versionTrafficClassFlow)
        buffer.setU32(IPv6Field.versionTrafficClassFlow, word & 0xf00f_ffff | UInt32(tc) << 20)
    }
    public func setFlow(_ flow: UInt32) {
        let word = view.buffer.u32(IPv6Field.versionTrafficClassFlow)
        buffer.setU32(IPv6Field.versionTrafficClassFlow, word & 0xfff0_0000 | flow & 0xf_ffff)
    }
    public func setHlim(_ hlim: UInt8) { buffer.setU8(IPv6Field.hopLimit, hlim) }
    public func setSrc(_ address: IPv6Address) { address.store(into: buffer, at: IPv6Field.source) }
    public func setDst(_ address: IPv6Address) { address.store(into: buffer, at: IPv6Field.destination) }
}

/// One IPv6 extension header as owned bytes.
public struct IPv6ExtensionHeader: Hashable, Sendable {
    /// Its protocol number (0 Hop-by-Hop, 43 Routing, 44 Fragment, 60 Destination Options).
    public var type: UInt8
    /// Everything after its next-header byte; `1 + data.count` is a multiple of 8.
    public var data: [UInt8]

    public init(type: UInt8, data: [UInt8]) {
        self.type = type
        self.data = data
    }

    /// A Fragment header (offset in 8-byte units).
    public static func fragment(offset: UInt16, moreFragments: Bool, id: UInt32) -> IPv6ExtensionHeader {
        let offsetAndFlags = offset << 3 | (moreFragments ? 1 : 0)
        return IPv6ExtensionHeader(type: IPProtocol.ipv6Fragment, data: [
            0, UInt8(offsetAndFlags >> 8), UInt8(truncatingIfNeeded: offsetAndFlags),
            UInt8(id >> 24), UInt8(truncatingIfNeeded: id >> 16), UInt8(truncatingIfNeeded: id >> 8),
            UInt8(truncatingIfNeeded: id),
        ])
    }

    /// A Hop-by-Hop or Destination Options header holding `options` (TLVs), padded with
    /// Pad1/PadN to a multiple of 8 bytes.
    public static func options(type: UInt8, _ options: [UInt8]) -> IPv6ExtensionHeader {
        var data: [UInt8] = [0] + options
        let padding = (8 - (data.count + 1) % 8) % 8
        if padding == 1 { data.append(0) } else if padding > 1 {
            data += [1, UInt8(padding - 2)] + [UInt8](repeating: 0, count: padding - 2)
        }
        data[0] = UInt8((data.count + 1) / 8 - 1)
        return IPv6ExtensionHeader(type: type, data: data)
    }

    public var length: Int { 1 + data.count }
}

/// An IPv6 header (and its extension headers) as owned values. `emit` writes the fixed
/// header and the extension headers, with the payload length covering `payloadLength` bytes
/// of upper-layer data after them.
public struct IPv6Repr: Hashable, Sendable, CustomStringConvertible {
    public var src: IPv6Address
    public var dst: IPv6Address
    /// The upper-layer protocol (the last next-header value).
    public var proto: UInt8
    public var hlim: UInt8
    public var tc: UInt8
    public var flow: UInt32
    public var extensionHeaders: [IPv6ExtensionHeader]
    /// Upper-layer bytes (not counting extension headers).
    public var payloadLength: Int

    public init(src: IPv6Address, dst: IPv6Address, proto: UInt8, payloadLength: Int, hlim: UInt8 = 64,
                tc: UInt8 = 0, flow: UInt32 = 0, extensionHeaders: [IPv6ExtensionHeader] = []) {
        self.src = src
        self.dst = dst
        self.proto = proto
        self.payloadLength = payloadLength
        self.hlim = hlim
        self.tc = tc
        self.flow = flow & 0xf_ffff
        self.extensionHeaders = extensionHeaders
    }

    public static func parse(_ packet: IPv6Packet) -> IPv6Repr {
        var headers: [IPv6ExtensionHeader] = []
        var type = packet.nxt
        var at = IPv6Field.headerLength
        while at < packet.upperLayerOffset {
            let length: Int
            switch type {
            case IPProtocol.ipv6Fragment: length = IPv6FragmentField.length
            case IPProtocol.ah: length = (Int(packet.buffer.u8(at + 1)) + 2) * 4
            default: length = (Int(packet.buffer.u8(at + 1)) + 1) * 8
            }
            headers.append(IPv6ExtensionHeader(type: type, data: Array(packet.buffer.slice(at + 1, at + length))))
            type = packet.buffer.u8(at)
            at += length
        }
        return IPv6Repr(src: packet.src, dst: packet.dst, proto: packet.proto,
                        payloadLength: packet.payload.count, hlim: packet.hlim, tc: packet.tc,
                        flow: packet.flow, extensionHeaders: headers)
    }

    @inlinable
    public var headerLength: Int { extensionHeaders.reduce(IPv6Field.headerLength) { $0 + $1.length } }
    public var bufferLength: Int { headerLength }

    @discardableResult
    @inlinable
    public func emit(into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard buffer.count >= bufferLength, payloadLength >= 0,
              headerLength - IPv6Field.headerLength + payloadLength <= 0xffff,
              extensionHeaders.allSatisfy({ $0.length % 8 == 0 }) else { return false }
        buffer.setU32(IPv6Field.versionTrafficClassFlow, 6 << 28 | UInt32(tc) << 20 | flow & 0xf_ffff)
        buffer.setU16(IPv6Field.payloadLength,
                      UInt16(truncatingIfNeeded: headerLength - IPv6Field.headerLength + payloadLength))
        buffer.setU8(IPv6Field.nextHeader, extensionHeaders.first?.type ?? proto)
        buffer.setU8(IPv6Field.hopLimit, hlim)
        src.store(into: buffer, at: IPv6Field.source)
        dst.store(into: buffer, at: IPv6Field.destination)
        var at = IPv6Field.headerLength
        for (index, header) in extensionHeaders.enumerated() {
            let next = index + 1 < extensionHeaders.count ? extensionHeaders[index + 1].type : proto
            buffer.setU8(at, next)
            buffer.copy(header.data, to: at + 1)
            at += header.length
        }
        return true
    }

    public func emit(appendingTo bytes: inout [UInt8]) {
        bytes += emitToArray(bufferLength) { emit(into: $0) }
    }

    public var pseudoHeader: IPPseudoHeader { .v6(source: src, destination: dst) }

    public var description: String {
        var text = "IP6 \(src) > \(dst): \(IPProtocol.name(proto)), hlim \(hlim), plen \(headerLength - IPv6Field.headerLength + payloadLength)"
        if !extensionHeaders.isEmpty {
            text += ", ext " + extensionHeaders.map { String($0.type) }.joined(separator: ",")
        }
        return text
    }
}
