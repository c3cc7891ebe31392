import CKernel
import Glibc
import SystemPackage

/// The one place Tapir talks to the kernel (besides the tun/tap ioctls of `CTunTap`, which
/// `Devices` makes through its `DeviceIO`, and libpcap's and libedit's own calls). Every
/// call here turns a failure's errno into a `SystemError` naming the call, and traps on
/// the errnos that mean a bug in the caller (`Errno.isProgrammingError`); nothing outside
/// this target reads `errno`. EINTR is retried here, EAGAIN on non-blocking reads comes
/// back as `nil`. This file: the event loop's calls (epoll, timerfd, signalfd, inotify,
/// eventfd, signal masks); `Descriptors.swift`, `Processes.swift` and `Credentials.swift`
/// hold the rest.
public enum Syscalls {
    // MARK: epoll

    public static func epollCreate() throws(SystemError) -> Int32 {
        try check("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
    }

    public static func epollAdd(_ epoll: Int32, fd: Int32, events: UInt32, data: UInt64) throws(SystemError) {
        try epollControl(epoll, EPOLL_CTL_ADD, fd: fd, events: events, data: data, name: "epoll_ctl(ADD)")
    }

    /// Stops watching `fd`. An fd already closed (EBADF) or never added (ENOENT) is not
    /// watched any more either way, so neither is reported: the event loop's `deregister`
    /// allows an fd closed first.
    public static func epollRemove(_ epoll: Int32, fd: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(epoll, EPOLL_CTL_DEL, fd, &event)
    }

    private static func epollControl(
        _ epoll: Int32, _ operation: Int32, fd: Int32, events: UInt32, data: UInt64, name: String
    ) throws(SystemError) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = data
        _ = try check("\(name) of fd \(fd)") { epoll_ctl(epoll, operation, fd, &event) }
    }

    /// Waits for events, forever when `timeoutMilliseconds` is -1. An interrupted wait
    /// returns 0 events.
    public static func epollWait(
        _ epoll: Int32, into events: UnsafeMutablePointer<epoll_event>, capacity: Int32,
        timeoutMilliseconds: Int32
    ) throws(SystemError) -> Int {
        let count = epoll_wait(epoll, events, capacity, timeoutMilliseconds)
        if count >= 0 { return Int(count) }
        let code = errno
        if code == EINTR { return 0 }
        throw SystemError(operation: "epoll_wait", errno: Errno(rawValue: code))
    }

    // MARK: timerfd (CLOCK_MONOTONIC)

    public static func timerCreate() throws(SystemError) -> Int32 {
        try check("timerfd_create") {
            timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK) | Int32(TFD_CLOEXEC))
        }
    }

    /// Arms `timer` to fire once at the absolute monotonic time `deadline` (nanoseconds),
    /// or disarms it when `deadline` is nil.
    public static func timerArm(_ timer: Int32, at deadline: UInt64?) throws(SystemError) {
        var spec = itimerspec()
        if let deadline {
            // An all-zero it_value would disarm; a deadline in the past fires at once.
            let clamped = max(deadline, 1)
            spec.it_value.tv_sec = Int(clamped / 1_000_000_000)
            spec.it_value.tv_nsec = Int(clamped % 1_000_000_000)
        }
        _ = try check("timerfd_settime") {
            timerfd_settime(timer, Int32(TFD_TIMER_ABSTIME), &spec, nil)
        }
    }

    /// Nanoseconds on CLOCK_MONOTONIC. Cannot fail for this clock on Linux.
    public static func monotonicNow() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    // MARK: signals

    /// The size of one record a signalfd reads (struct signalfd_siginfo); its first field
    /// is the signal number (ssi_signo, 32 bits).
    public static let signalfdRecordSize = MemoryLayout<signalfd_siginfo>.size

    /// Creates a signalfd for `signals` (pass `existing` -1), or changes the set of an
    /// existing one.
    public static func signalfd(existing: Int32, signals: sigset_t) throws(SystemError) -> Int32 {
        var set = signals
        return try check("signalfd") { CKernel.signalfd(existing, &set, O_NONBLOCK | O_CLOEXEC) }
    }

    /// Changes the calling thread's signal mask and returns the mask it had before.
    /// `how` is SIG_BLOCK, SIG_UNBLOCK or SIG_SETMASK; a nil `set` only reads the mask.
    public static func threadSignalMask(how: Int32, _ set: sigset_t?) throws(SystemError) -> sigset_t {
        var previous = sigset_t()
        let result: Int32
        if var set {
            result = pthread_sigmask(how, &set, &previous)
        } else {
            result = pthread_sigmask(how, nil, &previous)
        }
        // pthread_sigmask returns the error number instead of setting errno.
        if result != 0 {
            throw SystemError(operation: "pthread_sigmask", errno: Errno(rawValue: result))
        }
        return previous
    }

    /// Sets a signal's disposition to ignored (true) or default (false); returns whether
    /// it was ignored before.
    @discardableResult
    public static func setSignalIgnored(_ signal: Int32, _ ignored: Bool) -> Bool {
        let previous = Glibc.signal(signal, ignored ? SIG_IGN : SIG_DFL)
        guard let previous else { return false }
        return unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    }

    // MARK: inotify

    public static func inotifyCreate() throws(SystemError) -> Int32 {
        try check("inotify_init1") { inotify_init1(Int32(IN_NONBLOCK) | Int32(IN_CLOEXEC)) }
    }

    /// Watches `directory` for `mask` (added to what is already watched there); returns
    /// the watch descriptor, the same one for the same directory.
    public static func inotifyAddWatch(_ inotify: Int32, directory: String, mask: UInt32) throws(SystemError) -> Int32 {
        try check("inotify_add_watch \(directory)") { inotify_add_watch(inotify, directory, mask) }
    }

    /// Ends a watch; a watch the kernel already dropped (directory removed) is no error.
    public static func inotifyRemoveWatch(_ inotify: Int32, _ watch: Int32) {
        _ = inotify_rm_watch(inotify, watch)
    }

    // MARK: eventfd

    public static func eventCreate() throws(SystemError) -> Int32 {
        try check("eventfd") { eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC)) }
    }

    /// Adds one to an eventfd's counter. Cannot block (the counter would have to reach
    /// 2^64 - 1) and cannot fail on a valid eventfd, so nothing is reported.
    public static func eventSignal(_ fd: Int32) {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(fd, $0.baseAddress, 8) }
    }

    // MARK: helpers

    /// Runs `call` until it is not interrupted; a negative result throws with errno.
    static func check(_ operation: @autoclosure () -> String, _ call: () -> Int32) throws(SystemError) -> Int32 {
        while true {
            let result = call()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw SystemError(operation: operation(), errno: Errno(rawValue: code))
        }
    }

    /// For the calls that return the error number instead of setting errno
    /// (posix_spawn and its attribute functions, pthread_*).
    static func checkReturned(_ operation: @autoclosure () -> String, _ result: Int32) throws(SystemError) {
        if result != 0 { throw SystemError(operation: operation(), errno: Errno(rawValue: result)) }
    }
}
