import CLua
import Packets

// tapir.build.<layer>{...}: the values C read from the Lua table, by field id, written as
// bytes into one reused buffer. Each builder writes its own header and then `payload`.
// Ethernet and VLAN compose by `..` (they fill no length or checksum); ip and ipv6 fill
// their lengths, their header checksum, and the checksum of a UDP, TCP or ICMPv6 payload
// over their pseudo-header when that checksum is still 0 (so a transport built alone
// leaves it 0, and an explicit `chksum=` is kept).

/// A refusal, told to Lua as "bad argument #1 to '<builder>' (<message>)".
struct PacketBuildError: Error {
    let message: String
}

/// The values given for settable fields, indexed by field id (C's clua_set_value array).
struct SetValues {
    let base: UnsafePointer<clua_set_value>
    /// Reply names fields "ip.ttl"; builders "ttl".
    let inReply: Bool
    /// The ids of the fields given, when the caller listed them (nil: look at every field).
    let given: UnsafeBufferPointer<Int32>?

    /// True when the caller listed the fields given and there are none (`pkt:reply{}`):
    /// every field is then absent without a look at its slot.
    private let noneGiven: Bool

    init(_ base: UnsafePointer<clua_set_value>, inReply: Bool, given: UnsafeBufferPointer<Int32>? = nil) {
        self.base = base
        self.inReply = inReply
        self.given = given
        noneGiven = given?.isEmpty ?? false
    }

    // Every accessor reads the slot's fields in place: the slot is large (an address, a
    // pointer, a length), and copying it out per field was most of an echo reply's cost.
    @inline(__always)
    func has(_ field: PacketField) -> Bool { !noneGiven && base[Int(field.rawValue)].present != 0 }

    func label(_ field: PacketField) -> String {
        inReply && field.layer != .frame ? "\(field.layer.rawValue).\(field.name)" : field.name
    }

    /// An unsigned integer of `bits` bits, or nil when absent. Inlined: a reply asks for
    /// a dozen fields that are almost always absent.
    @inline(__always)
    func unsigned(_ field: PacketField, bits: Int) throws(PacketBuildError) -> UInt64? {
        guard has(field) else { return nil }
        return try checkedUnsigned(field, bits: bits)
    }

    @inline(never)
    private func checkedUnsigned(_ field: PacketField, bits: Int) throws(PacketBuildError) -> UInt64 {
        let integer = base[Int(field.rawValue)].integer
        let maximum: Int64 = bits >= 63 ? .max : (1 << Int64(bits)) - 1
        guard integer >= 0, integer <= maximum else {
            throw PacketBuildError(message: "field '\(label(field))': \(integer) out of range 0..\(maximum)")
        }
        return UInt64(integer)
    }

    @inline(__always)
    func u8(_ field: PacketField) throws(PacketBuildError) -> UInt8? {
        try unsigned(field, bits: 8).map { UInt8($0) }
    }

    @inline(__always)
    func u16(_ field: PacketField) throws(PacketBuildError) -> UInt16? {
        try unsigned(field, bits: 16).map { UInt16($0) }
    }

    func u32(_ field: PacketField) throws(PacketBuildError) -> UInt32? {
        try unsigned(field, bits: 32).map { UInt32($0) }
    }

    func boolean(_ field: PacketField) -> Bool? {
        has(field) ? base[Int(field.rawValue)].integer != 0 : nil
    }

    func mac(_ field: PacketField) -> MACAddress? {
        guard has(field) else { return nil }
        return address(field) { MACAddress(loading: $0, at: 0) }
    }

    func ipv4(_ field: PacketField) -> IPv4Address? {
        guard has(field) else { return nil }
        return address(field) { IPv4Address(loading: $0, at: 0) }
    }

    func ipv6(_ field: PacketField) -> IPv6Address? {
        guard has(field) else { return nil }
        return address(field) { IPv6Address(loading: $0, at: 0) }
    }

    private func address<T>(_ field: PacketField, _ load: (UnsafeRawBufferPointer) -> T) -> T {
        let slot = UnsafeRawPointer(base + Int(field.rawValue))
        let offset = MemoryLayout<clua_set_value>.offset(of: \.address)!
        return load(UnsafeRawBufferPointer(start: slot + offset, count: 16))  // uint8_t address[16]
    }

    /// A string's bytes (valid during the callback).
    func bytes(_ field: PacketField) -> UnsafeRawBufferPointer? {
        guard has(field) else { return nil }
        let slot = base + Int(field.rawValue)
        return UnsafeRawBufferPointer(start: slot.pointee.bytes, count: slot.pointee.length)
    }

    func required<T>(_ value: T?, _ field: PacketField) throws(PacketBuildError) -> T {
        guard let value else { throw PacketBuildError(message: "field '\(label(field))' is required") }
        return value
    }
}

/// The reused output buffer of builders and replies, and the writers into it.
final class PacketOutput {
    /// An IP datagram is at most 65535 bytes; room for link headers before it.
    static let capacity = 65535 + 64
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: PacketOutput.capacity, alignment: 16)

    deinit { buffer.deallocate() }

    func build(_ layer: PacketLayer, _ values: SetValues) -> Result<UnsafeRawBufferPointer, PacketBuildError> {
        do throws(PacketBuildError) {
            let empty = UnsafeRawBufferPointer(start: nil, count: 0)
            let payload = values.bytes(.payload) ?? empty
            let length: Int
            switch layer {
            case .frame: throw PacketBuildError(message: "no builder for frame")
            case .eth: length = try buildEthernet(values, payload)
            case .vlan: length = try buildVLAN(values, payload)
            case .arp: length = try buildARP(values, payload)
            case .ip: length = try buildIPv4(values, payload)
            case .ipv6: length = try buildIPv6(values, payload)
            case .icmp: length = try buildICMP(values, payload)
            case .icmpv6: length = try buildICMPv6(values, payload)
            case .udp: length = try buildUDP(values, payload)
            case .tcp: length = try buildTCP(values, payload)
            }
            return .success(UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
        } catch {
            return .failure(error)
        }
    }

    /// Checks that `header` bytes plus `payload` fit, then copies the payload after the header.
    func place(_ payload: UnsafeRawBufferPointer, after header: Int, limit: Int = PacketOutput.capacity) throws(PacketBuildError) -> Int {
        let total = header + payload.count
        guard total <= limit, total <= PacketOutput.capacity else {
            throw PacketBuildError(message: "too long: \(total) bytes, at most \(limit)")
        }
        buffer.put(payload, at: header)
        return total
    }

    private func buildEthernet(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        buffer.zero(0, EthernetField.headerLength)
        (values.mac(.ethDst) ?? .broadcast).store(into: buffer, at: EthernetField.destination)
        (values.mac(.ethSrc) ?? .zero).store(into: buffer, at: EthernetField.source)
        buffer.putU16(try values.u16(.ethType) ?? EtherType.ipv4, at: EthernetField.etherType)
        return try place(payload, after: EthernetField.headerLength)
    }

    /// A VLAN tag's last 4 bytes (TCI, then the EtherType that follows): the TPID is the
    /// type field before it (eth{type = 0x8100}).
    private func buildVLAN(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let pcp = try values.unsigned(.vlanPCP, bits: 3) ?? 0
        let id = try values.unsigned(.vlanID, bits: 12) ?? 0
        let dei: UInt16 = values.boolean(.vlanDEI) == true ? 0x1000 : 0
        buffer.putU16(UInt16(pcp) << 13 | dei | UInt16(id), at: 0)
        buffer.putU16(try values.u16(.vlanType) ?? EtherType.ipv4, at: 2)
        return try place(payload, after: 4)
    }

    private func buildARP(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let arp = ARPRepr(op: try values.u16(.arpOp) ?? ARPOperation.request,
                          sha: values.mac(.arpSHA) ?? .zero, spa: values.ipv4(.arpSPA) ?? .any,
                          tha: values.mac(.arpTHA) ?? .zero, tpa: values.ipv4(.arpTPA) ?? .any)
        _ = arp.emit(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<ARPField.length]))
        return try place(payload, after: ARPField.length)
    }

    private func buildIPv4(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let options = values.bytes(.ipOptions) ?? UnsafeRawBufferPointer(start: nil, count: 0)
        let headerLength = IPv4Field.headerLength + (options.count + 3) / 4 * 4
        guard headerLength <= IPv4Field.maxHeaderLength else {
            throw PacketBuildError(message: "field '\(values.label(.ipOptions))': \(options.count) bytes, at most 40")
        }
        let proto = try values.required(try values.u8(.ipProto), .ipProto)
        let src = values.ipv4(.ipSrc) ?? .any
        let dst = values.ipv4(.ipDst) ?? .any
        let total = try place(payload, after: headerLength, limit: 65535)
        try writeIPv4Header(values, headerLength: headerLength, options: options, total: total, proto: proto,
                            src: src, dst: dst, ttl: 64, id: 0, at: 0)
        fillTransportChecksum(proto: proto, at: headerLength, length: payload.count,
                              pseudoHeader: .v4(source: src, destination: dst))
        return total
    }

    /// An IPv4 header at `offset` (values override tos, id, flags, df, mf, frag, ttl, chksum).
    func writeIPv4Header(_ values: SetValues, headerLength: Int, options: UnsafeRawBufferPointer, total: Int,
                         proto: UInt8, src: IPv4Address, dst: IPv4Address, ttl: UInt8, id: UInt16,
                         at offset: Int) throws(PacketBuildError) {
        var flags = UInt16(try values.unsigned(.ipFlags, bits: 3) ?? 0)
        if let df = values.boolean(.ipDF) { flags = df ? flags | 2 : flags & ~2 }
        if let mf = values.boolean(.ipMF) { flags = mf ? flags | 1 : flags & ~1 }
        let frag = UInt16(try values.unsigned(.ipFrag, bits: 13) ?? 0)
        buffer.putU8(0x40 | UInt8(headerLength / 4), at: offset)
        buffer.putU8(try values.u8(.ipTOS) ?? 0, at: offset + 1)
        buffer.putU16(UInt16(total - offset), at: offset + IPv4Field.totalLength)
        buffer.putU16(try values.u16(.ipID) ?? id, at: offset + IPv4Field.identification)
        buffer.putU16(flags << 13 | frag, at: offset + IPv4Field.flagsAndFragmentOffset)
        buffer.putU8(try values.u8(.ipTTL) ?? ttl, at: offset + IPv4Field.ttl)
        buffer.putU8(proto, at: offset + IPv4Field.proto)
        buffer.putU16(0, at: offset + IPv4Field.checksum)
        src.store(into: buffer, at: offset + IPv4Field.source)
        dst.store(into: buffer, at: offset + IPv4Field.destination)
        buffer.zero(offset + IPv4Field.headerLength, headerLength - IPv4Field.headerLength)
        buffer.put(options, at: offset + IPv4Field.headerLength)
        let header = UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + headerLength])
        buffer.putU16(try values.u16(.ipChksum) ?? Checksum.compute(header), at: offset + IPv4Field.checksum)
    }

    private func buildIPv6(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let next = try values.required(try values.u8(.ipv6Nxt), .ipv6Nxt)
        let src = values.ipv6(.ipv6Src) ?? .unspecified
        let dst = values.ipv6(.ipv6Dst) ?? .unspecified
        let total = try place(payload, after: IPv6Field.headerLength, limit: IPv6Field.headerLength + 65535)
        try writeIPv6Header(values, payloadLength: payload.count, next: next, src: src, dst: dst, tc: 0, flow: 0, at: 0)
        fillTransportChecksum(proto: next, at: IPv6Field.headerLength, length: payload.count,
                              pseudoHeader: .v6(source: src, destination: dst))
        return total
    }

    func writeIPv6Header(_ values: SetValues, payloadLength: Int, next: UInt8, src: IPv6Address, dst: IPv6Address,
                         tc: UInt8, flow: UInt32, at offset: Int) throws(PacketBuildError) {
        let trafficClass = UInt32(try values.u8(.ipv6TC) ?? tc)
        let flowLabel = UInt32(try values.unsigned(.ipv6Flow, bits: 20) ?? UInt64(flow))
        buffer.putU32(6 << 28 | trafficClass << 20 | flowLabel, at: offset)
        buffer.putU16(UInt16(payloadLength), at: offset + IPv6Field.payloadLength)
        buffer.putU8(next, at: offset + IPv6Field.nextHeader)
        buffer.putU8(try values.u8(.ipv6Hlim) ?? 64, at: offset + IPv6Field.hopLimit)
        src.store(into: buffer, at: offset + IPv6Field.source)
        dst.store(into: buffer, at: offset + IPv6Field.destination)
    }

    /// Fills the UDP, TCP or ICMPv6 checksum of the segment at `offset` if it is 0.
    func fillTransportChecksum(proto: UInt8, at offset: Int, length: Int, pseudoHeader: IPPseudoHeader) {
        let checksumOffset: Int
        switch proto {
        case IPProtocol.udp where length >= UDPField.headerLength: checksumOffset = UDPField.checksum
        case IPProtocol.tcp where length >= TCPField.headerLength: checksumOffset = TCPField.checksum
        case IPProtocol.icmpv6 where length >= ICMPv6Field.headerLength: checksumOffset = ICMPv6Field.checksum
        default: return
        }
        guard buffer.getU16(at: offset + checksumOffset) == 0 else { return }
        let segment = UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + length])
        var checksum = Checksum.compute(segment, pseudoHeader: pseudoHeader.sum(protocol: proto, length: length))
        if checksum == 0 && proto == IPProtocol.udp { checksum = 0xffff }  // 0 means "none" in UDP
        buffer.putU16(checksum, at: offset + checksumOffset)
    }

    private func buildICMP(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let total = try place(payload, after: ICMPv4Field.headerLength)
        buffer.putU8(try values.u8(.icmpType) ?? ICMPv4Type.echoRequest, at: ICMPv4Field.type)
        buffer.putU8(try values.u8(.icmpCode) ?? 0, at: ICMPv4Field.code)
        buffer.putU16(0, at: ICMPv4Field.checksum)
        buffer.putU16(try values.u16(.icmpID) ?? 0, at: ICMPv4Field.identifier)
        buffer.putU16(try values.u16(.icmpSeq) ?? 0, at: ICMPv4Field.sequence)
        let message = UnsafeRawBufferPointer(rebasing: buffer[0..<total])
        buffer.putU16(try values.u16(.icmpChksum) ?? Checksum.compute(message), at: ICMPv4Field.checksum)
        return total
    }

    private func buildICMPv6(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let type = try values.u8(.icmpv6Type) ?? ICMPv6Type.echoRequest
        var at = ICMPv6Field.headerLength
        buffer.putU8(type, at: ICMPv6Field.type)
        buffer.putU8(try values.u8(.icmpv6Code) ?? 0, at: ICMPv6Field.code)
        buffer.putU16(try values.u16(.icmpv6Chksum) ?? 0, at: ICMPv6Field.checksum)
        if let flags = try values.u8(.icmpv6Flags) {
            buffer.putU32(UInt32(flags) << 24, at: ICMPv6Field.rest)
        } else {
            buffer.putU16(try values.u16(.icmpv6ID) ?? 0, at: ICMPv6Field.identifier)
            buffer.putU16(try values.u16(.icmpv6Seq) ?? 0, at: ICMPv6Field.sequence)
        }
        if let target = values.ipv6(.icmpv6Target) {
            target.store(into: buffer, at: at)
            at += 16
        }
        if let lladdr = values.mac(.icmpv6LLAddr) {
            at = writeLinkLayerOption(lladdr, type: type, at: at)
        }
        return try place(payload, after: at)
    }

    /// A source (NS, RS) or target (NA) link-layer address option; returns where it ends.
    func writeLinkLayerOption(_ address: MACAddress, type: UInt8, at offset: Int) -> Int {
        let option = type == ICMPv6Type.neighborAdvertisement ? NDOption.targetLinkLayerAddress
                                                                : NDOption.sourceLinkLayerAddress
        buffer.putU8(option, at: offset)
        buffer.putU8(1, at: offset + 1)  // length in units of 8 bytes
        address.store(into: buffer, at: offset + 2)
        return offset + 8
    }

    private func buildUDP(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let total = try place(payload, after: UDPField.headerLength, limit: 65535 - IPv4Field.headerLength)
        buffer.putU16(try values.u16(.udpSport) ?? 0, at: UDPField.sourcePort)
        buffer.putU16(try values.u16(.udpDport) ?? 0, at: UDPField.destinationPort)
        buffer.putU16(UInt16(total), at: UDPField.length)
        buffer.putU16(try values.u16(.udpChksum) ?? 0, at: UDPField.checksum)
        return total
    }

    private func buildTCP(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let options = values.bytes(.tcpOptions) ?? UnsafeRawBufferPointer(start: nil, count: 0)
        let headerLength = TCPField.headerLength + (options.count + 3) / 4 * 4
        guard headerLength <= TCPField.maxHeaderLength else {
            throw PacketBuildError(message: "field '\(values.label(.tcpOptions))': \(options.count) bytes, at most 40")
        }
        let total = try place(payload, after: headerLength, limit: 65535 - IPv4Field.headerLength)
        try writeTCPHeader(values, headerLength: headerLength, options: options, sport: 0, dport: 0, seq: 0, ack: 0,
                           flags: TCPFlags.syn, window: 8192, at: 0)
        return total
    }

    func writeTCPHeader(_ values: SetValues, headerLength: Int, options: UnsafeRawBufferPointer, sport: UInt16,
                        dport: UInt16, seq: UInt32, ack: UInt32, flags: UInt16, window: UInt16,
                        at offset: Int) throws(PacketBuildError) {
        let flagBits = UInt16(try values.unsigned(.tcpFlags, bits: 9) ?? UInt64(flags))
        buffer.putU16(try values.u16(.tcpSport) ?? sport, at: offset + TCPField.sourcePort)
        buffer.putU16(try values.u16(.tcpDport) ?? dport, at: offset + TCPField.destinationPort)
        buffer.putU32(try values.u32(.tcpSeq) ?? seq, at: offset + TCPField.sequenceNumber)
        buffer.putU32(try values.u32(.tcpAck) ?? ack, at: offset + TCPField.acknowledgmentNumber)
        buffer.putU16(UInt16(headerLength / 4) << 12 | flagBits, at: offset + TCPField.dataOffsetAndFlags)
        buffer.putU16(try values.u16(.tcpWindow) ?? window, at: offset + TCPField.window)
        buffer.putU16(try values.u16(.tcpChksum) ?? 0, at: offset + TCPField.checksum)
        buffer.putU16(try values.u16(.tcpUrgptr) ?? 0, at: offset + TCPField.urgentPointer)
        buffer.zero(offset + TCPField.headerLength, headerLength - TCPField.headerLength)
        buffer.put(options, at: offset + TCPField.headerLength)
    }
}

// Big-endian writes into the output buffer (Packets keeps its own internal).
extension UnsafeMutableRawBufferPointer {
    func putU8(_ value: UInt8, at offset: Int) {
        storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }

    func putU16(_ value: UInt16, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    func putU32(_ value: UInt32, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    func getU16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    func put(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        guard let source = bytes.baseAddress, bytes.count > 0, let destination = baseAddress else { return }
        (destination + offset).copyMemory(from: source, byteCount: bytes.count)
    }

    func zero(_ offset: Int, _ count: Int) {
        guard count > 0, let destination = baseAddress else { return }
        (destination + offset).initializeMemory(as: UInt8.self, repeating: 0, count: count)
    }
}
