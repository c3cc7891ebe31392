import CLua
import Glibc

/// The Lua files `tapir run --user` and `tapir console --user` read while still root:
/// the scripts, the packs and the prelude they start with, which the user they drop to
/// may not be allowed to read (a clone under /root, mode 700). Kept in CLua's store
/// (CLuaSources.h) for the process: `require` falls back to it when a module file cannot
/// be read, and a script's (or pack handler's) own file is taken from it once, for its
/// first load; a reload reads the file again, as the user (ScriptFactory says when the
/// user may not).
public enum StartingSources {
    /// At most this many files and bytes are kept, so a script beside a big folder of
    /// Lua costs a bounded read.
    static let fileLimit = 4000
    static let byteLimit = 64 << 20

    /// Reads the scripts and packs a run starts with and the modules they may require:
    /// each script and the `.lua` files beside it, each pack's folder, and the prelude
    /// (`tapir/` under each module directory). Unreadable files are left out: loading
    /// them later says why. Returns how many files were kept.
    @discardableResult
    public static func keep(scripts: [String], packs: [String], moduleDirectories: [String]) -> Int {
        var budget = (files: fileLimit, bytes: byteLimit)
        var kept = 0
        for script in scripts {
            kept += keep(script, depth: 0, given: true, budget: &budget)
            let folder = script.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            kept += keep(folder.isEmpty ? "." : folder, depth: 0, given: false, budget: &budget)
        }
        for folder in packs {
            kept += keep(folder, depth: 3, given: false, budget: &budget)
        }
        for directory in moduleDirectories {
            kept += keep(directory, depth: 0, given: false, budget: &budget)
            kept += keep(directory.withoutTrailingSlash + "/tapir", depth: 3, given: false, budget: &budget)
        }
        return kept
    }

    /// Keeps a file (one `given` by name whatever it is called, else a `.lua` one), or a
    /// folder's files down to `depth` levels of subfolders (0: its own files).
    private static func keep(_ path: String, depth: Int, given: Bool, budget: inout (files: Int, bytes: Int)) -> Int {
        var status = stat()
        guard stat(path, &status) == 0 else { return 0 }
        if status.st_mode & S_IFMT == S_IFREG {
            guard given || path.hasSuffix(".lua"), budget.files > 0, Int(status.st_size) <= budget.bytes,
                  let text = contents(of: path) else { return 0 }
            budget.files -= 1
            budget.bytes -= text.count
            let stored = text.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { clua_sources_keep(path, $0.baseAddress, $0.count) }
            }
            return stored == 0 ? 1 : 0
        }
        guard status.st_mode & S_IFMT == S_IFDIR, depth >= 0 else { return 0 }
        var kept = 0
        for entry in PackSearchPath.entries(of: path).sorted() {
            kept += keep(path.withoutTrailingSlash + "/" + entry, depth: depth - 1, given: false, budget: &budget)
        }
        return kept
    }

    /// The kept text of a script's own file, dropped from the store: only its first load
    /// uses it.
    static func take(_ path: String) -> [UInt8]? {
        var length = 0
        guard let text = clua_sources_find(path, &length) else { return nil }
        let source = [UInt8](UnsafeRawBufferPointer(start: text, count: length))
        clua_sources_forget(path)
        return source
    }

    private static func contents(of path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
        }
    }
}
