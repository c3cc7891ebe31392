import CTunTap
import Glibc

/// A tun/tap descriptor's reads and writes in batches through an io_uring (CTunTapRing):
/// a device's read burst takes a run of frames in one system call, and the writes a burst
/// made go out in one, where read(2) and write(2) cost one each. Frames come in the order
/// the kernel queued them. Loop thread only.
///
/// Reads: a batch asks for as many frames as the last burst brought (one more, at least
/// two), so one idle read says the queue is empty, and a full batch is followed by the
/// largest one. The device uses the ring for bursts of several frames only (TunTapDevice):
/// for one or two, read(2) and write(2) cost less than a submission.
final class TapRing {
    /// The outcome of one `read()`.
    enum ReadOutcome {
        /// A frame (header included, if the device has one), valid until the next `read()`.
        case frame(UnsafeRawBufferPointer)
        /// The queue is empty for now: the burst ends.
        case empty
        /// One read failed with this errno; the next `read()` goes on with the batch.
        case failed(CInt)
        /// The ring cannot be used (a submission failed, or the kernel takes no reads
        /// that do not wait on this descriptor): read and write without it from now on.
        case unusable(CInt)
    }

    private let ring: OpaquePointer
    let capacity: Int
    /// The read batch's outcomes, handed out one by one; a write batch has its own, so a
    /// write in the middle of a read batch (a full write queue flushed) leaves it whole.
    private let results: UnsafeMutablePointer<CInt>
    private let writeResults: UnsafeMutablePointer<CInt>
    private let vectors: UnsafeMutablePointer<iovec>
    /// Room for one virtio-net header per frame of a write batch.
    private let headers: UnsafeMutableRawPointer
    private var next = 0
    private var count = 0
    private var batchWasFull = false
    private var burstFrames = 0
    /// The frames the last burst read through the ring (or, told by `expect`, without it).
    private(set) var lastBurstFrames = 0

    /// Nil when the kernel refuses an io_uring (none, or kernel.io_uring_disabled).
    init?(fd: CInt, slots: Int, slotSize: Int) {
        var error: CInt = 0
        guard let ring = tapir_tap_ring_open(fd, UInt32(slots), UInt32(slotSize), &error) else { return nil }
        self.ring = ring
        capacity = Int(tapir_tap_ring_capacity(ring))
        results = .allocate(capacity: capacity)
        writeResults = .allocate(capacity: capacity)
        vectors = .allocate(capacity: 2 * capacity)
        headers = .allocate(byteCount: capacity * VirtioNetHeader.size, alignment: 4)
    }

    deinit {
        tapir_tap_ring_close(ring)
        results.deallocate()
        writeResults.deallocate()
        vectors.deallocate()
        headers.deallocate()
    }

    /// The next burst is read through the ring after one of `frames` read without it: its
    /// first batch asks for as many.
    func expect(frames: Int) {
        lastBurstFrames = frames
    }

    /// True while the last batch has frames (or failures) not handed out yet.
    var hasPending: Bool { next < count }

    func read() -> ReadOutcome {
        while true {
            while next < count {
                let index = next
                next += 1
                let result = results[index]
                if result > 0 {
                    burstFrames += 1
                    let slot = UnsafeRawPointer(tapir_tap_ring_slot(ring, UInt32(index))!)
                    return .frame(UnsafeRawBufferPointer(start: slot, count: Int(result)))
                }
                if result == -EAGAIN { continue }
                // A kernel that takes no such reads says so for the whole batch.
                if (result == -EOPNOTSUPP || result == -EINVAL) && burstFrames == 0
                    && (next..<count).allSatisfy({ results[$0] <= 0 }) {
                    endBurst()
                    return .unusable(-result)
                }
                if next == count && !batchWasFull { endBurst() }  // the next read starts a batch
                return .failed(-result)
            }
            if count > 0 && !batchWasFull {
                // The last batch found the queue empty: the burst is over.
                endBurst()
                return .empty
            }
            let asked = batchWasFull ? capacity : Swift.min(capacity, Swift.max(2, lastBurstFrames + 1))
            let status = tapir_tap_ring_read(ring, UInt32(asked), results)
            guard status == 0 else {
                count = 0
                next = 0
                return .unusable(-status)
            }
            count = asked
            next = 0
            batchWasFull = (0..<asked).allSatisfy { results[$0] > 0 }
        }
    }

    private func endBurst() {
        count = 0
        next = 0
        batchWasFull = false
        lastBurstFrames = burstFrames
        burstFrames = 0
    }

    /// Writes `count` (at most `capacity`) frames in one batch; `outcome(i, result)` gets
    /// frame i's length written or -errno. `withHeaders` (a device with offloads): each
    /// frame goes after its virtio-net header (a zero one where it has none). False when
    /// the batch could not be submitted: nothing was told, and the ring is not to be used
    /// again.
    func write(count: Int, frame: (Int) -> (bytes: UnsafeRawBufferPointer, offload: VirtioNetHeader?),
               withHeaders: Bool, outcome: (Int, CInt) -> Void) -> Bool {
        precondition(count <= capacity)
        for index in 0..<count {
            let (bytes, offload) = frame(index)
            let base = UnsafeMutableRawPointer(mutating: bytes.baseAddress)
            if withHeaders {
                let header = headers + index * VirtioNetHeader.size
                (offload ?? VirtioNetHeader()).store(to: header)
                vectors[2 * index] = iovec(iov_base: header, iov_len: VirtioNetHeader.size)
                vectors[2 * index + 1] = iovec(iov_base: base, iov_len: bytes.count)
            } else {
                vectors[index] = iovec(iov_base: base, iov_len: bytes.count)
            }
        }
        guard tapir_tap_ring_write(ring, vectors, withHeaders ? 2 : 1, UInt32(count), writeResults) == 0 else {
            return false
        }
        for index in 0..<count { outcome(index, writeResults[index]) }
        return true
    }
}
