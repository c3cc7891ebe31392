// ARP for Ethernet and IPv4 (RFC 826): 28 bytes.
//
//   0     2     4    5    6    8     14    18    24    28
//   | htype | ptype | hlen | plen | op | sha | spa | tha | tpa |

public enum ARPField {
    public static let hardwareType = 0
    public static let protocolType = 2
    public static let hardwareLength = 4
    public static let protocolLength = 5
    public static let operation = 6
    public static let senderHardwareAddress = 8
    public static let senderProtocolAddress = 14
    public static let targetHardwareAddress = 18
    public static let targetProtocolAddress = 24
    public static let length = 28
}

public enum ARPOperation {
    public static let request: UInt16 = 1
    public static let reply: UInt16 = 2
}

/// A checked view of an ARP packet with 6-byte hardware and 4-byte protocol addresses.
public struct ARPPacket {
    public let buffer: UnsafeRawBufferPointer

    public init(_ buffer: UnsafeRawBufferPointer) throws(PacketError) {
        guard buffer.count >= ARPField.senderHardwareAddress else { throw .truncated }
        guard buffer.u8(ARPField.hardwareLength) == 6, buffer.u8(ARPField.protocolLength) == 4 else {
            throw .unsupported
        }
        guard buffer.count >= ARPField.length else { throw .truncated }
        self.buffer = buffer
    }

    @usableFromInline
    init(unchecked buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
    }

    /// Hardware type (1: Ethernet).
    @inlinable public var htype: UInt16 { buffer.u16(ARPField.hardwareType) }
    /// Protocol type (0x0800: IPv4).
    @inlinable public var ptype: UInt16 { buffer.u16(ARPField.protocolType) }
    @inlinable public var hlen: UInt8 { buffer.u8(ARPField.hardwareLength) }
    @inlinable public var plen: UInt8 { buffer.u8(ARPField.protocolLength) }
    /// Operation: 1 request, 2 reply.
    @inlinable public var op: UInt16 { buffer.u16(ARPField.operation) }
    @inlinable public var sha: MACAddress { MACAddress(loading: buffer, at: ARPField.senderHardwareAddress) }
    @inlinable public var spa: IPv4Address { IPv4Address(loading: buffer, at: ARPField.senderProtocolAddress) }
    @inlinable public var tha: MACAddress { MACAddress(loading: buffer, at: ARPField.targetHardwareAddress) }
    @inlinable public var tpa: IPv4Address { IPv4Address(loading: buffer, at: ARPField.targetProtocolAddress) }
}

/// A checked mutable view of an ARP packet.
@dynamicMemberLookup
public struct MutableARPPacket {
    public let buffer: UnsafeMutableRawBufferPointer
    public let view: ARPPacket

    public init(_ buffer: UnsafeMutableRawBufferPointer) throws(PacketError) {
        self.buffer = buffer
        view = try ARPPacket(UnsafeRawBufferPointer(buffer))
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<ARPPacket, T>) -> T { view[keyPath: keyPath] }

    public func setOp(_ op: UInt16) { buffer.setU16(ARPField.operation, op) }
    public func setSha(_ address: MACAddress) { address.store(into: buffer, at: ARPField.senderHardwareAddress) }
    public func setSpa(_ address: IPv4Address) { address.store(into: buffer, at: ARPField.senderProtocolAddress) }
    public func setTha(_ address: MACAddress) { address.store(into: buffer, at: ARPField.targetHardwareAddress) }
    public func setTpa(_ address: IPv4Address) { address.store(into: buffer, at: ARPField.targetProtocolAddress) }
}

/// An Ethernet/IPv4 ARP packet as owned values.
public struct ARPRepr: Hashable, Sendable, CustomStringConvertible {
    public var op: UInt16
    public var sha: MACAddress
    public var spa: IPv4Address
    public var tha: MACAddress
    public var tpa: IPv4Address

    public init(op: UInt16, sha: MACAddress, spa: IPv4Address, tha: MACAddress, tpa: IPv4Address) {
        self.op = op
        self.sha = sha
        self.spa = spa
        self.tha = tha
        self.tpa = tpa
    }

    /// Only Ethernet (1) / IPv4 (0x0800) packets have a representation.
    public static func parse(_ packet: ARPPacket) throws(PacketError) -> ARPRepr {
        guard packet.htype == 1, packet.ptype == EtherType.ipv4 else { throw .unsupported }
        return ARPRepr(op: packet.op, sha: packet.sha, spa: packet.spa, tha: packet.tha, tpa: packet.tpa)
    }

    public var bufferLength: Int { ARPField.length }

    @discardableResult
    public func emit(into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard buffer.count >= bufferLength else { return false }
        buffer.setU16(ARPField.hardwareType, 1)
        buffer.setU16(ARPField.protocolType, EtherType.ipv4)
        buffer.setU8(ARPField.hardwareLength, 6)
        buffer.setU8(ARPField.protocolLength, 4)
        buffer.setU16(ARPField.operation, op)
        sha.store(into: buffer, at: ARPField.senderHardwareAddress)
        spa.store(into: buffer, at: ARPField.senderProtocolAddress)
        tha.store(into: buffer, at: ARPField.targetHardwareAddress)
        tpa.store(into: buffer, at: ARPField.targetProtocolAddress)
        return true
    }

    public func emit(appendingTo bytes: inout [UInt8]) {
        bytes += emitToArray(bufferLength) { emit(into: $0) }
    }

    public var description: String {
        switch op {
        case ARPOperation.request: "ARP, Request who-has \(tpa) tell \(spa)"
        case ARPOperation.reply: "ARP, Reply \(spa) is-at \(sha)"
        default: "ARP, op \(op) \(spa) (\(sha)) > \(tpa) (\(tha))"
        }
    }
}
