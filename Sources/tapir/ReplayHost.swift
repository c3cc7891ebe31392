import Capture
import Devices
import Logging
import LuaHost
import Reactor

/// A host over a capture (`replay`, `console --replay`): no device, no root; the capture
/// is read by a PcapDevice and timers run on the capture's clock, which also stamps what
/// the handlers write. The packets a Tapir recording marks outbound (the recorded host's
/// own answers) are passed over unless `includeOutbound`.
struct ReplayHost {
    let host: TapirHost
    let device: PcapDevice
    let hostDevice: HostDevice
    let timers: TimerQueue<ManualClock>

    static func open(input: String, output: String?, includeOutbound: Bool, options: TapirHost.Options,
                     logger: Logger) throws -> ReplayHost {
        let device: PcapDevice
        do {
            device = try PcapDevice(name: "replay0", input: input, output: output, includeOutbound: includeOutbound)
        } catch {
            throw CleanExit.message("tapir: \(error)", code: 1)
        }
        let start = TimerInstant(nanoseconds: UInt64(max(0, device.time.nanoseconds)))
        let timers = TimerQueue(clock: ManualClock(now: start))
        let host = TapirHost(options: options, timers: timers, logger: logger)
        let captureClock = { CaptureTime(nanoseconds: Int64(timers.clock.now.nanoseconds)) }
        device.clock = captureClock
        host.recordingClock = captureClock
        return ReplayHost(host: host, device: device, hostDevice: try host.add(device), timers: timers)
    }
}
