/// Per-device traffic and error counts.
public struct DeviceCounters: Sendable, Equatable {
    public var rxPackets = 0
    public var rxBytes = 0
    public var txPackets = 0
    public var txBytes = 0
    /// Reads that failed with an error other than EINTR/EAGAIN (including the one that said `.gone`).
    public var readErrors = 0
    /// Packets the kernel marked as truncated (TUN_PKT_STRIP, packet-information devices only).
    public var truncatedReads = 0
    public var writeNoBuffers = 0
    public var writeWouldBlock = 0
    public var writeIO = 0
    public var writeRejected = 0
    public var writeClosed = 0
    public var writeOther = 0

    public init() {}

    /// All failed writes, whatever the kind.
    public var writeErrors: Int {
        writeNoBuffers + writeWouldBlock + writeIO + writeRejected + writeClosed + writeOther
    }

    /// The count for one kind of write failure.
    public func writeFailures(_ kind: WriteFailure) -> Int {
        switch kind {
        case .noBuffers: writeNoBuffers
        case .wouldBlock: writeWouldBlock
        case .io: writeIO
        case .rejected: writeRejected
        case .closed: writeClosed
        case .other: writeOther
        }
    }

    mutating func recordRead(bytes: Int) {
        rxPackets += 1
        rxBytes += bytes
    }

    mutating func recordWrite(bytes: Int) {
        txPackets += 1
        txBytes += bytes
    }

    mutating func recordWriteFailure(_ kind: WriteFailure) {
        switch kind {
        case .noBuffers: writeNoBuffers += 1
        case .wouldBlock: writeWouldBlock += 1
        case .io: writeIO += 1
        case .rejected: writeRejected += 1
        case .closed: writeClosed += 1
        case .other: writeOther += 1
        }
    }
}
