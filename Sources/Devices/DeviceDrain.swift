/// Reads a readable device in a loop, up to a byte budget per wakeup, so that one busy
/// device cannot starve the others served by the same loop (Twisted's maxThroughput).
/// Assumes level-triggered polling: what is left when the budget runs out wakes the
/// loop again, after it has served the other ready devices.
public struct DeviceDrain: Sendable {
    public static let defaultByteBudget = 256 * 1024

    /// Why a drain stopped.
    public enum Stop: Equatable, Sendable {
        /// EAGAIN: the device is empty for now.
        case wouldBlock
        /// The byte budget ran out: more is probably pending; serve other devices first.
        case budgetExhausted
        /// The device is gone (reported once); unregister and close it.
        case gone(String)
    }

    public struct Report: Equatable, Sendable {
        public var packets = 0
        public var bytes = 0
        public var stop = Stop.wouldBlock

        public init(packets: Int = 0, bytes: Int = 0, stop: Stop = .wouldBlock) {
            self.packets = packets
            self.bytes = bytes
            self.stop = stop
        }

        public var morePending: Bool { stop == .budgetExhausted }
    }

    public var byteBudget: Int

    public init(byteBudget: Int = DeviceDrain.defaultByteBudget) {
        self.byteBudget = byteBudget
    }

    /// Reads packets into `buffer`, handing each to `handle` (the slice is valid during
    /// the call only), until EAGAIN, the device is gone, or `byteBudget` bytes were read
    /// and the device holds no frame it took from the kernel (`holdsReadFrames`).
    public func drain(_ device: some PacketDevice, into buffer: UnsafeMutableRawBufferPointer,
                      _ handle: (UnsafeRawBufferPointer) -> Void) -> Report {
        var report = Report()
        while report.bytes < byteBudget || device.holdsReadFrames {
            switch device.read(into: buffer) {
            case .packet(let packet):
                report.packets += 1
                report.bytes += packet.count
                handle(packet)
            case .wouldBlock:
                report.stop = .wouldBlock
                return report
            case .gone(let reason):
                report.stop = .gone(reason)
                return report
            }
        }
        report.stop = .budgetExhausted
        return report
    }
}
