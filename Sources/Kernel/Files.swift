import Glibc
import SystemPackage

/// Files and folders as the command line needs them (a pack installed, a pack skeleton
/// written, /proc read, the environment): whole files read and written, folder trees made,
/// listed, copied and removed. Plain Glibc calls, so the `tapir` executable needs no
/// Foundation.
extension Syscalls {
    /// What a path names, without following a link at its end.
    public enum FileKind: Equatable, Sendable {
        case file, directory, link, other
    }

    /// What `path` is, or nil when nothing is there (or it cannot be looked at).
    public static func kind(of path: String) -> FileKind? {
        var status = stat()
        guard lstat(path, &status) == 0 else { return nil }
        switch status.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        case S_IFLNK: return .link
        default: return .other
        }
    }

    /// Whether `path` is a folder, following links.
    public static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }

    /// The whole of a file.
    public static func readFile(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = try check("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                throw SystemError(operation: "read \(path)", errno: Errno(rawValue: code))
            }
            bytes += chunk[..<count]
        }
    }

    /// Makes or replaces a file holding `bytes`.
    public static func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
        let fd = try check("open \(path)") { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        defer { close(fd) }
        try writeAll(fd, bytes)
    }

    /// Makes a folder and any missing folder above it (`mkdir -p`).
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        if isDirectory(path) { return }
        let parent = String(path.reversed().drop { $0 == "/" }.drop { $0 != "/" }.reversed())
        if !parent.isEmpty, parent != "/" { try makeDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0, errno != EEXIST || !isDirectory(path) {
            throw SystemError(operation: "mkdir \(path)", errno: Errno(rawValue: errno))
        }
    }

    /// The names in a folder, without "." and "..".
    public static func directoryEntries(_ path: String) throws(SystemError) -> [String] {
        guard let handle = opendir(path) else {
            throw SystemError(operation: "opendir \(path)", errno: Errno(rawValue: errno))
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Every path under `path` (relative to it, folders before what they hold) that is
    /// neither a plain file nor a folder: links, devices, sockets.
    public static func specialEntries(under path: String) throws(SystemError) -> [String] {
        var found: [String] = []
        for name in try directoryEntries(path) {
            switch kind(of: path + "/" + name) {
            case .file: break
            case .directory: found += try specialEntries(under: path + "/" + name).map { name + "/" + $0 }
            default: found.append(name)
            }
        }
        return found
    }

    /// Removes a file, or a folder and all it holds (`rm -r`); links are removed, never
    /// followed. Nothing there is not an error.
    public static func removeTree(_ path: String) throws(SystemError) {
        guard let kind = kind(of: path) else { return }
        if kind == .directory {
            for name in try directoryEntries(path) { try removeTree(path + "/" + name) }
            _ = try check("rmdir \(path)") { rmdir(path) }
        } else {
            _ = try check("unlink \(path)") { Glibc.unlink(path) }
        }
    }

    /// Copies a folder of plain files and folders to `destination`, which must not exist
    /// (`cp -R`); anything else in it (a link, a device) is an error.
    public static func copyTree(_ source: String, to destination: String) throws(SystemError) {
        switch kind(of: source) {
        case .directory:
            _ = try check("mkdir \(destination)") { mkdir(destination, 0o755) }
            for name in try directoryEntries(source) {
                try copyTree(source + "/" + name, to: destination + "/" + name)
            }
        case .file:
            try writeFile(destination, try readFile(source))
        default:
            throw SystemError(operation: "copy \(source) (not a plain file or folder)", errno: .invalidArgument)
        }
    }

    /// A new, empty folder only this user may use, under $TMPDIR (or /tmp).
    public static func makeTemporaryDirectory(prefix: String) throws(SystemError) -> String {
        let base = environment("TMPDIR") ?? "/tmp"
        var template = Array((base + "/" + prefix + "XXXXXX").utf8CString)
        guard mkdtemp(&template) != nil else {
            throw SystemError(operation: "mkdtemp in \(base)", errno: Errno(rawValue: errno))
        }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An environment variable's value; nil when it is not set or empty.
    public static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    /// The user's home folder: $HOME, or the user database's entry.
    public static var homeDirectory: String {
        if let home = environment("HOME") { return home }
        if let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir { return String(cString: directory) }
        return "/"
    }

    /// `path` with every link and "." or ".." resolved, or nil when it does not exist.
    public static func resolvedPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
