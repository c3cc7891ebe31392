import Glibc
import Kernel
import SystemPackage

/// Follows a device's link so its MTU is known when it changes (`ip link set DEV mtu N`),
/// without asking per packet: a netlink socket in the link's namespace tells of link
/// changes. The link is a tun/tap's, or an interface in the caller's own namespace (the
/// one a packet socket serves). A tun/tap moved to another namespace (`ip link set DEV netns NS`, as tests and
/// sandboxes do after opening it) leaves with a RTM_DELLINK; the watcher then asks the
/// device where it is now (TUNGETDEVNETNS) and listens there instead, so its descriptor
/// changes: watch `descriptor` again after `readChanges` says so.
///
/// Entering another namespace needs CAP_SYS_ADMIN: after `tapir run --user` dropped
/// root, a device that moves is no longer followed (`readChanges` says so, once). An
/// interface of the caller's namespace that leaves it or is deleted is no longer followed
/// either (its packet socket ends with it).
public final class LinkWatcher {
    /// What is followed.
    private enum Link {
        /// A tun/tap, by its descriptor: wherever it moves, under whatever name.
        case tunTap(CInt)
        /// An interface of the caller's namespace, by name.
        case interface(String)
    }

    public struct Outcome: Equatable {
        /// The new MTU, when it changed.
        public var mtu: Int?
        /// The netlink socket was replaced: deregister the old descriptor, watch `descriptor`.
        public var descriptorChanged = false
        /// Why the link is no longer followed (the watcher is closed).
        public var stopped: String?

        public init(mtu: Int? = nil, descriptorChanged: Bool = false, stopped: String? = nil) {
            self.mtu = mtu
            self.descriptorChanged = descriptorChanged
            self.stopped = stopped
        }
    }

    private let io: any DeviceIO
    private let link: Link
    private let deviceName: String
    private var netlinkFD: CInt = -1
    private var controlFD: CInt = -1
    private var interfaceIndex = 0
    public private(set) var mtu: Int

    /// The descriptor to watch for readability; nil once closed.
    public var descriptor: FileDescriptor? { netlinkFD >= 0 ? FileDescriptor(rawValue: netlinkFD) : nil }

    /// Starts following `device` in the namespace it is in now.
    public init(following device: TunTapDevice, io: any DeviceIO = SystemDeviceIO.shared) throws(DeviceError) {
        guard let fd = device.fileDescriptor?.rawValue else {
            throw .deviceGone(name: device.name, reason: "\(device.name) is closed")
        }
        self.io = io
        self.link = .tunTap(fd)
        self.deviceName = device.name
        self.mtu = device.mtu
        if let failure = bind() { throw .system(failure) }
    }

    /// Starts following the interface `name` of the caller's namespace, whose MTU was `mtu`.
    public init(interface name: String, mtu: Int, io: any DeviceIO = SystemDeviceIO.shared) throws(DeviceError) {
        self.io = io
        self.link = .interface(name)
        self.deviceName = name
        self.mtu = mtu
        if let failure = bind() { throw .system(failure) }
    }

    deinit { close() }

    /// Reads the changes the kernel reported. Call when `descriptor` is readable.
    public func readChanges() -> Outcome {
        var outcome = Outcome()
        guard netlinkFD >= 0 else { return outcome }
        let previousMTU = mtu
        switch io.readLinkChanges(netlinkFD, index: interfaceIndex) {
        case .success(let changes):
            if let changed = changes.mtu { mtu = changed }
            if changes.removed { outcome = rebind() }
        case .failure(.noBufferSpace):
            // The socket overflowed and changes were lost: read the MTU afresh.
            outcome = rebind()
        case .failure(let errno):
            close()
            outcome.stopped = "\(deviceName): reading link changes failed: \(errno); its MTU is no longer followed"
        }
        if mtu != previousMTU { outcome.mtu = mtu }
        return outcome
    }

    public func close() {
        if netlinkFD >= 0 { io.close(netlinkFD) }
        if controlFD >= 0 { io.close(controlFD) }
        netlinkFD = -1
        controlFD = -1
    }

    /// Listens again wherever the device is now.
    private func rebind() -> Outcome {
        var outcome = Outcome(descriptorChanged: true)
        close()
        if let failure = bind() {
            if case .interface = link {
                outcome.stopped = "\(deviceName) left the network namespace or was deleted; its MTU is no longer followed"
                return outcome
            }
            let why = failure.errno == .notPermitted
                ? "privileges were dropped, so its new namespace cannot be entered"
                : "\(failure)"
            outcome.stopped = "\(deviceName) left its network namespace or was deleted; its MTU is no longer followed (\(why))"
        }
        return outcome
    }

    /// Opens the sockets in the link's current namespace and reads its MTU and index
    /// there; nil, or what failed.
    private func bind() -> SystemError? {
        let namespace: CInt
        let name: String
        switch link {
        case .interface(let interface):
            namespace = -1
            name = interface
        case .tunTap(let tunFD):
            namespace = io.deviceNamespace(tunFD)
            guard namespace >= 0 else { return SystemError(operation: "TUNGETDEVNETNS of \(deviceName)", errno: Errno(rawValue: -namespace)) }
            switch io.deviceName(tunFD) {
            case .success(let current): name = current
            case .failure(let errno):
                io.close(namespace)
                return SystemError(operation: "TUNGETIFF of \(deviceName)", errno: errno)
            }
        }
        defer { if namespace >= 0 { io.close(namespace) } }
        switch io.linkSockets(in: namespace) {
        case .success(let sockets):
            netlinkFD = sockets.netlink
            controlFD = sockets.control
        case .failure(let errno):
            return SystemError(operation: "a netlink socket in the namespace of \(name)", errno: errno)
        }
        switch io.linkMTUAndIndex(controlFD, name) {
        case .success(let link):
            mtu = link.mtu
            interfaceIndex = link.index
            return nil
        case .failure(let errno):
            close()
            return SystemError(operation: "SIOCGIFMTU of \(name)", errno: errno)
        }
    }
}
