import Glibc
import SystemPackage

/// The files of a `folder` setting's folder (see PackValueType.folder), read once when the
/// pack is configured: a pack has no `io`, so a web server's content comes this way.
///
/// Every regular file under the folder, by its path from the folder in URL form
/// ("/index.html", "/css/site.css"). Nothing outside the folder is read: a symbolic link
/// is followed only to a file inside it (one leading out, or to a folder, stops the run,
/// saying which), and names starting with "." (".git", ".htaccess") are left out, with
/// what is under them. Other kinds of entry (sockets, pipes, devices) are left out.
/// Values cross to Lua as text, so a file that is not UTF-8 is refused, naming it.
enum SettingFolder {
    /// At most this many files...
    static let fileLimit = 1000
    /// ...holding at most this many bytes together (a pack's state has 64 MiB by default).
    static let byteLimit = 8 << 20
    /// Folders deeper than this under the setting's folder are refused.
    static let depthLimit = 16

    static func read(_ path: String, setting: String, pack: String) throws(PackError) -> [String: String] {
        var reader = Reader(path: path, setting: setting, pack: pack)
        guard let root = Self.realPath(path) else { throw reader.fail(String(cString: strerror(errno))) }
        var status = stat()
        guard stat(root, &status) == 0 else { throw reader.fail(String(cString: strerror(errno))) }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw reader.fail("not a folder") }
        reader.root = root
        try reader.walk(root, under: "", depth: 0)
        return reader.files
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private struct Reader {
        let path: String
        let setting: String
        let pack: String
        var root = ""
        var files: [String: String] = [:]
        var bytes = 0

        init(path: String, setting: String, pack: String) {
            self.path = path
            self.setting = setting
            self.pack = pack
        }

        func fail(_ problem: String) -> PackError {
            PackError("pack '\(pack)': setting '\(setting)': cannot read '\(path)': \(problem)")
        }

        func fail(_ relative: String, _ problem: String) -> PackError {
            PackError("pack '\(pack)': setting '\(setting)': '\(relative)' in '\(path)' \(problem)")
        }

        /// The entries of a folder (not "." and "..", nor any other name starting with "."), sorted.
        func names(in folder: String, relative: String) throws(PackError) -> [String] {
            guard let directory = opendir(folder) else {
                throw fail(relative.isEmpty ? "/" : relative, "cannot be listed: \(String(cString: strerror(errno)))")
            }
            defer { closedir(directory) }
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String? in
                    let bytes = raw.prefix { $0 != 0 }
                    return String(validating: Array(bytes), as: UTF8.self)
                }
                guard let name else { throw fail(relative + "/?", "has a name that is not UTF-8") }
                if name.hasPrefix(".") { continue }
                names.append(name)
            }
            return names.sorted()
        }

        mutating func walk(_ folder: String, under relative: String, depth: Int) throws(PackError) {
            guard depth <= depthLimit else { throw fail(relative, "is more than \(depthLimit) folders deep") }
            for name in try names(in: folder, relative: relative) {
                let full = folder + "/" + name
                let key = relative + "/" + name
                var status = stat()
                guard lstat(full, &status) == 0 else { throw fail(key, "cannot be read: \(String(cString: strerror(errno)))") }
                switch status.st_mode & S_IFMT {
                case S_IFDIR:
                    try walk(full, under: key, depth: depth + 1)
                case S_IFREG:
                    try add(full, as: key, size: Int(status.st_size))
                case S_IFLNK:
                    guard let target = SettingFolder.realPath(full) else {
                        throw fail(key, "is a link that leads nowhere: \(String(cString: strerror(errno)))")
                    }
                    guard target == root || target.hasPrefix(root + "/") else {
                        throw fail(key, "is a link leading outside the folder (to '\(target)')")
                    }
                    guard stat(target, &status) == 0 else { throw fail(key, "cannot be read: \(String(cString: strerror(errno)))") }
                    switch status.st_mode & S_IFMT {
                    case S_IFREG: try add(target, as: key, size: Int(status.st_size))
                    case S_IFDIR: throw fail(key, "is a link to a folder (links are followed to files only)")
                    default: continue
                    }
                default:
                    continue
                }
            }
        }

        mutating func add(_ file: String, as key: String, size: Int) throws(PackError) {
            guard files.count < fileLimit else { throw fail("more than \(fileLimit) files") }
            guard size <= byteLimit - bytes else {
                throw fail("more than \(byteLimit >> 20) MiB of files (at '\(key)')")
            }
            let content: [UInt8]
            do {
                content = try Self.contents(of: file, limit: byteLimit - bytes)
            } catch {
                throw fail(key, "cannot be read: \((error as? Errno)?.description ?? "\(error)")")
            }
            guard content.count <= byteLimit - bytes else {
                throw fail("more than \(byteLimit >> 20) MiB of files (at '\(key)')")
            }
            guard let text = String(validating: content, as: UTF8.self) else {
                throw fail(key, "is not UTF-8 text (a folder's files reach Lua as text: binary files are refused)")
            }
            bytes += content.count
            files[key] = text
        }

        /// The file's bytes, at most `limit` + 1 of them.
        static func contents(of file: String, limit: Int) throws -> [UInt8] {
            let descriptor = try FileDescriptor.open(FilePath(file), .readOnly, options: [.closeOnExec, .nonBlocking])
            defer { try? descriptor.close() }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 64 << 10)
            while bytes.count <= limit {
                let count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) }
                if count == 0 { break }
                bytes += chunk[..<count]
            }
            return bytes
        }
    }
}
