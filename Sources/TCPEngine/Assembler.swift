/// Out-of-order data received past RCV.NXT, as at most `capacity` ranges of byte offsets
/// from RCV.NXT (sorted, apart). A segment that would need one more range is refused, so
/// a peer cannot make the list grow; its bytes are not acknowledged and come again.
struct Assembler {
    struct Range: Equatable {
        var start: Int
        var end: Int
    }

    private(set) var ranges: [Range]
    let capacity: Int
    /// The index of the range holding the most recently added segment (RFC 2018's first
    /// SACK block), or -1.
    private(set) var latest = -1

    init(capacity: Int) {
        self.capacity = capacity
        ranges = []
        ranges.reserveCapacity(capacity + 1)
    }

    var isEmpty: Bool { ranges.isEmpty }

    /// Adds bytes [start, end). False (nothing changed) if that needs more ranges than allowed.
    mutating func add(start: Int, end: Int) -> Bool {
        guard start < end else { return true }
        var first = 0
        while first < ranges.count && ranges[first].end < start { first += 1 }
        var last = first
        while last < ranges.count && ranges[last].start <= end { last += 1 }
        // ranges[first..<last] touch or overlap [start, end).
        if first == last {
            guard ranges.count < capacity else { return false }
            ranges.insertInPlace(Range(start: start, end: end), at: first)
        } else {
            let merged = Range(start: Swift.min(start, ranges[first].start), end: Swift.max(end, ranges[last - 1].end))
            ranges[first] = merged
            ranges.removeInPlace(first + 1..<last)
        }
        latest = first
        return true
    }

    /// If the first range starts at offset 0, removes it and returns its length; all offsets
    /// then count from its end (RCV.NXT moved there).
    mutating func popFront() -> Int {
        guard !ranges.isEmpty, ranges[0].start == 0 else { return 0 }
        let front = ranges[0]
        ranges.removeInPlace(0..<1)
        shift(by: front.end)
        latest = latest > 0 ? latest - 1 : -1
        return front.end
    }

    /// RCV.NXT moved `length` bytes on: offsets count from there. Ranges before it go.
    mutating func shift(by length: Int) {
        guard length > 0 else { return }
        var index = 0
        while index < ranges.count {
            ranges[index].start -= length
            ranges[index].end -= length
            if ranges[index].end <= 0 {
                ranges.removeInPlace(index..<index + 1)
                if latest == index { latest = -1 } else if latest > index { latest -= 1 }
            } else {
                if ranges[index].start < 0 { ranges[index].start = 0 }
                index += 1
            }
        }
    }

    mutating func removeAll() {
        ranges.removeAll(keepingCapacity: true)
        latest = -1
    }
}
