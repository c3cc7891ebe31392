import Devices
import Kernel
import LuaHost

/// Puts a pack (a folder, or a .tar.gz holding one) into a pack directory, after checking
/// it: archive entries must be plain files and folders inside the archive, and the pack
/// must read as one (manifest, types, files).
struct PackInstaller {
    var destination: String
    var replace: Bool

    func install(_ source: String) throws(PackError) -> Pack {
        guard Syscalls.kind(of: source) != nil else {
            throw PackError("\(source): no such file or folder")
        }
        if Syscalls.isDirectory(source) { return try installFolder(try Pack(directory: source)) }
        guard Self.isGzip(source) else {
            throw PackError("\(source) is not a gzip tarball (.tar.gz) nor a pack folder; "
                + "give a pack's folder, or an archive of it made with: tar -czf NAME.tar.gz NAME")
        }
        return try installArchive(source)
    }

    /// Whether the file starts with gzip's magic bytes (1f 8b).
    static func isGzip(_ path: String) -> Bool {
        guard let bytes = try? Syscalls.readFile(path) else { return false }
        return bytes.starts(with: [0x1f, 0x8b])
    }

    private func installFolder(_ pack: Pack) throws(PackError) -> Pack {
        try refuseLinks(in: pack.directory)
        let target = destination + "/" + pack.name
        do {
            try Syscalls.makeDirectories(destination)
            if Syscalls.kind(of: target) != nil {
                guard replace else {
                    throw PackError("\(target) exists already (use --force to replace it)")
                }
                try Syscalls.removeTree(target)
            }
            try Syscalls.copyTree(pack.directory, to: target)
        } catch let error as PackError {
            throw error
        } catch {
            throw PackError("cannot install into \(target): \(error)")
        }
        return try Pack(directory: target)
    }

    private func refuseLinks(in directory: String) throws(PackError) {
        let special: [String]
        do {
            special = try Syscalls.specialEntries(under: directory)
        } catch {
            throw PackError("cannot read \(directory): \(error)")
        }
        if let entry = special.first {
            throw PackError("\(directory)/\(entry): a link; a pack holds plain files only")
        }
    }

    private func installArchive(_ archive: String) throws(PackError) -> Pack {
        let listing: String
        do {
            listing = try tar(["-tvzf", archive])
        } catch where !error.message.hasPrefix("cannot run tar") {
            throw PackError("\(archive) is gzip-compressed but not a tar archive that tar can list "
                + "(a .tar.gz made with: tar -czf NAME.tar.gz NAME)")
        }
        // GNU tar lists a short gzip of anything as an empty archive, and says nothing.
        guard listing.contains(where: { !$0.isWhitespace }) else {
            throw PackError("\(archive) is gzip-compressed but holds no tar entries: not a tar archive, or an empty "
                + "one (a .tar.gz made with: tar -czf NAME.tar.gz NAME)")
        }
        for line in listing.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, let mode = fields.first else { continue }
            let name = fields[5...].joined(separator: " ")
            if mode.hasPrefix("l") || mode.hasPrefix("h") || name.contains(" -> ") || name.contains(" link to ") {
                throw PackError("\(archive): entry '\(name)' is a link; refused")
            }
            guard mode.hasPrefix("-") || mode.hasPrefix("d") else {
                throw PackError("\(archive): entry '\(name)' is not a plain file or folder; refused")
            }
        }
        for name in try tar(["-tzf", archive]).split(separator: "\n").map(String.init) {
            if name.hasPrefix("/") || name.split(separator: "/").contains("..") {
                throw PackError("\(archive): entry '\(name)' points outside the archive; refused")
            }
        }
        let staging: String
        do {
            staging = try Syscalls.makeTemporaryDirectory(prefix: "tapir-install-")
        } catch {
            throw PackError("cannot make a staging folder: \(error)")
        }
        defer { try? Syscalls.removeTree(staging) }
        _ = try tar(["-xzf", archive, "-C", staging, "--no-same-owner", "--no-same-permissions"])
        var root = staging
        if !Pack.isPack(root) {
            let entries = PackSearchPath.entries(of: staging)
            guard entries.count == 1, Pack.isPack(staging + "/" + entries[0]) else {
                throw PackError("\(archive): holds no pack (a pack.lua at its top, or in its one folder)")
            }
            root = staging + "/" + entries[0]
        }
        return try installFolder(try Pack(directory: root))
    }

    /// Runs tar; its standard output, or an error with its standard error.
    private func tar(_ arguments: [String]) throws(PackError) -> String {
        let output: ProcessOutput
        do {
            output = try ChildProcess.run(["tar"] + arguments, timeout: .seconds(300))
        } catch {
            throw PackError("cannot run tar: \(error)")
        }
        guard output.succeeded else {
            let problem = output.timedOut ? "took more than 5 minutes"
                : output.stderr.split(separator: "\n").joined(separator: "; ")
            throw PackError("tar \(arguments.joined(separator: " ")) failed: \(problem)")
        }
        return output.stdout
    }
}
