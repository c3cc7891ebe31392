import Kernel

/// Stops an `EventLoop` from another thread: `stop()` makes the loop's `run()` return at
/// the end of its current turn, waking it if it is waiting. Made by
/// `EventLoop.makeStopper()`; safe to keep after the loop is gone (it then does nothing).
/// A stop sent while the loop is not running ends its next `run()` after one turn, so a
/// stop sent just before `run()` starts is not lost.
public struct EventLoopStopper: Sendable {
    let channel: WakeupChannel

    public func stop() {
        channel.signal()
    }
}

/// An eventfd shared by the loop and its stoppers, closed when the last of them is gone,
/// so a stopper can never write to an fd number that was closed and reused.
final class WakeupChannel: Sendable {
    let fd: Int32

    init() throws {
        fd = try Syscalls.eventCreate()
    }

    deinit {
        Syscalls.close(fd)
    }

    func signal() {
        Syscalls.eventSignal(fd)
    }
}

extension EventLoop {
    /// A handle that stops this loop from any thread.
    public func makeStopper() throws -> EventLoopStopper {
        assertOnLoopThread()
        if let channel = wakeupChannel { return EventLoopStopper(channel: channel) }
        let channel = try WakeupChannel()
        try registerOwned(channel.fd) { [unowned self] _ in
            _ = try? Syscalls.readNonBlocking(channel.fd, into: self.scratchBuffer)
            self.stop()
        }
        wakeupChannel = channel
        return EventLoopStopper(channel: channel)
    }
}
