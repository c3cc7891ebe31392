import CSystem  // swift-system's C module: <sys/epoll.h>, <sys/timerfd.h>, which Glibc's module lacks
import Glibc
import SystemPackage

/// The one place the reactor talks to the kernel. Every call here turns a failure's
/// errno into a `ReactorError`; nothing outside this file reads `errno`.
/// EINTR is retried here, EAGAIN on non-blocking reads comes back as `nil`.
enum Syscalls {
    // MARK: epoll

    static func epollCreate() throws -> Int32 {
        try check("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
    }

    static func epollAdd(_ epoll: Int32, fd: Int32, events: UInt32, data: UInt64) throws {
        try epollControl(epoll, EPOLL_CTL_ADD, fd: fd, events: events, data: data, name: "epoll_ctl(ADD)")
    }

    static func epollRemove(_ epoll: Int32, fd: Int32) throws {
        try epollControl(epoll, EPOLL_CTL_DEL, fd: fd, events: 0, data: 0, name: "epoll_ctl(DEL)")
    }

    private static func epollControl(
        _ epoll: Int32, _ operation: Int32, fd: Int32, events: UInt32, data: UInt64, name: String
    ) throws {
        var event = epoll_event()
        event.events = events
        event.data.u64 = data
        _ = try check("\(name) of fd \(fd)") { epoll_ctl(epoll, operation, fd, &event) }
    }

    /// Waits for events, forever when `timeoutMilliseconds` is -1. An interrupted wait
    /// returns 0 events.
    static func epollWait(
        _ epoll: Int32, into events: UnsafeMutablePointer<epoll_event>, capacity: Int32,
        timeoutMilliseconds: Int32
    ) throws -> Int {
        let count = epoll_wait(epoll, events, capacity, timeoutMilliseconds)
        if count >= 0 { return Int(count) }
        if errno == EINTR { return 0 }
        throw ReactorError.systemCall(operation: "epoll_wait", errno: Errno(rawValue: errno))
    }

    // MARK: timerfd (CLOCK_MONOTONIC)

    static func timerCreate() throws -> Int32 {
        try check("timerfd_create") {
            timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK) | Int32(TFD_CLOEXEC))
        }
    }

    /// Arms `timer` to fire once at the absolute monotonic time `deadline` (nanoseconds),
    /// or disarms it when `deadline` is nil.
    static func timerArm(_ timer: Int32, at deadline: UInt64?) throws {
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
    static func monotonicNow() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    // MARK: signals

    private typealias SignalfdFunction =
        @convention(c) (Int32, UnsafePointer<sigset_t>?, Int32) -> Int32

    /// glibc's signalfd(2), looked up once: <sys/signalfd.h> is in neither Glibc's nor
    /// swift-system's module map.
    private static let signalfdFunction: SignalfdFunction? = {
        guard let symbol = dlsym(nil, "signalfd") else { return nil }
        return unsafeBitCast(symbol, to: SignalfdFunction.self)
    }()

    /// Creates a signalfd for `signals` (pass `existing` -1), or changes the set of an
    /// existing one.
    static func signalfd(existing: Int32, signals: sigset_t) throws -> Int32 {
        guard let function = signalfdFunction else {
            throw ReactorError.systemCall(operation: "signalfd (not found in libc)", errno: .noFunction)
        }
        var set = signals
        return try check("signalfd") { function(existing, &set, O_NONBLOCK | O_CLOEXEC) }
    }

    /// Changes the calling thread's signal mask and returns the mask it had before.
    /// `how` is SIG_BLOCK, SIG_UNBLOCK or SIG_SETMASK; a nil `set` only reads the mask.
    static func threadSignalMask(how: Int32, _ set: sigset_t?) throws -> sigset_t {
        var previous = sigset_t()
        let result: Int32
        if var set {
            result = pthread_sigmask(how, &set, &previous)
        } else {
            result = pthread_sigmask(how, nil, &previous)
        }
        // pthread_sigmask returns the error number instead of setting errno.
        if result != 0 {
            throw ReactorError.systemCall(operation: "pthread_sigmask", errno: Errno(rawValue: result))
        }
        return previous
    }

    /// Sets a signal's disposition to ignored (true) or default (false); returns whether
    /// it was ignored before.
    @discardableResult
    static func setSignalIgnored(_ signal: Int32, _ ignored: Bool) -> Bool {
        let previous = Glibc.signal(signal, ignored ? SIG_IGN : SIG_DFL)
        guard let previous else { return false }
        return unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    }

    // MARK: inotify

    static func inotifyCreate() throws -> Int32 {
        try check("inotify_init1") { inotify_init1(Int32(IN_NONBLOCK) | Int32(IN_CLOEXEC)) }
    }

    /// Watches `directory` for `mask` (added to what is already watched there); returns
    /// the watch descriptor, the same one for the same directory.
    static func inotifyAddWatch(_ inotify: Int32, directory: String, mask: UInt32) throws -> Int32 {
        let watch = inotify_add_watch(inotify, directory, mask)
        if watch >= 0 { return watch }
        throw ReactorError.cannotWatch(path: directory, errno: Errno(rawValue: errno))
    }

    /// Ends a watch; a watch the kernel already dropped (directory removed) is no error.
    static func inotifyRemoveWatch(_ inotify: Int32, _ watch: Int32) {
        _ = inotify_rm_watch(inotify, watch)
    }

    // MARK: plain fds

    /// Reads what is there into `buffer`; nil when nothing is (EAGAIN).
    static func readNonBlocking(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            switch errno {
            case EINTR: continue
            case EAGAIN: return nil
            default:
                throw ReactorError.systemCall(operation: "read of fd \(fd)", errno: Errno(rawValue: errno))
            }
        }
    }

    /// Closes an fd the reactor owns. Linux frees the fd even when close reports an
    /// error, so there is nothing to retry or report.
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    // MARK: helpers

    fileprivate static func check(_ operation: @autoclosure () -> String, _ call: () -> Int32) throws -> Int32 {
        while true {
            let result = call()
            if result >= 0 { return result }
            if errno == EINTR { continue }
            throw ReactorError.systemCall(operation: operation(), errno: Errno(rawValue: errno))
        }
    }
}

extension Syscalls {
    /// Sets a spawn's signal mask and the signals reset to default, adding
    /// POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF to its flags.
    static func spawnResetSignals(
        _ attributes: inout posix_spawnattr_t, mask: sigset_t, defaults: sigset_t
    ) throws {
        // The posix_spawnattr_* functions return the error number instead of setting errno.
        func check(_ operation: String, _ result: Int32) throws {
            if result != 0 {
                throw ReactorError.systemCall(operation: operation, errno: Errno(rawValue: result))
            }
        }
        var mask = mask
        var defaults = defaults
        var flags: Int16 = 0
        try check("posix_spawnattr_getflags", posix_spawnattr_getflags(&attributes, &flags))
        flags |= Int16(POSIX_SPAWN_SETSIGMASK) | Int16(POSIX_SPAWN_SETSIGDEF)
        try check("posix_spawnattr_setflags", posix_spawnattr_setflags(&attributes, flags))
        try check("posix_spawnattr_setsigmask", posix_spawnattr_setsigmask(&attributes, &mask))
        try check("posix_spawnattr_setsigdefault", posix_spawnattr_setsigdefault(&attributes, &defaults))
    }
}

extension Syscalls {
    /// Whether something exists at `path` (used only to re-check files after lost events).
    static func fileExists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }
}

extension Syscalls {
    static func eventCreate() throws -> Int32 {
        try check("eventfd") { eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC)) }
    }

    /// Adds one to an eventfd's counter. Cannot block (the counter would have to reach
    /// 2^64 - 1) and cannot fail on a valid eventfd, so nothing is reported.
    static func eventSignal(_ fd: Int32) {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(fd, $0.baseAddress, 8) }
    }
}
