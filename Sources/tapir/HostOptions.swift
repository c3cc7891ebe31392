import ArgumentParser
import Foundation
import LuaHost
import Logging

/// Options every command that runs scripts shares.
struct HostOptions: ParsableArguments {
    @Option(name: .long, help: "VM instructions a handler call may run before it is stopped.")
    var budget: Int = 10_000_000

    @Option(name: .long, help: "MiB of memory each script's Lua state may hold.")
    var memory: Int = 64

    @Option(name: .long, help: "Log level: debug, info, warning, error.")
    var logLevel: String = "info"

    func validate() throws {
        guard budget >= 0 else { throw ValidationError("--budget must not be negative") }
        guard memory > 0 else { throw ValidationError("--memory must be at least 1 MiB") }
        guard Logger.Level(rawValue: logLevel == "warn" ? "warning" : logLevel) != nil else {
            throw ValidationError("--log-level must be one of debug, info, warning, error")
        }
    }

    var level: Logger.Level { Logger.Level(rawValue: logLevel == "warn" ? "warning" : logLevel) ?? .info }

    func hostOptions() -> TapirHost.Options {
        var options = TapirHost.Options()
        options.instructionBudget = budget
        options.memoryCap = memory << 20
        options.moduleDirectories = LuaPaths.preludeDirectories
        return options
    }

    func makeLogger() -> Logger {
        let level = self.level
        LoggingSystem.bootstrap { label in
            var handler = TerseLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "tapir")
    }
}

/// Where the Lua prelude (`lua/`, holding tapir/pair.lua and the packs) is: $TAPIR_LUA_DIR,
/// or found from the executable: an install's share/tapir/lua, or a checkout's lua/.
enum LuaPaths {
    static var preludeDirectories: [String] {
        if let directory = ProcessInfo.processInfo.environment["TAPIR_LUA_DIR"], !directory.isEmpty {
            return [directory]
        }
        return luaDirectory.map { [$0] } ?? []
    }

    static var luaDirectory: String? {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        for _ in 0..<6 {
            for candidate in ["share/tapir/lua", "lua"] {
                let path = directory.appendingPathComponent(candidate).path
                if FileManager.default.fileExists(atPath: path + "/tapir/pair.lua") { return path }
            }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }
}

/// One line per message on standard error: "tapir: warning: ..." with the script named.
/// While a console prompt is attached to a terminal, the lines go through its line editor
/// instead, above the line being typed.
struct TerseLogHandler: LogHandler {
    /// The console's editor while its prompt is attached; used on the loop thread only,
    /// where the host logs.
    nonisolated(unsafe) static var editor: LineEditor?

    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let script = event.metadata?["script"].map { "[\($0)] " } ?? ""
        let line = "\(label): \(event.level): \(script)\(event.message)"
        if let editor = Self.editor, editor.isInteractive {
            editor.print(line)
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}
