import ArgumentParser
import Kernel

/// `tapir api --luals [--output FILE]`: the Lua API as LuaLS/EmmyLua annotations, for an
/// editor's completion and type checks (a pack's .luarc.json points at them).
struct APICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "Write the Lua API for editors: LuaLS/EmmyLua annotations (--luals).",
        discussion: "The annotations are made from the names this tapir exposes, so they match it. A pack made by "
            + "'tapir pack new' reads them from its .luals/tapir.lua: tapir api --luals --output .luals/tapir.lua")

    @Flag(name: .long, help: "LuaLS/EmmyLua annotations (---@meta, ---@class, ---@field, ---@param, ---@return).")
    var luals = false

    @Option(name: .long, help: "Write to this file instead of standard output.")
    var output: String?

    func validate() throws {
        guard luals else { throw ValidationError("say which form: --luals") }
    }

    func run() throws {
        let text: String
        do {
            text = try LuaLSAnnotations.generate(luaDirectories: LuaPaths.preludeDirectories)
        } catch {
            throw CleanExit.message("tapir: cannot read the API from the host: \(error)", code: 1)
        }
        guard let output else {
            print(text, terminator: "")
            return
        }
        do {
            try Syscalls.writeFile(output, Array(text.utf8))
        } catch {
            throw CleanExit.message("tapir: cannot write \(output): \(error)", code: 1)
        }
    }
}
