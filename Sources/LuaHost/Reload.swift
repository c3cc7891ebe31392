import Reactor
import SystemPackage

/// What a reload did, for the log line every reload gets.
public struct ReloadReport: CustomStringConvertible {
    public let script: String
    public let added: [String]
    public let removed: [String]
    public let handlerCount: Int
    /// Building the new version: a fresh state, its top level and on_reload.
    public let buildTime: Duration
    /// Swapping the handler set and cancelling the old version's timers.
    public let swapTime: Duration

    public var description: String {
        var parts = ["reloaded \(script) in \(Self.milliseconds(buildTime + swapTime)) ms "
                     + "(build \(Self.milliseconds(buildTime)) ms, swap \(Self.milliseconds(swapTime)) ms)"]
        if !added.isEmpty { parts.append("handlers added: " + added.joined(separator: ", ")) }
        if !removed.isEmpty { parts.append("handlers removed: " + removed.joined(separator: ", ")) }
        if added.isEmpty && removed.isEmpty { parts.append("same handlers") }
        return parts.joined(separator: "; ")
    }

    private static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let microseconds = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        let fraction = String(microseconds % 1000)
        return "\(microseconds / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}

extension TapirHost {
    /// Builds a new version of `script` in a fresh state beside the old one: tapir.state
    /// is copied over first, then the new top level runs, then `tapir.on_reload(state)` if
    /// the new version defines it. Only when all of that succeeds is the handler set
    /// swapped (between two packets) and the old version's timers cancelled. On failure
    /// the old version keeps running and the error (file:line) is thrown.
    @discardableResult
    public func reload(_ script: Script) throws(LuaError) -> ReloadReport {
        let clock = ContinuousClock()
        let start = clock.now
        let replacement = try makeScript(path: script.path, name: script.name) { (fresh) throws(LuaError) in
            try fresh.state.copyPersistentState(from: script.state)
        }
        do {
            try replacement.state.load(chunk: """
                if type(tapir.on_reload) == "function" then tapir.on_reload(tapir.state) end
                """, name: "\(script.name) (on_reload)")
        } catch {
            replacement.cancelAllTimers()
            throw error
        }
        let before = script.state.handlers.map(\.selector.description)
        let after = replacement.state.handlers.map(\.selector.description)
        let built = clock.now
        replace(script, with: replacement)
        deviceSet.commentRecordings("reloaded \(script.name)")
        let report = ReloadReport(script: script.name, added: after.subtracting(before),
                                  removed: before.subtracting(after), handlerCount: after.count,
                                  buildTime: built - start, swapTime: clock.now - built)
        logger.info("\(report)")
        if after.isEmpty {
            logger.warning("\(script.name) now registers no handlers: it will see no packets")
        }
        return report
    }

    /// Reloads every script (SIGHUP); a script that fails keeps its old version.
    public func reloadAll() {
        for script in scripts {
            do {
                try reload(script)
            } catch {
                logger.error("reload of \(script.name) failed, the old version keeps running: \(error)")
            }
        }
    }

    /// Watches each script's file (and the modules it required from beside it) and
    /// reloads the script when one of them is saved. Needs the event loop. A file that
    /// cannot be watched (its folder unreadable to the user tapir runs as) is said once
    /// and left to SIGHUP.
    public func watchScripts() {
        guard loop != nil else { return }
        for script in scripts {
            for file in script.sourceFiles() {
                watch(file, of: script.path)
            }
        }
    }

    /// Watches one source file of the script at `path`; a failure is said, not thrown.
    func watch(_ file: String, of path: String) {
        guard let loop else { return }
        do {
            try loop.watchFile(FilePath(file)) { [unowned self] change in
                self.watchedFile(file, of: path, changed: change)
            }
        } catch {
            let user = options.droppedToUser.map { " as \($0) (--user)" } ?? ""
            logger.warning("\(error)\(user): saving it does not reload it; SIGHUP (kill -HUP) does")
        }
    }

    /// A watched source file of the script at `path` was saved (reload it) or went away
    /// (say so: the old version keeps running, and saving the file again reloads it).
    func watchedFile(_ file: String, of path: String, changed change: FileChange) {
        guard let current = scripts.first(where: { $0.path == path }) else { return }
        switch change {
        case .changed:
            do {
                try reload(current)
            } catch {
                logger.error("reload of \(current.name) failed, the old version keeps running: \(error)")
            }
        case .gone:
            logger.warning("""
                \(file) was removed or renamed away; \(current.name) keeps running its old version \
                and reloads when the file is back
                """)
        }
    }
}

extension Array where Element == String {
    /// The elements of self not matched one for one in `other` (a multiset difference).
    func subtracting(_ other: [String]) -> [String] {
        var remaining = other
        return filter { element in
            if let index = remaining.firstIndex(of: element) {
                remaining.remove(at: index)
                return false
            }
            return true
        }
    }
}

extension Script {
    /// The script's own file and the files of the modules it required that live beside
    /// it (not the prelude).
    func sourceFiles() -> [String] {
        var files = [path]
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
            .joined(separator: "/")
        let prefix = directory.isEmpty ? "./" : directory + "/"
        guard case .table(let loaded)? = try? state.evaluateEncoded("""
            local files = {}
            for name in pairs(package.loaded) do
              local file = package.searchpath(name, package.path)
              if file then files[#files + 1] = file end
            end
            return files
            """, name: "watch") else { return files }
        for case (_, .string(let file)) in loaded where file.hasPrefix(prefix) && file != path {
            files.append(file)
        }
        return files
    }
}
