/// What the IPv4 and IPv6 reassemblers share: the datagrams being collected, each
/// fragment's data put in its place, and the bounds that keep what a peer can make us hold
/// small (a timeout from the first fragment, a number of datagrams and a number of bytes,
/// the oldest dropped first). `Key` tells datagrams apart; `Head` is what the fragment at
/// offset 0 gives (its headers), kept until the datagram is whole. Each reassembler reads
/// its own headers and checks its own family's rules before a fragment comes here.
struct FragmentCollector<Key: Hashable, Head> {
    struct Limits {
        var timeoutNanoseconds: Int64
        var maxPending: Int
        var maxBytes: Int
    }

    /// What became of a fragment given to `add`.
    enum Outcome {
        /// Kept; the datagram waits for more.
        case held
        /// The last missing piece: the datagram is whole (and no longer held).
        case whole(head: Head, data: [UInt8], total: Int)
        /// The same place again with the same bytes (or, where bytes are not compared,
        /// the same place): ignored, the datagram still held.
        case repeated
        /// Overlaps data already held: the datagram is dropped.
        case overlapping
        /// Disagrees with the datagram's known end: the datagram is dropped.
        case inconsistent
    }

    private struct Pending {
        var started: Int64
        var head: Head?
        var data: [UInt8] = []
        /// Received data ranges, start..<end, in arrival order.
        var ranges: [Range<Int>] = []
        var received = 0
        /// The data length, known once the last fragment (More Fragments clear) came.
        var total: Int?
    }

    let limits: Limits
    private var pending: [Key: Pending] = [:]
    private var heldBytes = 0
    /// Datagrams dropped to keep within maxPending and maxBytes.
    private(set) var evicted = 0
    /// Datagrams dropped for not being whole within the timeout.
    private(set) var timedOut = 0

    init(limits: Limits) {
        self.limits = limits
    }

    var pendingCount: Int { pending.count }

    /// Puts `data`, the fragment's data at offset `start`, into the datagram `key`;
    /// `more` is its More Fragments flag. `head` is called for the fragment at offset 0.
    /// With `compareRepeats`, a fragment at a place already filled is a repeat only when
    /// its bytes are the same (else an overlap); without, the place alone decides.
    mutating func add(_ data: UnsafeRawBufferPointer, key: Key, start: Int, more: Bool, now: Int64,
                      compareRepeats: Bool, head: () -> Head) -> Outcome {
        let end = start + data.count
        var entry = pending.removeValue(forKey: key) ?? Pending(started: now)
        heldBytes -= entry.data.count
        if entry.ranges.contains(start..<end) {
            guard !compareRepeats || entry.data[start..<end].elementsEqual(data) else { return .overlapping }
            restore(entry, key)
            return .repeated
        }
        let lastEnd = entry.ranges.map(\.upperBound).max() ?? 0
        if let total = entry.total, end > total || (!more && end != total) { return .inconsistent }
        if !more, lastEnd > end { return .inconsistent }
        if entry.ranges.contains(where: { $0.overlaps(start..<end) }) { return .overlapping }
        if !more { entry.total = end }
        if entry.data.count < end { entry.data += [UInt8](repeating: 0, count: end - entry.data.count) }
        entry.data.withUnsafeMutableBytes { $0.copy(data, to: start) }
        entry.ranges.append(start..<end)
        entry.received += data.count
        if start == 0 { entry.head = head() }

        if let total = entry.total, entry.received == total, let head = entry.head {
            return .whole(head: head, data: entry.data, total: total)
        }
        restore(entry, key)
        return .held
    }

    /// Forgets a datagram being collected.
    mutating func drop(_ key: Key) {
        guard let entry = pending.removeValue(forKey: key) else { return }
        heldBytes -= entry.data.count
    }

    /// Drops datagrams whose first fragment came more than the timeout ago.
    mutating func expire(now: Int64) {
        guard !pending.isEmpty else { return }
        for (key, entry) in pending where now - entry.started > limits.timeoutNanoseconds {
            timedOut += 1
            drop(key)
        }
    }

    /// Puts an entry back, making room within the limits by dropping the oldest others.
    private mutating func restore(_ entry: Pending, _ key: Key) {
        while !pending.isEmpty, pending.count >= limits.maxPending || heldBytes + entry.data.count > limits.maxBytes {
            guard let oldest = pending.min(by: { $0.value.started < $1.value.started })?.key else { break }
            evicted += 1
            drop(oldest)
        }
        guard entry.data.count <= limits.maxBytes else {
            evicted += 1
            return
        }
        pending[key] = entry
        heldBytes += entry.data.count
    }
}
