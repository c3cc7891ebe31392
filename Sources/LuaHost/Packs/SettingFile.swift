import SystemPackage

/// The text of a `file` setting's file (see PackValueType.file), read once when the pack
/// is configured. A pack has no `io`: this is how it gets a file's contents.
enum SettingFile {
    /// Files larger than this are refused: a setting is data for a handler, not a disk.
    static let sizeLimit = 1 << 20

    /// The file's text (bytes that are not UTF-8 become U+FFFD); the error names the
    /// setting and the path.
    static func read(_ path: String, setting: String, pack: String) throws(PackError) -> String {
        func fail(_ problem: String) -> PackError {
            PackError("pack '\(pack)': setting '\(setting)': cannot read '\(path)': \(problem)")
        }
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
        } catch {
            throw fail(Self.describe(error))
        }
        defer { try? descriptor.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count: Int
            do {
                count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) }
            } catch {
                throw fail(Self.describe(error))
            }
            if count == 0 { break }
            bytes += chunk[..<count]
            if bytes.count > sizeLimit { throw fail("larger than \(sizeLimit >> 20) MiB") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func describe(_ error: any Error) -> String {
        (error as? Errno)?.description ?? "\(error)"
    }
}
