import Kernel

/// Runs a callback on a loop's thread when another thread asks: `notify()` writes the
/// notifier's eventfd, and the loop, on its next turn, calls the callback once for
/// however many notifies came since the last call. Made by `EventLoop.makeNotifier`;
/// safe to keep and call after the loop is gone (it then does nothing). How the threads
/// of a multi-queue run tell each other's loops to reload or stop.
public struct EventLoopNotifier: Sendable {
    let channel: WakeupChannel

    public func notify() {
        channel.signal()
    }
}

extension EventLoop {
    /// A notifier that calls `callback` on this loop's thread. Each call makes a new one
    /// (an eventfd of its own), registered until the loop is closed.
    public func makeNotifier(_ callback: @escaping () -> Void) throws -> EventLoopNotifier {
        assertOnLoopThread()
        let channel = try WakeupChannel()
        try registerOwned(channel.fd) { [unowned self] _ in
            _ = try? Syscalls.readNonBlocking(channel.fd, into: self.scratchBuffer)
            callback()
        }
        notifierChannels.append(channel)
        return EventLoopNotifier(channel: channel)
    }
}
