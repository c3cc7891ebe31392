import CKernel
import Glibc
import Kernel
import SystemPackage

/// A single-threaded epoll loop: readable fds, timers (one timerfd armed for the
/// earliest deadline), signals (`onSignal`, through a signalfd) and file watches
/// (`watchFile`, through inotify).
///
/// The loop belongs to the thread that created it: every method must be called on
/// that thread (a precondition checks it), which is where `run()` runs and every
/// callback is called. Callbacks may register, deregister, schedule, cancel and
/// `stop()`. The loop never spins: between events it sleeps in `epoll_wait`.
///
/// Fds registered with `register` stay the caller's: the loop never closes them.
/// `close()` (or deinit) closes the loop's own fds and drops every callback. Callbacks
/// usually capture the loop, which keeps it alive: call `close()` when done with it.
public final class EventLoop: TimerScheduler {
    private struct Registration {
        var generation: UInt32
        var callback: (EventSet) -> Void
    }

    private var epoll: Int32
    private var timerFD: Int32 = -1
    private let owner: pthread_t
    private let timers = TimerQueue(clock: MonotonicClock())
    /// The deadline the timerfd is armed for, nil when disarmed.
    private var armedDeadline: UInt64?
    private var registrations: [Int32: Registration] = [:]
    private var nextGeneration: UInt32 = 1
    private let eventCapacity: Int32 = 256
    private let events: UnsafeMutablePointer<epoll_event>
    /// Where 8-byte counters (timerfd, eventfd) are read to, and dropped.
    let scratchBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
    private var stopRequested = false
    private var isClosed = false

    /// Whether `run()` is under way.
    public private(set) var isRunning = false

    // Owned by their extensions; created on first use.
    var signalDispatcher: SignalDispatcher?
    var fileWatcher: FileWatcher?
    var wakeupChannel: WakeupChannel?
    /// The eventfds of `makeNotifier`, kept open while the loop is.
    var notifierChannels: [WakeupChannel] = []

    public init() throws {
        owner = pthread_self()
        epoll = try Syscalls.epollCreate()
        events = .allocate(capacity: Int(eventCapacity))
        do {
            timerFD = try Syscalls.timerCreate()
            try registerOwned(timerFD) { [unowned self] _ in self.timerFired() }
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
        events.deallocate()
        scratchBuffer.deallocate()
    }

    /// True on the thread that created the loop.
    public var isOnLoopThread: Bool {
        pthread_equal(owner, pthread_self()) != 0
    }

    func assertOnLoopThread(_ function: StaticString = #function) {
        precondition(isOnLoopThread, "EventLoop.\(function) called off the loop's thread")
    }

    // MARK: fds

    /// Calls `callback` on the loop thread whenever `fd` is readable or reports an error
    /// or hangup (level-triggered). Registering an fd again replaces its callback.
    public func register(_ fd: FileDescriptor, _ callback: @escaping (EventSet) -> Void) throws {
        assertOnLoopThread()
        try registerOwned(fd.rawValue, callback)
    }

    /// Stops watching `fd`; returns false when it was not registered. Deregister before
    /// closing an fd: the kernel forgets a closed fd, but the loop would keep its callback.
    @discardableResult
    public func deregister(_ fd: FileDescriptor) -> Bool {
        assertOnLoopThread()
        return deregisterOwned(fd.rawValue)
    }

    func registerOwned(_ fd: Int32, _ callback: @escaping (EventSet) -> Void) throws {
        if registrations[fd] != nil { _ = deregisterOwned(fd) }
        let generation = nextGeneration
        nextGeneration &+= 1
        if nextGeneration == 0 { nextGeneration = 1 }
        // The generation in the event data lets a turn skip events for an fd that a
        // callback earlier in the same turn deregistered (and maybe registered anew).
        let data = UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
        try Syscalls.epollAdd(epoll, fd: fd, events: EventSet.interest.rawValue, data: data)
        registrations[fd] = Registration(generation: generation, callback: callback)
    }

    func deregisterOwned(_ fd: Int32) -> Bool {
        guard registrations.removeValue(forKey: fd) != nil else { return false }
        Syscalls.epollRemove(epoll, fd: fd)
        return true
    }

    // MARK: running

    /// Runs until `stop()` is called (by a callback, typically). Returns after the turn
    /// in which `stop()` was called has finished its callbacks. Throws only when epoll
    /// or the timerfd fails, which means the loop cannot go on.
    public func run() throws {
        assertOnLoopThread()
        precondition(!isRunning, "EventLoop.run() called from inside run()")
        isRunning = true
        stopRequested = false
        defer { isRunning = false }
        while !stopRequested {
            try armTimer()
            let count = try Syscalls.epollWait(
                epoll, into: events, capacity: eventCapacity, timeoutMilliseconds: -1)
            for index in 0..<count {
                dispatch(events[index])
            }
        }
    }

    /// Makes `run()` return at the end of the current turn. Before `run()`, it does
    /// nothing: `run()` starts afresh.
    public func stop() {
        assertOnLoopThread()
        stopRequested = true
    }

    /// Closes the loop's own fds and drops every callback and timer. The loop cannot be
    /// used afterwards. Called by deinit.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        // Only fds and stored callbacks are touched here: close() also runs from deinit,
        // where the helpers must not call back into the loop.
        fileWatcher?.closeDescriptor()
        fileWatcher = nil
        signalDispatcher?.closeDescriptor()
        signalDispatcher = nil
        wakeupChannel = nil  // its fd closes with the last stopper
        notifierChannels.removeAll()  // and theirs with the last notifier
        registrations.removeAll()
        timers.cancelAll()  // their callbacks may hold the loop
        if timerFD >= 0 { Syscalls.close(timerFD) }
        if epoll >= 0 { Syscalls.close(epoll) }
        timerFD = -1
        epoll = -1
    }

    private func dispatch(_ event: epoll_event) {
        let data = event.data.u64
        let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: data))
        let generation = UInt32(truncatingIfNeeded: data >> 32)
        guard let registration = registrations[fd], registration.generation == generation else {
            return
        }
        registration.callback(EventSet(rawValue: event.events).intersection(.known))
    }

    // MARK: timers

    /// The loop's clock (CLOCK_MONOTONIC), the one deadlines are on.
    public var now: TimerInstant { timers.clock.now }

    /// Pending timers.
    public var timerCount: Int { timers.count }

    @discardableResult
    public func schedule(at deadline: TimerInstant, repeating interval: Duration? = nil,
                         _ callback: @escaping () -> Void) -> TimerID {
        assertOnLoopThread()
        return timers.schedule(at: deadline, repeating: interval, callback)
    }

    @discardableResult
    public func schedule(after delay: Duration, repeating interval: Duration? = nil,
                         _ callback: @escaping () -> Void) -> TimerID {
        assertOnLoopThread()
        return timers.schedule(after: delay, repeating: interval, callback)
    }

    @discardableResult
    public func cancel(_ timer: TimerID) -> Bool {
        assertOnLoopThread()
        return timers.cancel(timer)
    }

    /// Points the timerfd at the earliest deadline (one syscall, only when it changed).
    private func armTimer() throws {
        let next = timers.nextDeadline?.nanoseconds
        guard next != armedDeadline else { return }
        try Syscalls.timerArm(timerFD, at: next)
        armedDeadline = next
    }

    private func timerFired() {
        // Drain the expiry count so the fd stops being readable; the timerfd is now
        // disarmed until armTimer points it at the next deadline.
        _ = try? Syscalls.readNonBlocking(timerFD, into: scratchBuffer)
        armedDeadline = nil
        timers.fireDue()
    }
}
