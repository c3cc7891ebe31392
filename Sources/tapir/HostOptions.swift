import ArgumentParser
import Kernel
import LuaHost
import Logging
import TCPEngine

/// Options every command that runs scripts shares.
struct HostOptions: ParsableArguments {
    @Option(name: .long, help: "VM instructions a handler call may run before it is stopped.")
    var budget: Int = 10_000_000

    @Option(name: .long, help: "MiB of memory each script's Lua state may hold.")
    var memory: Int = 64

    @Option(name: .long, help: "Log level: debug, info, warning, error.")
    var logLevel: String = "info"

    @Option(name: .long, help: "TCP connections in all (any state, TIME-WAIT included).")
    var tcpConnections: Int = 4096

    @Option(name: .long, help: "TCP connections one listener may have (accepted or not).")
    var tcpListenerConnections: Int = 1024

    @Option(name: .long, help: "Half-open TCP connections per listener before SYN cookies answer instead.")
    var tcpSynBacklog: Int = 128

    @Option(name: .long, help: "KiB of send and of receive buffer per TCP connection.")
    var tcpBuffer: Int = 64

    @Flag(name: .long, inversion: .prefixedNo, help: "With tap offloads, send TCP as super-segments of up to 64 KiB for the kernel to cut (far fewer writes for bulk sending; a lost one is repaired from the peer's SACK blocks and a tail loss probe).")
    var tcpSuperSegments = true

    @Option(name: .long, help: "KiB a TCP connection's send and receive buffers may grow to, on demand, as data needs the room (the receive window offered follows, scaled). Default: 1024 with tap offloads (a super-segment is 64 KiB alone), else --tcp-buffer.")
    var tcpBufferLimit: Int?

    @Option(name: .long, help: "MiB of TCP buffers in all, every connection together.")
    var tcpMemory: Int = 256

    @Option(name: .long, help: "Milliseconds a closed TCP connection stays in TIME-WAIT (RFC 9293 says 240000; a lab wants ports back).")
    var tcpTimeWait: Int = 1000

    func validate() throws {
        guard budget >= 0 else { throw ValidationError("--budget must not be negative") }
        guard memory > 0 else { throw ValidationError("--memory must be at least 1 MiB") }
        guard tcpConnections > 0, tcpListenerConnections > 0, tcpSynBacklog > 0 else {
            throw ValidationError("--tcp-connections, --tcp-listener-connections and --tcp-syn-backlog must be at least 1")
        }
        guard (1...16384).contains(tcpBuffer) else { throw ValidationError("--tcp-buffer must be 1 to 16384 KiB") }
        if let tcpBufferLimit, !(1...65536).contains(tcpBufferLimit) {
            throw ValidationError("--tcp-buffer-limit must be 1 to 65536 KiB")
        }
        guard tcpMemory > 0 else { throw ValidationError("--tcp-memory must be at least 1 MiB") }
        guard tcpTimeWait >= 0 else { throw ValidationError("--tcp-time-wait must not be negative") }
        guard Logger.Level(rawValue: logLevel == "warn" ? "warning" : logLevel) != nil else {
            throw ValidationError("--log-level must be one of debug, info, warning, error")
        }
    }

    var level: Logger.Level { Logger.Level(rawValue: logLevel == "warn" ? "warning" : logLevel) ?? .info }

    /// The default buffer limit with a tap's offloads on: room for the kernel's super-segments
    /// to keep coming (a 64 KiB window holds one).
    static let offloadsBufferLimit = 1024

    /// `offloads`: a device is opened with its offloads on (`tapir run` without --no-offloads).
    func hostOptions(offloads: Bool = false) -> TapirHost.Options {
        var options = TapirHost.Options()
        options.instructionBudget = budget
        options.memoryCap = memory << 20
        options.moduleDirectories = LuaPaths.preludeDirectories
        options.tcp.maxConnections = tcpConnections
        options.tcp.listenerConnectionLimit = tcpListenerConnections
        options.tcp.synBacklog = tcpSynBacklog
        options.tcp.sendBufferSize = tcpBuffer << 10
        options.tcp.receiveBufferSize = tcpBuffer << 10
        let limit = tcpBufferLimit ?? (offloads ? Swift.max(Self.offloadsBufferLimit, tcpBuffer) : tcpBuffer)
        options.tcp.sendBufferLimit = limit << 10
        options.tcp.receiveBufferLimit = limit << 10
        // The tap's kernel cuts super-segments (Egress.writeSuperSegment cuts them for any
        // other device).
        if offloads && tcpSuperSegments { options.tcp.superSegmentBytes = 65000 }
        options.tcp.maxBufferBytes = tcpMemory << 20
        options.tcp.timeWait = .milliseconds(Int64(tcpTimeWait))
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
        if let directory = Syscalls.environment("TAPIR_LUA_DIR") {
            return [directory]
        }
        return luaDirectory.map { [$0] } ?? []
    }

    static var luaDirectory: String? {
        // /proc/self/exe: argv[0] is only "tapir" when the shell found it on PATH.
        guard let executable = Syscalls.executablePath() ?? Syscalls.resolvedPath(CommandLine.arguments[0]) else {
            return nil
        }
        var directory = executable
        for _ in 0..<6 {
            directory = parent(of: directory)
            for candidate in ["share/tapir/lua", "lua"] {
                let path = (directory == "/" ? "" : directory) + "/" + candidate
                if Syscalls.fileExists(path + "/tapir/pair.lua") { return path }
            }
            if directory == "/" { break }
        }
        return nil
    }

    /// The folder holding `path` (an absolute path without a trailing '/'), "/" at the top.
    private static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
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
            Output.standardError(line + "\n")
        }
    }
}
