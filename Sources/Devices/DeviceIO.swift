import CTunTap
import Glibc
import Kernel
import SystemPackage

/// Which step of opening a tun/tap device failed.
public enum TunTapOpenStep: Sendable, Equatable {
    /// open("/dev/net/tun")
    case openControlDevice
    /// ioctl(TUNSETIFF)
    case attach
}

/// How to attach a descriptor to a tun/tap device (TUNSETIFF flags).
public struct TunTapOpenRequest: Sendable, Equatable {
    public var name: String
    public var mode: DeviceMode
    public var packetInfo: Bool
    public var multiQueue: Bool
    /// IFF_VNET_HDR: a `VirtioNetHeader` before every frame, both ways.
    public var vnetHeader: Bool

    public init(name: String, mode: DeviceMode, packetInfo: Bool, multiQueue: Bool, vnetHeader: Bool = false) {
        self.name = name
        self.mode = mode
        self.packetInfo = packetInfo
        self.multiQueue = multiQueue
        self.vnetHeader = vnetHeader
    }
}

public enum TunTapOpenOutcome: Sendable, Equatable {
    /// The descriptor (non-blocking, close-on-exec) and the kernel's name for the device.
    case opened(fd: CInt, name: String)
    case failed(errno: CInt, step: TunTapOpenStep)
}

/// Every system call a device makes, in one place, so tests can replace the kernel
/// (inject EINTR, EAGAIN, ENOBUFS, EIO, EPERM...). Calls return a count or a result,
/// or `-errno`; they never throw and never retry: the device decides what an errno means.
/// `SystemDeviceIO` makes them through `Kernel`'s `Syscalls` (reads, writes, close) and
/// `CTunTap` (the ioctls), and traps on EBADF and EFAULT there.
public protocol DeviceIO: AnyObject {
    func read(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer) -> Int
    func readv(_ fd: CInt, _ vectors: UnsafePointer<iovec>, _ count: Int) -> Int
    func write(_ fd: CInt, _ buffer: UnsafeRawBufferPointer) -> Int
    func writev(_ fd: CInt, _ vectors: UnsafePointer<iovec>, _ count: Int) -> Int
    func close(_ fd: CInt)

    func openTunTap(_ request: TunTapOpenRequest) -> TunTapOpenOutcome
    func setPersist(_ fd: CInt, _ persist: Bool) -> CInt
    /// TUNSETOFFLOAD with `TAPIR_OFFLOAD_*` flags: 0 or -errno.
    func setOffload(_ fd: CInt, _ offloads: UInt32) -> CInt
    func setOwner(_ fd: CInt, _ owner: uid_t) -> CInt
    func setGroup(_ fd: CInt, _ group: gid_t) -> CInt
    /// MTU of the named interface in the caller's namespace, or -errno.
    func interfaceMTU(_ name: String) -> Int
    /// Hardware address of the named interface, or -errno.
    func interfaceMAC(_ name: String) -> Result<[UInt8], Errno>
    func interfaceIndex(_ name: String) -> Int
    func setInterfaceUp(_ name: String) -> CInt

    /// The namespace a tun/tap's device is in now (a descriptor), or -errno.
    func deviceNamespace(_ tunFD: CInt) -> CInt
    /// A tun/tap's current interface name, or the errno.
    func deviceName(_ tunFD: CInt) -> Result<String, Errno>
    /// A netlink socket told of link changes and a socket for interface ioctls, both in
    /// the namespace `namespaceFD` (the caller's own when negative), or the errno (EPERM
    /// once privileges are dropped and another namespace is asked for).
    func linkSockets(in namespaceFD: CInt) -> Result<(netlink: CInt, control: CInt), Errno>
    /// MTU and ifindex of `name` through a control socket from `linkSockets`.
    func linkMTUAndIndex(_ controlFD: CInt, _ name: String) -> Result<(mtu: Int, index: Int), Errno>
    /// The link changes waiting on a netlink socket from `linkSockets`, for link `index`.
    func readLinkChanges(_ netlinkFD: CInt, index: Int) -> Result<LinkChanges, Errno>
}

/// What a netlink socket said of one link since it was last read.
public struct LinkChanges: Sendable, Equatable {
    /// The MTU the last RTM_NEWLINK gave, if any.
    public var mtu: Int?
    /// A RTM_DELLINK came: the link left the namespace, or was deleted.
    public var removed: Bool

    public init(mtu: Int? = nil, removed: Bool = false) {
        self.mtu = mtu
        self.removed = removed
    }
}

/// The kernel.
public final class SystemDeviceIO: DeviceIO, Sendable {
    public static let shared = SystemDeviceIO()

    public init() {}

    public func read(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer) -> Int { Syscalls.read(fd, buffer) }

    public func readv(_ fd: CInt, _ vectors: UnsafePointer<iovec>, _ count: Int) -> Int {
        Syscalls.readv(fd, vectors, count)
    }

    public func write(_ fd: CInt, _ buffer: UnsafeRawBufferPointer) -> Int { Syscalls.write(fd, buffer) }

    public func writev(_ fd: CInt, _ vectors: UnsafePointer<iovec>, _ count: Int) -> Int {
        Syscalls.writev(fd, vectors, count)
    }

    public func close(_ fd: CInt) { Syscalls.close(fd) }

    public func openTunTap(_ request: TunTapOpenRequest) -> TunTapOpenOutcome {
        var flags: CInt = 0
        if request.mode == .tap { flags |= TAPIR_TUN_MODE_TAP }
        if !request.packetInfo { flags |= TAPIR_TUN_NO_PI }
        if request.multiQueue { flags |= TAPIR_TUN_MULTI_QUEUE }
        if request.vnetHeader { flags |= TAPIR_TUN_VNET_HDR }
        var step: CInt = 0
        var nameBytes = [CChar](repeating: 0, count: Int(TAPIR_IFNAMSIZ))
        let fd = nameBytes.withUnsafeMutableBufferPointer { out in
            tapir_tun_open(request.name, flags, out.baseAddress, &step)
        }
        guard fd >= 0 else {
            return .failed(errno: -fd, step: step == TAPIR_TUN_STEP_OPEN ? .openControlDevice : .attach)
        }
        let name = String(decoding: nameBytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return .opened(fd: fd, name: name)
    }

    public func setPersist(_ fd: CInt, _ persist: Bool) -> CInt { tapir_tun_set_persist(fd, persist ? 1 : 0) }
    public func setOffload(_ fd: CInt, _ offloads: UInt32) -> CInt { tapir_tun_set_offload(fd, offloads) }
    public func setOwner(_ fd: CInt, _ owner: uid_t) -> CInt { tapir_tun_set_owner(fd, owner) }
    public func setGroup(_ fd: CInt, _ group: gid_t) -> CInt { tapir_tun_set_group(fd, group) }
    public func interfaceMTU(_ name: String) -> Int { Int(tapir_if_get_mtu(name)) }

    public func interfaceMAC(_ name: String) -> Result<[UInt8], Errno> {
        var mac = [UInt8](repeating: 0, count: 6)
        let result = mac.withUnsafeMutableBufferPointer { tapir_if_get_hwaddr(name, $0.baseAddress) }
        return result < 0 ? .failure(Errno(rawValue: -result)) : .success(mac)
    }

    public func interfaceIndex(_ name: String) -> Int { Int(tapir_if_index(name)) }
    public func setInterfaceUp(_ name: String) -> CInt { tapir_if_set_up(name) }

    public func deviceNamespace(_ tunFD: CInt) -> CInt { tapir_tun_netns(tunFD) }

    public func deviceName(_ tunFD: CInt) -> Result<String, Errno> {
        var name = [CChar](repeating: 0, count: Int(TAPIR_IFNAMSIZ))
        let result = name.withUnsafeMutableBufferPointer { tapir_tun_name(tunFD, $0.baseAddress) }
        guard result == 0 else { return .failure(Errno(rawValue: -result)) }
        return .success(String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    public func linkSockets(in namespaceFD: CInt) -> Result<(netlink: CInt, control: CInt), Errno> {
        var control: CInt = -1
        let netlink = tapir_link_sockets_in(namespaceFD, &control)
        return netlink < 0 ? .failure(Errno(rawValue: -netlink)) : .success((netlink, control))
    }

    public func linkMTUAndIndex(_ controlFD: CInt, _ name: String) -> Result<(mtu: Int, index: Int), Errno> {
        var mtu: CInt = 0
        var index: CInt = 0
        let result = tapir_link_mtu_and_index(controlFD, name, &mtu, &index)
        return result < 0 ? .failure(Errno(rawValue: -result)) : .success((Int(mtu), Int(index)))
    }

    public func readLinkChanges(_ netlinkFD: CInt, index: Int) -> Result<LinkChanges, Errno> {
        var mtu: CInt = -1
        var removed: CInt = 0
        let result = tapir_link_read_changes(netlinkFD, CInt(index), &mtu, &removed)
        guard result >= 0 else { return .failure(Errno(rawValue: -result)) }
        return .success(LinkChanges(mtu: mtu >= 0 ? Int(mtu) : nil, removed: removed != 0))
    }
}
