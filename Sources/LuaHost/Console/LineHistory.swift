import Kernel
import SystemPackage

/// The lines entered at the console, kept in a plain text file (one line each, oldest
/// first, mode 0600) and capped at `limit` entries.
struct LineHistory {
    let path: String?
    let limit: Int
    private(set) var entries: [String] = []

    init(path: String?, limit: Int) {
        self.path = path
        self.limit = max(limit, 1)
    }

    /// Reads the file; a missing file is an empty history.
    mutating func load() throws(LineEditorError) {
        guard let path else { return }
        let contents: [UInt8]
        do {
            contents = try Self.readAll(path)
        } catch Errno.noSuchFileOrDirectory {
            return
        } catch {
            throw .historyUnreadable(path: path, errno: (error as? Errno) ?? .ioError)
        }
        entries = contents.split(separator: UInt8(ascii: "\n"))
            .map { String(decoding: $0, as: UTF8.self) }
            .suffix(limit)
            .map { $0 }
    }

    /// Adds `line` unless it is blank or repeats the last entry; returns whether it did.
    mutating func add(_ line: String) -> Bool {
        guard line.contains(where: { !$0.isWhitespace }), line != entries.last else { return false }
        entries.append(line)
        if entries.count > limit { entries.removeFirst(entries.count - limit) }
        return true
    }

    /// Writes every entry: to a temporary file next to the history, then renamed over
    /// it, so a crash mid-write cannot leave half a history.
    func save() throws(LineEditorError) {
        guard let path else { return }
        let temporary = path + ".tmp-\(Syscalls.processID)"
        var text = entries.joined(separator: "\n")
        if !text.isEmpty { text += "\n" }
        do {
            let fd = try FileDescriptor.open(
                temporary, .writeOnly, options: [.create, .truncate],
                permissions: [.ownerReadWrite])
            try fd.closeAfter { _ = try fd.writeAll(text.utf8) }
            try Syscalls.rename(temporary, to: path)
        } catch {
            Syscalls.unlink(temporary)
            let errno = (error as? Errno) ?? (error as? SystemError)?.errno ?? .ioError
            throw .historyUnwritable(path: path, errno: errno)
        }
    }

    /// Throws the `Errno` of the failing call.
    private static func readAll(_ path: String) throws -> [UInt8] {
        let fd = try FileDescriptor.open(path, .readOnly)
        return try fd.closeAfter {
            var contents: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16384)
            while true {
                let count = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
                if count == 0 { return contents }
                contents.append(contentsOf: chunk[0..<count])
            }
        }
    }
}
