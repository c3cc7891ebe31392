import Packets

// THE table of Lua-visible packet fields: what `pkt.<layer>.<field>` reads, what
// `tapir.build.<layer>{...}` and `pkt:reply{<layer> = {...}}` may set, and what the host's
// native key dispatch (`tapir.on("udp", {dport = 53}, fn)`) compares. Layer names are
// Wireshark's, field names Scapy's short ones.

// PacketLayer (HandlerSelector.swift) names the layers for Swift code; their numbers and
// bits are those of the same names in Packets' `Layers.names`, the one table of layers,
// which is also what CLua is handed at install (PacketObject).
extension PacketLayer {
    /// The layer's bit in Packets' `Layers`, found by name once.
    public var layers: Layers { Self.bits[self] ?? [] }

    /// Its number: the index of that bit (CLua's layer number).
    public var number: Int32 { Int32(layers.number) }

    /// The layer numbered `number`, nil for none.
    public init?(number: Int32) {
        guard number >= 0, Int(number) < Self.byNumber.count, let layer = Self.byNumber[Int(number)] else { return nil }
        self = layer
    }

    private static let bits: [PacketLayer: Layers] = Dictionary(uniqueKeysWithValues: allCases.map { layer in
        guard let bits = Layers(name: layer.rawValue) else { preconditionFailure("no layer '\(layer)' in Layers.names") }
        return (layer, bits)
    })

    private static let byNumber: [PacketLayer?] = {
        var layers = [PacketLayer?](repeating: nil, count: Layers.names.map { $0.0.number + 1 }.max() ?? 0)
        for layer in allCases { layers[layer.layers.number] = layer }
        return layers
    }()
}

/// How a field's value reads in Lua, and what a builder takes for it.
public enum PacketFieldKind: Sendable {
    case integer, boolean, mac, ipv4, ipv6
    /// A range of the frame's bytes, a Lua string.
    case bytes
    /// A TCP flags integer; builders also take tcpdump letters ("S", "S.", "R.").
    case tcpFlags
    /// Text made from other fields: tcp.flagstr, pkt.malformed.
    case text
}

/// One Lua-visible field. Raw values are the field ids C uses (below CLUA_MAX_FIELDS).
public enum PacketField: Int32, CaseIterable, Sendable {
    case payload = 0, malformed
    case ethSrc, ethDst, ethType
    case vlanID, vlanPCP, vlanDEI, vlanTPID, vlanInnerID, vlanType
    case arpOp, arpHWType, arpPType, arpHWLen, arpPLen, arpSHA, arpSPA, arpTHA, arpTPA
    case ipVersion, ipIHL, ipTOS, ipLen, ipID, ipFlags, ipDF, ipMF, ipFrag, ipTTL, ipProto, ipChksum
    case ipSrc, ipDst, ipOptions
    case ipv6Version, ipv6TC, ipv6Flow, ipv6Plen, ipv6Nxt, ipv6Hlim, ipv6Src, ipv6Dst
    case icmpType, icmpCode, icmpChksum, icmpID, icmpSeq
    case icmpv6Type, icmpv6Code, icmpv6Chksum, icmpv6ID, icmpv6Seq, icmpv6Target, icmpv6LLAddr, icmpv6Flags
    case udpSport, udpDport, udpLen, udpChksum
    case tcpSport, tcpDport, tcpSeq, tcpAck, tcpFlags, tcpFlagstr, tcpWindow, tcpUrgptr, tcpDataofs
    case tcpChksum, tcpOptions

    /// Layer, Lua name, kind, and whether builders and reply may set it.
    public struct Info: Sendable {
        public let layer: PacketLayer
        public let name: StaticString
        public let kind: PacketFieldKind
        public let settable: Bool
    }

    public var info: Info {
        switch self {
        case .payload: Info(layer: .frame, name: "payload", kind: .bytes, settable: true)
        case .malformed: Info(layer: .frame, name: "malformed", kind: .text, settable: false)
        case .ethSrc: Info(layer: .eth, name: "src", kind: .mac, settable: true)
        case .ethDst: Info(layer: .eth, name: "dst", kind: .mac, settable: true)
        case .ethType: Info(layer: .eth, name: "type", kind: .integer, settable: true)
        case .vlanID: Info(layer: .vlan, name: "id", kind: .integer, settable: true)
        case .vlanPCP: Info(layer: .vlan, name: "pcp", kind: .integer, settable: true)
        case .vlanDEI: Info(layer: .vlan, name: "dei", kind: .boolean, settable: true)
        case .vlanTPID: Info(layer: .vlan, name: "tpid", kind: .integer, settable: false)
        case .vlanInnerID: Info(layer: .vlan, name: "inner_id", kind: .integer, settable: false)
        case .vlanType: Info(layer: .vlan, name: "type", kind: .integer, settable: true)
        case .arpOp: Info(layer: .arp, name: "op", kind: .integer, settable: true)
        case .arpHWType: Info(layer: .arp, name: "hwtype", kind: .integer, settable: false)
        case .arpPType: Info(layer: .arp, name: "ptype", kind: .integer, settable: false)
        case .arpHWLen: Info(layer: .arp, name: "hwlen", kind: .integer, settable: false)
        case .arpPLen: Info(layer: .arp, name: "plen", kind: .integer, settable: false)
        case .arpSHA: Info(layer: .arp, name: "sha", kind: .mac, settable: true)
        case .arpSPA: Info(layer: .arp, name: "spa", kind: .ipv4, settable: true)
        case .arpTHA: Info(layer: .arp, name: "tha", kind: .mac, settable: true)
        case .arpTPA: Info(layer: .arp, name: "tpa", kind: .ipv4, settable: true)
        case .ipVersion: Info(layer: .ip, name: "version", kind: .integer, settable: false)
        case .ipIHL: Info(layer: .ip, name: "ihl", kind: .integer, settable: false)
        case .ipTOS: Info(layer: .ip, name: "tos", kind: .integer, settable: true)
        case .ipLen: Info(layer: .ip, name: "len", kind: .integer, settable: false)
        case .ipID: Info(layer: .ip, name: "id", kind: .integer, settable: true)
        case .ipFlags: Info(layer: .ip, name: "flags", kind: .integer, settable: true)
        case .ipDF: Info(layer: .ip, name: "df", kind: .boolean, settable: true)
        case .ipMF: Info(layer: .ip, name: "mf", kind: .boolean, settable: true)
        case .ipFrag: Info(layer: .ip, name: "frag", kind: .integer, settable: true)
        case .ipTTL: Info(layer: .ip, name: "ttl", kind: .integer, settable: true)
        case .ipProto: Info(layer: .ip, name: "proto", kind: .integer, settable: true)
        case .ipChksum: Info(layer: .ip, name: "chksum", kind: .integer, settable: true)
        case .ipSrc: Info(layer: .ip, name: "src", kind: .ipv4, settable: true)
        case .ipDst: Info(layer: .ip, name: "dst", kind: .ipv4, settable: true)
        case .ipOptions: Info(layer: .ip, name: "options", kind: .bytes, settable: true)
        case .ipv6Version: Info(layer: .ipv6, name: "version", kind: .integer, settable: false)
        case .ipv6TC: Info(layer: .ipv6, name: "tc", kind: .integer, settable: true)
        case .ipv6Flow: Info(layer: .ipv6, name: "flow", kind: .integer, settable: true)
        case .ipv6Plen: Info(layer: .ipv6, name: "plen", kind: .integer, settable: false)
        case .ipv6Nxt: Info(layer: .ipv6, name: "nxt", kind: .integer, settable: true)
        case .ipv6Hlim: Info(layer: .ipv6, name: "hlim", kind: .integer, settable: true)
        case .ipv6Src: Info(layer: .ipv6, name: "src", kind: .ipv6, settable: true)
        case .ipv6Dst: Info(layer: .ipv6, name: "dst", kind: .ipv6, settable: true)
        case .icmpType: Info(layer: .icmp, name: "type", kind: .integer, settable: true)
        case .icmpCode: Info(layer: .icmp, name: "code", kind: .integer, settable: true)
        case .icmpChksum: Info(layer: .icmp, name: "chksum", kind: .integer, settable: true)
        case .icmpID: Info(layer: .icmp, name: "id", kind: .integer, settable: true)
        case .icmpSeq: Info(layer: .icmp, name: "seq", kind: .integer, settable: true)
        case .icmpv6Type: Info(layer: .icmpv6, name: "type", kind: .integer, settable: true)
        case .icmpv6Code: Info(layer: .icmpv6, name: "code", kind: .integer, settable: true)
        case .icmpv6Chksum: Info(layer: .icmpv6, name: "chksum", kind: .integer, settable: true)
        case .icmpv6ID: Info(layer: .icmpv6, name: "id", kind: .integer, settable: true)
        case .icmpv6Seq: Info(layer: .icmpv6, name: "seq", kind: .integer, settable: true)
        case .icmpv6Target: Info(layer: .icmpv6, name: "target", kind: .ipv6, settable: true)
        case .icmpv6LLAddr: Info(layer: .icmpv6, name: "lladdr", kind: .mac, settable: true)
        case .icmpv6Flags: Info(layer: .icmpv6, name: "flags", kind: .integer, settable: true)
        case .udpSport: Info(layer: .udp, name: "sport", kind: .integer, settable: true)
        case .udpDport: Info(layer: .udp, name: "dport", kind: .integer, settable: true)
        case .udpLen: Info(layer: .udp, name: "len", kind: .integer, settable: false)
        case .udpChksum: Info(layer: .udp, name: "chksum", kind: .integer, settable: true)
        case .tcpSport: Info(layer: .tcp, name: "sport", kind: .integer, settable: true)
        case .tcpDport: Info(layer: .tcp, name: "dport", kind: .integer, settable: true)
        case .tcpSeq: Info(layer: .tcp, name: "seq", kind: .integer, settable: true)
        case .tcpAck: Info(layer: .tcp, name: "ack", kind: .integer, settable: true)
        case .tcpFlags: Info(layer: .tcp, name: "flags", kind: .tcpFlags, settable: true)
        case .tcpFlagstr: Info(layer: .tcp, name: "flagstr", kind: .text, settable: false)
        case .tcpWindow: Info(layer: .tcp, name: "window", kind: .integer, settable: true)
        case .tcpUrgptr: Info(layer: .tcp, name: "urgptr", kind: .integer, settable: true)
        case .tcpDataofs: Info(layer: .tcp, name: "dataofs", kind: .integer, settable: false)
        case .tcpChksum: Info(layer: .tcp, name: "chksum", kind: .integer, settable: true)
        case .tcpOptions: Info(layer: .tcp, name: "options", kind: .bytes, settable: true)
        }
    }

    /// Read per field access: from a table made once, not through `info` (which builds
    /// a struct holding a string).
    public var layer: PacketLayer { Self.layers[Int(rawValue)] }
    private static let layers = allCases.map(\.info.layer)
    public var name: String { info.name.description }

    /// The fields of a layer, in table order.
    public static func fields(of layer: PacketLayer) -> [PacketField] {
        allCases.filter { $0.layer == layer }
    }

    /// The field `name` of `layer` ("udp", "dport"); nil when there is none.
    public init?(layer: String, name: String) {
        guard let packetLayer = PacketLayer(rawValue: layer) else { return nil }
        guard let field = PacketField.allCases.first(where: {
            $0.info.layer == packetLayer && $0.info.name.description == name
        }) else { return nil }
        self = field
    }
}

/// A field's value in a frame. No case allocates.
public enum PacketFieldValue: Hashable, Sendable {
    case none
    case integer(Int64)
    case boolean(Bool)
    case mac(MACAddress)
    case ipv4(IPv4Address)
    case ipv6(IPv6Address)
    /// The frame's bytes in this range.
    case bytes(Range<Int>)
    /// TCP flags, read as text (tcp.flagstr).
    case tcpFlagText(UInt16)
    /// Why the frame is malformed (pkt.malformed).
    case malformed(Layers, PacketError)
}

extension PacketField {
    /// Reads this field of a decoded frame; `.none` when its layer is absent or the field
    /// does not apply (icmp.id of a non-echo message). `bytes` must be the decoded frame.
    public func read(bytes: UnsafeRawBufferPointer, frame: DecodedFrame) -> PacketFieldValue {
        switch layer {
        case .frame: readFrame(frame)
        case .eth, .vlan: readLink(bytes, frame)
        case .arp: readARP(bytes, frame)
        case .ip: readIPv4(bytes, frame)
        case .ipv6: readIPv6(bytes, frame)
        case .icmp: readICMP(bytes, frame)
        case .icmpv6: readICMPv6(bytes, frame)
        case .udp: readUDP(bytes, frame)
        case .tcp: readTCP(bytes, frame)
        }
    }

    private func readFrame(_ frame: DecodedFrame) -> PacketFieldValue {
        switch self {
        case .payload:
            let start = min(max(frame.payloadOffset, 0), frame.length)
            return .bytes(start..<min(start + max(frame.payloadLength, 0), frame.length))
        case .malformed:
            guard let reason = frame.malformedReason else { return .none }
            return .malformed(frame.malformedLayer, reason)
        default: return .none
        }
    }

    private func readLink(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) -> PacketFieldValue {
        guard let eth = frame.ethernet(bytes) else { return .none }
        let outer = frame.vlanTag(0)
        switch self {
        case .ethSrc: return .mac(eth.src)
        case .ethDst: return .mac(eth.dst)
        case .ethType, .vlanType: return self == .vlanType && outer == nil ? .none : .integer(Int64(frame.etherType))
        case .vlanID: return outer.map { .integer(Int64($0.id)) } ?? .none
        case .vlanPCP: return outer.map { .integer(Int64($0.pcp)) } ?? .none
        case .vlanDEI: return outer.map { .boolean($0.dei) } ?? .none
        case .vlanTPID: return outer.map { .integer(Int64($0.tpid)) } ?? .none
        case .vlanInnerID: return frame.vlanTag(1).map { .integer(Int64($0.id)) } ?? .none
        default: return .none
        }
    }

    private func readARP(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) -> PacketFieldValue {
        guard let arp = frame.arp(bytes) else { return .none }
        switch self {
        case .arpOp: return .integer(Int64(arp.op))
        case .arpHWType: return .integer(Int64(arp.htype))
        case .arpPType: return .integer(Int64(arp.ptype))
        case .arpHWLen: return .integer(Int64(arp.hlen))
        case .arpPLen: return .integer(Int64(arp.plen))
        case .arpSHA: return .mac(arp.sha)
        case .arpSPA: return .ipv4(arp.spa)
        case .arpTHA: return .mac(arp.tha)
        case .arpTPA: return .ipv4(arp.tpa)
        default: return .none
        }
    }

    private func readIPv4(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) -> PacketFieldValue {
        guard let ip = frame.ipv4(bytes) else { return .none }
        switch self {
        case .ipVersion: return .integer(Int64(ip.version))
        case .ipIHL: return .integer(Int64(ip.ihl))
        case .ipTOS: return .integer(Int64(ip.tos))
        case .ipLen: return .integer(Int64(ip.len))
        case .ipID: return .integer(Int64(ip.id))
        case .ipFlags: return .integer(Int64(ip.flags))
        case .ipDF: return .boolean(ip.dontFragment)
        case .ipMF: return .boolean(ip.moreFragments)
        case .ipFrag: return .integer(Int64(ip.frag))
        case .ipTTL: return .integer(Int64(ip.ttl))
        case .ipProto: return .integer(Int64(ip.proto))
        case .ipChksum: return .integer(Int64(ip.chksum))
        case .ipSrc: return .ipv4(ip.src)
        case .ipDst: return .ipv4(ip.dst)
        case .ipOptions:
            let start = frame.networkOffset + IPv4Field.headerLength
            return .bytes(start..<frame.networkOffset + ip.headerLength)
        default: return .none
        }
    }

    private func readIPv6(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) -> PacketFieldValue {
        guard let ip = frame.ipv6(bytes) else { return .none }
        switch self {
        case .ipv6Version: return .integer(Int64(ip.version))
        case .ipv6TC: return .integer(Int64(ip.tc))
        case .ipv6Flow: return .integer(Int64(ip.flow))
        case .ipv6Plen: return .integer(Int64(ip.plen))
        case .ipv6Nxt: return .integer(Int64(ip.proto))
        case .ipv6Hlim: return .integer(Int64(ip.hlim))
        case .ipv6Src: return .ipv6(ip.src)
        case .ipv6Dst: return .ipv6(ip.dst)
        default: return .none
        }
    }

    private func readICMP(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) -> PacketFieldValue {
        guard let icmp = frame.icmp(bytes) else { return .none }
        switch self {
        case .icmpType: return .integer(Int64(icmp.type))
        case .icmpCode: return .integer(Int64(icmp.code))
        case .icmpChksum: return .integer(Int64(icmp.chksum))
        case .icmpID: return icmp.isEcho ? .integer(Int64(icmp.id)) : .none
        case .icmpSeq: return icmp.isEcho ? .integer(Int64(icmp.seq)) : .none
        default: return .none
        }
    }

    private func readICMPv6(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) -> PacketFieldValue {
        guard let icmp = frame.icmpv6(bytes) else { return .none }
        let isEcho = icmp.type == ICMPv6Type.echoRequest || icmp.type == ICMPv6Type.echoReply
        switch self {
        case .icmpv6Type: return .integer(Int64(icmp.type))
        case .icmpv6Code: return .integer(Int64(icmp.code))
        case .icmpv6Chksum: return .integer(Int64(icmp.chksum))
        case .icmpv6ID: return isEcho ? .integer(Int64(icmp.id)) : .none
        case .icmpv6Seq: return isEcho ? .integer(Int64(icmp.seq)) : .none
        case .icmpv6Target: return icmp.target.map { .ipv6($0) } ?? .none
        case .icmpv6LLAddr:
            return (icmp.sourceLinkLayerAddress ?? icmp.targetLinkLayerAddress).map { .mac($0) } ?? .none
        case .icmpv6Flags:
            return icmp.type == ICMPv6Type.neighborAdvertisement ? .integer(Int64(icmp.ndFlags)) : .none
        default: return .none
        }
    }

    private func readUDP(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) -> PacketFieldValue {
        guard let udp = frame.udp(bytes) else { return .none }
        switch self {
        case .udpSport: return .integer(Int64(udp.sport))
        case .udpDport: return .integer(Int64(udp.dport))
        case .udpLen: return .integer(Int64(udp.len))
        case .udpChksum: return .integer(Int64(udp.chksum))
        default: return .none
        }
    }

    private func readTCP(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) -> PacketFieldValue {
        guard let tcp = frame.tcp(bytes) else { return .none }
        switch self {
        case .tcpSport: return .integer(Int64(tcp.sport))
        case .tcpDport: return .integer(Int64(tcp.dport))
        case .tcpSeq: return .integer(Int64(tcp.seq))
        case .tcpAck: return .integer(Int64(tcp.ack))
        case .tcpFlags: return .integer(Int64(tcp.flags))
        case .tcpFlagstr: return .tcpFlagText(tcp.flags)
        case .tcpWindow: return .integer(Int64(tcp.window))
        case .tcpUrgptr: return .integer(Int64(tcp.urg))
        case .tcpDataofs: return .integer(Int64(tcp.dataofs))
        case .tcpChksum: return .integer(Int64(tcp.chksum))
        case .tcpOptions:
            let start = frame.transportOffset + TCPField.headerLength
            return .bytes(start..<frame.transportOffset + tcp.headerLength)
        default: return .none
        }
    }
}

// MARK: Keys of tapir.on

/// A key value of `tapir.on(layer, {field = value}, fn)`, parsed once at registration.
public enum PacketFieldKey: Hashable, Sendable {
    case integer(Int64)
    case boolean(Bool)
    case mac(MACAddress)
    case ipv4(IPv4Address)
    case ipv6(IPv6Address)
    /// Bytes compared with a bytes field, or with a text field's text (tcp.flagstr).
    case bytes([UInt8])
}

extension PacketField {
    /// The key for an integer given in Lua; nil when this field is not a number.
    public func key(integer: Int64) -> PacketFieldKey? {
        switch info.kind {
        case .integer, .tcpFlags: .integer(integer)
        default: nil
        }
    }

    /// The key for a string given in Lua: an address in text form or as raw bytes, or
    /// bytes/text to compare. nil when it cannot be a value of this field.
    public func key(string: String) -> PacketFieldKey? {
        switch info.kind {
        case .mac, .ipv4, .ipv6, .tcpFlags:
            var string = string
            return string.withUTF8 { info.kind.parse(UnsafeRawBufferPointer($0)) }
        case .bytes, .text: return .bytes(Array(string.utf8))
        case .integer, .boolean: return nil
        }
    }

    /// Whether this field of the frame equals `key`. Allocates nothing.
    public func matches(_ key: PacketFieldKey, bytes: UnsafeRawBufferPointer, frame: DecodedFrame) -> Bool {
        switch (read(bytes: bytes, frame: frame), key) {
        case let (.integer(value), .integer(wanted)): return value == wanted
        case let (.boolean(value), .boolean(wanted)): return value == wanted
        case let (.mac(value), .mac(wanted)): return value == wanted
        case let (.ipv4(value), .ipv4(wanted)): return value == wanted
        case let (.ipv6(value), .ipv6(wanted)): return value == wanted
        case let (.bytes(range), .bytes(wanted)):
            guard range.lowerBound >= 0, range.upperBound <= bytes.count, range.count == wanted.count else { return false }
            return zip(bytes[range], wanted).allSatisfy { $0 == $1 }
        case let (.tcpFlagText(flags), .bytes(wanted)):
            var letters: (UInt64, UInt64) = (0, 0)
            return withUnsafeMutableBytes(of: &letters) { buffer in
                let base = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
                let count = TCPFlagLetters.write(flags, into: base)
                return count == wanted.count && (0..<count).allSatisfy { base[$0] == wanted[$0] }
            }
        default: return false
        }
    }
}

extension PacketFieldKind {
    /// A value of this kind given as a string: an address in its text form or as exactly
    /// its raw bytes (6, 4 or 16), or TCP flags as tcpdump letters; nil when the text is
    /// neither, or this kind takes no text. The one parser of these texts: tapir.on's keys
    /// and, through C, builders and pkt:reply use it.
    public func parse(_ text: UnsafeRawBufferPointer) -> PacketFieldKey? {
        switch self {
        case .mac:
            return (MACAddress(String(decoding: text, as: UTF8.self)) ?? MACAddress(bytes: text)).map { .mac($0) }
        case .ipv4:
            return (IPv4Address(String(decoding: text, as: UTF8.self)) ?? IPv4Address(bytes: text)).map { .ipv4($0) }
        case .ipv6:
            return (IPv6Address(String(decoding: text, as: UTF8.self)) ?? IPv6Address(bytes: text)).map { .ipv6($0) }
        case .tcpFlags:
            return TCPFlagLetters.parse(text).map { .integer(Int64($0)) }
        case .integer, .boolean, .bytes, .text:
            return nil
        }
    }
}

/// TCP flags as tcpdump writes them: S F R P U E W, then "." for ACK ("S.", "R.", "P.").
public enum TCPFlagLetters {
    private static let letters: [(UInt16, UInt8)] = [
        (TCPFlags.syn, UInt8(ascii: "S")), (TCPFlags.fin, UInt8(ascii: "F")), (TCPFlags.rst, UInt8(ascii: "R")),
        (TCPFlags.psh, UInt8(ascii: "P")), (TCPFlags.urg, UInt8(ascii: "U")), (TCPFlags.ece, UInt8(ascii: "E")),
        (TCPFlags.cwr, UInt8(ascii: "W")), (TCPFlags.ack, UInt8(ascii: ".")),
    ]

    /// Writes the letters (at most 8) at `out`; returns how many.
    public static func write(_ flags: UInt16, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var count = 0
        for (bit, letter) in letters where flags & bit != 0 {
            out[count] = letter
            count += 1
        }
        return count
    }

    /// Letters to flags; "A" is taken for ACK too (Scapy), "N" for NS. nil on another letter.
    public static func parse(_ letters: some Sequence<UInt8>) -> UInt16? {
        var flags: UInt16 = 0
        for letter in letters {
            switch letter {
            case UInt8(ascii: "F"): flags |= TCPFlags.fin
            case UInt8(ascii: "S"): flags |= TCPFlags.syn
            case UInt8(ascii: "R"): flags |= TCPFlags.rst
            case UInt8(ascii: "P"): flags |= TCPFlags.psh
            case UInt8(ascii: "A"), UInt8(ascii: "."): flags |= TCPFlags.ack
            case UInt8(ascii: "U"): flags |= TCPFlags.urg
            case UInt8(ascii: "E"): flags |= TCPFlags.ece
            case UInt8(ascii: "W"), UInt8(ascii: "C"): flags |= TCPFlags.cwr
            case UInt8(ascii: "N"): flags |= TCPFlags.ns
            default: return nil
            }
        }
        return flags
    }
}
