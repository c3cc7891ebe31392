// One pass over a frame that finds every layer it can, without allocating: the result is a
// plain struct of offsets and small values. A layer that is truncated or inconsistent stops
// the walk and is recorded as the malformed layer; the layers before it stay readable.

/// The layers present in a decoded frame (Wireshark's protocol names).
public struct Layers: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    @inlinable
    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    // Computed and inlinable, not stored: another module reads them as constants, with no
    // global-initialization check per use (the per-packet path tests several).
    @inlinable public static var frame: Layers { Layers(rawValue: 1 << 0) }
    @inlinable public static var eth: Layers { Layers(rawValue: 1 << 1) }
    @inlinable public static var vlan: Layers { Layers(rawValue: 1 << 2) }
    @inlinable public static var arp: Layers { Layers(rawValue: 1 << 3) }
    @inlinable public static var ip: Layers { Layers(rawValue: 1 << 4) }
    @inlinable public static var ipv6: Layers { Layers(rawValue: 1 << 5) }
    @inlinable public static var icmp: Layers { Layers(rawValue: 1 << 6) }
    @inlinable public static var icmpv6: Layers { Layers(rawValue: 1 << 7) }
    @inlinable public static var udp: Layers { Layers(rawValue: 1 << 8) }
    @inlinable public static var tcp: Layers { Layers(rawValue: 1 << 9) }

    /// The one table of layer names and numbers (a layer's number is the index of its bit):
    /// LuaHost's `PacketLayer` and the C side of the packet object take theirs from here.
    public static let names: [(Layers, String)] = [
        (.frame, "frame"), (.eth, "eth"), (.vlan, "vlan"), (.arp, "arp"), (.ip, "ip"), (.ipv6, "ipv6"),
        (.icmp, "icmp"), (.icmpv6, "icmpv6"), (.udp, "udp"), (.tcp, "tcp"),
    ]

    /// The layer for a Wireshark-style name ("ip", "udp", ...).
    public init?(name: String) {
        guard let match = Layers.names.first(where: { $0.1 == name }) else { return nil }
        self = match.0
    }

    /// The layer's number: the index of its bit (for a single layer).
    @inlinable
    public var number: Int { rawValue.trailingZeroBitCount }

    /// "frame:eth:ip:udp", like Wireshark's frame.protocols.
    public var description: String {
        Layers.names.filter { contains($0.0) }.map(\.1).joined(separator: ":")
    }
}

/// The layers of one frame, as offsets into the frame's bytes. Offsets of a layer are
/// meaningful only when `layers` contains it. Read fields through the view accessors
/// (`ipv4(bytes)?.ttl`), passing the same bytes that were decoded.
public struct DecodedFrame: Hashable, Sendable {
    public var linkType: LinkType
    /// The frame's length in bytes.
    public var length: Int
    public var layers: Layers
    /// Number of VLAN tags (0...2).
    public var vlanCount: Int = 0
    /// TPID and TCI of the outer and inner tag.
    public var outerTPID: UInt16 = 0
    public var outerTCI: UInt16 = 0
    public var innerTPID: UInt16 = 0
    public var innerTCI: UInt16 = 0
    /// The EtherType of the network layer (after tags); for raw IP, 0x0800 or 0x86dd by the
    /// version nibble.
    public var etherType: UInt16 = 0
    /// Where the ARP or IP header starts.
    public var networkOffset: Int = 0
    /// Where the ARP packet or the IP datagram (total/payload length) ends; Ethernet padding
    /// after it is not part of any layer.
    public var networkEnd: Int = 0
    /// The upper-layer protocol: IPv4 protocol, or the IPv6 next header after the extension
    /// headers.
    public var ipProtocol: UInt8 = 0
    /// IPv6: where the Fragment header is (0: none) and how many extension headers there are.
    public var ipv6FragmentHeaderOffset: Int = 0
    public var ipv6ExtensionHeaderCount: Int = 0
    /// Where the transport (ICMP, ICMPv6, UDP, TCP) header starts: right after the IP
    /// header(s), also when the transport is unknown or malformed.
    public var transportOffset: Int = 0
    /// The bytes after the last header decoded (application data, echo data, an unknown
    /// protocol's bytes).
    public var payloadOffset: Int = 0
    public var payloadLength: Int = 0
    /// An IPv4 or IPv6 fragment. Only the first fragment (offset 0) has a transport layer.
    public var isFragment: Bool = false
    /// The layer that was truncated or inconsistent (empty when none), and why.
    public var malformedLayer: Layers = []
    public var malformedReason: PacketError?

    @inlinable
    public var isMalformed: Bool { malformedReason != nil }

    @inlinable
    public func has(_ layer: Layers) -> Bool { layers.contains(layer) }

    public init(linkType: LinkType, length: Int) {
        self.linkType = linkType
        self.length = length
        layers = .frame
        payloadLength = length
    }

    /// Decodes `bytes` as a frame of `linkType`. Never fails: what cannot be read is absent.
    public init(decoding bytes: UnsafeRawBufferPointer, linkType: LinkType) {
        self = FrameDecoder.decode(bytes, linkType: linkType)
    }

    /// VLAN tag `index` (0 outer), nil past `vlanCount`.
    @inlinable
    public func vlanTag(_ index: Int) -> VLANTag? {
        switch index {
        case 0 where vlanCount > 0: VLANTag(tpid: outerTPID, tci: outerTCI)
        case 1 where vlanCount > 1: VLANTag(tpid: innerTPID, tci: innerTCI)
        default: nil
        }
    }

    // MARK: Views over the layers, with no second check. `bytes` must be the decoded frame.

    @inlinable
    func matches(_ bytes: UnsafeRawBufferPointer, _ layer: Layers) -> Bool {
        bytes.count == length && layers.contains(layer)
    }

    @inlinable
    public func ethernet(_ bytes: UnsafeRawBufferPointer) -> EthernetFrame? {
        guard matches(bytes, .eth) else { return nil }
        return EthernetFrame(unchecked: bytes, tagCount: vlanCount)
    }

    @inlinable
    public func arp(_ bytes: UnsafeRawBufferPointer) -> ARPPacket? {
        guard matches(bytes, .arp) else { return nil }
        return ARPPacket(unchecked: UnsafeRawBufferPointer(rebasing: bytes[networkOffset..<networkEnd]))
    }

    @inlinable
    public func ipv4(_ bytes: UnsafeRawBufferPointer) -> IPv4Packet? {
        guard matches(bytes, .ip) else { return nil }
        return IPv4Packet(unchecked: UnsafeRawBufferPointer(rebasing: bytes[networkOffset..<networkEnd]))
    }

    @inlinable
    public func ipv6(_ bytes: UnsafeRawBufferPointer) -> IPv6Packet? {
        guard matches(bytes, .ipv6) else { return nil }
        return IPv6Packet(unchecked: UnsafeRawBufferPointer(rebasing: bytes[networkOffset..<networkEnd]),
                          upperLayerOffset: transportOffset - networkOffset, proto: ipProtocol,
                          fragmentHeaderOffset: ipv6FragmentHeaderOffset == 0 ? 0 : ipv6FragmentHeaderOffset - networkOffset,
                          extensionHeaderCount: ipv6ExtensionHeaderCount)
    }

    @inlinable
    func transport(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[transportOffset..<networkEnd])
    }

    @inlinable
    public func icmp(_ bytes: UnsafeRawBufferPointer) -> ICMPv4Packet? {
        guard matches(bytes, .icmp) else { return nil }
        return ICMPv4Packet(unchecked: transport(bytes))
    }

    public func icmpv6(_ bytes: UnsafeRawBufferPointer) -> ICMPv6Packet? {
        guard matches(bytes, .icmpv6) else { return nil }
        return try? ICMPv6Packet(transport(bytes))  // finds the option offsets again
    }

    /// In a first fragment the length field may count bytes of later fragments; the view's
    /// payload is then cut at the end of this fragment.
    @inlinable
    public func udp(_ bytes: UnsafeRawBufferPointer) -> UDPPacket? {
        guard matches(bytes, .udp) else { return nil }
        return UDPPacket(unchecked: transport(bytes))
    }

    @inlinable
    public func tcp(_ bytes: UnsafeRawBufferPointer) -> TCPPacket? {
        guard matches(bytes, .tcp) else { return nil }
        return TCPPacket(unchecked: transport(bytes))
    }

    /// The payload bytes (see `payloadOffset`), empty when `bytes` is not the decoded frame.
    @inlinable
    public func payload(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard bytes.count == length else { return UnsafeRawBufferPointer(rebasing: bytes[0..<0]) }
        return UnsafeRawBufferPointer(rebasing: bytes[payloadOffset..<payloadOffset + payloadLength])
    }

    /// The IP pseudo-header of the datagram, for transport checksums.
    public func pseudoHeader(_ bytes: UnsafeRawBufferPointer) -> IPPseudoHeader? {
        if let ip = ipv4(bytes) { return ip.pseudoHeader }
        return ipv6(bytes)?.pseudoHeader
    }
}

public enum FrameDecoder {
    public static func decode(_ bytes: UnsafeRawBufferPointer, linkType: LinkType) -> DecodedFrame {
        if linkType == .ethernet, let frame = decodeCommonEthernet(bytes) { return frame }
        return decodeInFull(bytes, linkType: linkType)
    }

    /// The most common frame, read in one pass: untagged Ethernet, IPv4 without options
    /// and not a fragment, UDP or TCP without options, every length consistent. It gives
    /// exactly what `decodeInFull` gives for such a frame (a test compares the two over
    /// many frames); nil for anything else, which the full decoder then reads.
    @inline(__always) @_spi(Checking)
    public static func decodeCommonEthernet(_ bytes: UnsafeRawBufferPointer) -> DecodedFrame? {
        let network = EthernetField.headerLength
        let transport = network + IPv4Field.headerLength
        guard bytes.count >= transport, bytes.u16(EthernetField.etherType) == EtherType.ipv4,
              bytes.u8(network + IPv4Field.versionAndHeaderLength) == 0x45,
              bytes.u16(network + IPv4Field.flagsAndFragmentOffset) & 0x3fff == 0 else { return nil }
        let totalLength = Int(bytes.u16(network + IPv4Field.totalLength))
        let networkEnd = network + totalLength
        guard totalLength >= IPv4Field.headerLength, networkEnd <= bytes.count else { return nil }
        let proto = bytes.u8(network + IPv4Field.proto)
        let payloadStart: Int
        let payloadEnd: Int
        let layer: Layers
        switch proto {
        case IPProtocol.udp:
            guard networkEnd - transport >= UDPField.headerLength else { return nil }
            let udpLength = Int(bytes.u16(transport + UDPField.length))
            guard udpLength >= UDPField.headerLength, transport + udpLength <= networkEnd else { return nil }
            layer = .udp
            payloadStart = transport + UDPField.headerLength
            payloadEnd = transport + udpLength
        case IPProtocol.tcp:
            guard networkEnd - transport >= TCPField.headerLength,
                  bytes.u8(transport + TCPField.dataOffsetAndFlags) >> 4 == 5 else { return nil }
            layer = .tcp
            payloadStart = transport + TCPField.headerLength
            payloadEnd = networkEnd
        default:
            return nil
        }
        var frame = DecodedFrame(linkType: .ethernet, length: bytes.count)
        frame.layers = [.frame, .eth, .ip, layer]
        frame.etherType = EtherType.ipv4
        frame.networkOffset = network
        frame.networkEnd = networkEnd
        frame.ipProtocol = proto
        frame.transportOffset = transport
        frame.setPayload(payloadStart, payloadEnd)
        return frame
    }

    /// Reads every layer it knows, as deep as the frame goes.
    @_spi(Checking)
    public static func decodeInFull(_ bytes: UnsafeRawBufferPointer, linkType: LinkType) -> DecodedFrame {
        var frame = DecodedFrame(linkType: linkType, length: bytes.count)
        switch linkType {
        case .ethernet:
            decodeEthernet(bytes, into: &frame)
        case .rawIP:
            guard bytes.count > 0 else {
                frame.fail(.ip, .truncated)
                return frame
            }
            switch bytes.u8(0) >> 4 {
            case 4:
                frame.etherType = EtherType.ipv4
                decodeIPv4(bytes, at: 0, into: &frame)
            case 6:
                frame.etherType = EtherType.ipv6
                decodeIPv6(bytes, at: 0, into: &frame)
            default:
                frame.fail(.ip, .badVersion)
            }
        }
        return frame
    }

    static func decodeEthernet(_ bytes: UnsafeRawBufferPointer, into frame: inout DecodedFrame) {
        let ethernet: EthernetFrame
        do { ethernet = try EthernetFrame(bytes) } catch {
            frame.fail(.eth, error)
            return
        }
        frame.layers.insert(.eth)
        frame.vlanCount = ethernet.tagCount
        if let outer = ethernet.tag(0) {
            frame.layers.insert(.vlan)
            frame.outerTPID = outer.tpid
            frame.outerTCI = outer.tci
        }
        if let inner = ethernet.tag(1) {
            frame.innerTPID = inner.tpid
            frame.innerTCI = inner.tci
        }
        frame.etherType = ethernet.payloadType
        let offset = ethernet.headerLength
        frame.networkOffset = offset
        frame.setPayload(offset, bytes.count)
        switch frame.etherType {
        case EtherType.arp: decodeARP(bytes, at: offset, into: &frame)
        case EtherType.ipv4: decodeIPv4(bytes, at: offset, into: &frame)
        case EtherType.ipv6: decodeIPv6(bytes, at: offset, into: &frame)
        default: break
        }
    }

    static func decodeARP(_ bytes: UnsafeRawBufferPointer, at offset: Int, into frame: inout DecodedFrame) {
        do { _ = try ARPPacket(bytes.slice(offset, bytes.count)) } catch {
            frame.fail(.arp, error)
            return
        }
        frame.layers.insert(.arp)
        frame.networkEnd = offset + ARPField.length
        frame.setPayload(frame.networkEnd, frame.networkEnd)
    }

    static func decodeIPv4(_ bytes: UnsafeRawBufferPointer, at offset: Int, into frame: inout DecodedFrame) {
        let ip: IPv4Packet
        do { ip = try IPv4Packet(bytes.slice(offset, bytes.count)) } catch {
            frame.fail(.ip, error)
            return
        }
        frame.layers.insert(.ip)
        frame.networkOffset = offset
        frame.networkEnd = offset + Int(ip.len)
        frame.ipProtocol = ip.proto
        frame.isFragment = ip.isFragment
        frame.transportOffset = offset + ip.headerLength
        frame.setPayload(frame.transportOffset, frame.networkEnd)
        guard ip.frag == 0 else { return }
        decodeTransport(bytes, ipv6: false, into: &frame)
    }

    static func decodeIPv6(_ bytes: UnsafeRawBufferPointer, at offset: Int, into frame: inout DecodedFrame) {
        let ip: IPv6Packet
        do { ip = try IPv6Packet(bytes.slice(offset, bytes.count)) } catch {
            frame.fail(.ipv6, error)
            return
        }
        frame.layers.insert(.ipv6)
        frame.networkOffset = offset
        frame.networkEnd = offset + IPv6Field.headerLength + Int(ip.plen)
        frame.ipProtocol = ip.proto
        frame.ipv6FragmentHeaderOffset = ip.hasFragmentHeader ? offset + ip.fragmentHeaderOffset : 0
        frame.ipv6ExtensionHeaderCount = ip.extensionHeaderCount
        frame.isFragment = ip.isFragment
        frame.transportOffset = offset + ip.upperLayerOffset
        frame.setPayload(frame.transportOffset, frame.networkEnd)
        guard ip.frag == 0 else { return }
        decodeTransport(bytes, ipv6: true, into: &frame)
    }

    static func decodeTransport(_ bytes: UnsafeRawBufferPointer, ipv6: Bool, into frame: inout DecodedFrame) {
        let start = frame.transportOffset
        let end = frame.networkEnd
        let segment = bytes.slice(start, end)
        switch frame.ipProtocol {
        case IPProtocol.icmp where !ipv6:
            guard segment.count >= ICMPv4Field.headerLength else { return frame.fail(.icmp, .truncated) }
            frame.layers.insert(.icmp)
            frame.setPayload(start + ICMPv4Field.headerLength, end)
        case IPProtocol.icmpv6 where ipv6:
            do { _ = try ICMPv6Packet(segment) } catch { return frame.fail(.icmpv6, error) }
            frame.layers.insert(.icmpv6)
            frame.setPayload(start + ICMPv6Field.headerLength, end)
        case IPProtocol.udp:
            if frame.isFragment {
                // A first fragment: the length field counts the whole datagram.
                guard segment.count >= UDPField.headerLength else { return frame.fail(.udp, .truncated) }
                frame.layers.insert(.udp)
                frame.setPayload(start + UDPField.headerLength, end)
                return
            }
            let udp: UDPPacket
            do { udp = try UDPPacket(segment) } catch { return frame.fail(.udp, error) }
            frame.layers.insert(.udp)
            frame.setPayload(start + UDPField.headerLength, start + Int(udp.len))
        case IPProtocol.tcp:
            let tcp: TCPPacket
            do { tcp = try TCPPacket(segment) } catch { return frame.fail(.tcp, error) }
            frame.layers.insert(.tcp)
            frame.setPayload(start + tcp.headerLength, end)
        default:
            break
        }
    }
}

extension DecodedFrame {
    mutating func fail(_ layer: Layers, _ reason: PacketError) {
        malformedLayer = layer
        malformedReason = reason
    }

    mutating func setPayload(_ start: Int, _ end: Int) {
        payloadOffset = start
        payloadLength = end - start
    }
}
