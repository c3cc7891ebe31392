/// A byte ring, allocated when a connection is set up and freed with it; the connection
/// may grow it (`grow(to:)`) up to its limit when data needs the room. The send buffer holds the bytes from SND.UNA on (sent and unsent); the receive
/// buffer holds in-order bytes not yet read, and out-of-order bytes are written past them
/// (`write(at:)`) before the assembler says they join.
struct RingBuffer {
    private(set) var storage: UnsafeMutableRawBufferPointer
    private(set) var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        storage = capacity > 0 ? .allocate(byteCount: capacity, alignment: 8) : UnsafeMutableRawBufferPointer(start: nil, count: 0)
    }

    static var empty: RingBuffer { RingBuffer(capacity: 0) }

    var capacity: Int { storage.count }
    var free: Int { capacity - count }
    var isEmpty: Bool { count == 0 }

    mutating func deallocate() {
        if capacity > 0 { storage.deallocate() }
        storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        head = 0
        count = 0
    }

    /// Reallocates with `newCapacity` bytes, keeping every byte where it is relative to the
    /// head: the stored ones and any written past them (out-of-order data).
    mutating func grow(to newCapacity: Int) {
        guard newCapacity > capacity else { return }
        let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: newCapacity, alignment: 8)
        let (a, b) = pieces(at: 0, length: capacity)
        if let source = a.baseAddress { bigger.baseAddress!.copyMemory(from: source, byteCount: a.count) }
        if let source = b.baseAddress { (bigger.baseAddress! + a.count).copyMemory(from: source, byteCount: b.count) }
        if capacity > 0 { storage.deallocate() }
        storage = bigger
        head = 0
    }

    /// Up to two pieces of the bytes at `offset` from the head, at most `length` of them.
    func peek(at offset: Int, length: Int) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
        let length = Swift.max(0, Swift.min(length, count - offset))
        return pieces(at: offset, length: length)
    }

    private func pieces(at offset: Int, length: Int) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
        guard length > 0, let base = storage.baseAddress else { return (.init(start: nil, count: 0), .init(start: nil, count: 0)) }
        let start = (head + offset) % capacity
        let first = Swift.min(length, capacity - start)
        return (UnsafeRawBufferPointer(start: base + start, count: first),
                UnsafeRawBufferPointer(start: base, count: length - first))
    }

    /// Appends as much of `bytes` as fits; returns how many.
    mutating func enqueue(_ bytes: UnsafeRawBufferPointer) -> Int {
        let written = write(bytes, at: 0)
        count += written
        return written
    }

    /// Copies `bytes` into the free space at `offset` past the stored bytes, as much as
    /// fits; returns how many. The count does not change (see `commit`).
    @discardableResult
    mutating func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int {
        guard offset >= 0, offset < free, let base = storage.baseAddress, let source = bytes.baseAddress else { return 0 }
        let length = Swift.min(bytes.count, free - offset)
        let start = (head + count + offset) % capacity
        let first = Swift.min(length, capacity - start)
        (base + start).copyMemory(from: source, byteCount: first)
        if length > first { base.copyMemory(from: source + first, byteCount: length - first) }
        return length
    }

    /// Counts `length` bytes written past the stored ones as stored.
    mutating func commit(_ length: Int) {
        count += Swift.min(length, free)
    }

    /// Copies up to `buffer.count` bytes from the head out; returns how many.
    func copy(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let (a, b) = peek(at: 0, length: buffer.count)
        guard let destination = buffer.baseAddress else { return 0 }
        if let source = a.baseAddress { destination.copyMemory(from: source, byteCount: a.count) }
        if let source = b.baseAddress { (destination + a.count).copyMemory(from: source, byteCount: b.count) }
        return a.count + b.count
    }

    /// Drops `length` bytes from the head.
    mutating func dequeue(_ length: Int) {
        let length = Swift.min(length, count)
        guard capacity > 0 else { return }
        head = (head + length) % capacity
        count -= length
        // (The head stays where it is when the ring empties: out-of-order bytes may sit
        // past it.)
    }
}
