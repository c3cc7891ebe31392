import CLua

/// A value kept in a state's registry (a function or table made by Lua, held by the host).
public struct LuaReference: Hashable, Sendable {
    public let rawValue: Int32
}

/// A value Swift passes to a Lua function. Pushed inside the protected call, in C.
public enum LuaArgument {
    case `nil`
    case boolean(Bool)
    case integer(Int64)
    case number(Double)
    /// Bytes, copied into a Lua string.
    case string(String)
    case lightUserdata(UnsafeRawPointer?)
    case reference(LuaReference)
    /// Plain data, pushed by C from its encoded form (a table of settings).
    case encoded(EncodedValue)
    /// A C function that pushes one value (the packet object will be one).
    case pushed(by: @convention(c) (OpaquePointer?, UnsafeRawPointer?) -> Void, with: UnsafeRawPointer?)
}

extension LuaArgument {
    /// Runs body with this one argument as a C value, without allocating (the per-packet path).
    func withCArgument<R>(_ body: (UnsafePointer<clua_argument>) -> R) -> R {
        var argument = clua_argument()
        switch self {
        case .nil:
            argument.kind = CLUA_ARGUMENT_NIL
        case .boolean(let value):
            argument.kind = CLUA_ARGUMENT_BOOLEAN
            argument.integer = value ? 1 : 0
        case .integer(let value):
            argument.kind = CLUA_ARGUMENT_INTEGER
            argument.integer = lua_Integer(value)
        case .number(let value):
            argument.kind = CLUA_ARGUMENT_NUMBER
            argument.number = value
        case .string(let value):
            var bytes = value
            return bytes.withUTF8 { buffer in
                argument.kind = CLUA_ARGUMENT_STRING
                argument.pointer = UnsafeRawPointer(buffer.baseAddress)
                argument.length = buffer.count
                return withUnsafePointer(to: argument, body)
            }
        case .encoded(let value):
            return value.encoded.withUnsafeBufferPointer { buffer in
                argument.kind = CLUA_ARGUMENT_ENCODED
                argument.pointer = UnsafeRawPointer(buffer.baseAddress)
                argument.length = buffer.count
                return withUnsafePointer(to: argument, body)
            }
        case .lightUserdata(let pointer):
            argument.kind = CLUA_ARGUMENT_LIGHT_USERDATA
            argument.pointer = pointer
        case .reference(let reference):
            argument.kind = CLUA_ARGUMENT_REFERENCE
            argument.integer = lua_Integer(reference.rawValue)
        case .pushed(let pusher, let pointer):
            argument.kind = CLUA_ARGUMENT_PUSHER
            argument.pusher = pusher
            argument.pointer = pointer
        }
        return withUnsafePointer(to: argument, body)
    }

    /// Runs body with these arguments as C values; string bytes stay valid during body.
    static func withCArguments<R>(_ arguments: [LuaArgument],
                                  _ body: (UnsafeBufferPointer<clua_argument>) -> R) -> R {
        var converted: [clua_argument] = []
        converted.reserveCapacity(arguments.count)
        return convert(arguments[...], into: &converted, body)
    }

    private static func convert<R>(_ remaining: ArraySlice<LuaArgument>, into converted: inout [clua_argument],
                                   _ body: (UnsafeBufferPointer<clua_argument>) -> R) -> R {
        guard let first = remaining.first else {
            return converted.withUnsafeBufferPointer(body)
        }
        return first.withCArgument { argument in
            converted.append(argument.pointee)
            return convert(remaining.dropFirst(), into: &converted, body)
        }
    }
}
