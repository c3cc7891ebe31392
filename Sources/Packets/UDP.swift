// UDP (RFC 768). The checksum covers the IPv4 or IPv6 pseudo-header; over IPv4 a zero
// checksum means "none", and a computed zero is sent as 0xffff.
//
//   0       2       4        6        8
//   | sport | dport | length | chksum | payload |

public enum UDPField {
    public static let sourcePort = 0
    public static let destinationPort = 2
    public static let length = 4
    public static let checksum = 6
    public static let headerLength = 8
}

/// A checked view of a UDP datagram: the length field is at least 8 and inside the buffer.
public struct UDPPacket {
    public let buffer: UnsafeRawBufferPointer

    public init(_ buffer: UnsafeRawBufferPointer) throws(PacketError) {
        guard buffer.count >= UDPField.headerLength else { throw .truncated }
        let length = Int(buffer.u16(UDPField.length))
        guard length >= UDPField.headerLength, length <= buffer.count else { throw .badLength }
        self.buffer = buffer
    }

    @usableFromInline
    init(unchecked buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
    }

    @inlinable public var sport: UInt16 { buffer.u16(UDPField.sourcePort) }
    @inlinable public var dport: UInt16 { buffer.u16(UDPField.destinationPort) }
    /// Length field: header plus payload.
    @inlinable public var len: UInt16 { buffer.u16(UDPField.length) }
    @inlinable public var chksum: UInt16 { buffer.u16(UDPField.checksum) }
    public var payload: UnsafeRawBufferPointer { buffer.slice(UDPField.headerLength, Int(len)) }

    public func verifyChecksum(_ pseudoHeader: IPPseudoHeader) -> Bool {
        if chksum == 0, case .v4 = pseudoHeader { return true }
        let length = Int(len)
        return Checksum.verify(buffer.slice(0, length),
                               pseudoHeader: pseudoHeader.sum(protocol: IPProtocol.udp, length: length))
    }
}

/// A checked mutable view of a UDP datagram.
@dynamicMemberLookup
public struct MutableUDPPacket {
    public let buffer: UnsafeMutableRawBufferPointer
    public let view: UDPPacket

    public init(_ buffer: UnsafeMutableRawBufferPointer) throws(PacketError) {
        self.buffer = buffer
        view = try UDPPacket(UnsafeRawBufferPointer(buffer))
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<UDPPacket, T>) -> T { view[keyPath: keyPath] }
    public func verifyChecksum(_ pseudoHeader: IPPseudoHeader) -> Bool { view.verifyChecksum(pseudoHeader) }

    public func setSport(_ port: UInt16) { buffer.setU16(UDPField.sourcePort, port) }
    public func setDport(_ port: UInt16) { buffer.setU16(UDPField.destinationPort, port) }
    public func setChksum(_ checksum: UInt16) { buffer.setU16(UDPField.checksum, checksum) }

    public func fillChecksum(_ pseudoHeader: IPPseudoHeader) {
        setChksum(0)
        let length = Int(view.len)
        let sum = Checksum.compute(view.buffer.slice(0, length),
                                   pseudoHeader: pseudoHeader.sum(protocol: IPProtocol.udp, length: length))
        setChksum(sum == 0 ? 0xffff : sum)
    }
}

/// A UDP datagram as owned values. `checksum`: the value to send; nil (or 0) means it is
/// computed over the pseudo-header when one is given to `emit` (`parse` leaves it nil).
public struct UDPRepr: Hashable, Sendable, CustomStringConvertible {
    public var sport: UInt16
    public var dport: UInt16
    public var payload: [UInt8]
    public var checksum: UInt16?

    public init(sport: UInt16, dport: UInt16, payload: [UInt8] = [], checksum: UInt16? = nil) {
        self.sport = sport
        self.dport = dport
        self.payload = payload
        self.checksum = checksum
    }

    /// `pseudoHeader`: checks the checksum when given.
    public static func parse(_ packet: UDPPacket, pseudoHeader: IPPseudoHeader?) throws(PacketError) -> UDPRepr {
        if let pseudoHeader, !packet.verifyChecksum(pseudoHeader) { throw .badChecksum }
        return UDPRepr(sport: packet.sport, dport: packet.dport, payload: Array(packet.payload))
    }

    @inlinable
    public var bufferLength: Int { UDPField.headerLength + payload.count }

    /// Writes header and payload, the length and the checksum over `pseudoHeader`.
    @discardableResult
    public func emit(into buffer: UnsafeMutableRawBufferPointer, pseudoHeader: IPPseudoHeader) -> Bool {
        guard buffer.count >= bufferLength else { return false }
        buffer.copy(payload, to: UDPField.headerLength)
        return emitHeader(into: buffer, payloadLength: payload.count, pseudoHeader: pseudoHeader)
    }

    /// Writes the header in front of `payloadLength` bytes the caller has already put after
    /// it (`payload` is not used): ports, length, and the checksum given, else 0, filled over
    /// `pseudoHeader` when one is given and the field is 0.
    @discardableResult
    @inlinable @inline(__always)
    public func emitHeader(into buffer: UnsafeMutableRawBufferPointer, payloadLength: Int,
                           pseudoHeader: IPPseudoHeader?) -> Bool {
        let length = UDPField.headerLength + payloadLength
        guard payloadLength >= 0, buffer.count >= length, length <= 0xffff else { return false }
        buffer.setU16(UDPField.sourcePort, sport)
        buffer.setU16(UDPField.destinationPort, dport)
        buffer.setU16(UDPField.length, UInt16(length))
        buffer.setU16(UDPField.checksum, checksum ?? 0)
        pseudoHeader?.fillTransportChecksumIfZero(protocol: IPProtocol.udp,
                                                  segment: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length]))
        return true
    }

    public func emit(appendingTo bytes: inout [UInt8], pseudoHeader: IPPseudoHeader) {
        bytes += emitToArray(bufferLength) { emit(into: $0, pseudoHeader: pseudoHeader) }
    }

    public var description: String { "UDP \(sport) > \(dport), length \(payload.count)" }
}
