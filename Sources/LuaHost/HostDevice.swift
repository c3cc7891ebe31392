import Capture
import Devices
import Packets
import Reactor

/// A device as the host sees it: the device itself, its id in Lua, its link type, and
/// what the host counts and records for it.
public final class HostDevice {
    public let id: Int64
    public let device: any PacketDevice
    public let linkType: LinkType
    /// The device's MAC address (tap), when known.
    public let macAddress: MACAddress?
    /// The device's MTU, when known; a tun/tap's and a packet device's follow the kernel's (`LinkWatcher`).
    public internal(set) var mtu: Int?
    /// The largest packet dev:write sends (nil: no limit): the one given, else the MTU
    /// and a tap's link headers.
    public var maxPacketSize: Int? {
        givenMaxPacketSize ?? mtu.map { $0 + (device.mode == .tap ? Self.linkHeaderAllowance : 0) }
    }
    private let givenMaxPacketSize: Int?
    /// Tells when a tun/tap's or a packet device's MTU changes.
    var linkWatcher: LinkWatcher?
    /// Bytes a tap frame may carry beyond the MTU: an Ethernet header and two VLAN tags.
    public static let linkHeaderAllowance = 14 + 2 * 4
    /// Frames written to it and read from it, when recording (`--record`).
    public internal(set) var recorder: DeviceRecorder?
    /// Frames whose decoding found a truncated or inconsistent layer.
    public internal(set) var malformedFrames = 0
    /// Frames that no handler claimed.
    public internal(set) var unclaimedFrames = 0
    /// Frames a checksum of which failed, kept from the scripts that verify checksums.
    public internal(set) var badChecksumFrames = 0
    /// IPv4 datagrams over the MTU with Don't Fragment set, not written.
    public internal(set) var tooBigWrites = 0
    var tooBigLog = ErrorLogLimiter(interval: .seconds(10))
    var goneReported = false
    /// The device's truncated reads were said (once: a packet device given frames over its
    /// ring slot by a sender's segmentation offload).
    var truncationSaid = false
    /// While a packet socket's interface is down: the timer looking it up again.
    var downInterfaceCheck: TimerID?
    /// Writes failed since the last one that went out, and the limiter of their log lines.
    var failedWritesInARow = 0
    /// dev:write calls refused for a packet larger than `maxPacketSize`.
    public internal(set) var oversizedWrites = 0
    /// dev:write calls refused for a frame shorter than its link's header; the first is said.
    public internal(set) var shortWrites = 0
    var writeErrorLog: ErrorLogLimiter

    public var name: String { device.name }

    /// `mtu` is the device's (a tun/tap's, read when it was opened); writes over it are
    /// fragmented. `maxPacketSize` bounds every frame written; nil: the MTU's bound, or
    /// none without an MTU (memory devices, unless a test gives one).
    init(id: Int64, device: any PacketDevice, macAddress: MACAddress?, mtu: Int?, maxPacketSize: Int?,
         errorLogInterval: Duration) {
        self.id = id
        self.givenMaxPacketSize = maxPacketSize
        self.writeErrorLog = ErrorLogLimiter(interval: errorLogInterval)
        self.device = device
        self.linkType = device.mode == .tap ? .ethernet : .rawIP
        self.macAddress = macAddress
        self.mtu = mtu
    }

    var modeName: String { device.mode == .tap ? "tap" : "tun" }

    /// Why a frame is too short to be written to this device's link, or nil: a tap takes
    /// an Ethernet header (14 bytes) at least, a tun an IPv4 header (20 bytes; IPv6: 40).
    func shortness(of bytes: UnsafeRawBufferPointer) -> String? {
        guard device.refusesShortFrames else { return nil }
        switch linkType {
        case .ethernet:
            return bytes.count < 14 ? "shorter than an Ethernet header (14 bytes)" : nil
        case .rawIP:
            if bytes.count > 0, bytes[0] >> 4 == 6 {
                return bytes.count < 40 ? "shorter than an IPv6 header (40 bytes)" : nil
            }
            return bytes.count < 20 ? "shorter than an IPv4 header (20 bytes)" : nil
        }
    }

    /// What tapir.devices() and a device's fields show.
    var encodedFields: EncodedValue {
        var fields: [(EncodedValue, EncodedValue)] = [
            (.string("id"), .integer(id)),
            (.string("name"), .string(name)),
            (.string("mode"), .string(modeName)),
        ]
        if let macAddress { fields.append((.string("mac"), .string(macAddress.description))) }
        if let mtu { fields.append((.string("mtu"), .integer(Int64(mtu)))) }
        return .table(fields)
    }

    var encodedCounters: EncodedValue {
        let counters = device.counters
        let common: EncodedValue = .record([
            "rx_packets": .integer(Int64(counters.rxPackets)),
            "rx_bytes": .integer(Int64(counters.rxBytes)),
            "tx_packets": .integer(Int64(counters.txPackets)),
            "tx_bytes": .integer(Int64(counters.txBytes)),
            "read_errors": .integer(Int64(counters.readErrors)),
            "write_errors": .integer(Int64(counters.writeErrors + oversizedWrites + shortWrites)),
            "malformed": .integer(Int64(malformedFrames)),
            "unclaimed": .integer(Int64(unclaimedFrames)),
            "bad_checksum": .integer(Int64(badChecksumFrames)),
            "too_big": .integer(Int64(tooBigWrites)),
        ])
        guard let socket = device as? PacketSocketDevice, case .table(let fields) = common else { return common }
        // A packet device's: frames the kernel dropped for want of room in the ring, and
        // frames cut short by it (longer than a ring slot: a peer's TSO, GRO).
        return .table(fields + [(.string("ring_drops"), .integer(Int64(socket.ringDrops()))),
                                (.string("truncated"), .integer(Int64(counters.truncatedReads)))])
    }
}
