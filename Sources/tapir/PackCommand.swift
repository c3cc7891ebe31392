import ArgumentParser
import Kernel
import LuaHost

struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "List, inspect, check, create and install handler packs.",
        discussion: """
            Packs are found by name in $TAPIR_PACK_PATH, $XDG_DATA_HOME/tapir/packs \
            (~/.local/share/tapir/packs) and the packs shipped with tapir, in that order.
            """,
        subcommands: [PackList.self, PackInfo.self, PackCheck.self, PackNew.self, PackInstall.self])
}

struct PackList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Name, version and description of every pack found.")

    func run() throws {
        let found = PackPaths.searchPath.all()
        let width = found.packs.map(\.name.count).max() ?? 0
        for pack in found.packs {
            let name = pack.name + String(repeating: " ", count: width - pack.name.count)
            print("\(name)  \(pack.manifest.version)  \(pack.manifest.description)")
        }
        for problem in found.problems {
            Output.standardError("tapir: \(problem)\n")
        }
    }
}

struct PackInfo: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "A pack's settings, with their defaults and help.")

    @Argument(help: "A pack name or folder.", completion: PackCompletion.packsAndFolders)
    var pack: String

    func run() throws {
        let found: Pack
        do {
            found = try PackPaths.searchPath.find(pack)
        } catch {
            throw CleanExit.message("tapir: \(error)", code: 1)
        }
        let manifest = found.manifest
        print("\(manifest.name) \(manifest.version): \(manifest.description)")
        print("folder: \(found.directory)")
        if let shadowing = PackPaths.searchPath.shadowing(pack) { print("note: \(shadowing)") }
        print("handlers: \(manifest.handlers.joined(separator: ", "))")
        let permissions = manifest.permissions.map(\.rawValue)
        print("permissions: \(permissions.isEmpty ? "none (fully sandboxed)" : permissions.joined(separator: ", "))")
        print(manifest.settings.isEmpty ? "settings: none" : "settings (--set key=value):")
        for setting in manifest.settings {
            print("  \(setting.name) (\(setting.summary)): \(setting.help)")
        }
    }
}

struct PackCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a pack: its manifest and types, its files, their Lua syntax, its globals (luacheck, when installed), and its tests.")

    @Argument(help: "The pack's folder.")
    var directory: String

    @OptionGroup var host: HostOptions

    func run() throws {
        let logger = host.makeLogger()
        let pack: Pack
        do {
            pack = try Pack(directory: directory)
            for file in pack.handlerPaths + PackTestRunner.testFiles(of: pack) {
                try Self.checkSyntax(file)
            }
        } catch {
            throw CleanExit.message("tapir: \(error)", code: 1)
        }
        print("\(pack.name) \(pack.manifest.version): manifest, files and syntax fine")
        let lint: PackLuacheck.Outcome
        do {
            // The handlers, and the modules beside them they require (pack.lua is data).
            let beside = try Syscalls.directoryEntries(pack.directory).sorted()
                .filter { $0.hasSuffix(".lua") && $0 != "pack.lua" }.map { pack.directory + "/" + $0 }
            let sources = pack.handlerPaths + beside.filter { !pack.handlerPaths.contains($0) }
            lint = try PackLuacheck.check(handlers: sources, tests: PackTestRunner.testFiles(of: pack))
        } catch {
            throw CleanExit.message("tapir: \(error)", code: 1)
        }
        switch lint {
        case .notInstalled:
            print("luacheck not installed (Debian: lua-check): globals not checked")
        case .warnings(let lines) where lines.isEmpty:
            print("luacheck: no undefined or stray globals")
        case .warnings(let lines):
            print(lines.joined(separator: "\n"))
            throw CleanExit.message("tapir: luacheck: \(lines.count) warning\(lines.count == 1 ? "" : "s") about globals", code: 1)
        }
        let failed = try TestCommand.runTests(of: [pack], settings: [], options: host.hostOptions(), logger: logger,
                                              verbose: false)
        if failed > 0 { throw ExitCode(1) }
    }

    /// Compiles a file without running it.
    static func checkSyntax(_ file: String) throws {
        let state = try LuaState(options: .init(memoryCap: 32 << 20, instructionBudget: 1_000_000, trusted: false),
                                 log: { _, _ in })
        try state.load(chunk: """
            local chunk, problem = loadfile(\(luaQuoted(file)), "t")
            if not chunk then error(problem, 0) end
            """, name: file)
    }
}

struct PackNew: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new", abstract: "Create a working pack skeleton: a manifest, one handler and one test.")

    @Argument(help: "The pack's name (lower-case letters, digits, '-'); the folder made is ./NAME.")
    var name: String

    @Option(name: .long, help: "Make the folder here instead of the current directory.")
    var into: String = "."

    func validate() throws {
        guard !name.isEmpty, name.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d })
        else { throw ValidationError("a pack name uses lower-case letters, digits and '-'") }
    }

    func run() throws {
        let directory = into + "/" + name
        guard !Syscalls.fileExists(directory) else {
            throw CleanExit.message("tapir: \(directory) exists already", code: 1)
        }
        let files = PackSkeleton.files(name: name)
        do {
            try Syscalls.makeDirectories(directory + "/tests")
            try Syscalls.makeDirectories(directory + "/" + PackSkeleton.annotationsFolder)
            for (path, text) in files {
                try Syscalls.writeFile(directory + "/" + path, Array(text.utf8))
            }
        } catch {
            throw CleanExit.message("tapir: cannot write \(directory): \(error)", code: 1)
        }
        var made = files.map(\.0)
        do {
            let annotations = try LuaLSAnnotations.generate(luaDirectories: LuaPaths.preludeDirectories)
            try Syscalls.writeFile(directory + "/" + PackSkeleton.annotationsPath, Array(annotations.utf8))
            made.append(PackSkeleton.annotationsPath)
        } catch {
            print("tapir: warning: editor annotations not written (\(error)); make them with: "
                  + "tapir api --luals --output \(directory)/\(PackSkeleton.annotationsPath)")
        }
        print("made \(directory): " + made.joined(separator: ", "))
        print("try: tapir pack check \(directory) && tapir run \(directory)")
    }
}

struct PackInstall: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Install a pack (a folder or a .tar.gz) into $XDG_DATA_HOME/tapir/packs.",
        discussion: "Archive entries with '..', absolute paths or links are refused; the pack is checked before it is put in place.")

    @Argument(help: "A pack folder, or a .tar.gz holding one.")
    var source: String

    @Option(name: .long, help: "Install here instead of the user's pack directory.")
    var to: String?

    @Flag(name: .long, help: "Replace an installed pack of the same name.")
    var force = false

    func run() throws {
        let destination = to ?? PackPaths.userDirectory
        do {
            let installed = try PackInstaller(destination: destination, replace: force).install(source)
            print("installed \(installed.name) \(installed.manifest.version) in \(installed.directory)")
        } catch {
            throw CleanExit.message("tapir: \(error)", code: 1)
        }
    }
}

/// Lua source for a string literal.
func luaQuoted(_ text: String) -> String {
    PackValue.string(text).luaLiteral
}
