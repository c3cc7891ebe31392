import ArgumentParser
import LuaHost
import Logging

struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run packs' own tests (tests/*.lua) offline, on memory devices with a manual clock.",
        discussion: "With no pack named, the tests of every pack shipped with tapir run.")

    @Argument(help: "Packs to test: folders, or names on the pack path.", completion: PackCompletion.packsAndFolders)
    var packs: [String] = []

    @Option(name: .customLong("set"), help: "A setting the packs run their tests with, key=value.")
    var settings: [String] = []

    @Flag(name: .shortAndLong, help: "Print every test, not only the failures.")
    var verbose = false

    @OptionGroup var host: HostOptions

    func validate() throws {
        guard settings.isEmpty || packs.count == 1 else {
            throw ValidationError("--set is for one pack: name exactly one pack to test with settings")
        }
    }

    func run() throws {
        var options = host.hostOptions()
        if host.logLevel == "info" { options.errorLogInterval = .seconds(0) }
        let logger = host.makeLogger()
        var selected: [Pack] = []
        do {
            if packs.isEmpty {
                guard let bundled = PackPaths.bundledDirectory else {
                    throw PackError("cannot find tapir's lua/packs (set TAPIR_LUA_DIR)")
                }
                let found = PackSearchPath(directories: [bundled]).all()
                if let problem = found.problems.first { throw problem }
                selected = found.packs
            } else {
                selected = try packs.map { name throws(PackError) in try PackPaths.searchPath.find(name) }
            }
        } catch {
            throw CleanExit.message("tapir: \(error)", code: 1)
        }
        let failed = try Self.runTests(of: selected, settings: settings, options: options, logger: logger,
                                       verbose: verbose)
        if failed > 0 { throw ExitCode(1) }
    }

    /// Runs the tests of `packs`, printing failures (and passes when verbose) and the
    /// summary line; returns the number failed.
    static func runTests(of packs: [Pack], settings: [String], options: TapirHost.Options, logger: Logger,
                         verbose: Bool) throws -> Int {
        let runner = PackTestRunner(logger: logger, options: options)
        var passed = 0
        var failed = 0
        for pack in packs {
            let config: [String: PackValue]
            do {
                let given = Dictionary(settings.compactMap { setting -> (String, String)? in
                    guard let equals = setting.firstIndex(of: "=") else { return nil }
                    return (String(setting[..<equals]), String(setting[setting.index(after: equals)...]))
                }, uniquingKeysWith: { $1 })
                config = try pack.manifest.resolve(given)
            } catch {
                throw CleanExit.message("tapir: \(error)", code: 1)
            }
            for result in runner.run(pack, config: config) {
                if let failure = result.failure {
                    failed += 1
                    print("FAIL \(result.pack) \(result.test) (\(result.file))\n     \(failure)")
                } else {
                    passed += 1
                    if verbose { print("ok   \(result.pack) \(result.test)") }
                }
            }
        }
        print("\(passed) passed, \(failed) failed")
        return failed
    }
}
