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

    private struct Pending {
        var started: Int64
        /// The frame's bytes before the IP header, and the IP header, of the fragment at offset 0.
        var linkHeader: [UInt8]?
        var ipHeader: [UInt8]?
        var data: [UInt8] = []
        /// Received data ranges, start..<end, in arrival order.
        var ranges: [Range<Int>] = []
        var received = 0
        /// The data length, known once the last fragment (More Fragments clear) came.
        var total: Int?
    }

    public let limits: Limits
    public private(set) var counters = Counters()
    private var pending: [Key: Pending] = [:]
    private var heldBytes = 0

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Datagrams waiting for more fragments.
    public var pendingCount: Int { pending.count }

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
        counters.fragments += 1
        let key = Key(source: datagram.u32(IPv4Field.source), destination: datagram.u32(IPv4Field.destination),
                      identification: datagram.u16(IPv4Field.identification), proto: datagram.u8(IPv4Field.proto))
        let more = flagsAndOffset & 0x2000 != 0
        let start = Int(flagsAndOffset & 0x1fff) * 8
        let length = totalLength - headerLength
        let end = start + length

        // Every fragment but the last carries a multiple of 8 bytes; nothing passes 65,535.
        guard !more || (length > 0 && length % 8 == 0) else {
            counters.inconsistent += 1
            drop(key)
            return nil
        }
        guard IPv4Field.headerLength + end <= 65_535 else {
            counters.tooBig += 1
            drop(key)
            return nil
        }

        var entry = pending.removeValue(forKey: key) ?? Pending(started: now)
        heldBytes -= entry.data.count
        if entry.ranges.contains(where: { $0 == start..<end }) {
            restore(entry, key)
            return nil
        }
        let lastEnd = entry.ranges.map(\.upperBound).max() ?? 0
        if let total = entry.total, end > total || (!more && end != total) {
            counters.inconsistent += 1
            return nil
        }
        if !more, lastEnd > end {
            counters.inconsistent += 1
            return nil
        }
        if entry.ranges.contains(where: { $0.overlaps(start..<end) }) {
            counters.overlapping += 1
            return nil
        }
        if !more { entry.total = end }
        if entry.data.count < end { entry.data += [UInt8](repeating: 0, count: end - entry.data.count) }
        entry.data.withUnsafeMutableBytes { $0.copy(datagram.slice(headerLength, totalLength), to: start) }
        entry.ranges.append(start..<end)
        entry.received += length
        if start == 0 {
            entry.linkHeader = Array(frame.slice(0, networkOffset))
            entry.ipHeader = Array(datagram.slice(0, headerLength))
        }

        if let total = entry.total, entry.received == total, let linkHeader = entry.linkHeader,
           let ipHeader = entry.ipHeader {
            counters.reassembled += 1
            return whole(linkHeader: linkHeader, ipHeader: ipHeader, data: entry.data, total: total)
        }
        restore(entry, key)
        return nil
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

    /// Puts an entry back, making room within the limits by dropping the oldest others.
    private func restore(_ entry: Pending, _ key: Key) {
        while !pending.isEmpty, pending.count >= limits.maxPending || heldBytes + entry.data.count > limits.maxBytes {
            guard let oldest = pending.min(by: { $0.value.started < $1.value.started })?.key else { break }
            counters.evicted += 1
            drop(oldest)
        }
        guard entry.data.count <= limits.maxBytes else {
            counters.evicted += 1
            return
        }
        pending[key] = entry
        heldBytes += entry.data.count
    }

    private func drop(_ key: Key) {
        guard let entry = pending.removeValue(forKey: key) else { return }
        heldBytes -= entry.data.count
    }

    /// Drops datagrams whose first fragment came more than the timeout ago.
    public func expire(now: Int64) {
        guard !pending.isEmpty else { return }
        for (key, entry) in pending where now - entry.started > limits.timeoutNanoseconds {
            counters.timedOut += 1
            drop(key)
        }
    }
}
