import CLua

// The C callbacks of a LuaState: plain values in, plain values out. They never touch the
// Lua state; CLua raises whatever they refuse.

private func state(_ context: UnsafeMutableRawPointer?) -> LuaState? {
    guard let context else { return nil }
    return Unmanaged<LuaState>.fromOpaque(context).takeUnretainedValue()
}

func luaHostRegisterHandler(
    context: UnsafeMutableRawPointer?, selector: UnsafePointer<CChar>?, selectorLength: Int,
    keys: UnsafePointer<clua_key>?, keyCount: Int32, hasKeys: Int32, functionReference: Int32,
    definedAt: UnsafePointer<CChar>?, error: UnsafeMutablePointer<CChar>?
) -> Int64 {
    guard let state = state(context) else { return -1 }
    let selectorText = String(cString: selector, length: selectorLength) ?? ""
    var parsedKeys: [HandlerKey]?
    if hasKeys != 0 {
        let buffer = UnsafeBufferPointer(start: keys, count: Int(max(keyCount, 0)))
        parsedKeys = buffer.map { key in
            let name = String(cString: key.name, length: key.name_length) ?? ""
            let value: HandlerKey.Value = key.is_string != 0
                ? .string(String(cString: key.string_value, length: key.string_length) ?? "")
                : .integer(Int64(key.integer_value))
            return HandlerKey(field: name, value: value)
        }
    }
    let location = definedAt.map { String(cString: $0) } ?? "?"
    switch state.registerHandler(selector: selectorText, keys: parsedKeys,
                                 functionReference: functionReference, definedAt: location) {
    case .success(let id):
        return id
    case .failure(let refusal):
        if let error {
            let bytes = Array(refusal.message.utf8.prefix(Int(CLUA_ERROR_CAPACITY) - 1))
            for (index, byte) in bytes.enumerated() { error[index] = CChar(bitPattern: byte) }
            error[bytes.count] = 0
        }
        return -Int64(refusal.argument)
    }
}

func luaHostRemoveHandler(context: UnsafeMutableRawPointer?, handlerID: Int64) -> Int32 {
    state(context)?.removeHandler(id: handlerID) ?? LUA_NOREF
}

func luaHostLog(context: UnsafeMutableRawPointer?, level: clua_log_level,
                message: UnsafePointer<CChar>?, length: Int) {
    guard let state = state(context) else { return }
    state.log(LuaLogLevel(level), String(cString: message, length: length) ?? "")
}
