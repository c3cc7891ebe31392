import Capture
import Glibc
import CLua
import Devices
import Logging
import Packets
import Reactor

/// The host: devices, the scripts loaded into it, and the path of every packet from a
/// device through the native decoder and dispatch table to the Lua handlers that asked
/// for it. One thread: the event loop's (or, in replay, the caller's).
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
        /// Bytes read from one device per wakeup before serving the others.
        public var readBudget: Int = DeviceDrain.defaultByteBudget
        /// The largest packet dev:write sends; nil: each device's MTU plus its link
        /// headers (`HostDevice.linkHeaderAllowance` on a tap), no limit where the MTU is unknown.
        public var maxPacketSize: Int?

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
    public private(set) var devices: [HostDevice] = []
    public internal(set) var scripts: [Script] = [] {
        didSet { handlerChanges.bump() }
    }
    /// Opens a device for tapir.open: a real tun/tap in `tapir run`, none in replay.
    public var deviceOpener: ((DeviceRequest) throws -> any PacketDevice)?
    /// Called when the last device is gone (the run ends).
    public var onAllDevicesGone: (() -> Void)?
    /// Called once per device that went away, with the reason.
    public var onDeviceGone: ((HostDevice, String) -> Void)?
    /// Where `--record` writes: every device gets a recorder, the first at this path, the
    /// others (opened later with tapir.open) beside it as NAME-DEVICE.pcap.
    public var recordPath: String?
    /// The time stamped on recorded packets.
    public var recordingClock: () -> CaptureTime = { CaptureTime.now }
    /// Sees every packet read from (false) or written to (true) a device, before
    /// dispatch: the console's sniff.
    public var packetObserver: ((UnsafeRawBufferPointer, HostDevice, _ outgoing: Bool) -> Void)?

    let filters = FilterCache()
    private let readBuffer = ReadBuffer()
    /// Frames written during a device's read burst, written when it ends (WriteQueue).
    private let writeQueue = WriteQueue()
    private var queueingWrites = false
    /// Where oversized IPv4 writes are cut into fragments, one at a time.
    private let fragmentBuffer = ReadBuffer(size: ReadBuffer.size + 64)
    /// Identification for fragmented datagrams that came with none (0).
    private var nextIdentification = UInt16.random(in: 1...UInt16.max)
    /// IPv4 fragments collected for scripts that set `tapir.reassemble = true`.
    public let reassembler = IPv4Reassembler()
    /// Bumped when a script's handlers or the scripts change.
    let handlerChanges = HandlerChanges()
    /// What all scripts' handlers want, as of `handlerChanges.generation == wantedGeneration`:
    /// a frame with none of these layers, when no script has an unclaimed handler, is
    /// counted unclaimed without a look at any script.
    private var wantedLayers: Layers = []
    private var anyUnclaimedHandler = false
    private var wantedGeneration = -1
    private let drain: DeviceDrain
    /// The packs loaded, by their manifest path (a pack script's path), for reloads.
    var packLoads: [String: PackLoad] = [:]
    public private(set) var isStopped = false

    /// A live host on an event loop.
    public init(options: Options = Options(), loop: EventLoop, logger: Logger) {
        self.options = options
        self.logger = logger
        self.loop = loop
        self.timers = loop
        self.clock = { loop.now }
        self.drain = DeviceDrain(byteBudget: options.readBudget)
    }

    /// A host driven by the caller on a manual clock (replay, tests).
    public init(options: Options = Options(), timers: TimerQueue<ManualClock>, logger: Logger) {
        self.options = options
        self.logger = logger
        self.loop = nil
        self.timers = timers
        self.clock = { timers.clock.now }
        self.drain = DeviceDrain(byteBudget: options.readBudget)
    }

    /// Nanoseconds on the host's clock (tapir.now).
    var now: TimerInstant { clock() }

    // MARK: devices

    /// Adds a device: its packets are dispatched to the handlers, and scripts see it in
    /// tapir.devices() and as the second argument of their handlers. `mtu` gives a device
    /// other than a tun/tap one an MTU (writes over it are fragmented).
    @discardableResult
    public func add(_ device: any PacketDevice, mtu givenMTU: Int? = nil) throws -> HostDevice {
        var mac: MACAddress?
        var mtu = givenMTU
        if let tunTap = device as? TunTapDevice {
            mac = tunTap.macAddress.flatMap { MACAddress(bytes: $0) }
            mtu = tunTap.mtu
        }
        let maxPacketSize = options.maxPacketSize
            ?? mtu.map { $0 + (device.mode == .tap ? HostDevice.linkHeaderAllowance : 0) }
        let hostDevice = HostDevice(id: Int64(devices.count + 1), device: device, macAddress: mac, mtu: mtu,
                                    maxPacketSize: maxPacketSize, errorLogInterval: options.errorLogInterval)
        devices.append(hostDevice)
        if let recordPath { try startRecording(hostDevice, base: recordPath) }
        if let loop, let descriptor = device.fileDescriptor {
            try loop.register(descriptor) { [unowned self, unowned hostDevice] events in
                self.readable(hostDevice, events)
            }
        }
        return hostDevice
    }

    /// The first device records to `base`; later ones to `base` with `-DEVICE` before
    /// its extension ("-" stays standard output only for the first).
    private func startRecording(_ device: HostDevice, base: String) throws {
        var path = base
        if devices.count > 1 {
            let stem = base == "-" ? "tapir-record" : (base.hasSuffix(".pcap") ? String(base.dropLast(5)) : base)
            path = "\(stem)-\(device.name).pcap"
        }
        device.recorder = try PcapWriter(path: path, linkType: device.linkType == .ethernet ? .ethernet : .rawIP,
                                         flushEachPacket: true)
    }

    public func device(named name: String) -> HostDevice? {
        devices.first { $0.name == name }
    }

    func device(id: Int64) -> HostDevice? {
        guard id >= 1, id <= devices.count else { return nil }
        return devices[Int(id - 1)]
    }

    private func readable(_ device: HostDevice, _ events: EventSet) {
        queueingWrites = true
        let report = drain.drain(device.device, into: readBuffer.bytes) { bytes in
            self.handle(bytes, from: device)
        }
        queueingWrites = false
        if case .gone(let reason) = report.stop {
            deviceGone(device, reason: reason)
        } else if report.packets == 0, !events.isDisjoint(with: [.error, .hangup]) {
            deviceGone(device, reason: "\(device.name): the device reported an error (it was deleted?)")
        }
        writeQueued()
    }

    /// Writes what handlers wrote during the read burst, in order (a device gone since is skipped).
    private func writeQueued() {
        guard !writeQueue.isEmpty else { return }
        writeQueue.flush { id, bytes in
            guard let device = self.device(id: id), !device.goneReported else { return }
            _ = self.deliver(bytes, to: device)
        }
    }

    func deviceGone(_ device: HostDevice, reason: String) {
        guard !device.goneReported else { return }
        device.goneReported = true
        logger.warning("\(reason); no longer serving \(device.name)")
        if let loop, let descriptor = device.device.fileDescriptor {
            loop.deregister(descriptor)
        }
        device.device.close()
        onDeviceGone?(device, reason)
        if devices.allSatisfy(\.goneReported) { onAllDevicesGone?() }
    }

    /// Reads what is waiting on every device without a descriptor (memory and pcap
    /// devices), dispatching each packet. Returns the number of packets handled.
    @discardableResult
    public func pump(_ device: HostDevice) -> Int {
        let report = drain.drain(device.device, into: readBuffer.bytes) { bytes in
            self.handle(bytes, from: device)
        }
        if case .gone(let reason) = report.stop { deviceGone(device, reason: reason) }
        return report.packets
    }

    // MARK: scripts

    /// Loads a script into a fresh Lua state of its own and runs its top level.
    @discardableResult
    public func load(path: String, name: String? = nil) throws(LuaError) -> Script {
        let script = try makeScript(path: path, name: name ?? path) { _ in }
        scripts.append(script)
        return script
    }

    /// A script in a new state, its top level run; `prepare` runs first (a reload copies
    /// tapir.state there). A pack (see load(pack:)) gets an untrusted state with the
    /// permissions granted to it, tapir.config, and its handler files run in order.
    /// Nothing of it is left behind when it fails.
    func makeScript(path: String, name: String, prepare: (Script) throws(LuaError) -> Void) throws(LuaError) -> Script {
        let pack = packLoads[path]
        let directory = pack?.pack.directory ?? path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
            .joined(separator: "/")
        var stateOptions = LuaState.Options(
            memoryCap: options.memoryCap, instructionBudget: options.instructionBudget,
            trusted: pack == nil && options.trusted,
            moduleDirectories: [directory.isEmpty ? "." : directory] + options.moduleDirectories,
            errorLogInterval: options.errorLogInterval)
        stateOptions.packPermissions = pack?.granted
        let logger = self.logger
        let state = try LuaState(options: stateOptions) { level, message in
            logger.log(level: level.loggerLevel, "\(message)", metadata: ["script": "\(name)"])
        }
        state.hostHandlerChanges = handlerChanges
        let script = try Script(name: name, path: path, state: state, host: self)
        state.selectorCheck = { [unowned self] selector in self.check(selector) }
        do {
            try script.installRuntime()
            if let pack {
                try state.setTapirField("config", to: PackValue.encoded(pack.config))
            }
            try prepare(script)
            for file in pack?.pack.handlerPaths ?? [path] {
                try state.load(path: file)
            }
            script.wantsReassembly = try state.evaluateBoolean("return tapir.reassemble == true", name: name)
        } catch {
            script.cancelAllTimers()
            throw error
        }
        return script
    }

    /// Puts `replacement` where `old` was, between two packets: `old`'s timers end, its
    /// dispatch table goes.
    func replace(_ old: Script, with replacement: Script) {
        guard let index = scripts.firstIndex(where: { $0 === old }) else { return }
        old.cancelAllTimers()
        scripts[index] = replacement
    }

    /// A filter must compile for the link type of every device there is (both when
    /// there is none yet).
    private func check(_ selector: HandlerSelector) -> String? {
        guard case .filter(let expression) = selector else { return nil }
        var linkTypes = Set(devices.map(\.linkType))
        if linkTypes.isEmpty { linkTypes = [.ethernet] }
        for linkType in linkTypes.sorted(by: { $0 == .ethernet && $1 != .ethernet }) {
            do {
                _ = try filters.filter(expression, linkType)
            } catch {
                return "\(error)"
            }
        }
        return nil
    }

    // MARK: the packet path

    /// Decodes one packet and hands it to the handlers that asked for it, in order,
    /// until one claims it; then, if none did, to the `unclaimed` handlers. An IPv4
    /// fragment goes as it is to the scripts that did not ask for reassembly, and into
    /// the reassembler for those that did: they see the whole datagram once it is complete.
    public func handle(_ bytes: UnsafeRawBufferPointer, from device: HostDevice) {
        if let recorder = device.recorder { record(bytes, with: recorder, on: device) }
        packetObserver?(bytes, device, false)
        let frame = FrameDecoder.decode(bytes, linkType: device.linkType)
        if frame.isMalformed { device.malformedFrames += 1 }
        guard frame.isFragment, frame.has(.ip), scripts.contains(where: \.wantsReassembly) else {
            return dispatch(bytes, frame, from: device, to: nil)
        }
        dispatch(bytes, frame, from: device, to: false)
        let nanoseconds = Int64(clamping: now.nanoseconds)
        guard let whole = reassembler.add(bytes, networkOffset: frame.networkOffset, now: nanoseconds) else { return }
        whole.withUnsafeBytes { whole in
            dispatch(whole, FrameDecoder.decode(whole, linkType: device.linkType), from: device, to: true)
        }
    }

    /// Dispatches a decoded packet to every script (`reassembling` nil), or only to those
    /// whose `wantsReassembly` is `reassembling`. Entries are read in place (by index),
    /// so the per-packet path neither copies a table nor retains its handlers.
    private func dispatch(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame, from device: HostDevice,
                          to reassembling: Bool?) {
        if wantedGeneration != handlerChanges.generation { refreshWanted() }
        if frame.layers.isDisjoint(with: wantedLayers), !anyUnclaimedHandler {
            device.unclaimedFrames += 1
            return
        }
        var claimed = false
        for script in scripts where !claimed {
            if let reassembling, script.wantsReassembly != reassembling { continue }
            // refreshWanted() above brought every table up to date; only a handler that
            // added or removed handlers during this packet makes another look needed.
            if wantedGeneration != handlerChanges.generation { refreshDispatchTable(of: script) }
            guard !frame.layers.isDisjoint(with: script.dispatchTable.layerMask) else { continue }
            var bound = false
            var walk = script.dispatchTable.walk(bytes, frame)
            while let index = script.dispatchTable.nextCandidate(&walk) {
                guard script.dispatchTable.entries[index].matches(bytes, frame) else { continue }
                if !bound {
                    script.bind(bytes, frame, device)
                    bound = true
                }
                let handler = script.dispatchTable.entries[index].handler
                if callHandler(handler, of: script, deviceID: device.id) == .claimed {
                    claimed = true
                    break
                }
            }
            if bound { script.unbind() }
        }
        if claimed { return }
        device.unclaimedFrames += 1
        for script in scripts {
            if let reassembling, script.wantsReassembly != reassembling { continue }
            refreshDispatchTable(of: script)
            guard !script.dispatchTable.unclaimed.isEmpty else { continue }
            script.bind(bytes, frame, device)
            defer { script.unbind() }
            for handler in script.dispatchTable.unclaimed
            where callHandler(handler, of: script, deviceID: device.id) == .claimed {
                return
            }
        }
    }

    /// One handler call with the script's packet object and the device.
    @inline(__always)
    private func callHandler(_ handler: Handler, of script: Script, deviceID: Int64) -> HandlerOutcome {
        // The block exists once the script is made (a packet API install that fails throws).
        guard let packet = script.packetObject.block else { return .declined }
        return script.state.call(handler, packet: packet, deviceID: deviceID)
    }

    private func refreshWanted() {
        wantedGeneration = handlerChanges.generation
        wantedLayers = []
        anyUnclaimedHandler = false
        for script in scripts {
            refreshDispatchTable(of: script)
            wantedLayers.formUnion(script.dispatchTable.layerMask)
            anyUnclaimedHandler = anyUnclaimedHandler || !script.dispatchTable.unclaimed.isEmpty
        }
    }

    /// Rebuilds the script's dispatch table if its handlers changed.
    @inline(__always)
    private func refreshDispatchTable(of script: Script) {
        if script.dispatchTable.generation != script.state.handlerGeneration {
            script.dispatchTable.refresh(from: script.state, filters: filters)
        }
    }

    /// Writes one packet to a device (dev:write). An IPv4 datagram longer than the
    /// device's MTU goes out as fragments, unless its Don't Fragment bit is set: then it
    /// is not written (counted as `too_big`). False when it was not written (counted on
    /// the device; a gone device is reported once). During a device's read burst the
    /// frame is queued (WriteQueue) and true returned; a refusal then is counted only.
    func write(_ bytes: UnsafeRawBufferPointer, to device: HostDevice) -> Bool {
        guard !device.goneReported else { return false }
        if let mtu = device.mtu, let networkOffset = device.linkType.ipv4Offset(in: bytes), bytes.count - networkOffset > mtu {
            let outcome = IPv4Fragmenter.fragment(bytes, networkOffset: networkOffset, mtu: mtu,
                                                  identification: nextIdentification,
                                                  scratch: fragmentBuffer.bytes) { fragment in
                writeOne(fragment, to: device)
            }
            switch outcome {
            case .fits:
                break
            case .fragmented:
                nextIdentification = nextIdentification == .max ? 1 : nextIdentification + 1
                return true
            case .stopped:
                return false
            case .tooBigDontFragment:
                device.tooBigWrites += 1
                if device.tooBigLog.admit(at: ContinuousClock.now).log {
                    logger.warning("\(device.name): a \(bytes.count - networkOffset)-byte IPv4 datagram with Don't Fragment set is over the MTU (\(mtu)): not written")
                }
                return false
            }
        }
        return writeOne(bytes, to: device)
    }

    private func writeOne(_ bytes: UnsafeRawBufferPointer, to device: HostDevice) -> Bool {
        if let limit = device.maxPacketSize, bytes.count > limit {
            device.oversizedWrites += 1
            device.failedWritesInARow += 1
            if device.writeErrorLog.admit(at: .now).log {
                logger.warning("""
                    dev:write of \(bytes.count) bytes to \(device.name) refused: larger than its maximum packet size, \
                    \(limit) bytes (MTU and link headers; --max-packet); counted (tapir.stats write_errors)
                    """)
            }
            return false
        }
        if let recorder = device.recorder { record(bytes, with: recorder, on: device) }
        packetObserver?(bytes, device, true)
        if queueingWrites {
            if writeQueue.append(bytes, deviceID: device.id) { return true }
            writeQueued()  // full: make room, keeping the order
            if writeQueue.append(bytes, deviceID: device.id) { return true }
        }
        return deliver(bytes, to: device)
    }

    /// The write system call, its failure counted and said.
    private func deliver(_ bytes: UnsafeRawBufferPointer, to device: HostDevice) -> Bool {
        switch device.device.write(bytes) {
        case .written:
            if device.failedWritesInARow > 0 { writesResumed(on: device) }
            return true
        case .failed(let failure):
            writeFailed(on: device, failure)
            return false
        case .gone(let reason):
            deviceGone(device, reason: reason)
            return false
        }
    }

    /// Says that writes fail (once per burst: the error log interval), and why.
    private func writeFailed(on device: HostDevice, _ failure: WriteFailure) {
        device.failedWritesInARow += 1
        let (log, suppressed) = device.writeErrorLog.admit(at: .now)
        guard log else { return }
        let earlier = suppressed > 0 ? " (\(suppressed) more failed since the last report)" : ""
        logger.warning("""
            write to \(device.name) failed: \(failure.explanation); the packet is dropped and counted \
            (tapir.stats write_errors), the host goes on\(earlier)
            """)
    }

    private func writesResumed(on device: HostDevice) {
        logger.info("writes to \(device.name) go out again, after \(device.failedWritesInARow) failed")
        device.failedWritesInARow = 0
    }

    private func record(_ bytes: UnsafeRawBufferPointer, with recorder: PcapWriter, on device: HostDevice) {
        do {
            try recorder.write(bytes, time: recordingClock())
        } catch {
            logger.error("\(error); recording of \(device.name) stopped")
            device.recorder = nil
        }
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
        for device in devices {
            guard let recorder = device.recorder else { continue }
            do { try recorder.close() } catch { logger.error("\(error)") }
            device.recorder = nil
        }
    }
}

extension LuaLogLevel {
    var loggerLevel: Logger.Level {
        switch self {
        case .debug: .debug
        case .info: .info
        case .warn: .warning
        case .error: .error
        }
    }
}
