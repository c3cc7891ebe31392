// Ethernet II, with up to two VLAN tags (802.1Q, and 802.1ad outer tags for QinQ).
//
//   0      6      12         14 (+4 per tag)
//   | dst  | src  | type/TPID | [TCI | type/TPID]... | payload

public enum EthernetField {
    public static let destination = 0
    public static let source = 6
    public static let etherType = 12
    public static let headerLength = 14
    /// A tag is TPID (at the EtherType position) + 2-byte TCI, then the next EtherType.
    public static let tagLength = 4
    public static let maxTags = 2
}

public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let vlan: UInt16 = 0x8100
    public static let ipv6: UInt16 = 0x86dd
    public static let qinq: UInt16 = 0x88a8
    /// The pre-standard QinQ TPID some switches still use.
    public static let qinqLegacy: UInt16 = 0x9100

    @inlinable
    public static func isVLANTag(_ type: UInt16) -> Bool {
        type == vlan || type == qinq || type == qinqLegacy
    }
}

/// One VLAN tag: the TPID that introduced it and its Tag Control Information.
public struct VLANTag: Hashable, Sendable, CustomStringConvertible {
    /// 0x8100 (802.1Q) or 0x88a8 (802.1ad service tag).
    public var tpid: UInt16
    /// Priority code point (0...7).
    public var pcp: UInt8
    /// Drop eligible indicator.
    public var dei: Bool
    /// VLAN identifier (0...4095).
    public var id: UInt16

    public init(tpid: UInt16 = EtherType.vlan, pcp: UInt8 = 0, dei: Bool = false, id: UInt16) {
        self.tpid = tpid
        self.pcp = pcp & 7
        self.dei = dei
        self.id = id & 0x0fff
    }

    @inlinable
    public init(tpid: UInt16, tci: UInt16) {
        self.tpid = tpid
        pcp = UInt8(tci >> 13)
        dei = tci & 0x1000 != 0
        id = tci & 0x0fff
    }

    @inlinable
    public var tci: UInt16 { UInt16(pcp & 7) << 13 | (dei ? 0x1000 : 0) | (id & 0x0fff) }

    /// The 4 bytes after the TPID, as Wireshark's vlan layer shows them: the TCI, then the
    /// EtherType of what follows. (The TPID is the type field before them.)
    @discardableResult
    @inlinable
    public func emit(into buffer: UnsafeMutableRawBufferPointer, followedBy type: UInt16) -> Bool {
        guard buffer.count >= EthernetField.tagLength else { return false }
        buffer.setU16(0, tci)
        buffer.setU16(2, type)
        return true
    }

    public var description: String { "vlan \(id), p \(pcp)" + (tpid == EtherType.vlan ? "" : " (tpid 0x\(String(tpid, radix: 16)))") }
}

/// A checked view of an Ethernet II frame. The constructor follows up to two VLAN tags.
public struct EthernetFrame {
    public let buffer: UnsafeRawBufferPointer
    /// Number of VLAN tags (0...2).
    public let tagCount: Int

    @inlinable
    public init(_ buffer: UnsafeRawBufferPointer) throws(PacketError) {
        guard buffer.count >= EthernetField.headerLength else { throw .truncated }
        var tags = 0
        while tags < EthernetField.maxTags,
              EtherType.isVLANTag(buffer.u16(EthernetField.etherType + tags * EthernetField.tagLength)) {
            tags += 1
            guard buffer.count >= EthernetField.headerLength + tags * EthernetField.tagLength else { throw .truncated }
        }
        self.buffer = buffer
        tagCount = tags
    }

    @usableFromInline
    init(unchecked buffer: UnsafeRawBufferPointer, tagCount: Int) {
        self.buffer = buffer
        self.tagCount = tagCount
    }

    @inlinable public var dst: MACAddress { MACAddress(loading: buffer, at: EthernetField.destination) }
    @inlinable public var src: MACAddress { MACAddress(loading: buffer, at: EthernetField.source) }
    /// The EtherType field after the addresses (a TPID when the frame is tagged), as `eth.type`.
    @inlinable public var type: UInt16 { buffer.u16(EthernetField.etherType) }
    /// The EtherType of the payload, after any tags.
    @inlinable public var payloadType: UInt16 { buffer.u16(EthernetField.etherType + tagCount * EthernetField.tagLength) }
    @inlinable public var headerLength: Int { EthernetField.headerLength + tagCount * EthernetField.tagLength }

    /// Tag `index` (0 is the outer one), nil past `tagCount`.
    @inlinable
    public func tag(_ index: Int) -> VLANTag? {
        guard index >= 0, index < tagCount else { return nil }
        let at = EthernetField.etherType + index * EthernetField.tagLength
        return VLANTag(tpid: buffer.u16(at), tci: buffer.u16(at + 2))
    }

    public var payload: UnsafeRawBufferPointer { buffer.slice(headerLength, buffer.count) }
}

/// A checked mutable view of an Ethernet II frame.
@dynamicMemberLookup
public struct MutableEthernetFrame {
    public let buffer: UnsafeMutableRawBufferPointer
    public let view: EthernetFrame

    @inlinable
    public init(_ buffer: UnsafeMutableRawBufferPointer) throws(PacketError) {
        self.buffer = buffer
        view = try EthernetFrame(UnsafeRawBufferPointer(buffer))
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<EthernetFrame, T>) -> T { view[keyPath: keyPath] }

    @inlinable
    public func setDst(_ address: MACAddress) { address.store(into: buffer, at: EthernetField.destination) }
    @inlinable
    public func setSrc(_ address: MACAddress) { address.store(into: buffer, at: EthernetField.source) }
    /// Rewrites tag `index` (TPID and TCI); does nothing past `tagCount`.
    @inlinable
    public func setTag(_ index: Int, _ tag: VLANTag) {
        guard index >= 0, index < view.tagCount else { return }
        let at = EthernetField.etherType + index * EthernetField.tagLength
        buffer.setU16(at, tag.tpid)
        buffer.setU16(at + 2, tag.tci)
    }

    /// Sets the EtherType of the payload (after any tags).
    @inlinable
    public func setPayloadType(_ type: UInt16) {
        buffer.setU16(EthernetField.etherType + view.tagCount * EthernetField.tagLength, type)
    }
}

/// An Ethernet header as owned values.
public struct EthernetRepr: Hashable, Sendable, CustomStringConvertible {
    public var src: MACAddress
    public var dst: MACAddress
    /// Tags, outer first (at most two are emitted and parsed).
    public var vlan: [VLANTag]
    /// The EtherType of the payload.
    public var type: UInt16

    public init(src: MACAddress, dst: MACAddress, vlan: [VLANTag] = [], type: UInt16) {
        self.src = src
        self.dst = dst
        self.vlan = Array(vlan.prefix(EthernetField.maxTags))
        self.type = type
    }

    public static func parse(_ frame: EthernetFrame) -> EthernetRepr {
        var tags: [VLANTag] = []
        for index in 0..<frame.tagCount {
            if let tag = frame.tag(index) { tags.append(tag) }
        }
        return EthernetRepr(src: frame.src, dst: frame.dst, vlan: tags, type: frame.payloadType)
    }

    @inlinable
    public var bufferLength: Int { EthernetField.headerLength + vlan.count * EthernetField.tagLength }

    /// Writes the header into the first `bufferLength` bytes of `buffer`; returns false when
    /// the buffer is too short.
    @discardableResult
    @inlinable
    public func emit(into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard buffer.count >= bufferLength else { return false }
        dst.store(into: buffer, at: EthernetField.destination)
        src.store(into: buffer, at: EthernetField.source)
        var at = EthernetField.etherType
        for tag in vlan {
            buffer.setU16(at, tag.tpid)
            buffer.setU16(at + 2, tag.tci)
            at += EthernetField.tagLength
        }
        buffer.setU16(at, type)
        return true
    }

    /// Appends the header to `bytes`.
    public func emit(appendingTo bytes: inout [UInt8]) {
        bytes += emitToArray(bufferLength) { emit(into: $0) }
    }

    public var description: String {
        var text = "\(src) > \(dst)"
        for tag in vlan { text += ", \(tag)" }
        return text + ", ethertype 0x" + hex4(type)
    }
}

func hex4(_ value: UInt16) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 4 - digits.count) + digits
}
