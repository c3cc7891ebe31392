import Devices

/// `tapir pack check`'s lint: luacheck (Debian's lua-check) over a pack's handlers and
/// tests, when it is installed, knowing the globals a pack's sandbox has: Lua 5.4's, `tapir`
/// (handlers set fields of it: tapir.reassemble) and, in tests, `test`. Only the global
/// warnings count (luacheck's 11x: setting, mutating or reading an undefined global), the
/// mistakes that are a nil at run time; style is the pack author's.
enum PackLuacheck {
    /// The options every run gets: the pack's own .luacheckrc is not read, so a check says
    /// the same everywhere.
    static let options = ["--no-config", "--std", "lua54", "--globals", "tapir", "--read-globals", "test",
                          "--only", "11", "--codes", "--no-color", "--formatter", "plain"]

    enum Outcome: Equatable {
        /// luacheck is not installed: nothing was checked.
        case notInstalled
        /// luacheck's warning lines (none: clean).
        case warnings([String])
    }

    /// Handlers as scripts; tests may define their `test_` functions at the top level.
    static func check(handlers: [String], tests: [String]) throws -> Outcome {
        guard let luacheck = ChildProcess.locate("luacheck") else { return .notInstalled }
        var warnings: [String] = []
        for (files, extra) in [(handlers, [String]()), (tests, ["--allow-defined-top"])] where !files.isEmpty {
            let output = try ChildProcess.run([luacheck] + options + extra + files, timeout: .seconds(60))
            // 0: clean, 1: warnings; anything else is luacheck failing (a file it could not read).
            guard output.status == 0 || output.status == 1 else {
                throw PackLuacheckError(text: "luacheck failed (status \(output.status)): \(output.stderr)\(output.stdout)")
            }
            warnings += output.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        }
        return .warnings(warnings)
    }
}

struct PackLuacheckError: Error, CustomStringConvertible {
    let text: String
    var description: String { text }
}
