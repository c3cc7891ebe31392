import CKernel

/// What epoll reported for a registered fd. `error` and `hangup` come whether asked for
/// or not; a callback that sees them should read what is left and deregister the fd,
/// since the loop is level-triggered and will report them again on every turn.
public struct EventSet: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// There is data to read (EPOLLIN).
    public static let readable = EventSet(rawValue: EPOLLIN.rawValue)
    /// The fd has an error pending (EPOLLERR).
    public static let error = EventSet(rawValue: EPOLLERR.rawValue)
    /// The other end is gone: a pipe's write end closed, a device removed (EPOLLHUP).
    public static let hangup = EventSet(rawValue: EPOLLHUP.rawValue)
    /// A stream socket's peer shut down its writing half (EPOLLRDHUP).
    public static let peerClosed = EventSet(rawValue: EPOLLRDHUP.rawValue)

    /// The bits the loop asks epoll for; the rest of a reported mask is dropped.
    static let interest: EventSet = [.readable, .peerClosed]
    static let known: EventSet = [.readable, .error, .hangup, .peerClosed]

    public var description: String {
        var names: [String] = []
        if contains(.readable) { names.append("readable") }
        if contains(.error) { names.append("error") }
        if contains(.hangup) { names.append("hangup") }
        if contains(.peerClosed) { names.append("peerClosed") }
        return "[" + names.joined(separator: ", ") + "]"
    }
}
