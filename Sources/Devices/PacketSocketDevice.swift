import CPacket
import Capture
import Glibc
import Kernel
import SystemPackage

/// An existing interface (a veth end, a bridge port, a VXLAN or Geneve device, a NIC)
/// served through an AF_PACKET socket: frames arrive in a memory-mapped receive ring
/// (read in place, no copy; the descriptor is polled only once the ring is empty), and go
/// out with one `send` each, past the interface's queueing discipline
/// (PACKET_QDISC_BYPASS). The socket ignores the frames it sends itself
/// (PACKET_IGNORE_OUTGOING), may put the interface in promiscuous mode for its lifetime,
/// and may carry a kernel filter so frames no script wants never reach user space.
///
/// The ring is TPACKET_V2 (one slot per frame, each handed over as it lands) unless
/// `blocks` asks for TPACKET_V3, whose blocks are handed over when full or 1 ms old: on a
/// veth here V3 made 930 round trips/s at one outstanding (the 1 ms block timeout each
/// time) and 32,500/s at 64, V2 7,300/s and 50,000/s (Benchmarks/peers/c_ring_echo.c).
///
/// Its C half is `CPacket` (the ring's status words are shared with the kernel and need
/// memory barriers). With `offloads` (PACKET_VNET_HDR) a sender's TCP super-frames come
/// whole, as on a tap with IFF_VNET_HDR, instead of cut short at a slot's end. Used on one
/// thread (the event loop's).
public final class PacketSocketDevice: PacketDevice {
    public struct Configuration: Sendable, Equatable {
        /// The interface, which must exist in the caller's namespace.
        public var name: String
        /// PACKET_MR_PROMISC for as long as the device is open.
        public var promiscuous: Bool
        /// A TPACKET_V3 (block) receive ring instead of TPACKET_V2.
        public var blocks: Bool
        /// Set IFF_UP after opening.
        public var bringUp: Bool
        /// PACKET_VNET_HDR (TPACKET_V2 rings only): a sender's TCP super-frames (a veth
        /// peer's TSO/GSO) arrive whole, up to 64 KiB, with a `VirtioNetHeader` saying how
        /// to cut them and which checksum is partial, as a tap's offloads hand them over.
        public var offloads: Bool

        public init(name: String, promiscuous: Bool = false, blocks: Bool = false, bringUp: Bool = false,
                    offloads: Bool = false) {
            self.name = name
            self.promiscuous = promiscuous
            self.blocks = blocks
            self.bringUp = bringUp
            self.offloads = offloads && !blocks
        }
    }

    /// Receive ring: this many blocks of `blockSize` bytes (4 MiB).
    static let blockSize: UInt32 = 1 << 16
    static let blockCount: UInt32 = 64
    /// With offloads: one slot a block, each holding a 64 KiB super-frame, its headers and
    /// the ring's (17 pages), 128 of them (8.5 MiB).
    static let offloadSlotSize: UInt32 = 17 * 4096
    static let offloadSlotCount: UInt32 = 128

    public let name: String
    public let mode = DeviceMode.tap
    public let hasPacketInfo = false
    /// The interface's MTU: read when opened, then as the host's `LinkWatcher` tells it
    /// (`interfaceMTUChanged(to:)`).
    public private(set) var mtu: Int
    /// Bytes of a TPACKET_V2 ring slot (header and frame); grows with the MTU.
    public private(set) var slotSize: UInt32
    public let macAddress: [UInt8]?
    public let interfaceIndex: Int
    public let configuration: Configuration

    public private(set) var counters = DeviceCounters()
    public var isGone: Bool { goneReason != nil }
    public private(set) var goneReason: String?
    /// The PACKET_FANOUT group the socket is in (`openFanout`), nil for none.
    public private(set) var fanoutGroup: Int?
    /// The pcap-filter expression in the socket's kernel filter, nil for none.
    public private(set) var kernelFilter: String?

    private var socket: OpaquePointer?
    private var droppedSoFar = 0
    private let descriptor: CInt

    /// With offloads: how the kernel left the frame read last.
    public var offloadHeader: VirtioNetHeader? { configuration.offloads ? lastReadHeader : nil }
    private var lastReadHeader = VirtioNetHeader()

    public var fileDescriptor: FileDescriptor? { socket == nil ? nil : FileDescriptor(rawValue: descriptor) }

    public static func open(_ configuration: Configuration,
                            io: any DeviceIO = SystemDeviceIO.shared) throws(DeviceError) -> PacketSocketDevice {
        let name = configuration.name
        guard name.utf8.count <= TunTapDevice.maximumNameLength else { throw .nameTooLong(name) }
        if configuration.bringUp {
            let result = io.setInterfaceUp(name)
            if result == -ENODEV { throw .noSuchInterface(name) }
            guard result >= 0 else {
                if -result == EPERM || -result == EACCES {
                    throw .cannotBringUp(name: name, errno: Errno(rawValue: -result))
                }
                throw .system("SIOCSIFFLAGS \(name) up", -result)
            }
        }
        let mtu = io.interfaceMTU(name)
        if mtu == -Int(ENODEV) { throw .noSuchInterface(name) }
        guard mtu >= 0 else { throw .system("SIOCGIFMTU \(name)", CInt(-mtu)) }
        var mac: [UInt8]?
        if case .success(let bytes) = io.interfaceMAC(name), bytes.count == 6 { mac = bytes }

        var flags: CInt = 0
        if configuration.promiscuous { flags |= TAPIR_PACKET_PROMISC }
        if configuration.blocks { flags |= TAPIR_PACKET_BLOCKS_V3 }
        if configuration.offloads { flags |= TAPIR_PACKET_VNET_HDR }
        var error: CInt = 0
        var step: CInt = 0
        let ring = configuration.offloads ? (offloadSlotSize, offloadSlotCount, offloadSlotSize)
            : (blockSize, blockCount, slotSize(mtu: mtu))
        guard let socket = tapir_packet_open(name, flags, ring.0, ring.1, ring.2, &error, &step) else {
            let code = -error
            switch (step, code) {
            case (TAPIR_PACKET_STEP_INDEX, ENODEV), (TAPIR_PACKET_STEP_BIND, ENODEV): throw .noSuchInterface(name)
            case (_, EPERM), (_, EACCES): throw .packetSocketDenied(name: name, errno: Errno(rawValue: code))
            case (TAPIR_PACKET_STEP_SOCKET, _): throw .system("socket(AF_PACKET) for \(name)", code)
            case (TAPIR_PACKET_STEP_RING, _): throw .system("PACKET_RX_RING on \(name)", code)
            case (TAPIR_PACKET_STEP_BIND, _): throw .system("bind to \(name)", code)
            default: throw .system("packet socket options on \(name)", code)
            }
        }
        return PacketSocketDevice(configuration: configuration, socket: socket, mtu: mtu, macAddress: mac)
    }

    /// Opens `count` sockets on one interface, each with its own ring, joined in a fanout
    /// group of their own (PACKET_FANOUT_HASH; an IP datagram's fragments joined first):
    /// the kernel hands each flow's frames to one of them. One per queue of
    /// `tapir run --queues N`. Frames that arrive between one socket's bind and its joining
    /// the group (microseconds, at start) reach it as well as the group.
    public static func openFanout(_ configuration: Configuration, count: Int,
                                  io: any DeviceIO = SystemDeviceIO.shared) throws(DeviceError) -> [PacketSocketDevice] {
        var sockets: [PacketSocketDevice] = []
        do throws(DeviceError) {
            var group: CInt = -1  // a new one
            for _ in 0..<max(count, 1) {
                let device = try open(configuration, io: io)
                sockets.append(device)
                group = try device.joinFanout(group)
            }
            return sockets
        } catch {
            for socket in sockets { socket.close() }
            throw error
        }
    }

    /// Joins fanout group `group`, or a new one (-1); returns the group's id.
    private func joinFanout(_ group: CInt) throws(DeviceError) -> CInt {
        guard let socket else { throw .deviceGone(name: name, reason: "closed") }
        let result = tapir_packet_join_fanout(socket, group)
        guard result >= 0 else { throw .system("PACKET_FANOUT on \(name)", -result) }
        fanoutGroup = Int(result)
        return result
    }

    /// A V2 slot holds the ring's header (80 bytes up to the frame) and the longest frame
    /// the MTU allows with an Ethernet and a VLAN header: a power of two from 2 KiB.
    static func slotSize(mtu: Int) -> UInt32 {
        var size: UInt32 = 2048
        while Int(size) < mtu + 14 + 4 + 128, size < blockSize { size <<= 1 }
        return size
    }

    private init(configuration: Configuration, socket: OpaquePointer, mtu: Int, macAddress: [UInt8]?) {
        self.configuration = configuration
        self.name = configuration.name
        self.socket = socket
        self.descriptor = tapir_packet_fd(socket)
        self.interfaceIndex = Int(tapir_packet_ifindex(socket))
        self.mtu = mtu
        self.slotSize = configuration.offloads ? Self.offloadSlotSize : Self.slotSize(mtu: mtu)
        self.macAddress = macAddress
    }

    /// The interface's MTU changed. A TPACKET_V2 ring whose slots are too small for the
    /// new MTU's frames is made again with larger ones (the frames waiting in it are lost,
    /// once), so no frame the MTU allows is cut short; a smaller MTU keeps the slots it
    /// has. A TPACKET_V3 ring packs frames into its 64 KiB blocks whatever the MTU, and
    /// with offloads each slot holds a 64 KiB frame from the start. Throws
    /// when the ring could not be made again (the old one is kept if it can be; if not,
    /// the device reads nothing).
    public func interfaceMTUChanged(to mtu: Int) throws(DeviceError) {
        self.mtu = mtu
        guard let socket, !configuration.blocks, !configuration.offloads else { return }
        let needed = Self.slotSize(mtu: mtu)
        guard needed > slotSize else { return }
        let result = tapir_packet_resize_slots(socket, needed)
        guard result == 0 else {
            throw .system("PACKET_RX_RING of \(needed)-byte slots on \(name) for MTU \(mtu)", -result)
        }
        slotSize = needed
    }

    deinit { close() }

    /// The next frame of the ring, in place (`buffer` is not used): valid until the next read.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        guard let socket, !isGone else { return .wouldBlock }
        var frame: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        var truncated: CInt = 0
        guard tapir_packet_next(socket, &frame, &length, &truncated) == 1, let frame else { return .wouldBlock }
        if truncated != 0 { counters.truncatedReads += 1 }
        if configuration.offloads, let header = tapir_packet_offload(socket) {
            lastReadHeader = VirtioNetHeader(loading: header)
        }
        counters.recordRead(bytes: Int(length))
        return .packet(UnsafeRawBufferPointer(start: frame, count: Int(length)))
    }

    public func write(_ packet: UnsafeRawBufferPointer) -> WriteResult {
        guard let socket, !isGone, let base = packet.baseAddress else {
            counters.recordWriteFailure(.closed)
            return .failed(.closed)
        }
        while true {
            let sent = tapir_packet_send(socket, base.assumingMemoryBound(to: UInt8.self), packet.count)
            if sent >= 0 {
                counters.recordWrite(bytes: packet.count)
                return .written
            }
            guard let result = DeviceErrno.writeResult(after: CInt(-sent), call: "send", device: name,
                                                       counters: &counters) else { continue }
            if case .gone(let reason) = result { goneReason = reason }
            return result
        }
    }

    /// Puts a pcap-filter expression in the socket's kernel filter (compiled by libpcap
    /// for Ethernet), or removes the filter (nil): frames it refuses are dropped in the
    /// kernel, never copied to the ring.
    public func setKernelFilter(_ expression: String?) throws {
        guard let socket else { return }
        guard let expression else {
            let result = tapir_packet_set_filter(socket, nil, 0)
            guard result == 0 else { throw DeviceError.system("SO_DETACH_FILTER on \(name)", -result) }
            kernelFilter = nil
            return
        }
        let filter = try PcapFilter(expression, linkType: .ethernet)
        let result = filter.withInstructions { instructions, count in
            tapir_packet_set_filter(socket, instructions, UInt32(count))
        }
        guard result == 0 else { throw DeviceError.system("SO_ATTACH_FILTER on \(name)", -result) }
        kernelFilter = expression
    }

    /// The poller said the socket has an error: the kernel's ENETDOWN when the interface
    /// went down (frames come again once it is up) or went away. Clears it; true when the
    /// interface is still there. A gone interface makes the device gone.
    public func interfaceSurvivedError() -> Bool {
        guard let socket, !isGone else { return false }
        var error: CInt = 0
        let result = tapir_packet_clear_error(socket, &error)
        if result == 1 { return true }
        goneReason = "interface \(name) is gone (deleted, or moved to another namespace)"
        return false
    }

    /// Whether the interface is still there. The kernel reports an interface's deletion
    /// with the same ENETDOWN as its going down, once, before the interface is gone from
    /// lookups (and not at all when it was down already): after an error it survived, the
    /// host asks again. A gone interface makes the device gone.
    public func interfaceStillThere() -> Bool {
        guard let socket, !isGone else { return false }
        if tapir_packet_interface_exists(socket) == 1 { return true }
        goneReason = "interface \(name) is gone (deleted, or moved to another namespace)"
        return false
    }

    /// Frames the kernel dropped for want of room in the receive ring, since the device
    /// was opened (PACKET_STATISTICS, read when asked: one system call).
    public func ringDrops() -> Int {
        guard let socket else { return droppedSoFar }
        var received: UInt64 = 0
        var dropped: UInt64 = 0
        if tapir_packet_statistics(socket, &received, &dropped) == 0 { droppedSoFar += Int(dropped) }
        return droppedSoFar
    }

    public func close() {
        guard let socket else { return }
        self.socket = nil
        tapir_packet_close(socket)
    }
}
