import Kernel
import LuaHost

/// Where packs are found by name: $TAPIR_PACK_PATH (colon-separated), then the user's
/// ($XDG_DATA_HOME/tapir/packs), then those shipped with tapir (lua/packs of the install).
enum PackPaths {
    static var userDirectory: String {
        if let data = Syscalls.environment("XDG_DATA_HOME") { return data + "/tapir/packs" }
        return Syscalls.homeDirectory + "/.local/share/tapir/packs"
    }

    static var bundledDirectory: String? {
        LuaPaths.preludeDirectories.first.map { $0 + "/packs" }
    }

    static var searchPath: PackSearchPath {
        var directories: [String] = []
        if let extra = Syscalls.environment("TAPIR_PACK_PATH") {
            directories += extra.split(separator: ":").map(String.init)
        }
        directories.append(userDirectory)
        if let bundledDirectory { directories.append(bundledDirectory) }
        return PackSearchPath(directories: directories)
    }
}

/// `tapir run` arguments: scripts by path, packs by path or name, and their settings.
struct LoadPlan {
    enum Item {
        case script(String)
        case pack(Pack, [String: PackValue])
    }

    var items: [Item] = []
    var allowed: Set<PackPermission> = []
    var warnings: [String] = []

    /// A .lua file that exists is a script; anything else is looked up as a pack.
    /// `settings` are "key=value" (one pack) or "PACK.key=value"; `allow` permission names.
    init(arguments: [String], settings: [String], allow: [String], searchPath: PackSearchPath) throws(PackError) {
        var packs: [Pack] = []
        var order: [Either] = []
        for argument in arguments {
            let exists = Syscalls.fileExists(argument)
            if exists, !Syscalls.isDirectory(argument) {
                order.append(.script(argument))
            } else if !exists, argument.hasSuffix(".lua") {
                throw PackError("\(argument): no such script")
            } else {
                packs.append(try searchPath.find(argument))
                order.append(.pack(packs.count - 1))
            }
        }
        var given = Array(repeating: [String: String](), count: packs.count)
        for setting in settings {
            guard let equals = setting.firstIndex(of: "="), equals != setting.startIndex else {
                throw PackError("--set \(setting): expected key=value (or PACK.key=value)")
            }
            var key = String(setting[..<equals])
            let value = String(setting[setting.index(after: equals)...])
            var target: Int?
            if let dot = key.firstIndex(of: ".") {
                let packName = String(key[..<dot])
                guard let index = packs.firstIndex(where: { $0.name == packName }) else {
                    throw PackError("--set \(setting): no pack '\(packName)' is being run")
                }
                target = index
                key = String(key[key.index(after: dot)...])
            } else if packs.count == 1 {
                target = 0
            } else if packs.isEmpty {
                throw PackError("--set \(setting): settings are for packs, and no pack is being run")
            } else {
                throw PackError("--set \(setting): several packs are run; name one: --set PACK.\(key)=\(value)")
            }
            if let target { given[target][key] = value }
        }
        for name in allow {
            guard let permission = PackPermission(rawValue: name) else {
                throw PackError("--allow \(name): not a permission (the permissions: "
                    + PackPermission.allCases.map(\.rawValue).joined(separator: ", ") + ")")
            }
            allowed.insert(permission)
            for pack in packs where !pack.manifest.permissions.contains(permission) {
                warnings.append("pack '\(pack.name)' does not ask for permission '\(name)': not granted to it")
            }
        }
        for entry in order {
            switch entry {
            case .script(let path): items.append(.script(path))
            case .pack(let index): items.append(.pack(packs[index], try packs[index].manifest.resolve(given[index])))
            }
        }
    }

    private enum Either {
        case script(String)
        case pack(Int)
    }
}
