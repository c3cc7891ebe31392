import CLua

/// Levels of tapir.log.* and of the host's own messages about a state.
public enum LuaLogLevel: Int, Sendable, Comparable, CustomStringConvertible {
    case debug, info, warn, error

    public static func < (lhs: LuaLogLevel, rhs: LuaLogLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .debug: "debug"
        case .info: "info"
        case .warn: "warn"
        case .error: "error"
        }
    }

    init(_ level: clua_log_level) {
        switch level {
        case CLUA_LOG_DEBUG: self = .debug
        case CLUA_LOG_INFO: self = .info
        case CLUA_LOG_WARN: self = .warn
        default: self = .error
        }
    }
}

/// Where a state's log lines go: tapir.log.* from scripts, and handler errors from the host.
public typealias LuaLogSink = (LuaLogLevel, String) -> Void
