import ArgumentParser
import Capture
import Devices
import Glibc
import Logging
import LuaHost
import Reactor

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run handler scripts on a tun/tap device (a sandbox when no --dev is given).",
        discussion: """
            Without --dev, a fresh network namespace is made holding the device, with the \
            kernel side at 198.18.0.1/24 and 2001:2::1/64; it is removed on exit. With \
            --hosts N, N namespaces are made, each holding one of N devices, the kernel sides \
            at 198.18.0.1..N/24 (a simulated network for a switch or a router pack).

            --dev may be given several times; the devices get dev.id 1, 2, ... in that order.

            A .lua file is a script (trusted: io, debug, all of os). Anything else is a pack: \
            a folder with a pack.lua, or a name found in $TAPIR_PACK_PATH, \
            $XDG_DATA_HOME/tapir/packs or the packs shipped with tapir. A pack runs sandboxed \
            with its settings (--set) and the permissions its manifest asks for and --allow grants.
            """)

    @Argument(help: "Lua scripts (trusted) or packs (sandboxed; a folder, or a name on the pack path) to load, each in a state of its own.",
              completion: PackCompletion.packsAndScripts)
    var scripts: [String]

    @Option(name: .customLong("set"), help: "A pack setting, key=value (PACK.key=value when several packs run).")
    var settings: [String] = []

    @Option(name: .customLong("allow"), help: "Grant a permission a pack's manifest asks for (io, exec, env, debug).")
    var allow: [String] = []

    @Option(name: .long, help: ArgumentHelp("A tun/tap device to use (created if missing); repeatable. NAME:tun or NAME:tap sets that device's mode; NAME:packet serves an existing interface (veth, bridge port, VXLAN, NIC) through a packet socket, NAME:packet,promisc in promiscuous mode.", valueName: "name[:tun|:tap|:packet[,promisc]]"))
    var dev: [String] = []

    @Option(name: .long, help: "Without --dev: how a sandbox reaches the host, a tap moved into it or a veth pair served as a packet device.")
    var sandboxLink: SandboxLink = .tap

    @Option(name: .long, help: "Without --dev: make N sandbox namespaces, each holding one device (kernel sides 198.18.0.1..N/24).")
    var hosts: Int = 1

    @Flag(name: .long, help: "Tun devices: IP datagrams, no Ethernet layer.")
    var tun = false

    @Flag(name: .long, help: "Tap devices: Ethernet frames (the default).")
    var tap = false

    @Flag(name: .long, help: "Keep the 4-byte packet-information header on the device (stripped for handlers).")
    var pi = false

    @Option(name: .long, help: "Serve each device with N queues (a multi-queue tun/tap; N packet sockets in a PACKET_FANOUT group): N threads, each with its own event loop and Lua state of every script; the kernel spreads flows over the queues.")
    var queues: Int = 1

    @Flag(inversion: .prefixedNo, help: "Tap and packet-device offloads (IFF_VNET_HDR, PACKET_VNET_HDR): the kernel hands TCP over in super-segments of up to 64 KiB with checksums left partial, which the TCP engine takes whole (handlers still see ordinary packets). --no-offloads for a kernel whose offloads misbehave.")
    var offloads = true

    @Flag(inversion: .prefixedNo, help: "A tun/tap's reads and writes in batches through an io_uring, one system call a batch (where the kernel allows io_uring; read and write otherwise). --no-io-uring for one read and one write call a packet.")
    var ioUring = true

    @OptionGroup var recording: RecordOptions

    @Flag(inversion: .prefixedNo, help: "Reload a script when its file (or a module it required from beside it) is saved.")
    var watch = true

    @OptionGroup var live: LiveOptions

    @OptionGroup var host: HostOptions

    func validate() throws {
        guard !(tun && tap) else { throw ValidationError("--tun and --tap exclude each other") }
        guard !scripts.isEmpty else { throw ValidationError("give at least one script") }
        guard (1...LiveDevices.maximumHosts).contains(hosts) else {
            throw ValidationError("--hosts must be 1 to \(LiveDevices.maximumHosts)")
        }
        guard hosts == 1 || dev.isEmpty else { throw ValidationError("--hosts makes its own devices: drop --dev") }
        guard sandboxLink == .tap || (dev.isEmpty && !tun) else {
            throw ValidationError("--sandbox-link veth makes Ethernet sandboxes of its own: drop --dev and --tun")
        }
        let names = try deviceArguments().map(\.name)
        guard Set(names).count == names.count else { throw ValidationError("a device is named twice in --dev") }
        try validateQueues()
    }

    /// What --queues N (N > 1) cannot do yet, said before anything is opened.
    private func validateQueues() throws {
        guard (1...QueueRun.maximumQueues).contains(queues) else {
            throw ValidationError("--queues must be 1 to \(QueueRun.maximumQueues)")
        }
        guard queues > 1 else { return }
        guard live.user == nil else {
            throw ValidationError("--queues and --user exclude each other: the queues' threads would read the scripts kept while root from one store")
        }
        guard recording.record != "-" else {
            throw ValidationError("--queues records each queue to a file of its own (FILE-queueN): --record - cannot be split")
        }
    }

    private func deviceArguments() throws -> [DeviceArgument] {
        do {
            return try dev.map { (text) throws(DeviceArgumentError) in try DeviceArgument(parsing: text) }
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        recording.claimStandardOutput()
        let logger = host.makeLogger()
        let searchPath = PackPaths.searchPath
        for argument in scripts {
            if let shadowing = searchPath.shadowing(argument) { logger.warning("\(shadowing)") }
        }
        let plan: LoadPlan
        do {
            plan = try LoadPlan(arguments: scripts, settings: settings, allow: allow, searchPath: searchPath)
        } catch {
            throw CleanExit.message("tapir: \(error)", code: 1)
        }
        for warning in plan.warnings { logger.warning("\(warning)") }
        let mode: DeviceMode = tun ? .tun : .tap
        if queues > 1 { return try runQueues(plan: plan, mode: mode, logger: logger) }
        let loop = try EventLoop()
        defer { loop.close() }
        var options = host.hostOptions(offloads: offloads && !tun && !pi)
        live.apply(to: &options)
        let privilegeDrop = try live.privilegeDrop()
        options.droppedToUser = privilegeDrop?.userName
        let tapirHost = TapirHost(options: options, loop: loop, logger: logger)
        tapirHost.deviceOpener = LiveDevices.opener

        let devices = try LiveDevices.open(try deviceArguments(), sandboxHosts: hosts, mode: mode, packetInfo: pi,
                                           sandboxLink: sandboxLink, offloads: offloads, batchedIO: ioUring)
        var sandboxKeeper: SandboxKeeper?
        defer { if let sandboxKeeper { sandboxKeeper.removeSandboxes() } else { devices.removeSandboxes() } }
        Output.standardOutput(devices.reachability)
        recording.apply(to: tapirHost)
        do {
            for device in devices.devices { try tapirHost.add(device) }
        } catch {
            throw CleanExit.message("tapir: \(error)", code: 1)
        }
        if let privilegeDrop {
            var scripts: [String] = []
            var packs: [String] = []
            for item in plan.items {
                switch item {
                case .script(let path): scripts.append(path)
                case .pack(let pack, _): packs.append(pack.directory)
                }
            }
            privilegeDrop.readStartingSources(scripts: scripts, packs: packs, options: options, logger: logger)
        }
        sandboxKeeper = try privilegeDrop?.perform(sandboxes: devices.sandboxes, host: tapirHost, logger: logger)

        for item in plan.items {
            do throws(LuaError) {
                switch item {
                case .script(let path): try tapirHost.load(path: path)
                case .pack(let pack, let config): try tapirHost.load(pack: pack, config: config, allowed: plan.allowed)
                }
            } catch {
                // A pack that refuses its settings says so in one line (its file:line and what
                // is wrong); the traceback is the pack's business, shown at --log-level debug.
                // A script given by path is the user's own code: its traceback helps.
                guard case .pack = item else { throw CleanExit.message("tapir: \(error)", code: 1) }
                if let traceback = error.traceback, !traceback.isEmpty { logger.debug("\(traceback)") }
                throw CleanExit.message("tapir: \(error.message)", code: 1)
            }
        }

        for signal in [SIGINT, SIGTERM] {
            try loop.onSignal(signal) { [unowned loop] in
                logger.info("stopping (signal \(signal))")
                loop.stop()
            }
        }
        try loop.onSignal(SIGHUP) { [unowned tapirHost] in
            logger.info("SIGHUP: reloading")
            tapirHost.reloadAll()
        }
        if watch {
            tapirHost.watchScripts()
            tapirHost.watchPackHandlers()
        }
        tapirHost.onAllDevicesGone = { [unowned loop] in
            logger.warning("no device left to serve: stopping")
            loop.stop()
        }
        try loop.run()
        tapirHost.stop()
    }
}

extension Run {
    /// --queues N: the devices opened N times (multi-queue), then a queue host per queue
    /// (QueueRun).
    private func runQueues(plan: LoadPlan, mode: DeviceMode, logger: Logger) throws {
        var options = host.hostOptions(offloads: offloads && !tun && !pi)
        live.apply(to: &options)
        let devices = try LiveDevices.open(try deviceArguments(), sandboxHosts: hosts, mode: mode, packetInfo: pi,
                                           sandboxLink: sandboxLink, offloads: offloads, queues: queues,
                                           batchedIO: ioUring)
        defer { devices.removeSandboxes() }
        Output.standardOutput(devices.reachability)
        if let record = recording.record {
            let first = QueueRun.recordPath(record, queue: 1), last = QueueRun.recordPath(record, queue: queues)
            logger.info("recording each queue to a file of its own: \(first) ... \(last)")
        }
        let run = QueueRun(settings: .init(options: options, plan: plan, recordPath: recording.record,
                                           recordFormat: recording.recordFormat, watch: watch),
                           queues: devices.queues, logger: logger)
        let status = try run.run()
        if status != 0 { throw ExitCode(status) }
    }
}

/// Ends a command with a message and an exit status, without a stack of errors.
enum CleanExit {
    static func message(_ text: String, code: Int32) -> ExitCode {
        Output.standardError(text + "\n")
        return ExitCode(code)
    }
}
