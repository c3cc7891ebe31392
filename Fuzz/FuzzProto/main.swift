// Fuzz target: one codec of lua/tapir/proto (TAPIR_FUZZ_MODULE: tapir.proto.dns, ...), in a
// pack's sandbox (an untrusted Lua state). Each input goes to the module's decode; what it
// reads must encode, and that encoding must decode to the same table (the round trip is
// stable: equal tables, but for the fields the codec lists in DECODE_ONLY, and strings in
// another case when it says CASE_BLIND). A finding is any Lua error on the way (decode raising instead of answering
// nil and why, encode refusing decode's own table, a table that changed), a decode stop by
// the instruction budget or the memory cap (an input that makes it loop or grow), a trap,
// a hang (-timeout) or memory growth (-rss_limit_mb). For tapir.proto.dns, whose C core
// (Sources/CLua/clua_dns.c) runs here, also any input where the core and the module's Lua
// code give different results (tapir.testing.dns_paths: the decode, the encode of what it
// read, and encodes of tables with fields changed from it).
//
// libFuzzer sees the module's Lua lines too (LuaCoverage, as FuzzPack does): inputs reaching
// new branches of the decoder are kept. At exit it prints how many lines of the module ran.
import CLua
import Foundation
import FuzzDriver
import LuaCoverage
import LuaHost

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fuzz-proto: \(message)\n".utf8))
    exit(2)
}

let module = ProcessInfo.processInfo.environment["TAPIR_FUZZ_MODULE"] ?? ""
guard module.range(of: #"^tapir\.proto\.[a-z_0-9]+$"#, options: .regularExpression) != nil else {
    fail("set TAPIR_FUZZ_MODULE to a codec's module name (tapir.proto.ntp)")
}
// lua/ of this checkout (or $TAPIR_LUA_DIR), where require finds the module.
let luaDirectory = ProcessInfo.processInfo.environment["TAPIR_LUA_DIR"]
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("lua").path
let moduleFile = luaDirectory + "/" + module.replacingOccurrences(of: ".", with: "/") + ".lua"
guard FileManager.default.fileExists(atPath: moduleFile) else { fail("no \(moduleFile)") }

clua_set_line_observer(lua_coverage_line)  // before the state is made
lua_coverage_set_feedback(ProcessInfo.processInfo.environment["TAPIR_FUZZ_LUA_COVERAGE"] != "0" ? 1 : 0)

let state: LuaState
let check: LuaReference
do {
    state = try LuaState(options: .init(memoryCap: 64 << 20, instructionBudget: 10_000_000, trusted: false,
                                        moduleDirectories: [luaDirectory]),
                         log: { _, _ in })
    check = try state.evaluate("""
        local codec = require("\(module)")
        -- tapir.proto.dns has a C core (NATIVE): it and the module's Lua code must give the
        -- same tables, bytes and reasons, for the input and for tables changed from it.
        local paths, pure
        if codec.NATIVE and "\(module)" == "tapir.proto.dns" then
          paths = require "tapir.testing.dns_paths"
          pure = paths.pure()
        end
        -- Equal plain data, or an error naming the first place where they differ.
        local function same(a, b, path)
          if type(a) ~= "table" or type(b) ~= "table" then
            if a ~= b and not (a ~= a and b ~= b)
                and not (codec.CASE_BLIND and type(a) == "string" and type(b) == "string" and a:lower() == b:lower()) then
              error(string.format("round trip changed %s: %q became %q", path, tostring(a), tostring(b)), 0)
            end
            return
          end
          for key, value in pairs(a) do
            if not (path == "message" and (codec.DECODE_ONLY or {})[key]) then same(value, b[key], path .. "." .. tostring(key)) end
          end
          for key, value in pairs(b) do
            if a[key] == nil then error("round trip added " .. path .. "." .. tostring(key), 0) end
          end
        end
        return function(bytes)
          if pure then
            local found = paths.differ(codec, pure, bytes, 20)
            if found then error("the C core and the Lua code differ: " .. found, 0) end
          end
          local first, why = codec.decode(bytes)
          if first == nil then
            if type(why) ~= "string" then error("decode gave nil without saying why", 0) end
            return
          end
          local encoded, problem = codec.encode(first)
          if encoded == nil then error("encode refused what decode gave: " .. tostring(problem), 0) end
          local second, again = codec.decode(encoded)
          if second == nil then error("decode refused what encode gave: " .. tostring(again), 0) end
          same(first, second, "message")
        end
        """, name: "fuzz-proto")
} catch {
    fail("could not load \(module): \(error)")
}

/// The input, handed to Lua as a string of its bytes.
final class Input {
    var bytes = UnsafeRawBufferPointer(start: nil, count: 0)
}
let input = Input()
let push: @convention(c) (OpaquePointer?, UnsafeRawPointer?) -> Void = { lua, context in
    let input = Unmanaged<Input>.fromOpaque(context!).takeUnretainedValue()
    lua_pushlstring(lua, input.bytes.baseAddress?.assumingMemoryBound(to: CChar.self), input.bytes.count)
}

atexit {
    print("fuzz-proto: \(module): \(lua_coverage_lines_reached_in(moduleFile)) lines of the module run")
}

FuzzDriver.run { bytes in
    lua_coverage_begin_input()
    input.bytes = UnsafeRawBufferPointer(rebasing: bytes.prefix(65_535))
    do {
        _ = try state.call(check, with: [.pushed(by: push, with: UnsafeRawPointer(Unmanaged.passUnretained(input).toOpaque()))])
    } catch {
        fatalError("\(module): \(error)")
    }
}
