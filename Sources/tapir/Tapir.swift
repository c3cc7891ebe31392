import ArgumentParser
import LuaHost

struct Tapir: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A tun/tap packet host that runs protocol handlers written in Lua.",
        version: TapirVersion.text,
        subcommands: [Run.self, Replay.self, Console.self, TestCommand.self, PackCommand.self,
                      SandboxKeeperCommand.self, APICommand.self])
}
