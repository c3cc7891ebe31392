import SystemPackage

/// What the console's line editor can fail with.
public enum LineEditorError: Error, Equatable, CustomStringConvertible {
    /// libedit could not take over the terminal.
    case cannotUseTerminal(errno: Errno)
    /// The history file exists but could not be read; the session starts without it.
    case historyUnreadable(path: String, errno: Errno)
    /// The history file could not be written; the lines of this session are not kept.
    case historyUnwritable(path: String, errno: Errno)
    /// `attach` was called on an editor that is attached already.
    case alreadyAttached

    public var description: String {
        switch self {
        case let .cannotUseTerminal(errno):
            return "cannot set up line editing on the terminal: \(errno) "
                + "(check $TERM, or pipe the input to read it without editing)"
        case let .historyUnreadable(path, errno):
            return "cannot read the history file \(path): \(errno)"
        case let .historyUnwritable(path, errno):
            return "cannot write the history file \(path): \(errno)"
        case .alreadyAttached:
            return "the line editor is attached to an event loop already; detach it first"
        }
    }
}
