/// A function registered with `tapir.on`, with its selector and counters.
/// Lives on the loop thread with its LuaState.
public final class Handler {
    public let id: Int64
    public let selector: HandlerSelector
    /// Where the function was written, "file:line".
    public let definedAt: String
    /// The function's registry reference in its state.
    let functionReference: Int32

    /// Times called, times it failed, and time spent in it (failures included).
    public internal(set) var calls = 0
    public internal(set) var errors = 0
    /// Time in the handler, in `TickClock` ticks (read per call, turned into time when asked).
    var ticksSpent: UInt64 = 0
    /// The longest single call, in ticks (a garbage-collection step shows here).
    var longestCallTicks: UInt64 = 0
    public var longestCall: Duration { TickClock.duration(ofTicks: longestCallTicks) }
    public var timeSpent: Duration { TickClock.duration(ofTicks: ticksSpent) }
    /// False once removed with off(); its function reference is released then.
    public internal(set) var isRegistered = true

    var errorLog: ErrorLogLimiter

    init(id: Int64, selector: HandlerSelector, definedAt: String, functionReference: Int32,
         errorLogInterval: Duration) {
        self.id = id
        self.selector = selector
        self.definedAt = definedAt
        self.functionReference = functionReference
        self.errorLog = ErrorLogLimiter(interval: errorLogInterval)
    }
}

/// What came of calling a handler.
public enum HandlerOutcome: Equatable {
    /// It returned true: later handlers don't see the packet.
    case claimed
    /// It returned anything else.
    case declined
    /// It raised, ran past its budget or the memory cap; counted and logged.
    case failed(LuaError)
}
