// ICMPv6 (RFC 4443) and the neighbour discovery messages it carries (RFC 4861).
//
//   0      1      2        4                   8              24
//   | type | code | chksum | id/seq, flags, ... | NS/NA target | options... |
//   Router Solicitation: options start at 8. Option: [type, length in 8-byte units, data].
// The checksum covers the IPv6 pseudo-header (next header 58).

public enum ICMPv6Field {
    public static let type = 0
    public static let code = 1
    public static let checksum = 2
    public static let rest = 4
    public static let identifier = 4
    public static let sequence = 6
    /// Neighbor Advertisement flags (R 0x80, S 0x40, O 0x20).
    public static let neighborFlags = 4
    public static let headerLength = 8
    /// Neighbor Solicitation/Advertisement target address.
    public static let target = 8
    public static let neighborOptions = 24
    public static let routerSolicitationOptions = 8
}

public enum ICMPv6Type {
    public static let destinationUnreachable: UInt8 = 1
    public static let packetTooBig: UInt8 = 2
    public static let timeExceeded: UInt8 = 3
    public static let parameterProblem: UInt8 = 4
    public static let echoRequest: UInt8 = 128
    public static let echoReply: UInt8 = 129
    public static let routerSolicitation: UInt8 = 133
    public static let routerAdvertisement: UInt8 = 134
    public static let neighborSolicitation: UInt8 = 135
    public static let neighborAdvertisement: UInt8 = 136
}

public enum NDOption {
    public static let sourceLinkLayerAddress: UInt8 = 1
    public static let targetLinkLayerAddress: UInt8 = 2
}

public enum NeighborFlags {
    public static let router: UInt8 = 0x80
    public static let solicited: UInt8 = 0x40
    public static let override: UInt8 = 0x20
}

/// A checked view of an ICMPv6 message (the buffer is exactly the upper-layer payload). For
/// Neighbor Solicitation/Advertisement and Router Solicitation the constructor also checks
/// the fixed part and that every option lies inside the message.
public struct ICMPv6Packet {
    public let buffer: UnsafeRawBufferPointer
    /// Where the neighbour discovery options start (0 for other messages).
    public let optionsOffset: Int
    /// Where the data of the source / target link-layer address option is (0: absent).
    public let sourceLinkLayerOffset: Int
    public let targetLinkLayerOffset: Int

    public init(_ buffer: UnsafeRawBufferPointer) throws(PacketError) {
        guard buffer.count >= ICMPv6Field.headerLength else { throw .truncated }
        let options = ICMPv6Packet.optionsStart(type: buffer.u8(ICMPv6Field.type))
        var source = 0
        var target = 0
        if options != 0 {
            guard buffer.count >= options else { throw .truncated }
            var at = options
            while at < buffer.count {
                guard at + 2 <= buffer.count else { throw .badOption }
                let length = Int(buffer.u8(at + 1)) * 8
                guard length > 0, at + length <= buffer.count else { throw .badOption }
                // An Ethernet link-layer address option is 8 bytes: type, length, 6 address bytes.
                if length == 8 {
                    switch buffer.u8(at) {
                    case NDOption.sourceLinkLayerAddress where source == 0: source = at + 2
                    case NDOption.targetLinkLayerAddress where target == 0: target = at + 2
                    default: break
                    }
                }
                at += length
            }
        }
        self.buffer = buffer
        optionsOffset = options
        sourceLinkLayerOffset = source
        targetLinkLayerOffset = target
    }

    /// The options offset for a neighbour discovery type this view reads, else 0.
    @inlinable
    public static func optionsStart(type: UInt8) -> Int {
        switch type {
        case ICMPv6Type.neighborSolicitation, ICMPv6Type.neighborAdvertisement: ICMPv6Field.neighborOptions
        case ICMPv6Type.routerSolicitation: ICMPv6Field.routerSolicitationOptions
        default: 0
        }
    }

    @inlinable public var type: UInt8 { buffer.u8(ICMPv6Field.type) }
    @inlinable public var code: UInt8 { buffer.u8(ICMPv6Field.code) }
    @inlinable public var chksum: UInt16 { buffer.u16(ICMPv6Field.checksum) }
    @inlinable public var id: UInt16 { buffer.u16(ICMPv6Field.identifier) }
    @inlinable public var seq: UInt16 { buffer.u16(ICMPv6Field.sequence) }
    @inlinable public var rest: UInt32 { buffer.u32(ICMPv6Field.rest) }
    /// Neighbor Advertisement flags (R 0x80, S 0x40, O 0x20).
    @inlinable public var ndFlags: UInt8 { buffer.u8(ICMPv6Field.neighborFlags) }

    @inlinable public var isNeighborMessage: Bool { optionsOffset == ICMPv6Field.neighborOptions }
    /// The Neighbor Solicitation/Advertisement target (nil for other messages).
    @inlinable public var target: IPv6Address? {
        isNeighborMessage ? IPv6Address(loading: buffer, at: ICMPv6Field.target) : nil
    }
    /// The source link-layer address option (NS, RS), if present.
    @inlinable public var sourceLinkLayerAddress: MACAddress? {
        sourceLinkLayerOffset != 0 ? MACAddress(loading: buffer, at: sourceLinkLayerOffset) : nil
    }
    /// The target link-layer address option (NA), if present.
    @inlinable public var targetLinkLayerAddress: MACAddress? {
        targetLinkLayerOffset != 0 ? MACAddress(loading: buffer, at: targetLinkLayerOffset) : nil
    }
    /// The neighbour discovery options' bytes (empty for other messages).
    public var options: UnsafeRawBufferPointer {
        optionsOffset == 0 ? buffer.slice(0, 0) : buffer.slice(optionsOffset, buffer.count)
    }
    /// Everything after the first 8 bytes (echo data, the original packet in an error).
    public var payload: UnsafeRawBufferPointer { buffer.slice(ICMPv6Field.headerLength, buffer.count) }

    public func verifyChecksum(_ pseudoHeader: IPPseudoHeader) -> Bool {
        Checksum.verify(buffer, pseudoHeader: pseudoHeader.sum(protocol: IPProtocol.icmpv6, length: buffer.count))
    }
}

/// A checked mutable view of an ICMPv6 message.
@dynamicMemberLookup
public struct MutableICMPv6Packet {
    public let buffer: UnsafeMutableRawBufferPointer
    public let view: ICMPv6Packet

    public init(_ buffer: UnsafeMutableRawBufferPointer) throws(PacketError) {
        self.buffer = buffer
        view = try ICMPv6Packet(UnsafeRawBufferPointer(buffer))
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<ICMPv6Packet, T>) -> T { view[keyPath: keyPath] }
    public func verifyChecksum(_ pseudoHeader: IPPseudoHeader) -> Bool { view.verifyChecksum(pseudoHeader) }

    public func setType(_ type: UInt8) { buffer.setU8(ICMPv6Field.type, type) }
    public func setCode(_ code: UInt8) { buffer.setU8(ICMPv6Field.code, code) }
    public func setID(_ id: UInt16) { buffer.setU16(ICMPv6Field.identifier, id) }
    public func setSeq(_ seq: UInt16) { buffer.setU16(ICMPv6Field.sequence, seq) }
    public func setChksum(_ checksum: UInt16) { buffer.setU16(ICMPv6Field.checksum, checksum) }

    public func fillChecksum(_ pseudoHeader: IPPseudoHeader) {
        setChksum(0)
        let pseudo = pseudoHeader.sum(protocol: IPProtocol.icmpv6, length: buffer.count)
        setChksum(Checksum.compute(view.buffer, pseudoHeader: pseudo))
    }
}

/// An ICMPv6 message as owned values. For Neighbor Solicitation/Advertisement and Router
/// Solicitation the target and the link-layer address options are fields, and `payload`
/// holds any other options; for other messages `payload` is everything after byte 8.
/// Emitted: the 8-byte header, the target when given (`parse` and the NS/NA constructors
/// always give one), the link-layer address options given, then `payload`.
/// `checksum`: the value to send; nil (or 0) means it is computed over the pseudo-header
/// when one is given to `emit` (`parse` leaves it nil).
public struct ICMPv6Repr: Hashable, Sendable, CustomStringConvertible {
    public var type: UInt8
    public var code: UInt8
    /// Bytes 4..<8 (echo: id << 16 | seq; NA: flags in the top byte).
    public var rest: UInt32
    public var target: IPv6Address?
    public var sourceLinkLayerAddress: MACAddress?
    public var targetLinkLayerAddress: MACAddress?
    public var payload: [UInt8]
    public var checksum: UInt16?

    public init(type: UInt8, code: UInt8 = 0, rest: UInt32 = 0, target: IPv6Address? = nil,
                sourceLinkLayerAddress: MACAddress? = nil, targetLinkLayerAddress: MACAddress? = nil,
                payload: [UInt8] = [], checksum: UInt16? = nil) {
        self.type = type
        self.code = code
        self.rest = rest
        self.target = target
        self.sourceLinkLayerAddress = sourceLinkLayerAddress
        self.targetLinkLayerAddress = targetLinkLayerAddress
        self.payload = payload
        self.checksum = checksum
    }

    public static func echoRequest(id: UInt16, seq: UInt16, data: [UInt8]) -> ICMPv6Repr {
        ICMPv6Repr(type: ICMPv6Type.echoRequest, rest: UInt32(id) << 16 | UInt32(seq), payload: data)
    }

    public static func echoReply(id: UInt16, seq: UInt16, data: [UInt8]) -> ICMPv6Repr {
        ICMPv6Repr(type: ICMPv6Type.echoReply, rest: UInt32(id) << 16 | UInt32(seq), payload: data)
    }

    public static func neighborSolicitation(target: IPv6Address, source: MACAddress?) -> ICMPv6Repr {
        ICMPv6Repr(type: ICMPv6Type.neighborSolicitation, target: target, sourceLinkLayerAddress: source)
    }

    public static func neighborAdvertisement(target: IPv6Address, flags: UInt8, linkLayerAddress: MACAddress?) -> ICMPv6Repr {
        ICMPv6Repr(type: ICMPv6Type.neighborAdvertisement, rest: UInt32(flags) << 24, target: target,
                   targetLinkLayerAddress: linkLayerAddress)
    }

    public static func routerSolicitation(source: MACAddress?) -> ICMPv6Repr {
        ICMPv6Repr(type: ICMPv6Type.routerSolicitation, sourceLinkLayerAddress: source)
    }

    public var id: UInt16 { UInt16(truncatingIfNeeded: rest >> 16) }
    public var seq: UInt16 { UInt16(truncatingIfNeeded: rest) }
    public var ndFlags: UInt8 { UInt8(truncatingIfNeeded: rest >> 24) }

    public static func parse(_ packet: ICMPv6Packet, pseudoHeader: IPPseudoHeader?) throws(PacketError) -> ICMPv6Repr {
        if let pseudoHeader, !packet.verifyChecksum(pseudoHeader) { throw .badChecksum }
        guard packet.optionsOffset != 0 else {
            return ICMPv6Repr(type: packet.type, code: packet.code, rest: packet.rest, payload: Array(packet.payload))
        }
        // Options other than the two link-layer addresses stay as bytes, in order.
        var others: [UInt8] = []
        var at = packet.optionsOffset
        let buffer = packet.buffer
        while at + 2 <= buffer.count {
            let length = Int(buffer.u8(at + 1)) * 8
            let start = at + 2
            if start != packet.sourceLinkLayerOffset, start != packet.targetLinkLayerOffset {
                others += buffer.slice(at, at + length)
            }
            at += length
        }
        return ICMPv6Repr(type: packet.type, code: packet.code, rest: packet.rest, target: packet.target,
                          sourceLinkLayerAddress: packet.sourceLinkLayerAddress,
                          targetLinkLayerAddress: packet.targetLinkLayerAddress, payload: others)
    }

    /// Everything before `payload`: header, target, link-layer address options.
    @inlinable
    public var headerLength: Int {
        ICMPv6Field.headerLength + (target == nil ? 0 : 16) + (sourceLinkLayerAddress == nil ? 0 : 8)
            + (targetLinkLayerAddress == nil ? 0 : 8)
    }

    public var bufferLength: Int { headerLength + payload.count }

    /// Writes the whole message, checksum over `pseudoHeader` included.
    @discardableResult
    public func emit(into buffer: UnsafeMutableRawBufferPointer, pseudoHeader: IPPseudoHeader) -> Bool {
        guard buffer.count >= bufferLength else { return false }
        buffer.copy(payload, to: headerLength)
        return emitHeader(into: buffer, payloadLength: payload.count, pseudoHeader: pseudoHeader)
    }

    /// Writes everything before the payload in front of `payloadLength` bytes the caller has
    /// already put after it (`payload` is not used); the checksum given, else 0, filled over
    /// `pseudoHeader` when one is given and the field is 0.
    @discardableResult
    @inlinable
    public func emitHeader(into buffer: UnsafeMutableRawBufferPointer, payloadLength: Int,
                           pseudoHeader: IPPseudoHeader?) -> Bool {
        let length = headerLength + payloadLength
        guard payloadLength >= 0, buffer.count >= length else { return false }
        buffer.setU8(ICMPv6Field.type, type)
        buffer.setU8(ICMPv6Field.code, code)
        buffer.setU16(ICMPv6Field.checksum, checksum ?? 0)
        buffer.setU32(ICMPv6Field.rest, rest)
        var at = ICMPv6Field.headerLength
        if let target {
            target.store(into: buffer, at: ICMPv6Field.target)
            at += 16
        }
        func linkLayerOption(_ kind: UInt8, _ address: MACAddress?) {
            guard let address else { return }
            buffer.setU8(at, kind)
            buffer.setU8(at + 1, 1)  // length in units of 8 bytes
            address.store(into: buffer, at: at + 2)
            at += 8
        }
        linkLayerOption(NDOption.sourceLinkLayerAddress, sourceLinkLayerAddress)
        linkLayerOption(NDOption.targetLinkLayerAddress, targetLinkLayerAddress)
        pseudoHeader?.fillTransportChecksumIfZero(protocol: IPProtocol.icmpv6,
                                                  segment: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length]))
        return true
    }

    public func emit(appendingTo bytes: inout [UInt8], pseudoHeader: IPPseudoHeader) {
        bytes += emitToArray(bufferLength) { emit(into: $0, pseudoHeader: pseudoHeader) }
    }

    public var description: String {
        switch type {
        case ICMPv6Type.echoRequest: "ICMP6, echo request, id \(id), seq \(seq), length \(bufferLength)"
        case ICMPv6Type.echoReply: "ICMP6, echo reply, id \(id), seq \(seq), length \(bufferLength)"
        case ICMPv6Type.neighborSolicitation: "ICMP6, neighbor solicitation, who has \(target ?? .unspecified), length \(bufferLength)"
        case ICMPv6Type.neighborAdvertisement: "ICMP6, neighbor advertisement, tgt is \(target ?? .unspecified), length \(bufferLength)"
        case ICMPv6Type.routerSolicitation: "ICMP6, router solicitation, length \(bufferLength)"
        default: "ICMP6, type \(type), code \(code), length \(bufferLength)"
        }
    }
}
