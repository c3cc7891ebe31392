import Devices

/// The frames handlers write while the host drains a device's read burst, kept in order
/// and written when the burst ends: a batch of reads, then a batch of writes, as Snabb's
/// apps pull a batch from their input links and push a batch to their outputs.
///
/// Why: a write to a tap runs much of the kernel's network stack (the receiving side's
/// too) on this core. Written one by one between handler calls, it evicts the handlers'
/// Lua and Swift state from the caches before the next packet; queued, the handler calls
/// of a burst run back to back. scripts/bench measured about 15% more round trips at 64
/// outstanding; at one outstanding the burst is one packet and nothing waits.
///
/// Devices are kept by their id (an index in the host's list): no reference counting per
/// frame.
final class WriteQueue {
    private struct Entry {
        let deviceID: Int64
        let offset: Int
        let count: Int
        /// How the kernel is to finish the frame (Egress.writeSuperSegment); nil: as it is.
        let offload: VirtioNetHeader?
    }

    private let storage: UnsafeMutableRawBufferPointer
    private var used = 0
    private var entries: [Entry] = []

    init(capacity: Int = 1 << 20) {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        entries.reserveCapacity(1024)
    }

    deinit {
        storage.deallocate()
    }

    var isEmpty: Bool { entries.isEmpty }

    /// Copies the frame in; false when it does not fit in what is left (write out what
    /// is queued and try again; a frame larger than the whole queue never fits).
    func append(_ bytes: UnsafeRawBufferPointer, deviceID: Int64, offload: VirtioNetHeader? = nil) -> Bool {
        guard bytes.count <= storage.count - used else { return false }
        if bytes.count > 0 {
            UnsafeMutableRawBufferPointer(rebasing: storage[used..<(used + bytes.count)]).copyMemory(from: bytes)
        }
        entries.append(Entry(deviceID: deviceID, offset: used, count: bytes.count, offload: offload))
        used += bytes.count
        return true
    }

    /// Hands each run of queued frames for one device to `write` (its id, how many, and
    /// frame i of the run with how the kernel is to finish it), runs and frames in the
    /// order they were queued, then empties the queue.
    func flush(_ write: (Int64, Int, (Int) -> (bytes: UnsafeRawBufferPointer, offload: VirtioNetHeader?)) -> Void) {
        var start = 0
        while start < entries.count {
            let id = entries[start].deviceID
            var end = start + 1
            while end < entries.count, entries[end].deviceID == id { end += 1 }
            write(id, end - start) { index in
                let entry = self.entries[start + index]
                return (UnsafeRawBufferPointer(rebasing: self.storage[entry.offset..<(entry.offset + entry.count)]),
                        entry.offload)
            }
            start = end
        }
        entries.removeAll(keepingCapacity: true)
        used = 0
    }
}
