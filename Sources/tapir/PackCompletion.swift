import ArgumentParser
import Kernel
import LuaHost

/// Shell completion of pack arguments (`tapir run`, `tapir test`, `tapir pack info`): the
/// shell's completion script calls tapir back with the word being completed, and these
/// answer with the names of the packs on the pack path and, where a path may be given,
/// the folders and .lua files the word starts. The shell keeps those that match.
enum PackCompletion {
    /// Pack names only.
    static let packs = CompletionKind.custom { _, _, _ in packNames() }

    /// Pack names, and folders or .lua scripts by path.
    static let packsAndScripts = CompletionKind.custom { _, _, prefix in
        packNames() + paths(startedBy: prefix, files: ".lua")
    }

    /// Pack names, and folders by path (a pack's folder).
    static let packsAndFolders = CompletionKind.custom { _, _, prefix in
        packNames() + paths(startedBy: prefix, files: nil)
    }

    static func packNames() -> [String] {
        PackPaths.searchPath.all().packs.map(\.name)
    }

    /// The entries of the folder `prefix` points into whose names start as it does:
    /// folders (with a trailing '/') and files ending in `files`.
    static func paths(startedBy prefix: String, files suffix: String?) -> [String] {
        let folder: String
        let start: String
        if let slash = prefix.lastIndex(of: "/") {
            folder = String(prefix[...slash])
            start = String(prefix[prefix.index(after: slash)...])
        } else {
            folder = ""
            start = prefix
        }
        let entries = (try? Syscalls.directoryEntries(folder.isEmpty ? "." : folder)) ?? []
        return entries.filter { $0.hasPrefix(start) && (!$0.hasPrefix(".") || start.hasPrefix(".")) }.compactMap { name in
            let path = folder + name
            if Syscalls.isDirectory(path) { return path + "/" }
            if let suffix, name.hasSuffix(suffix) { return path }
            return nil
        }
    }
}
