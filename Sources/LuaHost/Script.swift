import CLua
import Logging
import Packets
import Reactor

/// A script or pack loaded into a host: its own Lua state (DESIGN.md, Isolation), the
/// timers it scheduled and the functions it asked to run at stop.
public final class Script {
    public let name: String
    public let path: String
    public let state: LuaState
    /// The state's packet object (reused for every packet), tapir.build and pkt:reply.
    let packetObject: PacketObject
    unowned let host: TapirHost

    struct Timer {
        var scheduled: TimerID
        var functionReference: Int32
        var repeating: Bool
    }

    private(set) var timers: [Int64: Timer] = [:]
    private var nextTimerID: Int64 = 0
    private(set) var stopFunctions: [Int32] = []
    /// This script's handlers arranged for native dispatch (TapirHost keeps it current).
    let dispatchTable = DispatchTable()
    /// The script set `tapir.reassemble = true`: it gets whole IPv4 datagrams, not fragments.
    var wantsReassembly = false
    /// The script set `tapir.verify_checksums = true`: packets with a checksum that fails
    /// are not dispatched to it, as Linux drops them.
    var verifiesChecksums = false
    /// The reply and query buffers handed to C; valid until the next query.
    var queryBuffer: [UInt8] = []
    var timerErrorLog = ErrorLogLimiter(interval: .seconds(10))
    /// Its tasks (tapir.spawn, and everything that waits inside one).
    private(set) lazy var tasks = Tasks(script: self, errorLogInterval: state.options.errorLogInterval)

    init(name: String, path: String, state: LuaState, host: TapirHost) throws(LuaError) {
        self.name = name
        self.path = path
        self.state = state
        self.packetObject = try PacketObject(state: state)
        self.host = host
    }

    // MARK: timers (tapir.after, tapir.every)

    func schedule(milliseconds: Int64, repeating: Bool, functionReference: Int32) -> Int64 {
        nextTimerID += 1
        let id = nextTimerID
        let interval = Duration.milliseconds(milliseconds)
        let scheduled = host.timers.schedule(after: interval, repeating: repeating ? interval : nil) {
            [unowned self] in self.fire(timer: id)
        }
        timers[id] = Timer(scheduled: scheduled, functionReference: functionReference, repeating: repeating)
        return id
    }

    /// Stops a timer; returns its function reference for C to release, if it was active.
    func cancel(timer id: Int64) -> Int32? {
        guard let timer = timers.removeValue(forKey: id) else { return nil }
        host.timers.cancel(timer.scheduled)
        return timer.functionReference
    }

    private func fire(timer id: Int64) {
        guard let timer = timers[id] else { return }
        if !timer.repeating {
            timers[id] = nil
        }
        do {
            try state.call(LuaReference(rawValue: timer.functionReference))
        } catch {
            let admission = timerErrorLog.admit(at: ContinuousClock.now)
            if admission.log {
                host.logger.error("\(name): timer failed: \(error)")
            }
        }
        if !timer.repeating {
            state.release(LuaReference(rawValue: timer.functionReference))
        }
    }

    /// Cancels every timer, ends every task and closes its TCP listeners and connections
    /// (at stop, or when a new version failed to build).
    func cancelAllTimers() {
        tasks.stop()
        host.tcp.stop(self)
        cancelTimers()
    }

    /// Cancels every timer (a reload replaced this script: its connections may still finish).
    func cancelTimers() {
        for (id, _) in timers {
            if let reference = cancel(timer: id) { state.release(LuaReference(rawValue: reference)) }
        }
    }

    // MARK: tapir.on_stop

    func addStopFunction(_ reference: Int32) {
        stopFunctions.append(reference)
    }

    func runStopFunctions() {
        for reference in stopFunctions {
            do {
                try state.call(LuaReference(rawValue: reference))
            } catch {
                host.logger.error("\(name): on_stop function failed: \(error)")
            }
        }
    }
}

extension Script {
    var packetArgument: LuaArgument { packetObject.argument }

    @inline(__always)
    func bind(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame, _ device: HostDevice) {
        packetObject.bind(bytes, frame: frame, device: device.id)
    }

    @inline(__always)
    func unbind() { packetObject.unbind() }
}
