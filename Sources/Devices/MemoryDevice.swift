import SystemPackage

/// An in-memory `PacketDevice` for tests, like Twisted's MemoryIOSystem: packets injected
/// are read back one per read, packets written are kept for `takeWritten()`, and errno
/// values injected for the next reads or writes are interpreted exactly as a real
/// device interprets them (EINTR retried, EAGAIN ends a drain, ENOBUFS counted...).
public final class MemoryDevice: PacketDevice {
    public let name: String
    public let mode: DeviceMode
    public let hasPacketInfo = false
    public var fileDescriptor: FileDescriptor? { nil }
    public private(set) var counters = DeviceCounters()
    public private(set) var isGone = false

    private var incoming: [[UInt8]] = []
    private var incomingHead = 0
    private var written: [[UInt8]] = []
    private var readErrnos: [CInt] = []
    private var writeErrnos: [CInt] = []
    private var closed = false

    /// Refuse frames shorter than the link's header, as a tun/tap does (off: tests write
    /// any bytes).
    public var refusesShortFrames = false

    public init(name: String = "mem0", mode: DeviceMode = .tap) {
        self.name = name
        self.mode = mode
    }

    /// Queues a packet for a later read.
    public func inject(_ packet: [UInt8]) {
        incoming.append(packet)
    }

    /// Packets injected and not read yet.
    public var pendingCount: Int { incoming.count - incomingHead }

    /// The packets written since the last call, one entry per write, oldest first.
    public func takeWritten() -> [[UInt8]] {
        defer { written.removeAll() }
        return written
    }

    /// The next `count` read attempts fail with `errno` (before any queued packet).
    public func failNextReads(_ count: Int = 1, errno: CInt) {
        readErrnos.append(contentsOf: repeatElement(errno, count: count))
    }

    /// The next `count` write attempts fail with `errno`.
    public func failNextWrites(_ count: Int = 1, errno: CInt) {
        writeErrnos.append(contentsOf: repeatElement(errno, count: count))
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        guard !closed, !isGone else { return .wouldBlock }
        while !readErrnos.isEmpty {
            let code = readErrnos.removeFirst()
            switch DeviceErrno.readAction(code) {
            case .retry: continue
            case .wouldBlock: return .wouldBlock
            case .transient:
                counters.readErrors += 1
                return .wouldBlock
            case .gone:
                counters.readErrors += 1
                isGone = true
                return .gone(DeviceErrno.goneReason(device: name, code: code))
            case .programmingError:
                DeviceErrno.trap("read", device: name, code: code)
            }
        }
        guard incomingHead < incoming.count else { return .wouldBlock }
        let packet = incoming[incomingHead]
        incomingHead += 1
        if incomingHead == incoming.count {
            incoming.removeAll(keepingCapacity: true)
            incomingHead = 0
        }
        // Like a kernel read: what does not fit the buffer is cut off.
        let length = min(packet.count, buffer.count)
        packet.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<length]))
        }
        counters.recordRead(bytes: length)
        return .packet(UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
    }

    public func write(_ packet: UnsafeRawBufferPointer) -> WriteResult {
        guard !closed, !isGone else {
            counters.recordWriteFailure(.closed)
            return .failed(.closed)
        }
        while !writeErrnos.isEmpty {
            let code = writeErrnos.removeFirst()
            switch DeviceErrno.writeAction(code) {
            case .retry: continue
            case .failed(let kind):
                counters.recordWriteFailure(kind)
                return .failed(kind)
            case .gone:
                isGone = true
                counters.recordWriteFailure(.closed)
                return .gone(DeviceErrno.goneReason(device: name, code: code))
            case .programmingError:
                DeviceErrno.trap("write", device: name, code: code)
            }
        }
        written.append(Array(packet))
        counters.recordWrite(bytes: packet.count)
        return .written
    }

    public func close() {
        closed = true
    }
}
