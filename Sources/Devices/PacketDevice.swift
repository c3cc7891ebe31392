import SystemPackage

/// What a device carries: Ethernet frames (tap) or IP datagrams (tun).
public enum DeviceMode: Sendable, Equatable {
    case tun
    case tap
}

/// The outcome of one `PacketDevice.read(into:)`.
public enum ReadResult {
    /// One packet, a slice at the start of the caller's buffer, valid until the next read into it.
    case packet(UnsafeRawBufferPointer)
    /// Nothing more to read now (EAGAIN): a drain ends here.
    case wouldBlock
    /// The device is gone (deleted, its namespace removed). Reported once; later reads
    /// return `.wouldBlock` without touching the kernel. The owner unregisters the
    /// descriptor from its poller and calls `close()`.
    case gone(String)
}

/// Why a write did not go out. Counted in `DeviceCounters`; none of these is fatal.
public enum WriteFailure: Sendable, Equatable, Hashable {
    /// ENOBUFS: the kernel queue is full; the packet is dropped.
    case noBuffers
    /// EAGAIN / EWOULDBLOCK.
    case wouldBlock
    /// EIO: typically the device is down.
    case io
    /// EINVAL / EMSGSIZE: the kernel refused this packet (malformed, too big).
    case rejected
    /// The device was closed or is gone; nothing was attempted.
    case closed
    /// Any other errno.
    case other(CInt)
}

/// The outcome of one `PacketDevice.write(_:)`: one packet per call, never coalesced.
public enum WriteResult: Equatable {
    case written
    case failed(WriteFailure)
    /// The device is gone. Reported once, like `ReadResult.gone`.
    case gone(String)
}

/// A source and sink of packets: a tun/tap queue, or an in-memory device for tests.
/// Used on one thread (the event loop's).
public protocol PacketDevice: AnyObject {
    var name: String { get }
    var mode: DeviceMode { get }
    /// True when the kernel adds the 4-byte packet-information header; reads strip it and
    /// writes add it, so callers never see it.
    var hasPacketInfo: Bool { get }
    /// The descriptor to poll for readability; nil for in-memory devices and once closed.
    var fileDescriptor: FileDescriptor? { get }
    var counters: DeviceCounters { get }
    /// True once the device reported `.gone`.
    var isGone: Bool { get }
    /// True when a frame shorter than its link's header is refused before the write (a
    /// tun/tap: a tap's kernel side refuses one with EINVAL, a tun's IP layer drops it
    /// uncounted); memory and pcap devices carry anything, unless a test asks.
    var refusesShortFrames: Bool { get }

    /// True while frames the device took from the kernel wait to be read (a tap's io_uring
    /// batch): the descriptor may not be readable then, so a drain goes on until they are.
    var holdsReadFrames: Bool { get }
    /// Reads one packet into `buffer` (size it `ReadBuffer.size`, 64 KiB, whatever the MTU).
    /// Retries EINTR.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult
    /// Writes one packet. Retries EINTR.
    func write(_ packet: UnsafeRawBufferPointer) -> WriteResult
    /// Releases the descriptor. Idempotent.
    func close()
    /// With offloads on (a tap's IFF_VNET_HDR): how the kernel left the last frame read
    /// (a partial checksum, a super-segment); nil for a device without offloads.
    var offloadHeader: VirtioNetHeader? { get }
    /// True when the kernel finishes what `write(_:offload:)` hands it (a tap with offloads:
    /// a partial checksum, a super-segment it cuts).
    var takesOffloadedWrites: Bool { get }
    /// Writes a frame for the kernel to finish as `offload` says; only where
    /// `takesOffloadedWrites` (elsewhere the frame goes as it is).
    func write(_ packet: UnsafeRawBufferPointer, offload: VirtioNetHeader) -> WriteResult
    /// Writes `count` frames in order, in as few system calls as the device can (a tap's
    /// io_uring: one a batch); `outcome(i, result)` is told of frame i. `frame(i)` gives
    /// its bytes and, for a device that takes offloaded writes, how the kernel is to finish
    /// it (nil: as it is). Once the device is gone (an outcome may find it so) the frames
    /// left are not written and no outcome is told. Default: `write` for each.
    func write(batch count: Int, frame: (Int) -> (bytes: UnsafeRawBufferPointer, offload: VirtioNetHeader?),
               outcome: (Int, WriteResult) -> Void)
}

extension PacketDevice {
    public var holdsReadFrames: Bool { false }

    public func write(batch count: Int, frame: (Int) -> (bytes: UnsafeRawBufferPointer, offload: VirtioNetHeader?),
                      outcome: (Int, WriteResult) -> Void) {
        for index in 0..<count {
            guard !isGone else { return }
            let (bytes, offload) = frame(index)
            outcome(index, offload.map { write(bytes, offload: $0) } ?? write(bytes))
        }
    }
}

extension PacketDevice {
    public var offloadHeader: VirtioNetHeader? { nil }
    public var takesOffloadedWrites: Bool { false }
    public func write(_ packet: UnsafeRawBufferPointer, offload: VirtioNetHeader) -> WriteResult { write(packet) }
}

extension PacketDevice {
    public var refusesShortFrames: Bool { false }

    /// Writes one packet held in an array (convenience; the raw-buffer form avoids the closure).
    public func write(_ packet: [UInt8]) -> WriteResult {
        packet.withUnsafeBytes { write($0) }
    }
}

/// A device over a kernel interface (a tun/tap, a packet socket): its MTU and hardware
/// address (nil on a tun), as read when it was opened.
public protocol KernelInterfaceDevice: PacketDevice {
    var mtu: Int { get }
    var macAddress: [UInt8]? { get }
}

extension TunTapDevice: KernelInterfaceDevice {}
extension PacketSocketDevice: KernelInterfaceDevice {}

extension ReadResult {
    var isWouldBlock: Bool {
        if case .wouldBlock = self { return true }
        return false
    }
}
