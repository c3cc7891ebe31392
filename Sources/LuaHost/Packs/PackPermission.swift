import CLua

/// What a pack may use beyond the sandbox, when its manifest lists it and the user allows
/// it (`--allow io`). package.loadlib, C modules, binary chunks, os.exit and
/// debug.sethook are never granted.
public enum PackPermission: String, CaseIterable, Sendable, Comparable {
    /// The io library, os.remove, os.rename, os.tmpname.
    case io
    /// os.execute.
    case exec
    /// os.getenv.
    case env
    /// The debug library (without sethook).
    case debug

    var bit: UInt32 {
        switch self {
        case .io: CLUA_PERMISSION_IO
        case .exec: CLUA_PERMISSION_EXEC
        case .env: CLUA_PERMISSION_ENV
        case .debug: CLUA_PERMISSION_DEBUG
        }
    }

    public static func < (a: PackPermission, b: PackPermission) -> Bool { a.rawValue < b.rawValue }
}
