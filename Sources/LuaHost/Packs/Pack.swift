import Glibc

/// A pack on disk: a folder with `pack.lua` (the manifest) and the Lua files it names.
public struct Pack: Sendable {
    /// The folder, without a trailing slash.
    public let directory: String
    public let manifest: PackManifest

    public var name: String { manifest.name }
    public var manifestPath: String { directory + "/pack.lua" }
    /// The handler files, in load order.
    public var handlerPaths: [String] { manifest.handlers.map { directory + "/" + $0 } }

    /// True when `path` is a folder holding a pack.lua.
    public static func isPack(_ path: String) -> Bool {
        access(path.withoutTrailingSlash + "/pack.lua", R_OK) == 0
    }

    /// Reads and checks the manifest of the pack in `directory`, and that its handler
    /// files are there. The manifest runs in a sandboxed state of its own (no permissions).
    public init(directory: String) throws(PackError) {
        self.directory = directory.withoutTrailingSlash
        let file = self.directory + "/pack.lua"
        guard access(file, R_OK) == 0 else {
            throw PackError("\(self.directory): not a pack (no readable pack.lua)")
        }
        manifest = try PackManifest(Self.snapshot(of: file), file: file)
        for (index, handler) in manifest.handlers.enumerated() where access(self.directory + "/" + handler, R_OK) != 0 {
            throw PackError("\(file): field 'handlers[\(index + 1)]': '\(handler)' is not a readable file in \(self.directory)")
        }
    }

    /// The table pack.lua returns, run under a small budget and memory cap.
    private static func snapshot(of file: String) throws(PackError) -> LuaTableSnapshot {
        let state: LuaState
        do {
            state = try LuaState(options: .init(memoryCap: 16 << 20, instructionBudget: 1_000_000,
                                                trusted: false, packPermissions: []),
                                 log: { _, _ in })
            let run = try state.evaluate("""
                return function(file)
                  local chunk, problem = loadfile(file, "t")
                  if not chunk then error(problem, 0) end
                  __manifest = chunk()
                end
                """, name: "pack.lua")
            defer { state.release(run) }
            try state.call(run, with: [.string(file)])
        } catch {
            // Lua shortens long file names in its messages: name the file in full first.
            throw PackError("\(file): \(error.message)")
        }
        let manifest: EncodedValue
        do {
            manifest = try state.evaluateEncoded("return __manifest", name: "manifest")
        } catch {
            throw PackError("\(file): \(error.message)")
        }
        guard let table = LuaTableSnapshot(manifest) else {
            throw PackError("\(file): must return a table (the manifest), not \(manifest.luaTypeName)")
        }
        return table
    }
}

/// Where packs are found by name: each directory holds packs as sub-folders.
public struct PackSearchPath: Sendable {
    public var directories: [String]

    public init(directories: [String]) {
        self.directories = directories
    }

    /// The pack at `nameOrPath`: a folder with a pack.lua, else a pack of that name in the
    /// first directory that has one.
    public func find(_ nameOrPath: String) throws(PackError) -> Pack {
        if Pack.isPack(nameOrPath) { return try Pack(directory: nameOrPath) }
        if !nameOrPath.contains("/") {
            for directory in directories where Pack.isPack(directory + "/" + nameOrPath) {
                return try Pack(directory: directory + "/" + nameOrPath)
            }
        }
        let searched = directories.isEmpty ? "no pack directories" : directories.joined(separator: ", ")
        let suggestion = closestName(to: nameOrPath).map { "; did you mean \($0)?" } ?? ""
        throw PackError("no pack '\(nameOrPath)' (not a folder with a pack.lua, nor a pack in \(searched))\(suggestion)")
    }

    /// When `nameOrPath` is a bare name that finds a pack folder in the working directory
    /// while a pack of that name is also installed on the path: what says which one runs.
    public func shadowing(_ nameOrPath: String) -> String? {
        guard !nameOrPath.contains("/"), Pack.isPack(nameOrPath) else { return nil }
        guard let installed = directories.first(where: { Pack.isPack($0 + "/" + nameOrPath) }) else { return nil }
        return "./\(nameOrPath), a pack folder in the working directory, is used, not the installed pack "
            + "\(installed)/\(nameOrPath) of the same name; give the installed one by its path to run it"
    }

    /// The pack name on the path (or folder name in the working directory) nearest to a
    /// mistyped one, when one is near enough: at most a third of its letters wrong.
    func closestName(to name: String) -> String? {
        let typed = Array(name.split(separator: "/").last.map(String.init)?.utf8 ?? name.utf8)
        var candidates = Set<String>()
        for directory in directories {
            for entry in Self.entries(of: directory) where Pack.isPack(directory + "/" + entry) { candidates.insert(entry) }
        }
        for entry in Self.entries(of: ".") where Pack.isPack(entry) { candidates.insert(entry) }
        let scored = candidates.map { ($0, Self.editDistance(typed, Array($0.utf8))) }
            .filter { $0.1 > 0 && $0.1 <= max(1, typed.count / 3) }
        return scored.min { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }?.0
    }

    /// Levenshtein distance: insertions, deletions and substitutions, one each.
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var previous = Array(0...b.count)
        for (i, byteA) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, byteB) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (byteA == byteB ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// Every pack on the path (a name found twice: the first one), sorted by name, and
    /// the problems of those that could not be read.
    public func all() -> (packs: [Pack], problems: [PackError]) {
        var packs: [Pack] = []
        var problems: [PackError] = []
        var seen = Set<String>()
        for directory in directories {
            for entry in Self.entries(of: directory).sorted() where Pack.isPack(directory + "/" + entry) {
                do {
                    let pack = try Pack(directory: directory + "/" + entry)
                    if seen.insert(pack.name).inserted { packs.append(pack) }
                } catch {
                    problems.append(error)
                }
            }
        }
        return (packs.sorted { $0.name < $1.name }, problems)
    }

    /// The names in a folder, without dot files.
    public static func entries(of directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names
    }
}

extension String {
    var withoutTrailingSlash: String {
        var text = self
        while text.count > 1, text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
