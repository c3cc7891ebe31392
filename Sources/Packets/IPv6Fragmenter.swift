// IPv6 fragmentation (RFC 8200 section 4.5). A datagram is cut into an unfragmentable part,
// repeated in every fragment, and a fragmentable part, sent once in pieces behind a
// Fragment header:
//
//   | IPv6 header | Hop-by-Hop | Dest. Options, Routing | Fragment header | piece of the rest |
//   '------------- unfragmentable part ---------------'
//   Fragment header: | next header | 0 | offset (13 bits, 8-byte units), 00, M | identification (32) |
//
// The first fragment holds the whole header chain through the upper-layer header (RFC 7112).

/// Splits an IPv6 datagram longer than a link's MTU into fragments. Each fragment is built
/// in a caller's scratch buffer behind a copy of the frame's link header, and handed to
/// `emit` before the next is built: nothing is allocated.
public enum IPv6Fragmenter {
    /// The smallest MTU an IPv6 link may have (RFC 8200 section 5).
    public static let minimumMTU = 1280

    public enum Outcome: Equatable, Sendable {
        /// The datagram fits the MTU as it is (or the bytes are not an IPv6 datagram whose
        /// header chain walks to its upper layer): write it unchanged.
        case fits
        /// It was sent as this many fragments.
        case fragmented(Int)
        /// It is too big and has a Fragment header already (it is a fragment or an atomic
        /// fragment). Only the source fragments an IPv6 datagram, once (RFC 8200 section 5):
        /// a second Fragment header, or new offsets in the one there, would make a datagram
        /// no receiver could put back as its source sent it. Not sent; a router answers
        /// such a datagram with Packet Too Big instead.
        case alreadyFragmented
        /// It is too big and the MTU is below IPv6's minimum of 1280 bytes (RFC 8200
        /// section 5): a link that small must fragment below IP. Not sent.
        case mtuBelowMinimum
        /// It is too big and the first fragment could not hold the unfragmentable part, the
        /// Fragment header and the headers through the upper-layer header within the MTU
        /// (RFC 7112), or the Fragment header would make more extension headers than the
        /// decoders here walk (`IPv6Field.maxExtensionHeaders`, so the fragments would not
        /// be taken for fragments), or `scratch` is shorter than `networkOffset + mtu`. Not sent.
        case noRoom
        /// `emit` returned false for a fragment: the rest were not sent.
        case stopped
    }

    /// Fragments the IPv6 datagram at `networkOffset` of `frame` (the bytes before it, an
    /// Ethernet header or nothing on tun, are repeated in front of every fragment) so that
    /// no fragment's IP datagram exceeds `mtu`. Every fragment carries the unfragmentable
    /// part as it is (traffic class, flow label and hop limit kept), with the Next Header
    /// of its last header set to 44, then a Fragment header naming what came there and
    /// carrying `identification` (the caller keeps a counter), then a piece of the rest:
    /// a multiple of 8 bytes in all but the last, whose More Fragments bit is clear.
    /// Bytes after the payload length (Ethernet padding) are not sent.
    /// `scratch` must hold `networkOffset + mtu` bytes.
    public static func fragment(_ frame: UnsafeRawBufferPointer, networkOffset: Int, mtu: Int,
                                identification: UInt32, scratch: UnsafeMutableRawBufferPointer,
                                emit: (UnsafeRawBufferPointer) -> Bool) -> Outcome {
        guard networkOffset >= 0, frame.count >= networkOffset + IPv6Field.headerLength else { return .fits }
        let datagram = frame.slice(networkOffset, frame.count)
        guard let packet = try? IPv6Packet(datagram) else { return .fits }
        let length = IPv6Field.headerLength + Int(packet.plen)
        guard length > mtu else { return .fits }
        guard !packet.hasFragmentHeader else { return .alreadyFragmented }
        guard mtu >= minimumMTU else { return .mtuBelowMinimum }
        let (unfragmentableLength, nextHeaderAt) = unfragmentablePart(packet)
        // Data per fragment: a multiple of 8 that fits behind the headers.
        let dataPerFragment = (mtu - unfragmentableLength - IPv6FragmentField.length) & ~7
        let headerChainLength = min(packet.upperLayerOffset + minimumUpperLayerHeader(packet.proto), length)
            - unfragmentableLength
        guard dataPerFragment >= 8, headerChainLength <= dataPerFragment,
              packet.extensionHeaderCount < IPv6Field.maxExtensionHeaders, scratch.count >= networkOffset + mtu else {
            return .noRoom
        }

        // The link header and the unfragmentable part are the same in every fragment.
        scratch.copy(frame.slice(0, networkOffset), to: 0)
        let out = scratch.slice(networkOffset, networkOffset + mtu)
        out.copy(datagram.slice(0, unfragmentableLength), to: 0)
        out.setU8(nextHeaderAt, IPProtocol.ipv6Fragment)
        let fragmentHeader = out.slice(unfragmentableLength, unfragmentableLength + IPv6FragmentField.length)
        fragmentHeader.setU8(IPv6FragmentField.nextHeader, datagram.u8(nextHeaderAt))
        fragmentHeader.setU8(IPv6FragmentField.nextHeader + 1, 0)  // reserved
        fragmentHeader.setU32(IPv6FragmentField.identification, identification)
        let dataAt = unfragmentableLength + IPv6FragmentField.length
        let data = datagram.slice(unfragmentableLength, length)

        var sent = 0
        var start = 0
        while start < data.count {
            let pieceLength = min(dataPerFragment, data.count - start)
            let isLast = start + pieceLength == data.count
            out.setU16(IPv6Field.payloadLength, UInt16(dataAt - IPv6Field.headerLength + pieceLength))
            fragmentHeader.setU16(IPv6FragmentField.offsetAndFlags, UInt16(start / 8) << 3 | (isLast ? 0 : 1))
            out.copy(data.slice(start, start + pieceLength), to: dataAt)
            guard emit(UnsafeRawBufferPointer(scratch.slice(0, networkOffset + dataAt + pieceLength))) else {
                return .stopped
            }
            sent += 1
            start += pieceLength
        }
        return .fragmented(sent)
    }

    /// The length of the unfragmentable part of a datagram without a Fragment header (the
    /// IPv6 header and the extension headers through the last Hop-by-Hop or Routing header,
    /// Destination Options before a Routing header included), and where the Next Header
    /// byte of its last header is.
    static func unfragmentablePart(_ packet: IPv6Packet) -> (length: Int, nextHeaderAt: Int) {
        var length = IPv6Field.headerLength
        var nextHeaderAt = IPv6Field.nextHeader
        var type = packet.nxt
        var at = IPv6Field.headerLength
        // The constructor checked every header up to the upper layer.
        while at < packet.upperLayerOffset, type == IPProtocol.hopByHop || type == IPProtocol.ipv6Route
            || type == IPProtocol.ipv6DestinationOptions {
            let headerLength = (Int(packet.buffer.u8(at + 1)) + 1) * 8
            if type != IPProtocol.ipv6DestinationOptions {
                length = at + headerLength
                nextHeaderAt = at
            }
            type = packet.buffer.u8(at)
            at += headerLength
        }
        return (length, nextHeaderAt)
    }

    /// The bytes of an upper-layer header a first fragment must hold (RFC 7112), as Linux
    /// counts them (ipv6frag_thdr_truncated): TCP 20, UDP 8, ICMPv6 8, any other 1.
    static func minimumUpperLayerHeader(_ proto: UInt8) -> Int {
        switch proto {
        case IPProtocol.tcp: 20
        case IPProtocol.udp: 8
        case IPProtocol.icmpv6: ICMPv6Field.headerLength
        default: 1
        }
    }
}
