import Glibc
import Kernel

/// A set of signal numbers (a `sigset_t`).
public struct SignalSet: Equatable, @unchecked Sendable, CustomStringConvertible {
    // @unchecked: sigset_t is plain bits, copied by value.
    public var raw: sigset_t

    public init(raw: sigset_t) {
        self.raw = raw
    }

    public init(_ signals: [Int32] = []) {
        raw = sigset_t()
        sigemptyset(&raw)
        for signal in signals { insert(signal) }
    }

    /// No signal: the mask a child process must start with.
    public static var empty: SignalSet { SignalSet() }

    public func contains(_ signal: Int32) -> Bool {
        var copy = raw
        return sigismember(&copy, signal) == 1
    }

    /// Adds `signal`; a number that is no signal is ignored.
    public mutating func insert(_ signal: Int32) {
        sigaddset(&raw, signal)
    }

    public mutating func remove(_ signal: Int32) {
        sigdelset(&raw, signal)
    }

    /// The members, in increasing order.
    public var signals: [Int32] {
        (1...64).filter { contains(Int32($0)) }.map { Int32($0) }
    }

    public static func == (lhs: SignalSet, rhs: SignalSet) -> Bool {
        lhs.signals == rhs.signals
    }

    public var description: String {
        "{" + signals.map(String.init).joined(separator: ", ") + "}"
    }
}

/// The process's signal set-up. Tapir handles signals only through the event loop's
/// signalfd, which sees a signal only while it is blocked in every thread. Hence
/// `blockTerminationSignals()` at the very start of main, before any thread exists
/// (threads inherit the mask of the thread that creates them).
///
/// Children inherit both the blocked mask and ignored dispositions across exec, so a
/// spawned child must have them reset: `prepareChild(_:)` does that on a
/// `posix_spawnattr_t` (POSIX_SPAWN_SETSIGMASK with the empty mask,
/// POSIX_SPAWN_SETSIGDEF for the signals changed here).
public enum SignalMask {
    /// The signals the host handles through the loop: SIGINT and SIGTERM (stop),
    /// SIGHUP (reload), SIGCHLD (a spawned child ended).
    public static let handledSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGCHLD]

    /// What `blockTerminationSignals()` changed, to undo it (`restore`).
    public struct SavedState: Sendable {
        /// The calling thread's mask before blocking.
        public let mask: SignalSet
        /// Whether SIGPIPE was already ignored.
        public let sigpipeWasIgnored: Bool
    }

    /// Blocks `handledSignals` in the calling thread and ignores SIGPIPE (a write to a
    /// closed pipe or socket then fails with EPIPE instead of killing the process).
    /// Call it first thing in main. Returns the state before, for `restore`.
    @discardableResult
    public static func blockTerminationSignals() throws -> SavedState {
        let previous = try Syscalls.threadSignalMask(how: SIG_BLOCK, SignalSet(handledSignals).raw)
        let wasIgnored = Syscalls.setSignalIgnored(SIGPIPE, true)
        return SavedState(mask: SignalSet(raw: previous), sigpipeWasIgnored: wasIgnored)
    }

    /// Puts back what `blockTerminationSignals()` changed. A signal that arrived while
    /// blocked and was not read through the loop is delivered the default way now.
    public static func restore(_ state: SavedState) throws {
        _ = try Syscalls.threadSignalMask(how: SIG_SETMASK, state.mask.raw)
        Syscalls.setSignalIgnored(SIGPIPE, state.sigpipeWasIgnored)
    }

    /// The calling thread's blocked signals.
    public static func current() throws -> SignalSet {
        SignalSet(raw: try Syscalls.threadSignalMask(how: SIG_BLOCK, nil))
    }

    /// Makes a child spawned with `attributes` start with no signal blocked and with
    /// SIGPIPE and `handledSignals` at their default actions. Keeps the other flags
    /// already set on `attributes`.
    public static func prepareChild(_ attributes: inout posix_spawnattr_t) throws {
        var defaults = SignalSet(handledSignals)
        defaults.insert(SIGPIPE)
        try Syscalls.spawnResetSignals(&attributes, mask: SignalSet.empty.raw, defaults: defaults.raw)
    }
}
