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
        if source.hasSuffix(".tar.gz") || source.hasSuffix(".tgz") {
            return try installArchive(source)
        }
        return try installFolder(try Pack(directory: source))
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
        let listing = try tar(["-tvzf", archive])
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
