import ArgumentParser
import Devices

/// `tapir sandbox-keeper NAMESPACE...` (hidden): the keeper process `--user` starts.
struct SandboxKeeperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox-keeper",
        abstract: "Removes the sandbox namespaces of a `tapir run --user` when asked or when it ends (internal).",
        shouldDisplay: false)

    @Argument var namespaces: [String]

    func run() throws {
        let status = SandboxKeeper.serve(namespaces: namespaces)
        if status != 0 { throw ExitCode(status) }
    }
}
