import ArgumentParser
import Capture
import Devices
import Glibc
import Kernel
import Logging
import LuaHost
import Reactor

struct Console: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A Lua prompt on a live device (a sandbox when no --dev is given), or on a capture.",
        discussion: """
            The prompt evaluates in the first script's Lua state (or an empty one of its own); \
            handlers defined there take effect at once. help() lists the helpers, help(name) prints \
            the API reference's entry; Tab completes names, fields and file names. Helpers: sniff(3), sniff{count=, seconds=, \
            filter=}, show(pkt), hexdump(bytes), send(bytes or pkt, [dev]), handlers(), stats(), \
            reload(), sr1/sr/srloop/arping/ping (send and wait), dissect(pkt) (tshark -V), \
            peer("ping -c1 198.18.0.2") (in the sandbox; jobs(), kill(n), {wait = true}), next() (with --replay). \
            Ctrl-C stops a running chunk, Ctrl-D leaves. History: $TAPIR_HISTORY or ~/.tapir_history.
            """)

    @Argument(help: "Lua scripts to load, each in a state of its own; the prompt uses the first.")
    var scripts: [String] = []

    @Option(name: .long, help: "The tun/tap device to use (created if missing); NAME:packet serves an existing interface through a packet socket.")
    var dev: String?

    @Option(name: .long, help: "Without --dev: how the sandbox reaches the host, a tap moved into it or a veth pair served as a packet device.")
    var sandboxLink: SandboxLink = .tap

    @Flag(name: .long, help: "A tun device: IP datagrams, no Ethernet layer.")
    var tun = false

    @Option(name: .long, help: "Step through this capture with next() instead of using a device.")
    var replay: String?

    @Flag(name: .long, help: "With --replay: step through the packets the capture marks outbound too.")
    var includeOutbound = false

    @OptionGroup var recording: RecordOptions

    @OptionGroup var live: LiveOptions

    @OptionGroup var host: HostOptions

    func validate() throws {
        guard replay == nil || (dev == nil && !tun) else {
            throw ValidationError("--replay uses no device: drop --dev and --tun")
        }
        guard replay == nil || recording.record == nil else {
            throw ValidationError("--record records a live device: drop --replay")
        }
    }

    func run() throws {
        recording.claimStandardOutput()
        let logger = host.makeLogger()
        let loop = try EventLoop()
        defer { loop.close() }
        var options = host.hostOptions()
        live.apply(to: &options)
        let privilegeDrop = try live.privilegeDrop()
        options.droppedToUser = privilegeDrop?.userName
        let tapirHost: TapirHost
        var sandbox: Sandbox?
        var sandboxKeeper: SandboxKeeper?
        defer { if let sandboxKeeper { sandboxKeeper.removeSandboxes() } else { sandbox?.remove() } }
        var consoleReplay: ConsoleReplay?

        if let replay {
            let replaying = try ReplayHost.open(input: replay, output: nil, includeOutbound: includeOutbound,
                                                 options: options, logger: logger)
            tapirHost = replaying.host
            consoleReplay = ConsoleReplay(device: replaying.device, hostDevice: replaying.hostDevice,
                                          timers: replaying.timers)
        } else {
            tapirHost = TapirHost(options: options, loop: loop, logger: logger)
            tapirHost.deviceOpener = LiveDevices.opener
            recording.apply(to: tapirHost)
            let arguments: [DeviceArgument]
            do {
                arguments = try dev.map { (name) throws(DeviceArgumentError) in try [DeviceArgument(parsing: name)] } ?? []
            } catch {
                throw CleanExit.message("tapir: \(error)", code: 1)
            }
            let opened = try LiveDevices.open(arguments, sandboxHosts: 1, mode: tun ? .tun : .tap, packetInfo: false,
                                              sandboxLink: sandboxLink)
            sandbox = opened.sandboxes.first
            let device = opened.devices[0]
            try tapirHost.add(device)
            if let sandbox {
                let peerHint = privilegeDrop == nil ? "peer(\"ping -c1 198.18.0.2\") runs a command there"
                    : "ip netns exec \(sandbox.namespace) COMMAND (as root) runs a command there"
                Output.standardOutput("tapir: sandbox namespace \(sandbox.namespace), device "
                    + "\(device.name), kernel side \(Sandbox.kernelIPv4Address); \(peerHint)\n")
            }
        }
        privilegeDrop?.readStartingSources(scripts: scripts, packs: [], options: options, logger: logger)
        sandboxKeeper = try privilegeDrop?.perform(sandboxes: sandbox.map { [$0] } ?? [], host: tapirHost,
                                                   logger: logger)

        var loaded: [Script] = []
        for script in scripts {
            do {
                loaded.append(try tapirHost.load(path: script))
            } catch {
                throw CleanExit.message("tapir: \(error)", code: 1)
            }
        }
        // No script given: the prompt gets an empty state of its own (an empty chunk).
        let promptScript: Script
        if let first = loaded.first {
            promptScript = first
        } else {
            promptScript = try tapirHost.load(path: "/dev/null", name: "console")
        }

        // After --user, the history is the user's: root's home is no longer writable.
        let defaultHistory = privilegeDrop == nil ? LineEditor.defaultHistoryPath
            : privilegeDrop?.home.map { $0 + "/.tapir_history" }
        let historyPath = Syscalls.environment("TAPIR_HISTORY")
            ?? defaultHistory
        let editor = LineEditor(prompt: ConsoleSession.prompt, historyPath: historyPath)
        if let failure = editor.historyError { logger.warning("\(failure)") }
        let session = ConsoleSession(host: tapirHost, loop: loop, editor: editor, script: promptScript)
        session.sandboxNamespace = sandbox?.namespace
        session.apiReferencePath = LuaPaths.preludeDirectories.first.map { APIReference.path(besideLuaDirectory: $0) }
        if let privilegeDrop, let sandbox {
            session.peerRefusal = "peer needs root to enter the sandbox, and tapir console runs as "
                + "\(privilegeDrop.userName) (--user); run it from another shell as root: "
                + "ip netns exec \(sandbox.namespace) COMMAND"
        }
        session.replay = consoleReplay
        session.onEnd = { [unowned loop] in loop.stop() }
        TerseLogHandler.editor = editor
        defer { TerseLogHandler.editor = nil }

        try loop.onSignal(SIGINT) { [unowned session] in session.interruptAtPrompt() }
        try loop.onSignal(SIGTERM) { [unowned loop] in loop.stop() }
        try loop.onSignal(SIGHUP) { [unowned tapirHost] in tapirHost.reloadAll() }
        var resize = sigset_t()
        sigemptyset(&resize)
        sigaddset(&resize, SIGWINCH)
        pthread_sigmask(SIG_BLOCK, &resize, nil)  // so it comes through the loop
        try loop.onSignal(SIGWINCH) { [unowned editor] in editor.terminalResized() }
        tapirHost.onAllDevicesGone = { [unowned loop, unowned editor] in
            editor.print("tapir: no device left to serve: stopping")
            loop.stop()
        }
        do {
            try session.start()
        } catch {
            throw CleanExit.message("tapir: \(error)", code: 1)
        }
        try loop.run()
        session.stop()
        tapirHost.stop()
    }
}
