/// Bytes received on a connection and not yet handed to its script: a buffer the engine
/// reads into at the tail and receive takes from at the head. A pointer into it handed to
/// C stays valid until the next call that changes the queue.
final class ByteQueue {
    private(set) var storage: UnsafeMutableRawBufferPointer
    private(set) var head = 0
    private(set) var tail = 0

    init(capacity: Int = 4096) {
        storage = .allocate(byteCount: max(capacity, 16), alignment: 1)
    }

    deinit { storage.deallocate() }

    var count: Int { tail - head }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[head..<tail]) }

    /// Room for at least `count` more bytes at the tail (moving or growing the storage).
    func reserve(_ extra: Int) -> UnsafeMutableRawBufferPointer {
        if storage.count - tail < extra {
            let needed = count + extra
            if needed <= storage.count, head > 0 {
                if count > 0 { storage.baseAddress!.copyMemory(from: storage.baseAddress! + head, byteCount: count) }
            } else {
                var capacity = storage.count
                while capacity < needed { capacity *= 2 }
                let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 1)
                if count > 0 { grown.baseAddress!.copyMemory(from: storage.baseAddress! + head, byteCount: count) }
                storage.deallocate()
                storage = grown
            }
            tail = count
            head = 0
        }
        return UnsafeMutableRawBufferPointer(rebasing: storage[tail..<storage.count])
    }

    func appended(_ count: Int) { tail += count }

    /// Takes `count` bytes from the head; they stay readable until the queue changes again.
    func take(_ count: Int) -> UnsafeRawBufferPointer {
        let taken = UnsafeRawBufferPointer(rebasing: storage[head..<head + count])
        head += count
        if head == tail {
            head = 0
            tail = 0
        }
        return taken
    }

    /// The index of the first `byte` at or after the head, if any.
    func firstIndex(of byte: UInt8) -> Int? {
        guard count > 0, let base = storage.baseAddress else { return nil }
        guard let found = memchr(base + head, Int32(byte), count) else { return nil }
        return UnsafeRawPointer(found) - UnsafeRawPointer(base + head)
    }
}

#if canImport(Glibc)
import Glibc
#endif
