import ArgumentParser
import Capture
import Devices
import LuaHost
import Reactor

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run handler scripts over a capture, offline: no device, no root.",
        discussion: "Timers run on the capture's clock. What the handlers write goes to --out.")

    @Argument(help: "The capture to read (pcap or pcapng; Ethernet or raw IP).")
    var input: String

    @Argument(help: "Lua scripts to load, each in a state of its own.")
    var scripts: [String]

    @Option(name: .long, help: "Where to write what the handlers write (pcap).")
    var out: String?

    @Flag(name: .long, help: "Replay the packets a recording marks outbound too (by default a Tapir recording's own answers are passed over).")
    var includeOutbound = false

    @OptionGroup var host: HostOptions

    func validate() throws {
        guard !scripts.isEmpty else { throw ValidationError("give at least one script") }
    }

    func run() throws {
        let logger = host.makeLogger()
        let replaying = try ReplayHost.open(input: input, output: out, includeOutbound: includeOutbound,
                                            options: host.hostOptions(), logger: logger)
        let (tapirHost, device, hostDevice, timers) = (replaying.host, replaying.device, replaying.hostDevice,
                                                        replaying.timers)
        for script in scripts {
            do {
                try tapirHost.load(path: script)
            } catch {
                throw CleanExit.message("tapir: \(error)", code: 1)
            }
        }

        let buffer = ReadBuffer()
        var packets = 0
        while let next = device.nextPacketTime, !hostDevice.isGone {
            timers.advance(to: TimerInstant(nanoseconds: UInt64(max(0, next.nanoseconds))))
            switch device.read(into: buffer.bytes) {
            case .packet(let bytes):
                packets += 1
                tapirHost.handle(bytes, from: hostDevice)
            case .gone(let reason):
                logger.error("\(reason)")
            case .wouldBlock:
                break
            }
        }
        withExtendedLifetime(buffer) {}
        tapirHost.stop()
        device.close()
        if let failure = device.lastWriteError {
            throw CleanExit.message("tapir: \(failure)", code: 1)
        }
        let skipped = device.skippedOutbound > 0
            ? " (passed over \(device.skippedOutbound) outbound, the recorded host's own; --include-outbound replays them)" : ""
        logger.info("replayed \(packets) packets\(skipped); handlers wrote \(device.counters.txPackets)")
    }
}

extension HostDevice {
    var isGone: Bool { device.isGone }
}
