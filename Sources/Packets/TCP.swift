// TCP (RFC 9293). The checksum covers the IPv4 or IPv6 pseudo-header.
//
//   0       2       4     8     12            14       16       18    20
//   | sport | dport | seq | ack | doff/flags  | window | chksum | urg | options... | payload |

public enum TCPField {
    public static let sourcePort = 0
    public static let destinationPort = 2
    public static let sequenceNumber = 4
    public static let acknowledgmentNumber = 8
    public static let dataOffsetAndFlags = 12
    public static let window = 14
    public static let checksum = 16
    public static let urgentPointer = 18
    public static let headerLength = 20
    public static let maxHeaderLength = 60
}

public enum TCPFlags {
    public static let fin: UInt16 = 0x001
    public static let syn: UInt16 = 0x002
    public static let rst: UInt16 = 0x004
    public static let psh: UInt16 = 0x008
    public static let ack: UInt16 = 0x010
    public static let urg: UInt16 = 0x020
    public static let ece: UInt16 = 0x040
    public static let cwr: UInt16 = 0x080
    public static let ns: UInt16 = 0x100

    /// tcpdump's letters: `S`, `F`, `R`, `P`, `.` (ack), `U`, `E`, `W`.
    public static func text(_ flags: UInt16) -> String {
        var text = ""
        if flags & syn != 0 { text += "S" }
        if flags & fin != 0 { text += "F" }
        if flags & rst != 0 { text += "R" }
        if flags & psh != 0 { text += "P" }
        if flags & urg != 0 { text += "U" }
        if flags & ece != 0 { text += "E" }
        if flags & cwr != 0 { text += "W" }
        if flags & ack != 0 { text += "." }
        return text.isEmpty ? "none" : text
    }
}

public enum TCPOptionKind {
    public static let end: UInt8 = 0
    public static let noOperation: UInt8 = 1
    public static let maximumSegmentSize: UInt8 = 2
    public static let windowScale: UInt8 = 3
    public static let sackPermitted: UInt8 = 4
    public static let sack: UInt8 = 5
    public static let timestamps: UInt8 = 8
}

/// A checked view of a TCP segment (the buffer is exactly the IP payload). The constructor
/// checks the data offset and that every option ends inside the header.
public struct TCPPacket {
    public let buffer: UnsafeRawBufferPointer

    public init(_ buffer: UnsafeRawBufferPointer) throws(PacketError) {
        guard buffer.count >= TCPField.headerLength else { throw .truncated }
        let headerLength = Int(buffer.u8(TCPField.dataOffsetAndFlags) >> 4) * 4
        guard headerLength >= TCPField.headerLength else { throw .badHeaderLength }
        guard headerLength <= buffer.count else { throw .headerPastBuffer }
        try IPv4Packet.checkOptions(buffer, from: TCPField.headerLength, to: headerLength)
        self.buffer = buffer
    }

    @usableFromInline
    init(unchecked buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
    }

    @inlinable public var sport: UInt16 { buffer.u16(TCPField.sourcePort) }
    @inlinable public var dport: UInt16 { buffer.u16(TCPField.destinationPort) }
    @inlinable public var seq: UInt32 { buffer.u32(TCPField.sequenceNumber) }
    @inlinable public var ack: UInt32 { buffer.u32(TCPField.acknowledgmentNumber) }
    /// Data offset in 32-bit words.
    @inlinable public var dataofs: UInt8 { buffer.u8(TCPField.dataOffsetAndFlags) >> 4 }
    @inlinable public var headerLength: Int { Int(dataofs) * 4 }
    /// The nine flag bits (`TCPFlags`).
    @inlinable public var flags: UInt16 { buffer.u16(TCPField.dataOffsetAndFlags) & 0x1ff }
    @inlinable public var window: UInt16 { buffer.u16(TCPField.window) }
    @inlinable public var chksum: UInt16 { buffer.u16(TCPField.checksum) }
    @inlinable public var urg: UInt16 { buffer.u16(TCPField.urgentPointer) }

    public var options: UnsafeRawBufferPointer { buffer.slice(TCPField.headerLength, headerLength) }
    public var payload: UnsafeRawBufferPointer { buffer.slice(headerLength, buffer.count) }

    /// The data of the first option of `kind` (without kind and length bytes), if present.
    public func option(_ kind: UInt8) -> UnsafeRawBufferPointer? {
        var at = TCPField.headerLength
        let end = headerLength
        while at < end {
            let current = buffer.u8(at)
            if current == TCPOptionKind.end { return nil }
            if current == TCPOptionKind.noOperation {
                at += 1
                continue
            }
            let length = Int(buffer.u8(at + 1))  // checked by the constructor: >= 2, inside
            if current == kind { return buffer.slice(at + 2, at + length) }
            at += length
        }
        return nil
    }

    public var mss: UInt16? {
        guard let data = option(TCPOptionKind.maximumSegmentSize), data.count == 2 else { return nil }
        return data.u16(0)
    }

    public var windowScale: UInt8? {
        guard let data = option(TCPOptionKind.windowScale), data.count == 1 else { return nil }
        return data.u8(0)
    }

    public func verifyChecksum(_ pseudoHeader: IPPseudoHeader) -> Bool {
        Checksum.verify(buffer, pseudoHeader: pseudoHeader.sum(protocol: IPProtocol.tcp, length: buffer.count))
    }
}

/// A checked mutable view of a TCP segment.
@dynamicMemberLookup
public struct MutableTCPPacket {
    public let buffer: UnsafeMutableRawBufferPointer
    public let view: TCPPacket

    public init(_ buffer: UnsafeMutableRawBufferPointer) throws(PacketError) {
        self.buffer = buffer
        view = try TCPPacket(UnsafeRawBufferPointer(buffer))
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<TCPPacket, T>) -> T { view[keyPath: keyPath] }
    public func verifyChecksum(_ pseudoHeader: IPPseudoHeader) -> Bool { view.verifyChecksum(pseudoHeader) }

    public func setSport(_ port: UInt16) { buffer.setU16(TCPField.sourcePort, port) }
    public func setDport(_ port: UInt16) { buffer.setU16(TCPField.destinationPort, port) }
    public func setSeq(_ seq: UInt32) { buffer.setU32(TCPField.sequenceNumber, seq) }
    public func setAck(_ ack: UInt32) { buffer.setU32(TCPField.acknowledgmentNumber, ack) }
    public func setFlags(_ flags: UInt16) {
        let word = view.buffer.u16(TCPField.dataOffsetAndFlags)
        buffer.setU16(TCPField.dataOffsetAndFlags, word & 0xf000 | flags & 0x1ff)
    }
    public func setWindow(_ window: UInt16) { buffer.setU16(TCPField.window, window) }
    public func setUrg(_ urg: UInt16) { buffer.setU16(TCPField.urgentPointer, urg) }
    public func setChksum(_ checksum: UInt16) { buffer.setU16(TCPField.checksum, checksum) }

    public func fillChecksum(_ pseudoHeader: IPPseudoHeader) {
        setChksum(0)
        let pseudo = pseudoHeader.sum(protocol: IPProtocol.tcp, length: buffer.count)
        setChksum(Checksum.compute(view.buffer, pseudoHeader: pseudo))
    }
}

/// A TCP segment as owned values. `flags`: the nine flag bits as they are (`TCPFlags`);
/// `checksum`: the value to send; nil (or 0) means it is computed over the pseudo-header when
/// one is given to `emit` (`parse` leaves it nil).
public struct TCPRepr: Hashable, Sendable, CustomStringConvertible {
    public var sport: UInt16
    public var dport: UInt16
    public var seq: UInt32
    public var ack: UInt32
    public var flags: UInt16
    public var window: UInt16
    public var urg: UInt16
    /// Option bytes; emitted padded with zeros (End of Options) to a multiple of four.
    public var options: [UInt8]
    public var payload: [UInt8]
    public var checksum: UInt16?

    @inlinable
    public init(sport: UInt16, dport: UInt16, seq: UInt32 = 0, ack: UInt32 = 0, flags: UInt16,
                window: UInt16 = 65535, urg: UInt16 = 0, options: [UInt8] = [], payload: [UInt8] = [],
                checksum: UInt16? = nil) {
        self.sport = sport
        self.dport = dport
        self.seq = seq
        self.ack = ack
        self.flags = flags & 0x1ff
        self.window = window
        self.urg = urg
        self.options = options.count <= TCPField.maxHeaderLength - TCPField.headerLength
            ? options : Array(options.prefix(TCPField.maxHeaderLength - TCPField.headerLength))
        self.payload = payload
        self.checksum = checksum
    }

    public static func parse(_ packet: TCPPacket, pseudoHeader: IPPseudoHeader?) throws(PacketError) -> TCPRepr {
        if let pseudoHeader, !packet.verifyChecksum(pseudoHeader) { throw .badChecksum }
        return TCPRepr(sport: packet.sport, dport: packet.dport, seq: packet.seq, ack: packet.ack,
                       flags: packet.flags, window: packet.window, urg: packet.urg,
                       options: Array(packet.options), payload: Array(packet.payload))
    }

    @inlinable
    public var headerLength: Int { TCPField.headerLength + (options.count + 3) / 4 * 4 }
    public var bufferLength: Int { headerLength + payload.count }

    /// Writes header, options and payload, and the checksum over `pseudoHeader`.
    @discardableResult
    public func emit(into buffer: UnsafeMutableRawBufferPointer, pseudoHeader: IPPseudoHeader) -> Bool {
        guard buffer.count >= bufferLength else { return false }
        buffer.copy(payload, to: headerLength)
        return emitHeader(into: buffer, payloadLength: payload.count, pseudoHeader: pseudoHeader)
    }

    /// Writes the header and options in front of `payloadLength` bytes the caller has already
    /// put after them (`payload` is not used); the checksum given, else 0, filled over
    /// `pseudoHeader` when one is given and the field is 0.
    @discardableResult
    @inlinable @inline(__always)
    public func emitHeader(into buffer: UnsafeMutableRawBufferPointer, payloadLength: Int,
                           pseudoHeader: IPPseudoHeader?) -> Bool {
        let length = headerLength + payloadLength
        guard payloadLength >= 0, buffer.count >= length, length <= 0xffff else { return false }
        emitFixedHeader(into: buffer, headerLength: headerLength)
        buffer.copy(options, to: TCPField.headerLength)
        buffer.zero(TCPField.headerLength + options.count, headerLength - TCPField.headerLength - options.count)
        pseudoHeader?.fillTransportChecksumIfZero(protocol: IPProtocol.tcp,
                                                  segment: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length]))
        return true
    }

    /// Writes the fixed 20 bytes: ports, numbers, a data offset of `headerLength` (the
    /// options after them are the caller's: an engine writes its own without an array),
    /// flags, window, urgent pointer and the checksum given, else 0. The buffer holds 20 bytes.
    @inlinable @inline(__always)
    public func emitFixedHeader(into buffer: UnsafeMutableRawBufferPointer, headerLength: Int) {
        buffer.setU16(TCPField.sourcePort, sport)
        buffer.setU16(TCPField.destinationPort, dport)
        buffer.setU32(TCPField.sequenceNumber, seq)
        buffer.setU32(TCPField.acknowledgmentNumber, ack)
        buffer.setU16(TCPField.dataOffsetAndFlags, UInt16(headerLength / 4) << 12 | flags & 0x1ff)
        buffer.setU16(TCPField.window, window)
        buffer.setU16(TCPField.checksum, checksum ?? 0)
        buffer.setU16(TCPField.urgentPointer, urg)
    }

    public func emit(appendingTo bytes: inout [UInt8], pseudoHeader: IPPseudoHeader) {
        bytes += emitToArray(bufferLength) { emit(into: $0, pseudoHeader: pseudoHeader) }
    }

    public var description: String {
        var text = "TCP \(sport) > \(dport): Flags [\(TCPFlags.text(flags))], seq \(seq)"
        if flags & TCPFlags.ack != 0 { text += ", ack \(ack)" }
        return text + ", win \(window), length \(payload.count)"
    }
}
