/// RFC 9293 section 3.3.2.
public enum TCPState: String, Sendable, CaseIterable, CustomStringConvertible {
    case closed = "CLOSED"
    case listen = "LISTEN"
    case synSent = "SYN-SENT"
    case synReceived = "SYN-RECEIVED"
    case established = "ESTABLISHED"
    case finWait1 = "FIN-WAIT-1"
    case finWait2 = "FIN-WAIT-2"
    case closeWait = "CLOSE-WAIT"
    case closing = "CLOSING"
    case lastAck = "LAST-ACK"
    case timeWait = "TIME-WAIT"

    public var description: String { rawValue }

    /// States in which the connection has exchanged SYNs both ways.
    var isSynchronized: Bool { self != .closed && self != .listen && self != .synSent && self != .synReceived }
}

/// What happened to a socket or listener since the host last asked (`pollEvents`): the
/// host resumes coroutines waiting on these.
public struct TCPEvents: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Bytes arrived, or the peer's FIN (read then returns 0 at the end).
    public static let readable = TCPEvents(rawValue: 1)
    /// Send buffer space was freed.
    public static let writable = TCPEvents(rawValue: 2)
    /// An active open completed.
    public static let connected = TCPEvents(rawValue: 4)
    /// The connection is over without error (both FINs exchanged and acknowledged, or the
    /// peer's FIN after ours).
    public static let closed = TCPEvents(rawValue: 8)
    /// The peer reset the connection (or refused it: RST to our SYN).
    public static let reset = TCPEvents(rawValue: 16)
    /// Retransmissions went unanswered; the connection is given up.
    public static let timedOut = TCPEvents(rawValue: 32)
    /// A listener has a connection to accept.
    public static let acceptable = TCPEvents(rawValue: 64)

    public var description: String {
        let names = ["readable", "writable", "connected", "closed", "reset", "timedOut", "acceptable"]
        let set = names.indices.filter { rawValue & (1 << $0) != 0 }.map { names[$0] }
        return set.isEmpty ? "none" : set.joined(separator: ",")
    }
}

/// A connection, as the application names it. Stale after the connection is freed (a
/// generation count tells).
public struct TCPSocket: Hashable, Sendable, CustomStringConvertible {
    public let index: Int32
    public let generation: UInt32
    public var description: String { "socket \(index).\(generation)" }
}

/// A listener, as the application names it.
public struct TCPListener: Hashable, Sendable, CustomStringConvertible {
    public let index: Int32
    public let generation: UInt32
    public var description: String { "listener \(index).\(generation)" }
}

public enum TCPEventSource: Hashable, Sendable {
    case socket(TCPSocket)
    case listener(TCPListener)
}

public enum TCPError: Error, Hashable, Sendable, CustomStringConvertible {
    case addressInUse
    case connectionLimit
    case memoryLimit
    case invalidSocket
    case addressFamilyMismatch

    public var description: String {
        switch self {
        case .addressInUse: "address in use"
        case .connectionLimit: "too many connections"
        case .memoryLimit: "buffer memory limit reached"
        case .invalidSocket: "no such socket"
        case .addressFamilyMismatch: "local and remote address families differ"
        }
    }
}

/// Per-connection counters.
public struct TCPConnectionCounters: Hashable, Sendable {
    public var segmentsIn = 0
    public var segmentsOut = 0
    public var bytesIn = 0
    public var bytesOut = 0
    public var retransmittedSegments = 0
    public var timeouts = 0
    public var fastRetransmits = 0
    /// Fast recoveries led by the peer's SACK blocks (RFC 6675), a part of `fastRetransmits`.
    public var sackRecoveries = 0
    /// Tail loss probes sent (RFC 8985 section 7).
    public var tailLossProbes = 0
    /// Retransmissions in a SACK recovery found lost (data sent after them SACKed first).
    public var lostRetransmissions = 0
    public var duplicateACKsIn = 0
    public var outOfOrderSegments = 0
    public var outOfOrderRefused = 0
    public var challengeACKs = 0
    public var pawsDrops = 0
    public var zeroWindowProbes = 0
    public var unacceptableSegments = 0
}

/// Loss repair summed over connections.
public struct TCPLossRepair: Hashable, Sendable {
    /// Fast retransmits, each beginning a fast recovery.
    public var fastRetransmits = 0
    /// The fast recoveries led by the peer's SACK blocks (RFC 6675).
    public var sackRecoveries = 0
    /// Tail loss probes sent (RFC 8985 section 7).
    public var tailLossProbes = 0
    /// Retransmission timeouts.
    public var timeouts = 0

    public init() {}

    mutating func add(_ counters: TCPConnectionCounters) {
        fastRetransmits += counters.fastRetransmits
        sackRecoveries += counters.sackRecoveries
        tailLossProbes += counters.tailLossProbes
        timeouts += counters.timeouts
    }
}

/// Engine-wide counters.
public struct TCPEngineCounters: Hashable, Sendable {
    /// Segments the engine claimed (its listeners' and connections').
    public var segmentsClaimed = 0
    public var badChecksums = 0
    public var resetsSent = 0
    public var synCookiesSent = 0
    public var synCookiesAccepted = 0
    public var synCookiesRejected = 0
    /// SYNs dropped at a limit: connections per listener or in all, buffer memory, or a
    /// full backlog with cookies off.
    public var synsDropped = 0
    public var challengeACKsLimited = 0
    public var controlQueueDrops = 0
    public var connectionsCreated = 0
    public var connectionsFreed = 0
}
