import Devices

/// The small frames of a read burst, copied aside as they are read and handled together
/// after, so that the kernel's read path runs for a run of frames and then the handlers
/// for all of them, each with its code and data still in the caches, rather than the two
/// taking turns per frame (Snabb's breath: pull every input, then push). Frames keep their
/// order and their virtio-net headers. Loop thread only.
final class ReadBatch {
    /// A slot: a frame of the usual MTU, a VLAN tag and a virtio-net header fit.
    static let slotSize = 2048
    static let capacity = 32

    private let slab = UnsafeMutableRawBufferPointer.allocate(byteCount: slotSize * capacity, alignment: 16)
    private var lengths = [Int](repeating: 0, count: capacity)
    private var offloads = [VirtioNetHeader?](repeating: nil, count: capacity)
    private(set) var count = 0
    /// True while handleAll runs: a burst read from inside a handler (a test runner's
    /// pump) is handled as it comes, never put in slots still being handled.
    private var handling = false

    deinit { slab.deallocate() }

    var isFull: Bool { count == Self.capacity }

    /// Copies `frame` and its header into the next slot; false when it is longer than a
    /// slot or no slot is free (then handle the batch, and the frame apart).
    func add(_ frame: UnsafeRawBufferPointer, offload: VirtioNetHeader?) -> Bool {
        guard frame.count <= Self.slotSize, count < Self.capacity, !handling else { return false }
        let start = count * Self.slotSize
        UnsafeMutableRawBufferPointer(rebasing: slab[start ..< start + frame.count]).copyMemory(from: frame)
        lengths[count] = frame.count
        offloads[count] = offload
        count += 1
        return true
    }

    /// Hands each frame held to `handle`, in the order they came (the bytes are valid
    /// during the call only), and empties the batch.
    func handleAll(_ handle: (UnsafeRawBufferPointer, VirtioNetHeader?) -> Void) {
        guard count > 0, !handling else { return }
        handling = true
        defer {
            handling = false
            count = 0
        }
        for index in 0..<count {
            let start = index * Self.slotSize
            handle(UnsafeRawBufferPointer(rebasing: slab[start ..< start + lengths[index]]), offloads[index])
        }
    }
}
