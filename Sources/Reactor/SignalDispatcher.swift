import Glibc
import Kernel

/// The loop's signalfd and the callback for each signal it reads. Created by the first
/// `onSignal`; the fd's set grows and shrinks with the callbacks.
final class SignalDispatcher {
    private unowned let loop: EventLoop
    private var fd: Int32 = -1
    private var handlers: [Int32: () -> Void] = [:]
    private let buffer = UnsafeMutableRawBufferPointer.allocate(
        byteCount: 16 * signalfdInfoSize, alignment: 8)
    /// ssi_signo is the first field of each record.
    private static let signalfdInfoSize = Syscalls.signalfdRecordSize
    private var signalfdInfoSize: Int { Self.signalfdInfoSize }

    init(loop: EventLoop) {
        self.loop = loop
    }

    deinit {
        buffer.deallocate()
    }

    func setHandler(_ signal: Int32, _ handler: @escaping () -> Void) throws {
        guard try SignalMask.current().contains(signal) else {
            throw ReactorError.signalNotBlocked(signal: signal)
        }
        let hadFD = fd >= 0
        var set = SignalSet(Array(handlers.keys))
        set.insert(signal)
        fd = try Syscalls.signalfd(existing: fd, signals: set.raw)
        if !hadFD {
            try loop.registerOwned(fd) { [unowned self] _ in self.readSignals() }
        }
        handlers[signal] = handler
    }

    func removeHandler(_ signal: Int32) throws {
        guard handlers.removeValue(forKey: signal) != nil, fd >= 0 else { return }
        fd = try Syscalls.signalfd(existing: fd, signals: SignalSet(Array(handlers.keys)).raw)
    }

    /// Closes the signalfd. Called by the loop's `close()`, which drops the registration.
    func closeDescriptor() {
        if fd >= 0 { Syscalls.close(fd) }
        fd = -1
        handlers.removeAll()
    }

    private func readSignals() {
        while fd >= 0, let count = try? Syscalls.readNonBlocking(fd, into: buffer), count > 0 {
            var offset = 0
            while offset + signalfdInfoSize <= count {
                let signal = Int32(bitPattern: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
                offset += signalfdInfoSize
                handlers[signal]?()
            }
        }
    }
}

extension EventLoop {
    /// Calls `handler` on the loop thread each time `signal` arrives (one call per
    /// delivery; the kernel merges repeats of a signal not yet read). The signal must be
    /// blocked on this thread (`SignalMask.blockTerminationSignals()`), or this throws
    /// `ReactorError.signalNotBlocked`. A second handler for a signal replaces the first.
    public func onSignal(_ signal: Int32, _ handler: @escaping () -> Void) throws {
        assertOnLoopThread()
        let dispatcher = signalDispatcher ?? SignalDispatcher(loop: self)
        signalDispatcher = dispatcher
        try dispatcher.setHandler(signal, handler)
    }

    /// Stops handling `signal` through the loop; it stays blocked (and pending, if it comes).
    public func removeSignalHandler(_ signal: Int32) throws {
        assertOnLoopThread()
        try signalDispatcher?.removeHandler(signal)
    }
}
