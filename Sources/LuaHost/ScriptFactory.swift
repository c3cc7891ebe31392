import Glibc
import Logging

/// How a pack is loaded: its settings and the permissions granted to it.
struct PackLoad {
    var pack: Pack
    var config: [String: PackValue]
    var granted: Set<PackPermission>
}

/// Makes the host's scripts: each a fresh Lua state of its own with the host's limits,
/// the runtime and packet API installed, and for a pack an untrusted state with the
/// permissions granted to it and its settings in tapir.config; then its files run.
/// Loop thread only.
final class ScriptFactory {
    /// The packs loaded, by their manifest path (a pack script's path), for reloads.
    var packLoads: [String: PackLoad] = [:]
    private let options: TapirHost.Options
    private let logger: Logger

    init(options: TapirHost.Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// A script of `host` in a new state, its top level run; `prepare` runs first (a
    /// reload copies tapir.state there). A pack (see TapirHost.load(pack:)) gets an
    /// untrusted state with the permissions granted to it, tapir.config, and its handler
    /// files run in order. Nothing of it is left behind when it fails.
    func make(path: String, name: String, for host: TapirHost,
              prepare: (Script) throws(LuaError) -> Void) throws(LuaError) -> Script {
        let pack = packLoads[path]
        let directory = pack?.pack.directory ?? path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
            .joined(separator: "/")
        var stateOptions = LuaState.Options(
            memoryCap: options.memoryCap, instructionBudget: options.instructionBudget,
            trusted: pack == nil && options.trusted,
            moduleDirectories: [directory.isEmpty ? "." : directory] + options.moduleDirectories,
            errorLogInterval: options.errorLogInterval)
        stateOptions.packPermissions = pack?.granted
        let logger = self.logger
        let state = try LuaState(options: stateOptions) { level, message in
            logger.log(level: level.loggerLevel, "\(message)", metadata: ["script": "\(name)"])
        }
        state.hostHandlerChanges = host.dispatch.handlerChanges
        let script = try Script(name: name, path: path, state: state, host: host)
        state.selectorCheck = { [unowned host] selector in host.check(selector) }
        do {
            try script.installRuntime()
            try script.installTasks()
            try script.installTCP()
            // Each queue of a multi-queue run has its own state of every script.
            try state.setTapirField("queue", to: .integer(Int64(host.queuePlace?.index ?? 1)))
            try state.setTapirField("queues", to: .integer(Int64(host.queuePlace?.count ?? 1)))
            if let pack {
                try state.setTapirField("config", to: PackValue.encoded(pack.config))
            }
            try prepare(script)
            for file in pack?.pack.handlerPaths ?? [path] {
                if let source = StartingSources.take(file) {
                    try state.load(source: source, path: file)
                } else {
                    try checkReadable(file)
                    try state.load(path: file)
                }
            }
            script.wantsReassembly = try state.evaluateBoolean("return tapir.reassemble == true", name: name)
            script.verifiesChecksums = try state.evaluateBoolean("return tapir.verify_checksums == true", name: name)
        } catch {
            script.cancelAllTimers()
            throw error
        }
        return script
    }
}

extension ScriptFactory {
    /// After --user: a file the user may not read is said so, naming the file and the user.
    private func checkReadable(_ file: String) throws(LuaError) {
        guard let user = options.droppedToUser, access(file, R_OK) != 0, errno == EACCES else { return }
        throw LuaError(kind: .file, message: "cannot read \(file): Permission denied; tapir runs as \(user) (--user), "
            + "who may not read it: make it readable to \(user), or start tapir again to read it as root")
    }
}

extension LuaLogLevel {
    var loggerLevel: Logger.Level {
        switch self {
        case .debug: .debug
        case .info: .info
        case .warn: .warning
        case .error: .error
        }
    }
}
