import ArgumentParser
import Capture
import Devices
import Foundation
import Logging
import LuaHost
import Reactor

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run handler scripts on a tun/tap device (a sandbox when no --dev is given).",
        discussion: """
            Without --dev, a fresh network namespace is made holding the device, with the \
            kernel side at 198.18.0.1/24 and 2001:2::1/64; it is removed on exit.

            A .lua file is a script (trusted: io, debug, all of os). Anything else is a pack: \
            a folder with a pack.lua, or a name found in $TAPIR_PACK_PATH, \
            $XDG_DATA_HOME/tapir/packs or the packs shipped with tapir. A pack runs sandboxed \
            with its settings (--set) and the permissions its manifest asks for and --allow grants.
            """)

    @Argument(help: "Lua scripts (trusted) or packs (sandboxed; a folder, or a name on the pack path) to load, each in a state of its own.")
    var scripts: [String]

    @Option(name: .customLong("set"), help: "A pack setting, key=value (PACK.key=value when several packs run).")
    var settings: [String] = []

    @Option(name: .customLong("allow"), help: "Grant a permission a pack's manifest asks for (io, exec, env, debug).")
    var allow: [String] = []

    @Option(name: .long, help: "The tun/tap device to use (created if missing).")
    var dev: String?

    @Flag(name: .long, help: "A tun device: IP datagrams, no Ethernet layer.")
    var tun = false

    @Flag(name: .long, help: "A tap device: Ethernet frames (the default).")
    var tap = false

    @Flag(name: .long, help: "Keep the 4-byte packet-information header on the device (stripped for handlers).")
    var pi = false

    @Option(name: .long, help: "Record every frame in and out to this pcap file ('-': standard output, flushed per packet).")
    var record: String?

    @Option(name: .long, help: "Bytes read from one device per wakeup before serving the others.")
    var readBudget: Int = DeviceDrain.defaultByteBudget

    @Flag(inversion: .prefixedNo, help: "Reload a script when its file (or a module it required from beside it) is saved.")
    var watch = true

    @OptionGroup var host: HostOptions

    func validate() throws {
        guard !(tun && tap) else { throw ValidationError("--tun and --tap exclude each other") }
        guard !scripts.isEmpty else { throw ValidationError("give at least one script") }
        guard readBudget > 0 else { throw ValidationError("--read-budget must be positive") }
    }

    func run() throws {
        let logger = host.makeLogger()
        let plan: LoadPlan
        do {
            plan = try LoadPlan(arguments: scripts, settings: settings, allow: allow, searchPath: PackPaths.searchPath)
        } catch {
            throw CleanExit.message("tapir: \(error)", code: 1)
        }
        for warning in plan.warnings { logger.warning("\(warning)") }
        let mode: DeviceMode = tun ? .tun : .tap
        let loop = try EventLoop()
        defer { loop.close() }
        var options = host.hostOptions()
        options.readBudget = readBudget
        let tapirHost = TapirHost(options: options, loop: loop, logger: logger)
        tapirHost.deviceOpener = LiveDevice.opener

        let live = try LiveDevice.open(name: dev, mode: mode, packetInfo: pi)
        defer { live.sandbox?.remove() }
        let device = live.device
        if let sandbox = live.sandbox { printReachability(sandbox, device) }
        tapirHost.recordPath = record
        do {
            try tapirHost.add(device)
        } catch {
            throw CleanExit.message("tapir: \(error)", code: 1)
        }

        for item in plan.items {
            do {
                switch item {
                case .script(let path): try tapirHost.load(path: path)
                case .pack(let pack, let config): try tapirHost.load(pack: pack, config: config, allowed: plan.allowed)
                }
            } catch {
                throw CleanExit.message("tapir: \(error)", code: 1)
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
            try tapirHost.watchScripts()
            try tapirHost.watchPackHandlers()
        }
        tapirHost.onAllDevicesGone = { [unowned loop] in
            logger.warning("no device left to serve: stopping")
            loop.stop()
        }
        try loop.run()
        tapirHost.stop()
    }

    private func printReachability(_ sandbox: Sandbox, _ device: TunTapDevice) {
        let namespace = sandbox.namespace
        let text = """
            tapir: sandbox namespace \(namespace), device \(device.name) (kernel side \
            \(Sandbox.kernelIPv4Address), \(Sandbox.kernelIPv6Address)); the host's scripts answer as they choose, e.g. 198.18.0.2
              ip netns exec \(namespace) ping 198.18.0.2
              ip netns exec \(namespace) ping -6 2001:2::2

            """
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

/// Ends a command with a message and an exit status, without a stack of errors.
enum CleanExit {
    static func message(_ text: String, code: Int32) -> ExitCode {
        FileHandle.standardError.write(Data((text + "\n").utf8))
        return ExitCode(code)
    }
}
