// ICMP for IPv4 (RFC 792): echo, destination unreachable, time exceeded and the rest.
//
//   0      1      2        4                         8
//   | type | code | chksum | id/seq, unused/mtu, ... | data (echo data or the original
//                                                      datagram's header + 8 bytes) |

public enum ICMPv4Field {
    public static let type = 0
    public static let code = 1
    public static let checksum = 2
    /// The four type-dependent bytes ("rest of header").
    public static let rest = 4
    public static let identifier = 4
    public static let sequence = 6
    /// Next-hop MTU of "fragmentation needed" (type 3 code 4).
    public static let nextHopMTU = 6
    public static let headerLength = 8
}

public enum ICMPv4Type {
    public static let echoReply: UInt8 = 0
    public static let destinationUnreachable: UInt8 = 3
    public static let redirect: UInt8 = 5
    public static let echoRequest: UInt8 = 8
    public static let timeExceeded: UInt8 = 11
    public static let parameterProblem: UInt8 = 12
}

/// A checked view of an ICMPv4 message (the buffer is exactly the IP payload).
public struct ICMPv4Packet {
    public let buffer: UnsafeRawBufferPointer

    public init(_ buffer: UnsafeRawBufferPointer) throws(PacketError) {
        guard buffer.count >= ICMPv4Field.headerLength else { throw .truncated }
        self.buffer = buffer
    }

    @usableFromInline
    init(unchecked buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
    }

    @inlinable public var type: UInt8 { buffer.u8(ICMPv4Field.type) }
    @inlinable public var code: UInt8 { buffer.u8(ICMPv4Field.code) }
    @inlinable public var chksum: UInt16 { buffer.u16(ICMPv4Field.checksum) }
    /// Echo identifier (meaningful for echo request/reply).
    @inlinable public var id: UInt16 { buffer.u16(ICMPv4Field.identifier) }
    /// Echo sequence number (meaningful for echo request/reply).
    @inlinable public var seq: UInt16 { buffer.u16(ICMPv4Field.sequence) }
    /// The four type-dependent header bytes as one number.
    @inlinable public var rest: UInt32 { buffer.u32(ICMPv4Field.rest) }
    @inlinable public var mtu: UInt16 { buffer.u16(ICMPv4Field.nextHopMTU) }
    /// Echo data, or the original datagram's bytes in an error message.
    public var payload: UnsafeRawBufferPointer { buffer.slice(ICMPv4Field.headerLength, buffer.count) }

    public var isEcho: Bool { type == ICMPv4Type.echoRequest || type == ICMPv4Type.echoReply }
    public var isError: Bool {
        type == ICMPv4Type.destinationUnreachable || type == ICMPv4Type.timeExceeded
            || type == ICMPv4Type.parameterProblem || type == ICMPv4Type.redirect
    }

    public func verifyChecksum() -> Bool { Checksum.verify(buffer) }
}

/// A checked mutable view of an ICMPv4 message.
@dynamicMemberLookup
public struct MutableICMPv4Packet {
    public let buffer: UnsafeMutableRawBufferPointer
    public let view: ICMPv4Packet

    public init(_ buffer: UnsafeMutableRawBufferPointer) throws(PacketError) {
        self.buffer = buffer
        view = try ICMPv4Packet(UnsafeRawBufferPointer(buffer))
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<ICMPv4Packet, T>) -> T { view[keyPath: keyPath] }
    public func verifyChecksum() -> Bool { view.verifyChecksum() }

    public func setType(_ type: UInt8) { buffer.setU8(ICMPv4Field.type, type) }
    public func setCode(_ code: UInt8) { buffer.setU8(ICMPv4Field.code, code) }
    public func setID(_ id: UInt16) { buffer.setU16(ICMPv4Field.identifier, id) }
    public func setSeq(_ seq: UInt16) { buffer.setU16(ICMPv4Field.sequence, seq) }
    public func setRest(_ rest: UInt32) { buffer.setU32(ICMPv4Field.rest, rest) }
    public func setChksum(_ checksum: UInt16) { buffer.setU16(ICMPv4Field.checksum, checksum) }

    /// Recomputes the checksum over the whole message.
    public func fillChecksum() {
        setChksum(0)
        setChksum(Checksum.compute(view.buffer))
    }
}

/// An ICMPv4 message as owned values. `checksum`: the value to send, kept as given; nil
/// means it is computed (`parse` leaves it nil).
public struct ICMPv4Repr: Hashable, Sendable, CustomStringConvertible {
    public var type: UInt8
    public var code: UInt8
    /// The four type-dependent header bytes (echo: id << 16 | seq).
    public var rest: UInt32
    /// Echo data, or the original datagram's header and first 8 payload bytes.
    public var payload: [UInt8]
    public var checksum: UInt16?

    public init(type: UInt8, code: UInt8 = 0, rest: UInt32 = 0, payload: [UInt8] = [], checksum: UInt16? = nil) {
        self.type = type
        self.code = code
        self.rest = rest
        self.payload = payload
        self.checksum = checksum
    }

    public static func echoRequest(id: UInt16, seq: UInt16, data: [UInt8]) -> ICMPv4Repr {
        ICMPv4Repr(type: ICMPv4Type.echoRequest, rest: UInt32(id) << 16 | UInt32(seq), payload: data)
    }

    public static func echoReply(id: UInt16, seq: UInt16, data: [UInt8]) -> ICMPv4Repr {
        ICMPv4Repr(type: ICMPv4Type.echoReply, rest: UInt32(id) << 16 | UInt32(seq), payload: data)
    }

    /// `original`: the offending datagram's header and at least its first 8 payload bytes.
    public static func destinationUnreachable(code: UInt8, original: [UInt8], mtu: UInt16 = 0) -> ICMPv4Repr {
        ICMPv4Repr(type: ICMPv4Type.destinationUnreachable, code: code, rest: UInt32(mtu), payload: original)
    }

    public static func timeExceeded(code: UInt8 = 0, original: [UInt8]) -> ICMPv4Repr {
        ICMPv4Repr(type: ICMPv4Type.timeExceeded, code: code, payload: original)
    }

    public var id: UInt16 { UInt16(truncatingIfNeeded: rest >> 16) }
    public var seq: UInt16 { UInt16(truncatingIfNeeded: rest) }

    public static func parse(_ packet: ICMPv4Packet, checkChecksum: Bool = true) throws(PacketError) -> ICMPv4Repr {
        if checkChecksum, !packet.verifyChecksum() { throw .badChecksum }
        return ICMPv4Repr(type: packet.type, code: packet.code, rest: packet.rest, payload: Array(packet.payload))
    }

    public var bufferLength: Int { ICMPv4Field.headerLength + payload.count }

    /// Writes the whole message, checksum included.
    @discardableResult
    public func emit(into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard buffer.count >= bufferLength else { return false }
        buffer.copy(payload, to: ICMPv4Field.headerLength)
        return emitHeader(into: buffer, payloadLength: payload.count)
    }

    /// Writes the 8-byte header in front of `payloadLength` bytes the caller has already put
    /// after it (`payload` is not used), and the checksum given or computed over them all.
    @discardableResult
    @inlinable
    public func emitHeader(into buffer: UnsafeMutableRawBufferPointer, payloadLength: Int) -> Bool {
        let length = ICMPv4Field.headerLength + payloadLength
        guard payloadLength >= 0, buffer.count >= length else { return false }
        buffer.setU8(ICMPv4Field.type, type)
        buffer.setU8(ICMPv4Field.code, code)
        buffer.setU16(ICMPv4Field.checksum, 0)
        buffer.setU32(ICMPv4Field.rest, rest)
        buffer.setU16(ICMPv4Field.checksum, checksum ?? Checksum.compute(UnsafeRawBufferPointer(rebasing: buffer[0..<length])))
        return true
    }

    public func emit(appendingTo bytes: inout [UInt8]) {
        bytes += emitToArray(bufferLength) { emit(into: $0) }
    }

    public var description: String {
        switch type {
        case ICMPv4Type.echoRequest: "ICMP echo request, id \(id), seq \(seq), length \(bufferLength)"
        case ICMPv4Type.echoReply: "ICMP echo reply, id \(id), seq \(seq), length \(bufferLength)"
        case ICMPv4Type.destinationUnreachable: "ICMP \(Self.unreachableName(code)) unreachable, length \(bufferLength)"
        case ICMPv4Type.timeExceeded: "ICMP time exceeded \(code == 0 ? "in-transit" : "reassembly"), length \(bufferLength)"
        default: "ICMP type \(type), code \(code), length \(bufferLength)"
        }
    }

    static func unreachableName(_ code: UInt8) -> String {
        switch code {
        case 0: "net"
        case 1: "host"
        case 2: "protocol"
        case 3: "port"
        case 4: "fragmentation needed,"
        case 13: "administratively prohibited,"
        default: "code \(code)"
        }
    }
}
