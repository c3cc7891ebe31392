import Capture
import Devices
import Packets
import Reactor

/// A capture the console steps through with `next()` (tapir console --replay): each step
/// reads one packet, moves the host's manual clock to its time (timers fire as in
/// `tapir replay`) and dispatches it to the handlers.
public final class ConsoleReplay {
    public let device: PcapDevice
    public let hostDevice: HostDevice
    private let timers: TimerQueue<ManualClock>
    private let buffer = ReadBuffer()
    public private(set) var packetsRead = 0

    public init(device: PcapDevice, hostDevice: HostDevice, timers: TimerQueue<ManualClock>) {
        self.device = device
        self.hostDevice = hostDevice
        self.timers = timers
    }

    /// Reads and dispatches the next packet, then hands it to `body` (the console keeps a
    /// copy). False at the end of the capture.
    func step(host: TapirHost,
              _ body: (UnsafeRawBufferPointer, DecodedFrame, HostDevice) -> Void) -> Bool {
        while let next = device.nextPacketTime, !device.isGone {
            _ = timers.advance(to: TimerInstant(nanoseconds: UInt64(max(0, next.nanoseconds))))
            switch device.read(into: buffer.bytes) {
            case .packet(let bytes):
                packetsRead += 1
                host.handle(bytes, from: hostDevice)
                body(bytes, FrameDecoder.decode(bytes, linkType: hostDevice.linkType), hostDevice)
                return true
            case .gone:
                return false
            case .wouldBlock:
                continue
            }
        }
        return false
    }
}
