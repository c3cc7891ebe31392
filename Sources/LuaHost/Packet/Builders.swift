import CLua
import Packets

// tapir.build.<layer>{...}: the values C read from the Lua table, by field id, turned into
// the layer's representation from Packets, which writes the header into one reused buffer
// after `payload` has been placed behind it. Ethernet and VLAN compose by `..` (they fill
// no length or checksum); ip and ipv6 fill their lengths, their header checksum, and the
// checksum of a UDP, TCP or ICMPv6 payload over their pseudo-header when that checksum is
// still 0 (so a transport built alone leaves it 0, and an explicit `chksum=` is kept).

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
    let noneGiven: Bool

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
        let address = clua_set_value_address(base + Int(field.rawValue))
        return load(UnsafeRawBufferPointer(start: address, count: 16))  // uint8_t address[16]
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

/// The reused output buffer of builders and replies.
final class PacketOutput {
    /// An IP datagram is at most 65535 bytes; room for link headers before it.
    static let capacity = 65535 + 64
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: PacketOutput.capacity, alignment: 16)

    deinit { buffer.deallocate() }

    func build(_ layer: PacketLayer, _ values: SetValues) -> Result<UnsafeRawBufferPointer, PacketBuildError> {
        do throws(PacketBuildError) {
            let payload = values.bytes(.payload) ?? PacketOutput.empty
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

    static var empty: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

    /// Checks that `header` bytes plus `payload` fit, then copies the payload after the header.
    func place(_ payload: UnsafeRawBufferPointer, after header: Int, limit: Int = PacketOutput.capacity) throws(PacketBuildError) -> Int {
        let total = header + payload.count
        guard total <= limit, total <= PacketOutput.capacity else {
            throw PacketBuildError(message: "too long: \(total) bytes, at most \(limit)")
        }
        buffer.copy(payload, to: header)
        return total
    }

    /// The bytes from `start` to `end` of the output, for an emitter.
    func region(_ start: Int, _ end: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: buffer[start..<end])
    }

    private func buildEthernet(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let ethernet = EthernetRepr(src: values.mac(.ethSrc) ?? .zero, dst: values.mac(.ethDst) ?? .broadcast,
                                    type: try values.u16(.ethType) ?? EtherType.ipv4)
        let total = try place(payload, after: EthernetField.headerLength)
        ethernet.emit(into: region(0, EthernetField.headerLength))
        return total
    }

    /// A VLAN tag's last 4 bytes (TCI, then the EtherType that follows): the TPID is the
    /// type field before it (eth{type = 0x8100}).
    private func buildVLAN(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let tag = VLANTag(pcp: UInt8(try values.unsigned(.vlanPCP, bits: 3) ?? 0), dei: values.boolean(.vlanDEI) == true,
                          id: UInt16(try values.unsigned(.vlanID, bits: 12) ?? 0))
        let next = try values.u16(.vlanType) ?? EtherType.ipv4
        let total = try place(payload, after: EthernetField.tagLength)
        tag.emit(into: region(0, EthernetField.tagLength), followedBy: next)
        return total
    }

    private func buildARP(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let arp = ARPRepr(op: try values.u16(.arpOp) ?? ARPOperation.request,
                          sha: values.mac(.arpSHA) ?? .zero, spa: values.ipv4(.arpSPA) ?? .any,
                          tha: values.mac(.arpTHA) ?? .zero, tpa: values.ipv4(.arpTPA) ?? .any)
        let total = try place(payload, after: ARPField.length)
        arp.emit(into: region(0, ARPField.length))
        return total
    }

    private func buildIPv4(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let proto = try values.required(try values.u8(.ipProto), .ipProto)
        var ip = try ipv4Repr(values, proto: proto, src: values.ipv4(.ipSrc) ?? .any, dst: values.ipv4(.ipDst) ?? .any,
                              id: 0, payloadLength: 0)
        let total = try place(payload, after: ip.headerLength, limit: 65535)
        ip.payloadLength = payload.count
        try emit(ip, at: 0)
        ip.pseudoHeader.fillTransportChecksumIfZero(protocol: proto, segment: region(ip.headerLength, total))
        return total
    }

    /// An IPv4 header from the values given (tos, id, flags, df, mf, frag, ttl, options,
    /// chksum) over the defaults: TTL 64, the given id, no flags.
    func ipv4Repr(_ values: SetValues, proto: UInt8, src: IPv4Address, dst: IPv4Address, id: UInt16,
                  payloadLength: Int) throws(PacketBuildError) -> IPv4Repr {
        let options = values.bytes(.ipOptions) ?? PacketOutput.empty
        guard options.count <= IPv4Field.maxHeaderLength - IPv4Field.headerLength else {
            throw PacketBuildError(message: "field '\(values.label(.ipOptions))': \(options.count) bytes, at most 40")
        }
        var flags = UInt8(try values.unsigned(.ipFlags, bits: 3) ?? 0)
        if let df = values.boolean(.ipDF) { flags = df ? flags | IPv4Flags.dontFragment : flags & ~IPv4Flags.dontFragment }
        if let mf = values.boolean(.ipMF) { flags = mf ? flags | IPv4Flags.moreFragments : flags & ~IPv4Flags.moreFragments }
        return IPv4Repr(src: src, dst: dst, proto: proto, payloadLength: payloadLength, ttl: try values.u8(.ipTTL) ?? 64,
                        tos: try values.u8(.ipTOS) ?? 0, id: try values.u16(.ipID) ?? id, flags: flags,
                        frag: UInt16(try values.unsigned(.ipFrag, bits: 13) ?? 0),
                        options: options.isEmpty ? [] : Array(options), checksum: try values.u16(.ipChksum))
    }

    @inline(__always)
    func emit(_ ip: IPv4Repr, at offset: Int) throws(PacketBuildError) {
        guard ip.emit(into: region(offset, offset + ip.headerLength)) else {
            throw PacketBuildError(message: "too long: \(ip.headerLength + ip.payloadLength) bytes, at most 65535")
        }
    }

    private func buildIPv6(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let next = try values.required(try values.u8(.ipv6Nxt), .ipv6Nxt)
        let ip = try ipv6Repr(values, next: next, src: values.ipv6(.ipv6Src) ?? .unspecified,
                              dst: values.ipv6(.ipv6Dst) ?? .unspecified, tc: 0, flow: 0, payloadLength: payload.count)
        let total = try place(payload, after: IPv6Field.headerLength, limit: IPv6Field.headerLength + 65535)
        ip.emit(into: region(0, IPv6Field.headerLength))
        ip.pseudoHeader.fillTransportChecksumIfZero(protocol: next, segment: region(IPv6Field.headerLength, total))
        return total
    }

    /// An IPv6 header from the values given (tc, flow, hlim) over the defaults given.
    func ipv6Repr(_ values: SetValues, next: UInt8, src: IPv6Address, dst: IPv6Address, tc: UInt8, flow: UInt32,
                  payloadLength: Int, hlim: UInt8 = 64) throws(PacketBuildError) -> IPv6Repr {
        IPv6Repr(src: src, dst: dst, proto: next, payloadLength: payloadLength, hlim: try values.u8(.ipv6Hlim) ?? hlim,
                 tc: try values.u8(.ipv6TC) ?? tc, flow: UInt32(try values.unsigned(.ipv6Flow, bits: 20) ?? UInt64(flow)))
    }

    private func buildICMP(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let id = try values.u16(.icmpID) ?? 0
        let seq = try values.u16(.icmpSeq) ?? 0
        let icmp = ICMPv4Repr(type: try values.u8(.icmpType) ?? ICMPv4Type.echoRequest, code: try values.u8(.icmpCode) ?? 0,
                              rest: UInt32(id) << 16 | UInt32(seq), checksum: try values.u16(.icmpChksum))
        let total = try place(payload, after: ICMPv4Field.headerLength)
        icmp.emitHeader(into: region(0, total), payloadLength: payload.count)
        return total
    }

    private func buildICMPv6(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let type = try values.u8(.icmpv6Type) ?? ICMPv6Type.echoRequest
        let rest: UInt32
        if let flags = try values.u8(.icmpv6Flags) {
            rest = UInt32(flags) << 24
        } else {
            rest = UInt32(try values.u16(.icmpv6ID) ?? 0) << 16 | UInt32(try values.u16(.icmpv6Seq) ?? 0)
        }
        let icmp = icmpv6Repr(type: type, code: try values.u8(.icmpv6Code) ?? 0, rest: rest,
                              target: values.ipv6(.icmpv6Target), linkLayerAddress: values.mac(.icmpv6LLAddr),
                              checksum: try values.u16(.icmpv6Chksum))
        let total = try place(payload, after: icmp.headerLength)
        icmp.emitHeader(into: region(0, total), payloadLength: payload.count, pseudoHeader: nil)
        return total
    }

    /// `lladdr=` is the target link-layer address option of a Neighbor Advertisement and the
    /// source link-layer address option of anything else.
    func icmpv6Repr(type: UInt8, code: UInt8, rest: UInt32, target: IPv6Address?, linkLayerAddress: MACAddress?,
                    checksum: UInt16?) -> ICMPv6Repr {
        let isAdvertisement = type == ICMPv6Type.neighborAdvertisement
        return ICMPv6Repr(type: type, code: code, rest: rest, target: target,
                          sourceLinkLayerAddress: isAdvertisement ? nil : linkLayerAddress,
                          targetLinkLayerAddress: isAdvertisement ? linkLayerAddress : nil, checksum: checksum)
    }

    private func buildUDP(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let udp = UDPRepr(sport: try values.u16(.udpSport) ?? 0, dport: try values.u16(.udpDport) ?? 0,
                          checksum: try values.u16(.udpChksum))
        let total = try place(payload, after: UDPField.headerLength, limit: 65535 - IPv4Field.headerLength)
        udp.emitHeader(into: region(0, total), payloadLength: payload.count, pseudoHeader: nil)
        return total
    }

    private func buildTCP(_ values: SetValues, _ payload: UnsafeRawBufferPointer) throws(PacketBuildError) -> Int {
        let tcp = try tcpRepr(values, sport: 0, dport: 0, seq: 0, ack: 0, flags: TCPFlags.syn, window: 8192)
        let total = try place(payload, after: tcp.headerLength, limit: 65535 - IPv4Field.headerLength)
        tcp.emitHeader(into: region(0, total), payloadLength: payload.count, pseudoHeader: nil)
        return total
    }

    /// A TCP header from the values given (ports, seq, ack, flags, window, chksum, urgptr,
    /// options) over the defaults given.
    func tcpRepr(_ values: SetValues, sport: UInt16, dport: UInt16, seq: UInt32, ack: UInt32, flags: UInt16,
                 window: UInt16) throws(PacketBuildError) -> TCPRepr {
        let options = values.bytes(.tcpOptions) ?? PacketOutput.empty
        guard options.count <= TCPField.maxHeaderLength - TCPField.headerLength else {
            throw PacketBuildError(message: "field '\(values.label(.tcpOptions))': \(options.count) bytes, at most 40")
        }
        return TCPRepr(sport: try values.u16(.tcpSport) ?? sport, dport: try values.u16(.tcpDport) ?? dport,
                       seq: try values.u32(.tcpSeq) ?? seq, ack: try values.u32(.tcpAck) ?? ack,
                       flags: UInt16(try values.unsigned(.tcpFlags, bits: 9) ?? UInt64(flags)),
                       window: try values.u16(.tcpWindow) ?? window, urg: try values.u16(.tcpUrgptr) ?? 0,
                       options: options.isEmpty ? [] : Array(options), checksum: try values.u16(.tcpChksum))
    }
}
