import CTunTap
import Glibc
import Kernel
import SystemPackage

/// One queue of a Linux tun or tap device: a non-blocking, close-on-exec descriptor
/// attached with TUNSETIFF. A multi-queue device is several `TunTapDevice`s with the same
/// name, one per queue (`openQueues`, `openAnotherQueue`).
///
/// Used on one thread (the event loop's); every system call goes through `io`.
public final class TunTapDevice: PacketDevice {
    public struct Configuration: Sendable, Equatable {
        /// The interface name; "%d" in it lets the kernel pick a number ("tap%d").
        /// An existing device of the same kind (a persistent one, or another queue) is attached to.
        public var name: String
        public var mode: DeviceMode
        /// Keep the kernel's 4-byte packet-information header (IFF_NO_PI not set).
        public var packetInfo: Bool
        public var multiQueue: Bool
        /// TUNSETPERSIST after opening: true keeps the device after close, false
        /// makes a persistent device transient again; nil leaves it as it is.
        public var persist: Bool?
        public var owner: uid_t?
        public var group: gid_t?
        /// Set IFF_UP after opening (in the opener's namespace).
        public var bringUp: Bool
        /// Tap without packet information only: IFF_VNET_HDR and TUNSETOFFLOAD (partial
        /// checksums, TCP super-segments over IPv4 and IPv6), so the kernel hands over and
        /// takes up to 64 KiB of TCP in one frame (`VirtioNetHeader`).
        public var offloads: Bool
        /// Without packet information only: a read burst's frames and the writes a burst
        /// made each go through an io_uring in one system call a batch (TapRing), where the
        /// kernel allows one; read(2) and write(2) otherwise.
        public var batchedIO: Bool

        public init(name: String, mode: DeviceMode, packetInfo: Bool = false, multiQueue: Bool = false,
                    persist: Bool? = nil, owner: uid_t? = nil, group: gid_t? = nil, bringUp: Bool = false,
                    offloads: Bool = false, batchedIO: Bool = false) {
            self.offloads = offloads
            self.batchedIO = batchedIO
            self.name = name
            self.mode = mode
            self.packetInfo = packetInfo
            self.multiQueue = multiQueue
            self.persist = persist
            self.owner = owner
            self.group = group
            self.bringUp = bringUp
        }
    }

    /// Interface names are at most this many bytes.
    public static let maximumNameLength = 15
    /// The packet-information header: 2 bytes of flags, 2 bytes of EtherType, big-endian.
    static let packetInfoSize = 4
    /// PI flag set by the kernel when the packet did not fit the read buffer.
    static let packetInfoTruncated: UInt16 = 0x0001

    public let name: String
    public let mode: DeviceMode
    public let hasPacketInfo: Bool
    public let isMultiQueue: Bool
    /// Frames carry a `VirtioNetHeader` (Configuration.offloads on a tap without PI).
    public let hasOffloads: Bool
    /// The header of the last frame read, with offloads; nil without.
    public var offloadHeader: VirtioNetHeader? { hasOffloads ? lastReadHeader : nil }
    public var takesOffloadedWrites: Bool { hasOffloads }
    private var lastReadHeader = VirtioNetHeader()
    /// MTU, hardware address (tap only) and ifindex, read when the first queue was opened.
    public let mtu: Int
    public let macAddress: [UInt8]?
    public let interfaceIndex: Int
    /// 0 for the first queue, then 1, 2... for queues opened from it.
    public let queueIndex: Int

    public private(set) var counters = DeviceCounters()
    public var isGone: Bool { goneReason != nil }
    public var refusesShortFrames: Bool { true }
    /// Why the device stopped, once a read or write reported `.gone`.
    public private(set) var goneReason: String?

    private let configuration: Configuration
    private let io: any DeviceIO
    private var descriptor: CInt?
    /// The io_uring batches (Configuration.batchedIO), when the kernel gave one.
    private var ring: TapRing?
    static let ringSlots = 32
    /// Bursts (and write batches) of fewer frames go without the ring: read(2) and write(2)
    /// cost less than an io_uring submission for one or two (measured: about 11% fewer new
    /// TCP connections a second when every burst went through the ring).
    static let ringBurstThreshold = 4
    /// True when the last burst was large enough for the next to go through the ring.
    private var ringForNextBurst = false
    /// Frames read without the ring in the current burst.
    private var plainBurstFrames = 0
    private var nextQueueIndex = 1
    // Reused on every read/write: the PI headers and the two-element iovec arrays.
    private let readHeader: UnsafeMutableRawPointer
    private let writeHeader: UnsafeMutableRawPointer
    private let readVectors: UnsafeMutablePointer<iovec>
    private let writeVectors: UnsafeMutablePointer<iovec>
    // With offloads: the virtio-net header read, and the one written (zero but for `write(_:offload:)`).
    private let readOffloadHeader: UnsafeMutableRawPointer
    private let writeOffloadHeader: UnsafeMutableRawPointer

    public var fileDescriptor: FileDescriptor? { descriptor.map { FileDescriptor(rawValue: $0) } }

    /// Opens (creating it if missing) the device, as one queue.
    public static func open(_ configuration: Configuration,
                            io: any DeviceIO = SystemDeviceIO.shared) throws(DeviceError) -> TunTapDevice {
        guard configuration.name.utf8.count <= maximumNameLength else {
            throw .nameTooLong(configuration.name)
        }
        let (fd, name) = try attach(configuration, name: configuration.name, io: io)
        do throws(DeviceError) {
            try applySettings(configuration, fd: fd, name: name, io: io)
            let mtu = io.interfaceMTU(name)
            guard mtu >= 0 else { throw .system("SIOCGIFMTU \(name)", CInt(-mtu)) }
            let index = io.interfaceIndex(name)
            guard index >= 0 else { throw .system("if_nametoindex \(name)", CInt(-index)) }
            var mac: [UInt8]? = nil
            if configuration.mode == .tap {
                switch io.interfaceMAC(name) {
                case .success(let bytes): mac = bytes
                case .failure(let error): throw .system(SystemError(operation: "SIOCGIFHWADDR \(name)", errno: error))
                }
            }
            return TunTapDevice(configuration: configuration, name: name, fd: fd, io: io,
                                mtu: mtu, macAddress: mac, interfaceIndex: index, queueIndex: 0)
        } catch {
            io.close(fd)
            throw error
        }
    }

    /// Opens `count` queues of one multi-queue device (sets `multiQueue`).
    /// Open them all before moving the device into another namespace.
    public static func openQueues(_ configuration: Configuration, count: Int,
                                  io: any DeviceIO = SystemDeviceIO.shared) throws(DeviceError) -> [TunTapDevice] {
        var configuration = configuration
        configuration.multiQueue = true
        let first = try open(configuration, io: io)
        var queues = [first]
        for _ in 1..<max(count, 1) {
            queues.append(try first.openAnotherQueue())
        }
        return queues
    }

    /// One more queue of this multi-queue device. The device must still be in this
    /// process's namespace (TUNSETIFF looks the name up there).
    public func openAnotherQueue() throws(DeviceError) -> TunTapDevice {
        if let goneReason { throw .deviceGone(name: name, reason: goneReason) }
        guard isMultiQueue else { throw .busy(name) }
        let (fd, kernelName) = try Self.attach(configuration, name: name, io: io)
        // Once the device has moved to another namespace, TUNSETIFF here makes a new device
        // of the same name instead of a queue of this one: a different ifindex tells.
        guard io.interfaceIndex(kernelName) == interfaceIndex else {
            io.close(fd)
            throw .movedToAnotherNamespace(name)
        }
        let queue = TunTapDevice(configuration: configuration, name: kernelName, fd: fd, io: io, mtu: mtu,
                                 macAddress: macAddress, interfaceIndex: interfaceIndex, queueIndex: nextQueueIndex)
        nextQueueIndex += 1
        return queue
    }

    private init(configuration: Configuration, name: String, fd: CInt, io: any DeviceIO,
                 mtu: Int, macAddress: [UInt8]?, interfaceIndex: Int, queueIndex: Int) {
        self.configuration = configuration
        self.name = name
        self.mode = configuration.mode
        self.hasPacketInfo = configuration.packetInfo
        self.isMultiQueue = configuration.multiQueue
        self.hasOffloads = Self.usesOffloads(configuration)
        self.mtu = mtu
        self.macAddress = macAddress
        self.interfaceIndex = interfaceIndex
        self.queueIndex = queueIndex
        self.descriptor = fd
        self.io = io
        readHeader = .allocate(byteCount: Self.packetInfoSize, alignment: 4)
        writeHeader = .allocate(byteCount: Self.packetInfoSize, alignment: 4)
        readVectors = .allocate(capacity: 2)
        writeVectors = .allocate(capacity: 2)
        readOffloadHeader = .allocate(byteCount: VirtioNetHeader.size, alignment: 4)
        writeOffloadHeader = .allocate(byteCount: VirtioNetHeader.size, alignment: 4)
        writeOffloadHeader.initializeMemory(as: UInt8.self, repeating: 0, count: VirtioNetHeader.size)
        // Only on the system's own descriptors (a test's scripted IO has none to ring).
        if configuration.batchedIO, !configuration.packetInfo, io is SystemDeviceIO {
            ring = TapRing(fd: fd, slots: Self.ringSlots, slotSize: ReadBuffer.size + VirtioNetHeader.size)
        }
    }

    /// True while reads and writes go through an io_uring.
    public var usesBatchedIO: Bool { ring != nil }
    /// Frames read, and frames written, through the io_uring so far.
    public private(set) var framesReadInBatches = 0
    public private(set) var framesWrittenInBatches = 0

    public var holdsReadFrames: Bool { ring?.hasPending ?? false }

    deinit {
        close()
        readHeader.deallocate()
        writeHeader.deallocate()
        readVectors.deallocate()
        writeVectors.deallocate()
        readOffloadHeader.deallocate()
        writeOffloadHeader.deallocate()
    }

    private static func attach(_ configuration: Configuration, name: String,
                               io: any DeviceIO) throws(DeviceError) -> (CInt, String) {
        let request = TunTapOpenRequest(name: name, mode: configuration.mode,
                                        packetInfo: configuration.packetInfo, multiQueue: configuration.multiQueue,
                                        vnetHeader: usesOffloads(configuration))
        switch io.openTunTap(request) {
        case .opened(let fd, let kernelName):
            return (fd, kernelName)
        case .failed(let code, .openControlDevice):
            switch code {
            case ENOENT, ENODEV, ENXIO: throw .tunMissing(errno: Errno(rawValue: code))
            case EACCES: throw .controlDeviceDenied(errno: Errno(rawValue: code))
            case EPERM: throw .permissionDenied(name: name, errno: Errno(rawValue: code))
            default: throw .system("open /dev/net/tun", code)
            }
        case .failed(let code, .attach):
            switch code {
            case EPERM, EACCES: throw .permissionDenied(name: name, errno: Errno(rawValue: code))
            case EBUSY: throw .busy(name)
            case EINVAL: throw .kindMismatch(name)
            case ENAMETOOLONG: throw .nameTooLong(name)
            default: throw .system("TUNSETIFF \(name)", code)
            }
        }
    }

    private static func usesOffloads(_ configuration: Configuration) -> Bool {
        configuration.offloads && configuration.mode == .tap && !configuration.packetInfo
    }

    /// What TUNSETOFFLOAD asks for: partial checksums and TCP super-segments (IPv4, IPv6,
    /// with ECN). Not UDP segmentation (USO): nothing here would take UDP super-datagrams
    /// whole, so the kernel may as well cut them.
    static let offloadFlags = UInt32(TAPIR_OFFLOAD_CSUM | TAPIR_OFFLOAD_TSO4 | TAPIR_OFFLOAD_TSO6 | TAPIR_OFFLOAD_TSO_ECN)

    private static func applySettings(_ configuration: Configuration, fd: CInt, name: String,
                                      io: any DeviceIO) throws(DeviceError) {
        if usesOffloads(configuration) {
            let result = io.setOffload(fd, offloadFlags)
            guard result >= 0 else { throw .system("TUNSETOFFLOAD \(name)", -result) }
        }
        if let persist = configuration.persist {
            let result = io.setPersist(fd, persist)
            guard result >= 0 else { throw .system("TUNSETPERSIST \(name)", -result) }
        }
        if let owner = configuration.owner {
            let result = io.setOwner(fd, owner)
            guard result >= 0 else { throw .system("TUNSETOWNER \(name)", -result) }
        }
        if let group = configuration.group {
            let result = io.setGroup(fd, group)
            guard result >= 0 else { throw .system("TUNSETGROUP \(name)", -result) }
        }
        if configuration.bringUp {
            let result = io.setInterfaceUp(name)
            guard result >= 0 else {
                if -result == EPERM || -result == EACCES {
                    throw .cannotBringUp(name: name, errno: Errno(rawValue: -result))
                }
                throw .system("SIOCSIFFLAGS \(name) up", -result)
            }
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        guard let fd = descriptor, !isGone else { return .wouldBlock }
        while let ring, ringForNextBurst || ring.hasPending {
            switch ring.read() {
            case .frame(let bytes):
                let headerSize = hasOffloads ? VirtioNetHeader.size : 0
                guard bytes.count > headerSize else { continue }  // never seen: a tun/tap read is never empty
                if hasOffloads { lastReadHeader = VirtioNetHeader(loading: bytes.baseAddress!) }
                let length = Swift.min(bytes.count - headerSize, buffer.count)
                buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + headerSize, byteCount: length)
                counters.recordRead(bytes: length)
                framesReadInBatches += 1
                return .packet(UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
            case .empty:
                ringForNextBurst = ring.lastBurstFrames >= Self.ringBurstThreshold
                return .wouldBlock
            case .failed(let code):
                // A frame after the failure is in the batch already: no readiness would say so.
                if let result = readFailed(code), !(result.isWouldBlock && ring.hasPending) { return result }
            case .unusable:
                self.ring = nil
            }
        }
        while true {
            let count: Int
            if hasPacketInfo {
                readVectors[0] = iovec(iov_base: readHeader, iov_len: Self.packetInfoSize)
                readVectors[1] = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
                count = io.readv(fd, readVectors, 2)
            } else if hasOffloads {
                readVectors[0] = iovec(iov_base: readOffloadHeader, iov_len: VirtioNetHeader.size)
                readVectors[1] = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
                count = io.readv(fd, readVectors, 2)
            } else {
                count = io.read(fd, buffer)
            }
            if count >= 0 {
                let length = hasPacketInfo ? count - Self.packetInfoSize
                    : hasOffloads ? count - VirtioNetHeader.size : count
                // A tun/tap never returns an empty read; treat one like EAGAIN rather than loop.
                guard length > 0 else { return .wouldBlock }
                if hasPacketInfo, packetInfoFlags() & Self.packetInfoTruncated != 0 {
                    counters.truncatedReads += 1
                }
                if hasOffloads { lastReadHeader = VirtioNetHeader(loading: readOffloadHeader) }
                counters.recordRead(bytes: length)
                plainBurstFrames += 1
                return .packet(UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
            }
            if let result = readFailed(CInt(-count)) {
                if result.isWouldBlock, let ring {
                    ringForNextBurst = plainBurstFrames >= Self.ringBurstThreshold
                    if ringForNextBurst { ring.expect(frames: plainBurstFrames) }
                    plainBurstFrames = 0
                }
                return result
            }
        }
    }

    /// A read failed with `code`: what to return, or nil to read again.
    private func readFailed(_ code: CInt) -> ReadResult? {
        switch DeviceErrno.readAction(code) {
        case .retry:
            return nil
        case .wouldBlock:
            return .wouldBlock
        case .transient:
            counters.readErrors += 1
            return .wouldBlock
        case .gone:
            counters.readErrors += 1
            let reason = DeviceErrno.goneReason(device: name, code: code)
            goneReason = reason
            return .gone(reason)
        case .programmingError:
            DeviceErrno.trap("read", device: name, code: code)
        }
    }

    /// Runs of `ringBurstThreshold` frames or more go through the ring, `ring.capacity` at a
    /// time; a device closed or gone meanwhile (an outcome can close it) takes no more.
    public func write(batch count: Int, frame: (Int) -> (bytes: UnsafeRawBufferPointer, offload: VirtioNetHeader?),
                      outcome: (Int, WriteResult) -> Void) {
        var start = 0
        while let ring, count - start >= Self.ringBurstThreshold, descriptor != nil, !isGone {
            let batch = Swift.min(ring.capacity, count - start)
            let first = start
            let submitted = ring.write(count: batch, frame: { frame(first + $0) }, withHeaders: hasOffloads) {
                index, result in
                if result >= 0 {
                    counters.recordWrite(bytes: frame(first + index).bytes.count)
                    framesWrittenInBatches += 1
                    return outcome(first + index, .written)
                }
                // EINTR and the like: once more, on its own.
                guard let failure = writeFailed(-result) else {
                    let (bytes, offload) = frame(first + index)
                    return outcome(first + index, write(bytes, header: offload))
                }
                outcome(first + index, failure)
            }
            guard submitted else {
                self.ring = nil
                break
            }
            start += batch
        }
        for index in start..<count {
            guard descriptor != nil, !isGone else { return }
            let (bytes, offload) = frame(index)
            outcome(index, write(bytes, header: offload))
        }
    }

    public func write(_ packet: UnsafeRawBufferPointer) -> WriteResult {
        write(packet, header: nil)
    }

    /// Writes a frame the kernel is to finish: a partial checksum, or a super-segment it
    /// cuts (`offload` says how). Only with offloads; without, the frame goes as it is.
    public func write(_ packet: UnsafeRawBufferPointer, offload: VirtioNetHeader) -> WriteResult {
        write(packet, header: offload)
    }

    private func write(_ packet: UnsafeRawBufferPointer, header: VirtioNetHeader?) -> WriteResult {
        guard let fd = descriptor, !isGone else {
            counters.recordWriteFailure(.closed)
            return .failed(.closed)
        }
        while true {
            let count: Int
            if hasPacketInfo {
                fillWriteHeader(for: packet)
                writeVectors[0] = iovec(iov_base: writeHeader, iov_len: Self.packetInfoSize)
                writeVectors[1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: packet.baseAddress),
                                        iov_len: packet.count)
                count = io.writev(fd, writeVectors, 2)
            } else if hasOffloads {
                (header ?? VirtioNetHeader()).store(to: writeOffloadHeader)
                writeVectors[0] = iovec(iov_base: writeOffloadHeader, iov_len: VirtioNetHeader.size)
                writeVectors[1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: packet.baseAddress),
                                        iov_len: packet.count)
                count = io.writev(fd, writeVectors, 2)
            } else {
                count = io.write(fd, packet)
            }
            if count >= 0 {
                counters.recordWrite(bytes: packet.count)
                return .written
            }
            guard let result = writeFailed(CInt(-count)) else { continue }
            return result
        }
    }

    /// A write failed with `code`: what it means (counted; a gone device remembered), or
    /// nil to write again.
    private func writeFailed(_ code: CInt) -> WriteResult? {
        let result = DeviceErrno.writeResult(after: code, call: "write", device: name, counters: &counters)
        if case .gone(let reason) = result { goneReason = reason }
        return result
    }

    public func close() {
        guard let fd = descriptor else { return }
        ring = nil
        descriptor = nil
        io.close(fd)
    }

    private func packetInfoFlags() -> UInt16 {
        UInt16(readHeader.load(fromByteOffset: 0, as: UInt8.self)) << 8
            | UInt16(readHeader.load(fromByteOffset: 1, as: UInt8.self))
    }

    /// Flags 0; the protocol is the EtherType the kernel needs for a tun datagram
    /// (from the IP version nibble), or the frame's own EtherType on a tap.
    private func fillWriteHeader(for packet: UnsafeRawBufferPointer) {
        var proto: UInt16 = 0
        switch mode {
        case .tun:
            if let first = packet.first {
                switch first >> 4 {
                case 4: proto = 0x0800
                case 6: proto = 0x86DD
                default: proto = 0
                }
            }
        case .tap:
            if packet.count >= 14 { proto = UInt16(packet[12]) << 8 | UInt16(packet[13]) }
        }
        writeHeader.storeBytes(of: 0, toByteOffset: 0, as: UInt16.self)
        writeHeader.storeBytes(of: proto.bigEndian, toByteOffset: 2, as: UInt16.self)
    }
}
