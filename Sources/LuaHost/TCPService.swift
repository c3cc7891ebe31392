import CLua
import Logging
import Packets
import Reactor
import TCPEngine

/// The host's TCP (DESIGN.md, Conversations): one engine for every script and device.
/// Segments for its listeners and connections are claimed before Lua handlers run; what
/// the engine sends goes out on the device, and to the link address, the connection's
/// segments came from. A listener's function runs as a task per accepted connection, and
/// a task waiting on a connection is woken by the engine's events. Loop thread only.
final class TCPService {
    /// Where a connection's segments go: the device, and the Ethernet addresses (and tags)
    /// on a tap; nil on tun.
    struct Route {
        var device: HostDevice
        var source: MACAddress
        var destination: MACAddress
        var tags: [VLANTag]
    }

    /// A script's listener: one engine listener per address it listens on (an IPv4 and
    /// an IPv6 wildcard when it names none).
    final class Listener {
        let id: Int64
        var handles: [TCPListener]
        var endpoints: [TCPEndpoint]
        let script: Script
        let function: Int32
        /// The link address answered for the listener's IPv4 address when no handler does.
        let mac: MACAddress
        /// During a reload: listeners of the version being replaced whose engine listeners
        /// this one takes over when the swap happens.
        var takesOver: [Int64] = []

        init(id: Int64, handles: [TCPListener], endpoints: [TCPEndpoint], script: Script, function: Int32,
             mac: MACAddress) {
            self.id = id
            self.handles = handles
            self.endpoints = endpoints
            self.script = script
            self.function = function
            self.mac = mac
        }
    }

    final class Connection {
        let id: Int64
        let socket: TCPSocket
        /// The version of the script that accepted or opened it: it finishes there, also
        /// across a reload.
        let script: Script
        /// The task running the listener's function for it (nil for a script's own connect).
        var task: Int32?
        let inbox = ByteQueue()
        /// Why it ended, once it did abnormally ("reset", "timeout").
        var failure: String?

        init(id: Int64, socket: TCPSocket, script: Script) {
            self.id = id
            self.socket = socket
            self.script = script
        }
    }

    unowned let host: TapirHost
    let engine: TCPEngine
    private var routes: [TCPFourTuple: Route] = [:]
    private(set) var listeners: [Int64: Listener] = [:]
    private var listenerIDs: [TCPListener: Int64] = [:]
    private(set) var connections: [Int64: Connection] = [:]
    private var connectionIDs: [TCPSocket: Int64] = [:]
    private var connectionTasks: [TaskKey: Int64] = [:]
    private var nextID: Int64 = 0
    private var nextIPv4ID: UInt16 = 1
    private var flushTimer: TimerID?
    /// Scripts whose tasks the last events woke (run at the end of the burst).
    private var woken: [ObjectIdentifier: Script] = [:]
    private var deadline: (timer: TimerID, at: TCPInstant)?
    private let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535 + 64, alignment: 16)
    /// Segments the engine sent as super-segments (its superSegmentBytes: with a tap's offloads).
    private var superSegmentsSent = 0
    /// Largest inbox a receive("*a") or a long line may grow to.
    let maxReceive = 16 << 20

    private struct TaskKey: Hashable {
        var script: ObjectIdentifier
        var task: Int32
    }

    init(host: TapirHost, configuration: TCPConfiguration) {
        self.host = host
        engine = TCPEngine(configuration: configuration)
    }

    deinit { frame.deallocate() }

    /// True while anything may need the engine: a listener or a connection.
    var isActive: Bool { !listeners.isEmpty || engine.connectionCount > 0 }

    var now: TCPInstant { TCPInstant(microseconds: Int64(clamping: host.now.nanoseconds / 1000)) }

    // MARK: segments in

    /// Offers a decoded TCP segment to the engine; true when it claimed it. `checksumTrusted`:
    /// the kernel made it and left its checksum partial (offloads); a super-segment is taken whole.
    func claim(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame, from device: HostDevice,
               checksumTrusted: Bool = false) -> Bool {
        guard !frame.isFragment, let segment = frame.tcp(bytes) else { return false }
        let source: TCPEndpoint
        let destination: TCPEndpoint
        if let ip = frame.ipv4(bytes) {
            source = TCPEndpoint(.v4(ip.src), segment.sport)
            destination = TCPEndpoint(.v4(ip.dst), segment.dport)
        } else if let ip = frame.ipv6(bytes) {
            source = TCPEndpoint(.v6(ip.src), segment.sport)
            destination = TCPEndpoint(.v6(ip.dst), segment.dport)
        } else {
            return false
        }
        let tuple = TCPFourTuple(local: destination, remote: source)
        let ourLink = routes[tuple]?.source
        if let ethernet = frame.ethernet(bytes), !isOurs(ethernet.dst, connectionLink: ourLink) { return false }
        guard engine.process(now: now, source: source, destination: destination, segment: segment,
                             checksumVerified: checksumTrusted) else { return false }
        if ourLink == nil { routes[tuple] = route(back: bytes, frame, device) }
        claimedInBurst = true
        return true
    }

    /// A segment sent to `link` is the engine's, as a NIC takes a frame: to the link address
    /// of its connection, of a listener, or to a group address. One to another host's MAC
    /// (a flooded or bridged segment) is left to the handlers.
    private func isOurs(_ link: MACAddress, connectionLink: MACAddress?) -> Bool {
        if link.isMulticast { return true }
        if let connectionLink { return connectionLink == link }
        return listeners.values.contains { $0.mac == link }
    }

    private func route(back bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame, _ device: HostDevice) -> Route {
        guard let ethernet = frame.ethernet(bytes) else {
            return Route(device: device, source: .zero, destination: .zero, tags: [])
        }
        let tags = (0..<ethernet.tagCount).compactMap { ethernet.tag($0) }
        return Route(device: device, source: ethernet.dst, destination: ethernet.src, tags: tags)
    }

    /// An ARP request no handler claimed, for the address of a listener: answered with the
    /// listener's link address, so a script that only listens is reachable.
    func answerUnclaimed(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame, from device: HostDevice) {
        guard !listeners.isEmpty, let arp = frame.arp(bytes), arp.op == ARPOperation.request,
              let ethernet = frame.ethernet(bytes) else { return }
        guard !arp.tpa.isUnspecified,
              let listener = listeners.values.first(where: { $0.endpoints.contains { $0.address == .v4(arp.tpa) } })
        else { return }
        var reply: [UInt8] = []
        EthernetRepr(src: listener.mac, dst: ethernet.src, vlan: (0..<ethernet.tagCount).compactMap { ethernet.tag($0) },
                     type: EtherType.arp).emit(appendingTo: &reply)
        ARPRepr(op: ARPOperation.reply, sha: listener.mac, spa: arp.tpa, tha: arp.sha, tpa: arp.spa).emit(appendingTo: &reply)
        reply.withUnsafeBytes { _ = host.egress.write($0, to: device) }
    }

    // MARK: segments out and events

    /// A segment was claimed during the current read burst: the host flushes when it ends.
    private var claimedInBurst = false

    /// The end of a device's read burst: what the segments of the burst made the engine
    /// send goes out together, and their events reach the tasks.
    func burstEnded() {
        guard claimedInBurst else { return }
        claimedInBurst = false
        settle()
    }

    /// Delivers the engine's events and runs the tasks they woke (a few rounds at most),
    /// then sends what is due: a request that came in a burst is answered in the same turn
    /// of the loop, and an answer, an ACK and a FIN the tasks' calls made go out together.
    func settle() {
        settling = true
        for _ in 0..<4 {
            engine.pollEvents { source, events in self.handle(source, events) }
            let scripts = woken.values
            woken.removeAll(keepingCapacity: true)
            var ran = false
            for script in scripts where script.tasks.runReady() { ran = true }
            if !ran { break }
        }
        flush()
        settling = false
        // Tasks readied after the last round (or by the flush's events) run next turn.
        for script in woken.values { script.tasks.scheduleIfReady() }
        woken.removeAll(keepingCapacity: true)
    }

    /// True while settle runs: what is readied or written meanwhile is taken care of by
    /// it, with no timer turn.
    private(set) var settling = false

    /// A task of `script` became ready while settling: settle runs it.
    func readiedWhileSettling(_ script: Script) {
        woken[ObjectIdentifier(script)] = script
    }

    /// Soon (next turn of the loop): what the engine has to send, then its events.
    func scheduleFlush() {
        guard flushTimer == nil, !settling else { return }
        flushTimer = host.timers.schedule(after: .nanoseconds(1), repeating: nil) { [weak self] in
            self?.flushTimer = nil
            self?.settle()
        }
    }

    /// Sends what is due, hands the engine's events to the tasks, and arms the timer for
    /// the engine's next deadline.
    func flush() {
        if let flushTimer {
            host.timers.cancel(flushTimer)
            self.flushTimer = nil
        }
        let instant = now
        engine.dispatch(now: instant) { segment in self.send(segment) }
        engine.pollEvents { source, events in self.handle(source, events) }
        armDeadline(after: instant)
        pruneRoutes()
    }

    private func armDeadline(after instant: TCPInstant) {
        guard let next = engine.nextDeadline(now: instant) else {
            if let deadline { host.timers.cancel(deadline.timer) }
            deadline = nil
            return
        }
        if next <= instant {
            scheduleFlush()
            return
        }
        if flushTimer != nil { return }  // a flush comes sooner
        if let deadline {
            if deadline.at == next { return }
            host.timers.cancel(deadline.timer)
        }
        let delay = Duration.microseconds(next.microseconds - instant.microseconds)
        let timer = host.timers.schedule(after: delay, repeating: nil) { [weak self] in
            self?.deadline = nil
            self?.settle()
        }
        deadline = (timer, next)
    }

    private func send(_ segment: TCPOutgoingSegment) {
        let tuple = TCPFourTuple(local: segment.source, remote: segment.destination)
        guard let route = routes[tuple], !route.device.goneReported else { return }
        var at = 0
        if route.device.linkType == .ethernet {
            let ethernet = EthernetRepr(src: route.source, dst: route.destination, vlan: route.tags,
                                        type: segment.source.address.isIPv6 ? EtherType.ipv6 : EtherType.ipv4)
            ethernet.emit(into: frame)
            at = ethernet.bufferLength
        }
        switch (segment.source.address, segment.destination.address) {
        case let (.v4(source), .v4(destination)):
            let ip = IPv4Repr(src: source, dst: destination, proto: IPProtocol.tcp, payloadLength: segment.length,
                              id: nextIPv4ID)
            nextIPv4ID &+= 1
            ip.emit(into: UnsafeMutableRawBufferPointer(rebasing: frame[at..<at + ip.headerLength]))
            at += ip.headerLength
        case let (.v6(source), .v6(destination)):
            let ip = IPv6Repr(src: source, dst: destination, proto: IPProtocol.tcp, payloadLength: segment.length)
            ip.emit(into: UnsafeMutableRawBufferPointer(rebasing: frame[at..<at + IPv6Field.headerLength]))
            at += IPv6Field.headerLength
        default:
            return
        }
        let isSuperSegment = segment.isSuperSegment
        let written = segment.write(into: UnsafeMutableRawBufferPointer(rebasing: frame[at..<frame.count]),
                                    partialChecksum: isSuperSegment)
        guard written > 0 else { return }
        let bytes = UnsafeRawBufferPointer(rebasing: frame[0..<at + written])
        if isSuperSegment {
            superSegmentsSent += 1
            _ = host.egress.writeSuperSegment(bytes, segmentSize: segment.segmentSize, to: route.device)
        } else {
            _ = host.egress.write(bytes, to: route.device)
        }
    }

    private func handle(_ source: TCPEventSource, _ events: TCPEvents) {
        switch source {
        case let .listener(handle):
            guard events.contains(.acceptable), let id = listenerIDs[handle], let listener = listeners[id] else { return }
            while let socket = engine.accept(handle) {
                accepted(socket, by: listener)
            }
        case let .socket(socket):
            guard let id = connectionIDs[socket], let connection = connections[id] else { return }
            if events.contains(.reset) { connection.failure = connection.failure ?? "reset" }
            if events.contains(.timedOut) { connection.failure = connection.failure ?? "timeout" }
            let tasks = connection.script.tasks
            woken[ObjectIdentifier(connection.script)] = connection.script
            if !events.isDisjoint(with: [.readable, .closed, .reset, .timedOut]) {
                tasks.wake(kind: CLUA_WAIT_READABLE, object: id)
            }
            if !events.isDisjoint(with: [.writable, .closed, .reset, .timedOut]) {
                tasks.wake(kind: CLUA_WAIT_WRITABLE, object: id)
            }
            if !events.isDisjoint(with: [.connected, .closed, .reset, .timedOut]) {
                tasks.wake(kind: CLUA_WAIT_CONNECTED, object: id)
            }
        }
    }

    /// A connection a listener accepted: its function starts as a task with the connection.
    private func accepted(_ socket: TCPSocket, by listener: Listener) {
        let script = listener.script
        let connection = register(socket, script: script)
        guard script.tasks.running else {
            engine.abort(socket)
            forget(connection)
            return
        }
        var task: Int32 = LUA_NOREF
        var result = clua_result()
        let status = clua_task_start(script.state.host, listener.function, clua_tcp_push_connection,
                                     UnsafeRawPointer(bitPattern: Int(connection.id)), &task, &result)
        if status != LUA_OK {
            let error = LuaError(result: result, memoryCap: script.state.memoryCap)
            clua_result_release(script.state.host, &result)
            host.logger.error("\(script.name): cannot start a task for a connection: \(error)")
            engine.abort(socket)
            forget(connection)
            return
        }
        clua_result_release(script.state.host, &result)
        connection.task = task
        connectionTasks[TaskKey(script: ObjectIdentifier(script), task: task)] = connection.id
        try? script.tasks.makeReady(task)
        woken[ObjectIdentifier(script)] = script
    }

    private func register(_ socket: TCPSocket, script: Script) -> Connection {
        nextID += 1
        let connection = Connection(id: nextID, socket: socket, script: script)
        connections[connection.id] = connection
        connectionIDs[socket] = connection.id
        return connection
    }

    private func forget(_ connection: Connection) {
        connections[connection.id] = nil
        connectionIDs[connection.socket] = nil
        if let task = connection.task {
            connectionTasks[TaskKey(script: ObjectIdentifier(connection.script), task: task)] = nil
        }
        drainIfDone(connection.script)
    }

    /// A task ended: if it ran a connection's function, the connection closes with it (a
    /// reset when the task failed).
    func taskEnded(_ task: Int32, of script: Script, failed: Bool) {
        guard let id = connectionTasks.removeValue(forKey: TaskKey(script: ObjectIdentifier(script), task: task)),
              let connection = connections[id] else { return }
        close(connection, how: failed ? 2 : 0)
    }

    /// Keeps the routes of connections the engine still has.
    private func pruneRoutes() {
        guard routes.count > 2 * engine.connectionCount + 256 else { return }
        routes = routes.filter { engine.hasConnection($0.key) }
    }

    // MARK: the script's side

    func listen(_ endpoints: [TCPEndpoint], backlog: Int?, mac: MACAddress, script: Script,
                function: Int32) throws -> Int64 {
        var handles: [TCPListener] = []
        var takesOver: [Int64] = []
        do {
            for endpoint in endpoints {
                do throws(TCPError) {
                    handles.append(try engine.listen(endpoint, options: TCPListenOptions(synBacklog: backlog)))
                } catch {
                    // A reload: the version being replaced listens there; this one takes
                    // its listener over at the swap.
                    guard error == .addressInUse, let old = listeners.values.first(where: {
                        $0.endpoints.contains(endpoint) && $0.script !== script && $0.script.name == script.name
                    }) else { throw error }
                    takesOver.append(old.id)
                }
            }
        } catch {
            for handle in handles { engine.close(handle) }
            throw error
        }
        nextID += 1
        let listener = Listener(id: nextID, handles: handles, endpoints: endpoints, script: script,
                                function: function, mac: mac)
        listener.takesOver = takesOver
        listeners[nextID] = listener
        for handle in handles { listenerIDs[handle] = nextID }
        host.kernelFilters.changed()
        return nextID
    }

    /// A reload put `new` in the place of `old`: the listeners `new` asked for take over
    /// `old`'s on the same endpoints at once (nothing is refused in between), `old`'s other
    /// listeners close, and `old`'s connections finish on `old`: its tasks for them go on
    /// (its other tasks stop) until the last one closes or `drainTimeout` passes. Returns
    /// true when `old` is kept draining.
    @discardableResult
    func replaced(_ old: Script, by new: Script) -> Bool {
        for listener in listeners.values where listener.script === new && !listener.takesOver.isEmpty {
            for id in listener.takesOver {
                guard let previous = listeners.removeValue(forKey: id) else { continue }
                for handle in previous.handles { listenerIDs[handle] = listener.id }
                listener.handles += previous.handles
                old.state.release(LuaReference(rawValue: previous.function))
            }
            listener.takesOver = []
        }
        for listener in listeners.values where listener.script === old {
            if let function = closeListener(listener.id) { old.state.release(LuaReference(rawValue: function)) }
        }
        let kept = Set(connections.values.filter { $0.script === old }.compactMap(\.task))
        guard !kept.isEmpty else { return false }
        old.tasks.keepOnly(kept)
        let key = ObjectIdentifier(old)
        let timer = host.timers.schedule(after: drainTimeout, repeating: nil) { [weak self] in
            self?.drained(old, timedOut: true)
        }
        draining[key] = (old, timer)
        host.logger.info("\(old.name): the old version finishes its \(kept.count) connection(s) (at most \(drainTimeout))")
        return true
    }

    /// How long a replaced version may take to finish its connections.
    var drainTimeout: Duration = .seconds(30)
    private var draining: [ObjectIdentifier: (script: Script, timer: TimerID)] = [:]

    /// A replaced version's last connection closed, or its drain timed out: what is left is
    /// reset and its tasks end.
    private func drained(_ script: Script, timedOut: Bool) {
        guard let entry = draining.removeValue(forKey: ObjectIdentifier(script)) else { return }
        if !timedOut { host.timers.cancel(entry.timer) }
        let left = connections.values.filter { $0.script === script }
        if timedOut, !left.isEmpty {
            host.logger.warning("\(script.name): the old version's \(left.count) connection(s) are reset after \(drainTimeout)")
        }
        stop(script)
        script.tasks.stop()
    }

    /// The host stops: replaced versions still finishing connections end too.
    func stopDraining() {
        for (script, _) in draining.values { drained(script, timedOut: false) }
    }

    private func drainIfDone(_ script: Script) {
        guard draining[ObjectIdentifier(script)] != nil, !connections.values.contains(where: { $0.script === script })
        else { return }
        drained(script, timedOut: false)
    }

    /// Stops a listener; returns its function reference for C to release.
    func closeListener(_ id: Int64) -> Int32? {
        guard let listener = listeners.removeValue(forKey: id) else { return nil }
        for handle in listener.handles {
            listenerIDs[handle] = nil
            engine.close(handle)
        }
        scheduleFlush()
        return listener.function
    }

    func connect(from local: TCPEndpoint, to remote: TCPEndpoint, route: Route, script: Script) throws -> Int64 {
        let socket = try engine.connect(from: local, to: remote, now: now, mtu: route.device.mtu)
        host.kernelFilters.changed()
        guard let tuple = engine.endpoints(socket) else { throw TCPError.invalidSocket }
        routes[tuple] = route
        let connection = register(socket, script: script)
        scheduleFlush()
        return connection.id
    }

    enum Attempt {
        case done(UnsafeRawBufferPointer)
        case wait
        case failed(String, partial: UnsafeRawBufferPointer?)
    }

    /// Reads what the engine holds for the connection into its inbox, then answers a
    /// receive in `mode` if it can.
    func receive(_ id: Int64, mode: clua_receive_mode, count: Int) -> Attempt {
        guard let connection = connections[id] else { return .failed("closed", partial: nil) }
        let socket = connection.socket
        let inbox = connection.inbox
        // Bulk: a receive the engine's buffer answers by itself is handed the bytes where
        // they lie (C makes the Lua string from them at once, before any segment is
        // processed), one copy less than through the inbox.
        if inbox.count == 0, mode == CLUA_RECEIVE_ANY || mode == CLUA_RECEIVE_COUNT {
            let piece = engine.take(socket, upTo: mode == CLUA_RECEIVE_COUNT && count > 0
                ? (engine.readableBytes(socket) >= count ? count : 0) : count)
            if mode == CLUA_RECEIVE_COUNT, piece.count > 0, piece.count < count {
                // The ring wrapped inside the count: the rest through the inbox.
                inbox.reserve(piece.count).copyMemory(from: piece)
                inbox.appended(piece.count)
            } else if piece.count > 0 {
                scheduleFlush()  // the window opened
                return .done(piece)
            }
        }
        // Bytes move from the engine into the inbox only while the inbox cannot answer this
        // receive: what the script does not ask for stays in the engine's buffer, whose
        // window then stays shut, so a script that reads slowly holds at most one buffer
        // (and, for a line or "*a", at most maxReceive).
        func satisfied() -> Bool {
            switch mode {
            case CLUA_RECEIVE_LINE: inbox.firstIndex(of: UInt8(ascii: "\n")) != nil
            case CLUA_RECEIVE_COUNT: inbox.count >= count
            case CLUA_RECEIVE_ANY: inbox.count > 0
            default: false
            }
        }
        while !satisfied(), inbox.count <= maxReceive, engine.readableBytes(socket) > 0 {
            let wanted = mode == CLUA_RECEIVE_COUNT ? count - inbox.count : engine.readableBytes(socket)
            let room = inbox.reserve(min(wanted, engine.readableBytes(socket), 256 * 1024))
            let read = engine.read(socket, into: UnsafeMutableRawBufferPointer(rebasing: room[0..<min(room.count, wanted)]))
            if read <= 0 { break }
            inbox.appended(read)
            scheduleFlush()  // the window opened
        }
        let ended = engine.isAtEnd(socket) || connection.failure != nil
        func end() -> Attempt {
            let partial = inbox.count > 0 ? inbox.take(inbox.count) : nil
            return .failed(connection.failure ?? "closed", partial: partial)
        }
        switch mode {
        case CLUA_RECEIVE_LINE:
            if let newline = inbox.firstIndex(of: UInt8(ascii: "\n")) {
                let line = inbox.take(newline + 1)
                let trim = line.count >= 2 && line[line.count - 2] == UInt8(ascii: "\r") ? 2 : 1
                return .done(UnsafeRawBufferPointer(rebasing: line[0..<line.count - trim]))
            }
            if ended { return end() }
            if inbox.count > maxReceive { return .failed("line too long", partial: nil) }
            return .wait
        case CLUA_RECEIVE_COUNT:
            if inbox.count >= count { return .done(inbox.take(count)) }
            return ended ? end() : .wait
        case CLUA_RECEIVE_ANY:
            if inbox.count > 0 { return .done(inbox.take(min(count, inbox.count))) }
            return ended ? end() : .wait
        default:  // all
            if connection.failure != nil { return end() }
            if engine.isAtEnd(socket) { return .done(inbox.take(inbox.count)) }
            if inbox.count > maxReceive { return .failed("too large", partial: nil) }
            return .wait
        }
    }

    /// Queues bytes; how many were taken (0: the buffer is full), or the reason it cannot.
    func send(_ id: Int64, _ bytes: UnsafeRawBufferPointer) -> Result<Int, HostError> {
        guard let connection = connections[id] else { return .failure(HostError("closed")) }
        if let failure = connection.failure { return .failure(HostError(failure)) }
        let socket = connection.socket
        guard let state = engine.state(socket) else { return .failure(HostError("closed")) }
        switch state {
        case .synSent, .synReceived, .established, .closeWait: break
        default: return .failure(HostError("closed"))
        }
        let taken = engine.write(socket, bytes)
        if taken > 0 { scheduleFlush() }
        if taken == 0, engine.writableBytes(socket) == 0, engine.state(socket) == nil {
            return .failure(HostError("closed"))
        }
        return .success(taken)
    }

    /// 0 close, 1 shutdown, 2 abort.
    func close(_ id: Int64, how: Int32) {
        guard let connection = connections[id] else { return }
        close(connection, how: how)
    }

    private func close(_ connection: Connection, how: Int32) {
        switch how {
        case 1:
            engine.shutdown(connection.socket)
        case 2:
            engine.abort(connection.socket)
            forget(connection)
        default:
            engine.close(connection.socket)
            forget(connection)
        }
        scheduleFlush()
    }

    func connected(_ id: Int64) -> Attempt {
        guard let connection = connections[id] else { return .failed("closed", partial: nil) }
        if let failure = connection.failure {
            return .failed(failure == "reset" ? "connection refused" : failure, partial: nil)
        }
        switch engine.state(connection.socket) {
        case .synSent?, .synReceived?: return .wait
        case .established?, .closeWait?: return .done(UnsafeRawBufferPointer(start: nil, count: 0))
        default: return .failed("closed", partial: nil)
        }
    }

    func setNagle(_ id: Int64, _ on: Bool) {
        guard let connection = connections[id] else { return }
        engine.setNagle(connection.socket, on)
    }

    func describe(_ id: Int64) -> EncodedValue? {
        guard let connection = connections[id], let tuple = engine.endpoints(connection.socket) else { return nil }
        func endpoint(_ endpoint: TCPEndpoint) -> EncodedValue {
            let ip: String
            switch endpoint.address {
            case let .v4(address): ip = address.description
            case let .v6(address): ip = address.description
            }
            return .record(["ip": .string(ip), "port": .integer(Int64(endpoint.port))])
        }
        let counters = engine.counters(connection.socket)
        let counted: EncodedValue = .record([
            "segments_in": .integer(Int64(counters?.segmentsIn ?? 0)),
            "segments_out": .integer(Int64(counters?.segmentsOut ?? 0)),
            "bytes_in": .integer(Int64(counters?.bytesIn ?? 0)),
            "bytes_out": .integer(Int64(counters?.bytesOut ?? 0)),
            "retransmitted": .integer(Int64(counters?.retransmittedSegments ?? 0)),
        ])
        let state: EncodedValue = .string(engine.state(connection.socket)?.rawValue ?? "CLOSED")
        return .record(["peer": endpoint(tuple.remote), "local": endpoint(tuple.local), "state": state,
                        "counters": counted])
    }

    /// tapir.stats().tcp: the engine's counters, and each connection the scripts hold.
    var encodedStats: EncodedValue {
        let counters = engine.counters
        let repair = engine.lossRepair
        var held: [EncodedValue] = []
        for connection in connections.values.sorted(by: { $0.id < $1.id }) {
            guard let described = describe(connection.id) else { continue }
            held.append(described)
        }
        return .record([
            "connections": .integer(Int64(engine.connectionCount)),
            "listeners": .integer(Int64(listeners.count)),
            "buffer_bytes": .integer(Int64(engine.bufferBytes)),
            "segments_claimed": .integer(Int64(counters.segmentsClaimed)),
            "bad_checksums": .integer(Int64(counters.badChecksums)),
            "resets_sent": .integer(Int64(counters.resetsSent)),
            "syn_cookies_sent": .integer(Int64(counters.synCookiesSent)),
            "syn_cookies_accepted": .integer(Int64(counters.synCookiesAccepted)),
            "syns_dropped": .integer(Int64(counters.synsDropped)),
            "super_segments_sent": .integer(Int64(superSegmentsSent)),
            "fast_retransmits": .integer(Int64(repair.fastRetransmits)),
            "sack_recoveries": .integer(Int64(repair.sackRecoveries)),
            "tail_loss_probes": .integer(Int64(repair.tailLossProbes)),
            "timeouts": .integer(Int64(repair.timeouts)),
            "held": .array(held),
        ])
    }

    /// Everything of `script`: its listeners close; its connections are reset (the script
    /// stops, or is replaced).
    func stop(_ script: Script) {
        for listener in listeners.values where listener.script === script {
            _ = closeListener(listener.id)
        }
        for connection in connections.values where connection.script === script {
            close(connection, how: 2)
        }
        if let entry = draining.removeValue(forKey: ObjectIdentifier(script)) { host.timers.cancel(entry.timer) }
    }
}
