/// Collects IPv4 fragments into whole datagrams (RFC 791 section 3.2, RFC 815), bounded so
/// that a peer sending fragments cannot make it hold much:
/// - a datagram not complete `timeout` after its first fragment is dropped;
/// - at most `maxPending` datagrams and `maxBytes` of data are held; the oldest go first;
/// - a datagram that would pass 65,535 bytes is dropped (the "ping of death");
/// - overlapping fragments drop the whole datagram, as Linux does since 4.19 (RFC 5722's
///   rule for IPv6): an exact repeat of a fragment already held is ignored.
/// Fragments are told apart by source, destination, protocol and identification.
public final class IPv4Reassembler {
    public struct Limits: Sendable {
        public var timeoutNanoseconds: Int64 = 30_000_000_000
        public var maxPending = 64
        public var maxBytes = 4 << 20

        public init() {}
    }

    /// What happened to fragments, for statistics.
    public struct Counters: Equatable, Sendable {
        public var fragments = 0
        public var reassembled = 0
        public var timedOut = 0
        public var overlapping = 0
        public var tooBig = 0
        public var inconsistent = 0
        public var evicted = 0
    }

    private struct Key: Hashable {
        var source: UInt32
        var destination: UInt32
        var identification: UInt16
        var proto: UInt8
    }

    /// The frame's bytes before the IP header, and the IP header, of the fragment at offset 0.
    private struct Head {
        var linkHeader: [UInt8]
        var ipHeader: [UInt8]
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

    /// Adds the fragment at `networkOffset` of `frame` (an IPv4 datagram with More
    /// Fragments set or a non-zero offset; anything else is returned as nil untouched).
    /// Returns the whole datagram, behind the link header of its first fragment, once the
    /// last missing piece arrives; nil until then and for every fragment dropped.
    public func add(_ frame: UnsafeRawBufferPointer, networkOffset: Int, now: Int64) -> [UInt8]? {
        expire(now: now)
        guard networkOffset >= 0, frame.count >= networkOffset + IPv4Field.headerLength else { return nil }
        let datagram = frame.slice(networkOffset, frame.count)
        let headerLength = Int(datagram.u8(0) & 0x0f) * 4
        let totalLength = Int(datagram.u16(IPv4Field.totalLength))
        let flagsAndOffset = datagram.u16(IPv4Field.flagsAndFragmentOffset)
        guard datagram.u8(0) >> 4 == 4, headerLength >= IPv4Field.headerLength, totalLength >= headerLength,
              totalLength <= datagram.count, flagsAndOffset & 0x3fff != 0
        else { return nil }
        counted.fragments += 1
        let key = Key(source: datagram.u32(IPv4Field.source), destination: datagram.u32(IPv4Field.destination),
                      identification: datagram.u16(IPv4Field.identification), proto: datagram.u8(IPv4Field.proto))
        let more = flagsAndOffset & 0x2000 != 0
        let start = Int(flagsAndOffset & 0x1fff) * 8
        let length = totalLength - headerLength
        let end = start + length

        // Every fragment but the last carries a multiple of 8 bytes; nothing passes 65,535.
        guard !more || (length > 0 && length % 8 == 0) else {
            counted.inconsistent += 1
            collector.drop(key)
            return nil
        }
        guard IPv4Field.headerLength + end <= 65_535 else {
            counted.tooBig += 1
            collector.drop(key)
            return nil
        }

        let outcome = collector.add(datagram.slice(headerLength, totalLength), key: key, start: start, more: more,
                                    now: now, compareRepeats: false) {
            Head(linkHeader: Array(frame.slice(0, networkOffset)), ipHeader: Array(datagram.slice(0, headerLength)))
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
            counted.reassembled += 1
            return whole(linkHeader: head.linkHeader, ipHeader: head.ipHeader, data: data, total: total)
        }
    }

    private func whole(linkHeader: [UInt8], ipHeader: [UInt8], data: [UInt8], total: Int) -> [UInt8] {
        var bytes = linkHeader + ipHeader
        bytes.append(contentsOf: data[0..<total])
        bytes.withUnsafeMutableBytes { buffer in
            let header = buffer.slice(linkHeader.count, linkHeader.count + ipHeader.count)
            header.setU16(IPv4Field.totalLength, UInt16(ipHeader.count + total))
            // Offset 0, More Fragments clear; Don't Fragment as the first fragment had it.
            header.setU16(IPv4Field.flagsAndFragmentOffset,
                          UnsafeRawBufferPointer(header).u16(IPv4Field.flagsAndFragmentOffset) & 0x4000)
            header.setU16(IPv4Field.checksum, 0)
            header.setU16(IPv4Field.checksum, Checksum.compute(UnsafeRawBufferPointer(header)))
        }
        return bytes
    }

    /// Drops datagrams whose first fragment came more than the timeout ago.
    public func expire(now: Int64) {
        collector.expire(now: now)
    }
}
