import SystemPackage

/// What the reactor explains beyond a failed system call (which it throws as the
/// kernel boundary's `SystemError`, unchanged).
public enum ReactorError: Error, Equatable, CustomStringConvertible {
    /// `onSignal` was asked to handle a signal that is not blocked on the loop thread,
    /// so the kernel would deliver it the default way and never to the loop.
    case signalNotBlocked(signal: Int32)
    /// `watchFile` could not watch the directory of `path`.
    case cannotWatch(path: String, errno: Errno)

    public var description: String {
        switch self {
        case let .signalNotBlocked(signal):
            return "signal \(signal) is not blocked on the event-loop thread; call "
                + "SignalMask.blockTerminationSignals() (or block it) at the very start of main, "
                + "before any thread exists"
        case let .cannotWatch(path, errno):
            switch errno {
            case .noSuchFileOrDirectory:
                return "cannot watch \(path): its directory does not exist"
            case .permissionDenied:
                return "cannot watch \(path): no permission to read its directory"
            case .noSpace:
                return "cannot watch \(path): the inotify watch limit is reached "
                    + "(raise /proc/sys/fs/inotify/max_user_watches)"
            default:
                return "cannot watch \(path): \(errno)"
            }
        }
    }
}
