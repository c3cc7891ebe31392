/// What the peer's SACK blocks (RFC 2018) say it holds above SND.UNA, kept for loss
/// recovery (RFC 6675): a few disjoint ranges of sequence numbers, lowest first, none
/// adjacent. Bounded: past `capacity` ranges the highest is forgotten (the sender then
/// knows less, and repairs by less).
struct SACKScoreboard {
    struct Range: Equatable {
        var start: TCPSeq
        var end: TCPSeq
    }

    private(set) var ranges: [Range] = []
    let capacity: Int

    init(capacity: Int = 8) {
        self.capacity = Swift.max(capacity, 1)
        ranges.reserveCapacity(self.capacity + 1)
    }

    var isEmpty: Bool { ranges.isEmpty }

    /// The byte after the highest one SACKed (RFC 6675's HighSACK + 1).
    var highest: TCPSeq? { ranges.isEmpty ? nil : ranges[ranges.count - 1].end }

    /// Bytes SACKed in all.
    var bytes: Int {
        var total = 0
        var index = 0
        while index < ranges.count {
            total += ranges[index].end - ranges[index].start
            index += 1
        }
        return total
    }

    /// Bytes SACKed below `seq`.
    func bytes(below seq: TCPSeq) -> Int {
        var total = 0
        var index = 0
        while index < ranges.count && ranges[index].start < seq {
            total += TCPSeq.min(ranges[index].end, seq) - ranges[index].start
            index += 1
        }
        return total
    }

    /// Records the block `[left, right)` if it lies within `[una, max]`: a D-SACK block
    /// (RFC 2883, at or below SND.UNA), one past what was sent, or an empty or inverted one
    /// says nothing about what to repair, and is ignored.
    mutating func add(left: TCPSeq, right: TCPSeq, una: TCPSeq, max: TCPSeq) {
        guard una <= left, left < right, right <= max else { return }
        var first = 0
        while first < ranges.count && ranges[first].end < left { first += 1 }
        var last = first
        while last < ranges.count && ranges[last].start <= right { last += 1 }
        // ranges[first..<last] touch or overlap [left, right).
        if first == last {
            ranges.insertInPlace(Range(start: left, end: right), at: first)
            if ranges.count > capacity { ranges.removeLast() }
        } else {
            ranges[first] = Range(start: TCPSeq.min(left, ranges[first].start), end: TCPSeq.max(right, ranges[last - 1].end))
            ranges.removeInPlace(first + 1..<last)
        }
    }

    /// SND.UNA moved to `una`: what lies below it is acknowledged, no longer SACKed.
    mutating func acknowledge(upTo una: TCPSeq) {
        var gone = 0
        while gone < ranges.count && ranges[gone].end <= una { gone += 1 }
        ranges.removeInPlace(0..<gone)
        if !ranges.isEmpty && ranges[0].start < una { ranges[0].start = una }
    }

    /// Forgets everything: after a retransmission timeout the peer may have discarded
    /// what it SACKed (reneging, RFC 2018 section 8; RFC 6675 section 5.1).
    mutating func clear() { ranges.removeAll(keepingCapacity: true) }

    /// The first hole at or after `seq` below the highest SACKed byte: the bytes the peer
    /// does not hold there, from `start` to `end`.
    func hole(from seq: TCPSeq) -> Range? {
        var at = seq
        var index = 0
        while index < ranges.count {
            if at < ranges[index].start { return Range(start: at, end: ranges[index].start) }
            if at < ranges[index].end { at = ranges[index].end }
            index += 1
        }
        return nil
    }

}
