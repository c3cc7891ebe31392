import Capture
import Devices
import Logging
import Packets
import Reactor
import TCPEngine

/// The host: devices, the scripts loaded into it, and the path of every packet between
/// them, made of parts a reader can name (README.md, Layout):
///
/// - `DeviceSet`: the devices, numbered in the order added, and their recordings;
/// - `PacketDispatch`: a packet read from a device, decoded, reassembled where a script
///   asked for it, and handed to the handlers that asked for it;
/// - `Egress`: a packet written to a device: MTU, fragmentation, the write queue of a
///   read burst, failures counted and said;
/// - `ScriptFactory`: a script's Lua state made with the host's limits, a pack's
///   permissions and settings, its files run.
///
/// The host itself wires them to the event loop (a device's readable burst, a device
/// gone) and stops them. One thread: the event loop's (or, in replay, the caller's).
public final class TapirHost {
    public struct Options {
        /// Bytes each script's Lua state may hold.
        public var memoryCap: Int = 64 << 20
        /// VM instructions per handler call (and per timer, per top level).
        public var instructionBudget: Int = 10_000_000
        /// Where `require` looks, besides each script's own directory.
        public var moduleDirectories: [String] = []
        /// Scripts given by path are trusted (io, debug, all of os); packs are not.
        public var trusted: Bool = true
        /// A failing handler is logged at most once per this interval.
        public var errorLogInterval: Duration = .seconds(10)
        /// The TCP engine's limits and settings (tapir.tcp).
        public var tcp = TCPConfiguration()
        /// Bytes read from one device per wakeup before serving the others.
        public var readBudget: Int = DeviceDrain.defaultByteBudget
        /// The largest packet dev:write sends; nil: each device's MTU plus its link
        /// headers (`HostDevice.linkHeaderAllowance` on a tap), no limit where the MTU is unknown.
        public var maxPacketSize: Int?
        /// The user tapir runs as once it dropped root (--user): a script file that user
        /// may not read is said to be so, with the user, when a reload needs it.
        public var droppedToUser: String?

        public init() {}
    }

    /// What tapir.open asks for.
    public struct DeviceRequest {
        public var name: String
        public var mode: DeviceMode
        public var packetInfo: Bool
    }

    public let options: Options
    public let logger: Logger
    public let loop: EventLoop?
    let timers: any TimerScheduler
    private let clock: () -> TimerInstant

    let deviceSet: DeviceSet
    let dispatch: PacketDispatch
    let egress: Egress
    let scriptFactory: ScriptFactory
    /// The host's TCP: listeners and connections of every script (TCPService).
    private(set) var tcp: TCPService!
    /// The packet-socket devices' kernel filters, kept to what the scripts want.
    private(set) lazy var kernelFilters = KernelFilters(host: self)
    private let readBuffer = ReadBuffer()
    /// A read burst's small frames, handled after they are read (ReadBatch).
    private let readBatch = ReadBatch()
    /// Frames a tap's offloads left unfinished, made ordinary for handlers.
    private let unfinishedFrames = UnfinishedFrames()
    private let drain: DeviceDrain

    /// Opens a device for tapir.open: a real tun/tap in `tapir run`, none in replay.
    public var deviceOpener: ((DeviceRequest) throws -> any PacketDevice)?
    /// Called when the last device is gone (the run ends).
    public var onAllDevicesGone: (() -> Void)?
    /// Called once per device that went away, with the reason.
    public var onDeviceGone: ((HostDevice, String) -> Void)?
    /// Sees every packet read from (false) or written to (true) a device, before
    /// dispatch: the console's sniff.
    public var packetObserver: ((UnsafeRawBufferPointer, HostDevice, _ outgoing: Bool) -> Void)? {
        didSet {
            egress.packetObserver = packetObserver
            kernelFilters.changed()
        }
    }
    public private(set) var isStopped = false

    /// This host's queue in a multi-queue run; nil (one queue) otherwise. Set before
    /// scripts load: they read it as tapir.queue and tapir.queues.
    public var queuePlace: QueuePlace?
    /// The timer that publishes this queue's counters to the board, while one is pending.
    var statsPublishTimer: TimerID?

    /// A live host on an event loop.
    public convenience init(options: Options = Options(), loop: EventLoop, logger: Logger) {
        self.init(options: options, loop: loop, timers: loop, clock: { loop.now }, logger: logger)
    }

    /// A host driven by the caller on a manual clock (replay, tests).
    public convenience init(options: Options = Options(), timers: TimerQueue<ManualClock>, logger: Logger) {
        self.init(options: options, loop: nil, timers: timers, clock: { timers.clock.now }, logger: logger)
    }

    private init(options: Options, loop: EventLoop?, timers: any TimerScheduler, clock: @escaping () -> TimerInstant,
                 logger: Logger) {
        self.options = options
        self.logger = logger
        self.loop = loop
        self.timers = timers
        self.clock = clock
        self.drain = DeviceDrain(byteBudget: options.readBudget)
        deviceSet = DeviceSet(logger: logger)
        dispatch = PacketDispatch(clock: clock)
        egress = Egress(devices: deviceSet, logger: logger)
        scriptFactory = ScriptFactory(options: options, logger: logger)
        egress.deviceGone = { [unowned self] device, reason in self.deviceGone(device, reason: reason) }
        tcp = TCPService(host: self, configuration: options.tcp)
        dispatch.tcp = tcp
    }

    /// Nanoseconds on the host's clock (tapir.now).
    var now: TimerInstant { clock() }

    // MARK: the parts, as the host's API

    public var devices: [HostDevice] { deviceSet.devices }

    public internal(set) var scripts: [Script] {
        get { dispatch.scripts }
        set { dispatch.scripts = newValue }
    }

    /// Where `--record` writes: every device gets a recorder, the first at this path, the
    /// others (opened later with tapir.open) in the same pcapng file or beside it (see
    /// DeviceSet). Set before the first device is added.
    public var recordPath: String? {
        get { deviceSet.recordPath }
        set { deviceSet.recordPath = newValue }
    }

    /// The format of the recordings (`--record-format`): pcapng unless told pcap.
    public var recordFormat: RecordFormat {
        get { deviceSet.recordFormat }
        set { deviceSet.recordFormat = newValue }
    }

    /// The time stamped on recorded packets.
    public var recordingClock: () -> CaptureTime {
        get { deviceSet.recordingClock }
        set { deviceSet.recordingClock = newValue }
    }

    /// IPv4 fragments collected for scripts that set `tapir.reassemble = true`.
    public var reassembler: IPv4Reassembler { dispatch.reassembler }

    var filters: FilterCache { dispatch.filters }

    var handlerChanges: HandlerChanges { dispatch.handlerChanges }

    var packLoads: [String: PackLoad] {
        get { scriptFactory.packLoads }
        set { scriptFactory.packLoads = newValue }
    }

    // MARK: devices

    /// Adds a device: its packets are dispatched to the handlers, and scripts see it in
    /// tapir.devices() and as the second argument of their handlers. `mtu` gives a device
    /// other than a tun/tap one an MTU (writes over it are fragmented).
    @discardableResult
    public func add(_ device: any PacketDevice, mtu: Int? = nil) throws -> HostDevice {
        let hostDevice = try deviceSet.add(device, mtu: mtu, maxPacketSize: options.maxPacketSize,
                                           errorLogInterval: options.errorLogInterval)
        if let loop, let descriptor = device.fileDescriptor {
            try loop.register(descriptor) { [unowned self, unowned hostDevice] events in
                self.readable(hostDevice, events)
            }
            followLink(of: hostDevice, on: loop)
        }
        if device is PacketSocketDevice {
            handlerChanges.onChange = { [unowned self] in self.kernelFilters.changed() }
            kernelFilters.changed()
        }
        return hostDevice
    }

    public func device(named name: String) -> HostDevice? {
        deviceSet.device(named: name)
    }

    func device(id: Int64) -> HostDevice? {
        deviceSet.device(id: id)
    }

    /// A device's read burst: its packets are handled and the writes they make queued,
    /// then written together when the burst ends.
    private func readable(_ device: HostDevice, _ events: EventSet) {
        egress.isQueueing = true
        let report = readBurst(device)
        egress.isQueueing = false
        tcp.burstEnded()
        if !device.truncationSaid, device.device.counters.truncatedReads > 0 { sayTruncation(on: device) }
        if case .gone(let reason) = report.stop {
            deviceGone(device, reason: reason)
        } else if report.packets == 0, !events.isDisjoint(with: [.error, .hangup]) {
            // A packet socket says ENETDOWN also when its interface only went down.
            if let socket = device.device as? PacketSocketDevice {
                if socket.interfaceSurvivedError() {
                    watchDownInterface(device, socket)
                } else {
                    deviceGone(device, reason: socket.goneReason ?? "\(device.name) is gone")
                }
            } else {
                deviceGone(device, reason: "\(device.name): the device reported an error (it was deleted?)")
            }
        }
        if report.packets > 0, let check = device.downInterfaceCheck {
            // Frames again: the interface is up.
            timers.cancel(check)
            device.downInterfaceCheck = nil
        }
        egress.flush()
        if queuePlace != nil { countersChanged() }
    }

    /// A packet socket's interface went down or is being deleted (the kernel says ENETDOWN
    /// for both, once, and may still list an interface it is deleting): it is looked up
    /// again every second until frames come again or it is gone. One lookup a second, only
    /// while a packet device is down.
    private func watchDownInterface(_ device: HostDevice, _ socket: PacketSocketDevice) {
        guard device.downInterfaceCheck == nil else { return }
        device.downInterfaceCheck = timers.schedule(after: .milliseconds(100), repeating: .seconds(1)) {
            [weak self, unowned device] in
            guard let self, !device.goneReported else { return }
            if !socket.interfaceStillThere() {
                if let check = device.downInterfaceCheck { self.timers.cancel(check) }
                device.downInterfaceCheck = nil
                self.deviceGone(device, reason: socket.goneReason ?? "\(device.name) is gone")
            }
        }
    }

    @inline(never)
    private func sayTruncation(on device: HostDevice) {
        device.truncationSaid = true
        logger.warning("""
            \(device.name): frames longer than its MTU allows arrive and are cut short (the sending side's \
            segmentation offload: a veth peer's TSO/GSO, a VXLAN device's GRO); TCP into the host stalls on them. \
            Serve it with offloads (the default, not with --no-offloads or ,v3), or turn it off where they come \
            from (ethtool -K PEER tso off gso off; ethtool -K DEV gro off); \
            counted in tapir.stats() as truncated
            """)
    }

    func deviceGone(_ device: HostDevice, reason: String) {
        guard !device.goneReported else { return }
        device.goneReported = true
        logger.warning("\(reason); no longer serving \(device.name)")
        stopFollowingLink(of: device)
        if let check = device.downInterfaceCheck {
            timers.cancel(check)
            device.downInterfaceCheck = nil
        }
        if let loop, let descriptor = device.device.fileDescriptor {
            loop.deregister(descriptor)
        }
        device.device.close()
        onDeviceGone?(device, reason)
        if deviceSet.allGone { onAllDevicesGone?() }
    }

    /// Reads what is waiting on every device without a descriptor (memory and pcap
    /// devices), dispatching each packet. Returns the number of packets handled.
    @discardableResult
    public func pump(_ device: HostDevice) -> Int {
        let report = readBurst(device)
        tcp.burstEnded()
        if case .gone(let reason) = report.stop { deviceGone(device, reason: reason) }
        return report.packets
    }

    /// Reads what the device holds (DeviceDrain) and handles it: frames that fit a slot of
    /// the read batch are set aside as they are read and handled together, up to its
    /// capacity at a time; a larger one is handled when it comes, after those before it.
    private func readBurst(_ device: HostDevice) -> DeviceDrain.Report {
        let report = drain.drain(device.device, into: readBuffer.bytes) { bytes in
            let offload = device.device.offloadHeader
            if readBatch.add(bytes, offload: offload) {
                if readBatch.isFull { handleReadBatch(from: device) }
            } else {
                handleReadBatch(from: device)
                handle(bytes, offload: offload, from: device)
            }
        }
        handleReadBatch(from: device)
        return report
    }

    private func handleReadBatch(from device: HostDevice) {
        readBatch.handleAll { bytes, offload in handle(bytes, offload: offload, from: device) }
    }

    // MARK: the packet path

    /// One packet read from `device`: recorded, shown to the observer, dispatched
    /// (PacketDispatch.handle).
    public func handle(_ bytes: UnsafeRawBufferPointer, from device: HostDevice) {
        handle(bytes, offload: device.device.offloadHeader, from: device)
    }

    /// The same with the frame's virtio-net header (nil without offloads) given.
    private func handle(_ bytes: UnsafeRawBufferPointer, offload: VirtioNetHeader?, from device: HostDevice) {
        if let offload, offload.needsWork {
            return handleUnfinished(bytes, offload, from: device)
        }
        handleOrdinary(bytes, from: device)
    }

    private func handleOrdinary(_ bytes: UnsafeRawBufferPointer, from device: HostDevice) {
        deviceSet.record(bytes, on: device, direction: .inbound)
        packetObserver?(bytes, device, false)
        dispatch.handle(bytes, from: device)
    }

    /// A frame the kernel left unfinished (a tap's offloads): the TCP engine takes a
    /// super-segment or a segment with a partial checksum as it is (the kernel made it);
    /// anything else becomes ordinary packets first (checksum completed, super-segment
    /// cut), so handlers, recordings and observers only ever see those.
    private func handleUnfinished(_ bytes: UnsafeRawBufferPointer, _ offload: VirtioNetHeader, from device: HostDevice) {
        let frame = FrameDecoder.decode(bytes, linkType: device.linkType)
        if frame.has(.tcp), tcp.isActive, tcp.claim(bytes, frame, from: device, checksumTrusted: true) {
            if device.recorder != nil || packetObserver != nil {
                unfinishedFrames.finishing(bytes, frame, offload) { piece in
                    deviceSet.record(piece, on: device, direction: .inbound)
                    packetObserver?(piece, device, false)
                }
            }
            return
        }
        unfinishedFrames.finishing(bytes, frame, offload) { piece in handleOrdinary(piece, from: device) }
    }

    // MARK: scripts

    /// Loads a script into a fresh Lua state of its own and runs its top level.
    @discardableResult
    public func load(path: String, name: String? = nil) throws(LuaError) -> Script {
        let script = try makeScript(path: path, name: name ?? path) { _ in }
        scripts.append(script)
        return script
    }

    /// A script in a new state (ScriptFactory.make), not yet among the host's scripts.
    func makeScript(path: String, name: String, prepare: (Script) throws(LuaError) -> Void) throws(LuaError) -> Script {
        try scriptFactory.make(path: path, name: name, for: self, prepare: prepare)
    }

    /// Puts `replacement` where `old` was, between two packets: `old`'s timers end, its
    /// dispatch table goes.
    func replace(_ old: Script, with replacement: Script) {
        guard let index = scripts.firstIndex(where: { $0 === old }) else { return }
        old.cancelTimers()
        if !tcp.replaced(old, by: replacement) { old.tasks.stop() }
        scripts[index] = replacement
    }

    /// A new selector's last check (LuaState.selectorCheck): a filter must compile for
    /// the link type of every device there is.
    func check(_ selector: HandlerSelector) -> String? {
        dispatch.check(selector, linkTypes: deviceSet.linkTypes)
    }

    // MARK: stopping

    /// Runs every script's tapir.on_stop functions, cancels timers, and flushes
    /// recordings. Idempotent.
    public func stop() {
        guard !isStopped else { return }
        isStopped = true
        for script in scripts {
            script.runStopFunctions()
            script.cancelAllTimers()
        }
        tcp.stopDraining()
        tcp.flush()
        deviceSet.closeRecordings()
        publishStats()
    }
}
