/// Collects IPv6 fragments into whole datagrams (RFC 8200 section 4.5), bounded as the
/// IPv4 reassembler is, so that a peer sending fragments cannot make it hold much:
/// - a datagram not complete `timeout` (60 s, RFC 8200) after its first fragment is dropped;
/// - at most `maxPending` datagrams and `maxBytes` of data are held; the oldest go first;
/// - a fragment that would make a payload longer than 65,535 bytes, or one with More
///   Fragments set whose data is not a multiple of 8 bytes, is discarded (RFC 8200; the
///   fragments held so far stay);
/// - overlapping fragments drop the whole datagram (RFC 5722); an exact duplicate of a
///   fragment already held (same place, same bytes) is ignored;
/// - a first fragment that does not hold the header chain through the upper-layer header
///   is discarded (RFC 7112).
/// Fragments are told apart by source, destination and identification. The whole datagram
/// is the unfragmentable part of the fragment at offset 0 (the IPv6 header and the
/// extension headers before its Fragment header), the Fragment header removed and the Next
/// Header before it set to the Fragment header's, then the fragmentable data. An atomic
/// fragment (offset 0, More Fragments clear; RFC 6946) is such a datagram by itself and
/// is returned at once, apart from any datagram being collected.
public final class IPv6Reassembler {
    public struct Limits: Sendable {
        public var timeoutNanoseconds: Int64 = 60_000_000_000
        public var maxPending = 64
        public var maxBytes = 4 << 20

        public init() {}
    }

    /// What happened to fragments, for statistics.
    public struct Counters: Equatable, Sendable {
        /// Fragments taken in (atomic fragments not counted).
        public var fragments = 0
        public var reassembled = 0
        public var atomic = 0
        public var timedOut = 0
        public var overlapping = 0
        public var tooBig = 0
        public var inconsistent = 0
        /// First fragments without the whole header chain through the upper-layer header.
        public var incompleteHeaderChain = 0
        public var evicted = 0

        public init() {}
    }

    private struct Key: Hashable {
        var source: IPv6Address
        var destination: IPv6Address
        var identification: UInt32
    }

    /// The frame's bytes before the IP header, then the unfragmentable part of the fragment
    /// at offset 0 with the Next Header before its Fragment header set to the Fragment
    /// header's; `networkOffset` is where the IPv6 header is in `bytes`.
    private struct Head {
        var bytes: [UInt8]
        var networkOffset: Int
    }

    public let limits: Limits
    private var collector: FragmentCollector<Key, Head>
    /// What is counted here; the collector counts what it times out and evicts.
    private var counted = Counters()

    public var counters: Counters {
        var counters = counted
        counters.timedOut = collector.timedOut
        counters.evicted = collector.evicted
        return counters
    }

    public init(limits: Limits = Limits()) {
        self.limits = limits
        collector = FragmentCollector(limits: .init(timeoutNanoseconds: limits.timeoutNanoseconds,
                                                    maxPending: limits.maxPending, maxBytes: limits.maxBytes))
    }

    /// Datagrams waiting for more fragments.
    public var pendingCount: Int { collector.pendingCount }

    /// Adds the fragment at `networkOffset` of `frame` (an IPv6 datagram with a Fragment
    /// header; anything else is returned as nil untouched). Returns the whole datagram,
    /// behind the link header of its first fragment, once the last missing piece arrives,
    /// or at once for an atomic fragment; nil until then and for every fragment dropped.
    public func add(_ frame: UnsafeRawBufferPointer, networkOffset: Int, now: Int64) -> [UInt8]? {
        expire(now: now)
        guard networkOffset >= 0, frame.count >= networkOffset + IPv6Field.headerLength else { return nil }
        let datagram = frame.slice(networkOffset, frame.count)
        guard let location = Self.fragmentHeader(datagram) else { return nil }
        let fragmentAt = location.offset
        let offsetAndFlags = datagram.u16(fragmentAt + IPv6FragmentField.offsetAndFlags)
        let more = offsetAndFlags & 1 != 0
        let start = Int(offsetAndFlags >> 3) * 8
        let fragmentData = datagram.slice(fragmentAt + IPv6FragmentField.length, location.payloadEnd)
        let head = frame.slice(0, networkOffset + fragmentAt)
        let upperHeader = datagram.u8(fragmentAt + IPv6FragmentField.nextHeader)
        let nextHeaderAt = networkOffset + location.nextHeaderAt

        if start == 0, !more {
            counted.atomic += 1
            var bytes = Self.whole(head: head, networkOffset: networkOffset, data: fragmentData)
            bytes[nextHeaderAt] = upperHeader
            return bytes
        }
        counted.fragments += 1
        let length = fragmentData.count
        let end = start + length
        // Every fragment but the last carries a multiple of 8 bytes; none is empty; no
        // payload passes 65,535. Such a fragment goes, the others stay.
        guard length > 0, !more || length % 8 == 0 else {
            counted.inconsistent += 1
            return nil
        }
        guard fragmentAt - IPv6Field.headerLength + end <= 65_535 else {
            counted.tooBig += 1
            return nil
        }
        if start == 0, !Self.holdsHeaderChain(datagram, fragmentAt: fragmentAt) {
            counted.incompleteHeaderChain += 1
            return nil
        }

        let key = Key(source: IPv6Address(loading: datagram, at: IPv6Field.source),
                      destination: IPv6Address(loading: datagram, at: IPv6Field.destination),
                      identification: datagram.u32(fragmentAt + IPv6FragmentField.identification))
        let outcome = collector.add(fragmentData, key: key, start: start, more: more, now: now,
                                    compareRepeats: true) {
            var bytes = Array(head)
            bytes[nextHeaderAt] = upperHeader
            return Head(bytes: bytes, networkOffset: networkOffset)
        }
        switch outcome {
        case .held, .repeated:
            return nil
        case .overlapping:
            counted.overlapping += 1
            return nil
        case .inconsistent:
            counted.inconsistent += 1
            return nil
        case let .whole(head, data, total):
            // The unfragmentable part of the first fragment may be longer than the others'.
            guard head.bytes.count - head.networkOffset - IPv6Field.headerLength + total <= 65_535 else {
                counted.tooBig += 1
                return nil
            }
            counted.reassembled += 1
            return data.withUnsafeBytes { data in
                head.bytes.withUnsafeBytes {
                    Self.whole(head: $0, networkOffset: head.networkOffset, data: data.slice(0, total))
                }
            }
        }
    }

    /// `head` (link header and unfragmentable part), then `data`, the payload length set.
    private static func whole(head: UnsafeRawBufferPointer, networkOffset: Int, data: UnsafeRawBufferPointer)
        -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: head.count + data.count) { buffer, initialized in
            let bytes = UnsafeMutableRawBufferPointer(buffer)
            bytes.copy(head, to: 0)
            bytes.copy(data, to: head.count)
            bytes.setU16(networkOffset + IPv6Field.payloadLength,
                         UInt16(head.count - networkOffset - IPv6Field.headerLength + data.count))
            initialized = head.count + data.count
        }
    }

    /// Where the first Fragment header of an IPv6 datagram is, where the Next Header byte
    /// naming it is (6 in the fixed header, or the first byte of the extension header
    /// before it), and where the payload ends; nil for bytes that are not an IPv6 datagram
    /// with a Fragment header inside its payload length. Walked here rather than with
    /// IPv6Packet, which refuses a first fragment whose header chain is cut (RFC 7112
    /// counts those) and does not say where the Next Header byte is.
    static func fragmentHeader(_ datagram: UnsafeRawBufferPointer)
        -> (offset: Int, nextHeaderAt: Int, payloadEnd: Int)? {
        guard datagram.count >= IPv6Field.headerLength, datagram.u8(IPv6Field.versionTrafficClassFlow) >> 4 == 6
        else { return nil }
        let payloadEnd = IPv6Field.headerLength + Int(datagram.u16(IPv6Field.payloadLength))
        guard payloadEnd <= datagram.count else { return nil }
        var type = datagram.u8(IPv6Field.nextHeader)
        var nextHeaderAt = IPv6Field.nextHeader
        var at = IPv6Field.headerLength
        for _ in 0..<IPv6Field.maxExtensionHeaders {
            guard IPv6Packet.isExtensionHeader(type), at + 8 <= payloadEnd else { return nil }
            if type == IPProtocol.ipv6Fragment { return (at, nextHeaderAt, payloadEnd) }
            let length = type == IPProtocol.ah ? (Int(datagram.u8(at + 1)) + 2) * 4 : (Int(datagram.u8(at + 1)) + 1) * 8
            guard at + length <= payloadEnd else { return nil }
            nextHeaderAt = at
            type = datagram.u8(at)
            at += length
        }
        return nil
    }

    /// Whether a first fragment holds every header through the upper-layer one (RFC 7112):
    /// its chain walks to the end within the fragment, and the upper-layer header fits.
    static func holdsHeaderChain(_ datagram: UnsafeRawBufferPointer, fragmentAt: Int) -> Bool {
        guard let packet = try? IPv6Packet(datagram), packet.fragmentHeaderOffset == fragmentAt else { return false }
        return packet.upperLayerOffset + IPv6Fragmenter.minimumUpperLayerHeader(packet.proto)
            <= IPv6Field.headerLength + Int(packet.plen)
    }

    /// Drops datagrams whose first fragment came more than the timeout ago.
    public func expire(now: Int64) {
        collector.expire(now: now)
    }
}
