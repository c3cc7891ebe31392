import CLua

/// An error from Lua, as plain values: what Swift sees instead of a Lua error unwinding.
public struct LuaError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The chunk did not compile.
        case syntax
        /// The file could not be read.
        case file
        /// An error raised while running (including errors in error handling).
        case runtime
        /// The call ran past its instruction budget.
        case budget
        /// The state reached its memory cap (or the machine ran out).
        case memory
    }

    public var kind: Kind
    /// The message as Lua gives it, usually starting with "file:line:".
    public var message: String
    /// "file:line" where the error was raised, when the message says.
    public var location: String?
    /// "stack traceback:\n..." for runtime errors.
    public var traceback: String?

    public init(kind: Kind, message: String, location: String? = nil, traceback: String? = nil) {
        self.kind = kind
        self.message = message
        self.location = location ?? LuaError.location(in: message)
        self.traceback = traceback
    }

    public var description: String {
        guard let traceback, !traceback.isEmpty else { return message }
        return message + "\n" + traceback
    }

    /// The leading "chunk:line" of a Lua error message, if it has one.
    static func location(in message: String) -> String? {
        let bytes = Array(message.utf8.prefix(1024))
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: ":") {
                var end = index + 1
                while end < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[end]) {
                    end += 1
                }
                if end > index + 1, end < bytes.count, bytes[end] == UInt8(ascii: ":"), index > 0 {
                    return String(decoding: bytes[0..<end], as: UTF8.self)
                }
            }
            if bytes[index] == UInt8(ascii: "\n") { return nil }
            index += 1
        }
        return nil
    }
}

extension LuaError {
    /// Reads the error a failed clua_* call left in `result` (call before releasing it).
    init(result: clua_result, memoryCap: Int) {
        let message = String(cString: result.message, length: result.message_length)
            ?? "unknown Lua error"
        let traceback = String(cString: result.traceback, length: result.traceback_length)
        let kind: Kind
        if result.budget_exceeded != 0 {
            kind = .budget
        } else {
            switch result.status {
            case LUA_ERRSYNTAX: kind = .syntax
            case LUA_ERRFILE: kind = .file
            case LUA_ERRMEM: kind = .memory
            default: kind = .runtime
            }
        }
        let shown = kind == .memory && memoryCap > 0
            ? "\(message) (the state's memory cap of \(memoryCap) bytes is reached)"
            : message
        self.init(kind: kind, message: shown, location: LuaError.location(in: message),
                  traceback: traceback)
    }
}

extension String {
    /// A string from bytes that may contain anything (Lua strings are byte strings).
    init?(cString pointer: UnsafePointer<CChar>?, length: Int) {
        guard let pointer else { return nil }
        self = String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    }
}
