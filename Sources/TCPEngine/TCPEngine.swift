import Packets

/// The host's TCP: listeners and connections, fed segments with `process`, asked for what
/// is due with `dispatch`, both given the time. No devices, no Lua, no clock of its own.
///
/// One thread owns an engine (the host's loop). Per segment it allocates nothing: tables
/// are sized from the limits when the engine is made, buffers when a connection is set up.
public final class TCPEngine {
    public let configuration: TCPConfiguration
    public private(set) var counters = TCPEngineCounters()
    /// The loss repair of the connections freed so far (see `lossRepair`).
    private var freedLossRepair = TCPLossRepair()

    private var slots: [Connection?]
    private var generations: [UInt32]
    private var freeSlots: [Int32]
    private var index: [TCPFourTuple: Int32]
    /// Slots in use at or below this index (dispatch walks them).
    private var highWater = 0
    public private(set) var connectionCount = 0
    private let budget: BufferBudget
    /// Buffer bytes of all connections (held to `configuration.maxBufferBytes`).
    public var bufferBytes: Int { budget.used }

    private var listeners: [Listener?] = []
    private var listenerGenerations: [UInt32] = []
    private var listenerIndex: [TCPEndpoint: Int32] = [:]

    /// Segments not tied to a connection: RSTs and SYN-cookie SYN-ACKs.
    private var control: [TCPOutgoingSegment]
    private let controlCapacity = 64
    /// Sockets and listeners with events since the last poll (internal for tests).
    private(set) var events: [TCPEventSource]
    private var challengeWindowStart: TCPInstant?
    private var challengeCount = 0
    private var nextEphemeralPort: UInt16 = 49152
    /// A segment was processed or the application called since the last dispatch.
    private var needsDispatch = false
    /// The earliest timer as the last dispatch left the connections (timers change only in
    /// `process`, application calls and `dispatch`; the first two set `needsDispatch`).
    private var earliestTimer: TCPInstant?

    public init(configuration: TCPConfiguration) {
        self.configuration = configuration
        budget = BufferBudget(limit: configuration.maxBufferBytes)
        let capacity = Swift.max(configuration.maxConnections, 1)
        slots = Array(repeating: nil, count: capacity)
        generations = Array(repeating: 0, count: capacity)
        freeSlots = (0..<Int32(capacity)).reversed()
        index = [:]
        index.reserveCapacity(capacity)
        control = []
        control.reserveCapacity(controlCapacity)
        events = []
        events.reserveCapacity(capacity + 64)
    }

    // MARK: Segments in

    /// A TCP segment from `source` to `destination`. Returns true if the engine claimed it
    /// (it belongs to one of its connections or listeners); false for anything else, such
    /// as a SYN to a port nobody listens on or to a multicast or broadcast address, which
    /// the host hands to its handlers. `checksumVerified`: the device vouches for the
    /// segment (a tap's offloads hand over the kernel's own segments, their checksums
    /// partial), so it is not summed again.
    @discardableResult
    public func process(now: TCPInstant, source: TCPEndpoint, destination: TCPEndpoint, segment: TCPPacket,
                        checksumVerified: Bool = false) -> Bool {
        // RFC 1122 section 4.2.3.10: nothing to or from a multicast or broadcast address
        // (or from no address) is a connection's; not claimed, so never answered here.
        if destination.address.isMulticastOrBroadcast || source.address.isMulticastOrBroadcast
            || source.address.isUnspecified {
            return false
        }
        let tuple = TCPFourTuple(local: destination, remote: source)
        if let slot = index[tuple], let connection = slots[Int(slot)] {
            guard checksumVerified || checksumOK(segment, tuple) else { return true }
            counters.segmentsClaimed += 1
            needsDispatch = true
            let seg = Segment(segment)
            if connection.state == .closed {
                // Over, the application not yet told: as if there were no connection
                // (RFC 9293 section 3.10.7.1).
                if !seg.rst { queueReset(tuple, seq: seg.hasACK ? seg.ack : TCPSeq(0), ack: seg.hasACK ? nil : seg.seq + seg.length) }
                return true
            }
            // RFC 9293 section 3.6.1 / RFC 6191: a new SYN beyond the old connection's
            // sequence space ends TIME-WAIT and opens a new connection.
            if connection.state == .timeWait && seg.syn && !seg.hasACK && !seg.rst && connection.rcvNxt < seg.seq,
               let listener = findListener(destination) {
                free(slot)
                listen(listener, seg, tuple: tuple, now: now)
                return true
            }
            handle(connection.process(seg, now: now), connection, slot: slot, tuple: tuple, now: now)
            return true
        }
        guard let listener = findListener(destination) else { return false }
        guard checksumVerified || checksumOK(segment, tuple) else { return true }
        counters.segmentsClaimed += 1
        needsDispatch = true
        listen(listener, Segment(segment), tuple: tuple, now: now)
        return true
    }

    private func checksumOK(_ segment: TCPPacket, _ tuple: TCPFourTuple) -> Bool {
        guard configuration.verifyChecksums else { return true }
        guard let pseudoHeader = tuple.incomingPseudoHeader, segment.verifyChecksum(pseudoHeader) else {
            counters.badChecksums += 1
            return false
        }
        return true
    }

    private func findListener(_ endpoint: TCPEndpoint) -> Listener? {
        if let slot = listenerIndex[endpoint] { return listeners[Int(slot)] }
        let any = TCPEndpoint(endpoint.address.isIPv6 ? .v6(.unspecified) : .v4(.any), endpoint.port)
        if let slot = listenerIndex[any] { return listeners[Int(slot)] }
        return nil
    }

    /// RFC 9293 section 3.10.7.2, LISTEN: a SYN opens, an ACK may return a SYN cookie, a
    /// RST is ignored, anything else with an ACK is reset.
    private func listen(_ listener: Listener, _ seg: Segment, tuple: TCPFourTuple, now: TCPInstant) {
        if seg.rst { return }
        if seg.hasACK {
            if !seg.syn, acceptCookie(listener, seg, tuple: tuple, now: now) {
                return
            }
            queueReset(tuple, seq: seg.ack, ack: nil)
            return
        }
        guard seg.syn, !seg.fin else { return }
        guard connectionCount < configuration.maxConnections, listener.connections < listener.connectionLimit,
              budget.available >= configuration.sendBufferSize + configuration.receiveBufferSize
        else {
            counters.synsDropped += 1
            return
        }
        if listener.synReceived >= listener.synBacklog {
            guard configuration.synCookies else {
                counters.synsDropped += 1
                return
            }
            sendCookie(listener, seg, tuple: tuple, now: now)
            return
        }
        let iss = configuration.secrets.initialSequence(tuple, now: now)
        guard let (_, connection) = makeConnection(tuple, passive: true, iss: iss, mtu: listener.mtu) else {
            counters.synsDropped += 1
            return
        }
        connection.listener = listener
        connection.nagle = listener.nagle
        connection.inBacklog = true
        listener.connections += 1
        listener.synReceived += 1
        connection.acceptSYN(seg, now: now)
    }

    /// RFC 4987: the SYN-ACK whose sequence number is the cookie; nothing is kept.
    private func sendCookie(_ listener: Listener, _ seg: Segment, tuple: TCPFourTuple, now: TCPInstant) {
        let localMSS = listener.mtu - tuple.local.address.ipHeaderLength - 20
        let peerMSS = Int(seg.options.mss ?? (tuple.local.address.isIPv6 ? 1220 : 536))
        let mss = UInt16(clamping: Swift.min(localMSS, peerMSS))
        let cookie = configuration.secrets.cookie(tuple, clientSequence: seg.seq, mss: mss, now: now)
        var options = TCPOutgoingOptions()
        options.mss = UInt16(clamping: localMSS)
        if configuration.timestamps, let timestamp = seg.options.timestamp {
            // The other options ride in the timestamp the peer will echo.
            let kept = SYNCookieOptions(windowShift: configuration.offeredWindowShift == nil ? nil : seg.options.windowScale,
                                        sackPermitted: configuration.selectiveAcknowledgments && seg.options.sackPermitted)
            let clock = configuration.secrets.timestampOffset(tuple) &+ UInt32(truncatingIfNeeded: now.milliseconds)
            options.timestamp = (kept.timestampValue(clock), timestamp.value)
            options.sackPermitted = kept.sackPermitted
            if kept.windowShift != nil { options.windowScale = configuration.offeredWindowShift }
        }
        let window = Swift.min(configuration.receiveBufferSize, 65535)
        queueControl(TCPOutgoingSegment(source: tuple.local, destination: tuple.remote, seq: cookie.value,
                                        ack: (seg.seq + 1).value, flags: TCPFlags.syn | TCPFlags.ack,
                                        window: UInt16(window), options: options))
        counters.synCookiesSent += 1
    }

    private func acceptCookie(_ listener: Listener, _ seg: Segment, tuple: TCPFourTuple, now: TCPInstant) -> Bool {
        guard configuration.synCookies,
              let mss = configuration.secrets.checkCookie(seg.ack - 1, tuple, clientSequence: seg.seq - 1, now: now)
        else {
            counters.synCookiesRejected += 1
            return false
        }
        guard connectionCount < configuration.maxConnections, listener.connections < listener.connectionLimit,
              let (slot, connection) = makeConnection(tuple, passive: true, iss: seg.ack - 1, mtu: listener.mtu)
        else {
            counters.synsDropped += 1
            return true  // dropped; the peer's retransmission may find room
        }
        counters.synCookiesAccepted += 1
        connection.listener = listener
        connection.nagle = listener.nagle
        listener.connections += 1
        let kept = configuration.timestamps ? seg.options.timestamp.map { SYNCookieOptions(echo: $0.echo) } : nil
        connection.acceptCookie(seg, mss: mss, options: kept)
        connection.acceptPending = true
        // The ACK may carry data (and a FIN).
        handle(connection.process(seg, now: now), connection, slot: slot, tuple: tuple, now: now)
        return true
    }

    private func makeConnection(_ tuple: TCPFourTuple, passive: Bool, iss: TCPSeq, mtu: Int) -> (Int32, Connection)? {
        let bytes = configuration.sendBufferSize + configuration.receiveBufferSize
        guard !freeSlots.isEmpty, budget.take(bytes), let slot = freeSlots.popLast() else { return nil }
        let connection = Connection(tuple: tuple, passive: passive, iss: iss, mtu: mtu, config: configuration, budget: budget)
        slots[Int(slot)] = connection
        index[tuple] = slot
        highWater = Swift.max(highWater, Int(slot) + 1)
        connectionCount += 1
        counters.connectionsCreated += 1
        return (slot, connection)
    }

    private func free(_ slot: Int32) {
        guard let connection = slots[Int(slot)] else { return }
        detachFromListener(connection, slot: slot)
        budget.release(connection.bufferBytes)
        connection.releaseBuffers()
        index.removeValue(forKey: connection.tuple)
        slots[Int(slot)] = nil
        generations[Int(slot)] &+= 1
        freeSlots.append(slot)
        connectionCount -= 1
        counters.connectionsFreed += 1
        freedLossRepair.add(connection.counters)
        while highWater > 0 && slots[highWater - 1] == nil { highWater -= 1 }
    }

    /// After a segment or an application call: replies, the accept queue, events, freeing.
    private func handle(_ outcome: Outcome, _ connection: Connection, slot: Int32, tuple: TCPFourTuple, now: TCPInstant) {
        switch outcome {
        case .none:
            break
        case let .reset(seq, ack):
            queueReset(tuple, seq: seq, ack: ack)
        case .challengeACK:
            if challengeWindowStart == nil || now - challengeWindowStart! >= .seconds(1) {
                challengeWindowStart = now
                challengeCount = 0
            }
            if challengeCount < configuration.challengeACKLimit {
                challengeCount += 1
                connection.counters.challengeACKs += 1
                connection.requestACK()
            } else {
                counters.challengeACKsLimited += 1
            }
        }
        settle(connection, slot: slot)
    }

    /// The connection no longer counts against its listener's limits.
    private func detachFromListener(_ connection: Connection, slot: Int32) {
        guard let listener = connection.listener else { return }
        listener.connections -= 1
        if connection.inBacklog {
            listener.synReceived -= 1
            connection.inBacklog = false
        }
        if connection.owner == .listener { listener.remove(slot) }
        connection.listener = nil
    }

    private func settle(_ connection: Connection, slot: Int32) {
        if connection.acceptPending {
            connection.acceptPending = false
            if connection.state != .closed, let listener = connection.listener, connection.owner == .listener {
                listener.enqueue(slot)
                queueEvent(listener)
            }
        }
        if connection.state == .closed && !connection.resetPending && connection.owner != .application {
            free(slot)
            return
        }
        if connection.state == .timeWait && connection.owner != .application && connection.bufferBytes > 0 {
            // Nobody will read or write again: TIME-WAIT keeps no buffers.
            budget.release(connection.bufferBytes)
            connection.releaseBuffers()
        }
        if connection.listener != nil, connection.owner == .orphan || connection.state == .timeWait {
            // Closed by the application, or only keeping its port in TIME-WAIT: it is no longer
            // one of the listener's connections (a client that does not keep connections
            // alive would otherwise find the listener full of TIME-WAITs). The engine's own
            // limits, connections and buffer bytes in all, still count it.
            detachFromListener(connection, slot: slot)
        }
        if !connection.pendingEvents.isEmpty && connection.owner == .application && !connection.inEventQueue {
            connection.inEventQueue = true
            if events.count == events.capacity { dropStaleEvents() }
            events.append(.socket(TCPSocket(index: slot, generation: generations[Int(slot)])))
        }
    }

    /// Entries of connections freed since they were queued (their slots may hold new ones
    /// with entries of their own): dropped when the queue would otherwise grow.
    private func dropStaleEvents() {
        var kept = 0
        for position in events.indices {
            let entry = events[position]
            if case let .socket(socket) = entry, connection(socket) == nil { continue }
            events[kept] = entry
            kept += 1
        }
        events.removeLast(events.count - kept)
    }

    private func queueEvent(_ listener: Listener) {
        guard !listener.inEventQueue else { return }
        listener.inEventQueue = true
        if events.count < events.capacity { events.append(.listener(listener.handle)) }
    }

    private func queueReset(_ tuple: TCPFourTuple, seq: TCPSeq, ack: TCPSeq?) {
        queueControl(TCPOutgoingSegment(source: tuple.local, destination: tuple.remote, seq: seq.value,
                                        ack: ack?.value ?? 0,
                                        flags: ack == nil ? TCPFlags.rst : TCPFlags.rst | TCPFlags.ack, window: 0))
        counters.resetsSent += 1
    }

    private func queueControl(_ segment: TCPOutgoingSegment) {
        guard control.count < controlCapacity else {
            counters.controlQueueDrops += 1
            return
        }
        control.append(segment)
    }

    // MARK: Segments out

    /// Runs every timer due at `now` and hands each segment due to `emit` (valid during the
    /// call only: its payload points into a send buffer).
    public func dispatch(now: TCPInstant, emit: (TCPOutgoingSegment) -> Void) {
        needsDispatch = false
        for segment in control { emit(segment) }
        control.removeAll(keepingCapacity: true)
        var earliest: TCPInstant?
        var slot = 0
        while slot < highWater {
            if let connection = slots[slot] {
                connection.dispatch(now: now, emit: emit)
                settle(connection, slot: Int32(slot))
                if let connection = slots[slot] {
                    let deadline = connection.wantsToSend ? now : connection.nextDeadline
                    if let deadline, earliest == nil || deadline < earliest! { earliest = deadline }
                }
            }
            slot += 1
        }
        earliestTimer = earliest
    }

    /// When `dispatch` should run next: now after a segment was processed or the
    /// application called (data may be ready to go), else the earliest timer as the last
    /// dispatch left them; nil when nothing is pending. O(1): `dispatch` (which walks the
    /// connections, no timer wheel yet) works it out.
    public func nextDeadline(now: TCPInstant) -> TCPInstant? {
        if needsDispatch || !control.isEmpty { return now }
        return earliestTimer
    }

    // MARK: Application side

    /// Events since the last call, one entry per socket or listener with something new.
    public func pollEvents(_ body: (TCPEventSource, TCPEvents) -> Void) {
        var position = 0
        while position < events.count {
            let source = events[position]
            position += 1
            switch source {
            case let .socket(socket):
                guard let connection = connection(socket) else { continue }
                let pending = connection.pendingEvents
                connection.pendingEvents = []
                connection.inEventQueue = false
                if !pending.isEmpty { body(source, pending) }
            case let .listener(handle):
                guard let listener = listener(handle) else { continue }
                let pending = listener.pendingEvents
                listener.pendingEvents = []
                listener.inEventQueue = false
                if !pending.isEmpty { body(source, pending) }
            }
        }
        events.removeAll(keepingCapacity: true)
    }

    public func listen(_ endpoint: TCPEndpoint, options: TCPListenOptions = .init()) throws(TCPError) -> TCPListener {
        guard listenerIndex[endpoint] == nil else { throw .addressInUse }
        let slot: Int
        if let free = listeners.firstIndex(where: { $0 == nil }) {
            slot = free
        } else {
            slot = listeners.count
            listeners.append(nil)
            listenerGenerations.append(0)
        }
        let handle = TCPListener(index: Int32(slot), generation: listenerGenerations[slot])
        listeners[slot] = Listener(endpoint: endpoint, handle: handle, options: options, config: configuration)
        listenerIndex[endpoint] = Int32(slot)
        events.reserveCapacity(slots.count + listeners.count)
        return handle
    }

    /// Stops listening; connections not yet accepted are reset, accepted ones go on.
    public func close(_ handle: TCPListener) {
        guard let listener = listener(handle) else { return }
        needsDispatch = true
        for slot in 0..<highWater {
            guard let connection = slots[slot], connection.listener === listener else { continue }
            if connection.owner == .listener {
                connection.owner = .orphan
                connection.abort()
                settle(connection, slot: Int32(slot))
            }
            connection.listener = nil
        }
        listenerIndex.removeValue(forKey: listener.endpoint)
        listeners[Int(handle.index)] = nil
        listenerGenerations[Int(handle.index)] &+= 1
    }

    /// The next established connection of `handle`, now the application's.
    public func accept(_ handle: TCPListener) -> TCPSocket? {
        guard let listener = listener(handle) else { return nil }
        while let slot = listener.dequeue() {
            guard let connection = slots[Int(slot)], connection.owner == .listener else { continue }
            connection.owner = .application
            if connection.state == .closed && !connection.resetPending {
                connection.pendingEvents.insert(.reset)
            }
            connection.pendingEvents.insert(.writable)
            if connection.readable > 0 || connection.finReceived { connection.pendingEvents.insert(.readable) }
            settle(connection, slot: slot)
            return TCPSocket(index: slot, generation: generations[Int(slot)])
        }
        return nil
    }

    public func acceptQueueCount(_ handle: TCPListener) -> Int { listener(handle)?.acceptQueueCount ?? 0 }

    /// An active open from `local` (port 0: one from 49152-65535) to `remote`; the SYN
    /// goes at the next dispatch.
    public func connect(from local: TCPEndpoint, to remote: TCPEndpoint, now: TCPInstant,
                        mtu: Int? = nil) throws(TCPError) -> TCPSocket {
        guard local.address.isIPv6 == remote.address.isIPv6 else { throw .addressFamilyMismatch }
        var local = local
        if local.port == 0 {
            var tries = 0
            repeat {
                local.port = nextEphemeralPort
                nextEphemeralPort = nextEphemeralPort == 65535 ? 49152 : nextEphemeralPort + 1
                tries += 1
            } while index[TCPFourTuple(local: local, remote: remote)] != nil && tries < 16384
        }
        let tuple = TCPFourTuple(local: local, remote: remote)
        guard index[tuple] == nil else { throw .addressInUse }
        guard connectionCount < configuration.maxConnections else { throw .connectionLimit }
        let iss = configuration.secrets.initialSequence(tuple, now: now)
        guard let (slot, _) = makeConnection(tuple, passive: false, iss: iss, mtu: mtu ?? configuration.mtu) else {
            throw .memoryLimit
        }
        needsDispatch = true
        return TCPSocket(index: slot, generation: generations[Int(slot)])
    }

    private func connection(_ socket: TCPSocket) -> Connection? {
        let slot = Int(socket.index)
        guard slot >= 0, slot < slots.count, generations[slot] == socket.generation else { return nil }
        return slots[slot]
    }

    private func listener(_ handle: TCPListener) -> Listener? {
        let slot = Int(handle.index)
        guard slot >= 0, slot < listeners.count, listenerGenerations[slot] == handle.generation else { return nil }
        return listeners[slot]
    }

    /// Every connection the engine holds, with its state and whether the application holds
    /// it (for status displays and tests; not for the packet path).
    public func forEachConnection(_ body: (TCPFourTuple, TCPState, _ heldByApplication: Bool) -> Void) {
        for slot in 0..<highWater {
            guard let connection = slots[slot] else { continue }
            body(connection.tuple, connection.state, connection.owner == .application)
        }
    }
    /// Whether a connection with these endpoints exists (in any state, TIME-WAIT included).
    public func hasConnection(_ tuple: TCPFourTuple) -> Bool { index[tuple] != nil }

    public func state(_ socket: TCPSocket) -> TCPState? { connection(socket)?.state }
    public func counters(_ socket: TCPSocket) -> TCPConnectionCounters? { connection(socket)?.counters }

    /// How every connection, freed or live, repaired loss.
    public var lossRepair: TCPLossRepair {
        var total = freedLossRepair
        for slot in 0..<highWater {
            if let connection = slots[slot] { total.add(connection.counters) }
        }
        return total
    }
    public func endpoints(_ socket: TCPSocket) -> TCPFourTuple? { connection(socket)?.tuple }

    /// Bytes waiting to be read.
    public func readableBytes(_ socket: TCPSocket) -> Int { connection(socket)?.readable ?? 0 }
    /// True once the peer's FIN came and every byte before it was read.
    public func isAtEnd(_ socket: TCPSocket) -> Bool {
        guard let connection = connection(socket) else { return true }
        return connection.readable == 0 && (connection.finReceived || connection.state == .closed)
    }
    /// Bytes `write` would take now.
    public func writableBytes(_ socket: TCPSocket) -> Int {
        guard let connection = connection(socket), connection.finSeq == nil else { return 0 }
        switch connection.state {
        case .synSent, .synReceived, .established, .closeWait: return connection.writableBytes
        default: return 0
        }
    }

    /// Copies received bytes out and frees their room (the window may open).
    public func read(_ socket: TCPSocket, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let connection = connection(socket) else { return 0 }
        needsDispatch = true
        return connection.read(into: buffer, consume: true)
    }

    /// Up to `limit` received bytes without a copy: the piece at the head of the receive
    /// buffer (as far as it is contiguous), freed at once (the window may open). The bytes
    /// stay where they are until the engine next processes a segment (`process`): the
    /// caller copies them out before that.
    public func take(_ socket: TCPSocket, upTo limit: Int) -> UnsafeRawBufferPointer {
        guard let connection = connection(socket), limit > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        needsDispatch = true
        return connection.take(upTo: limit)
    }

    /// Copies received bytes out and leaves them.
    public func peek(_ socket: TCPSocket, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let connection = connection(socket) else { return 0 }
        return connection.read(into: buffer, consume: false)
    }

    /// Queues bytes to send; returns how many the send buffer took.
    public func write(_ socket: TCPSocket, _ bytes: UnsafeRawBufferPointer) -> Int {
        guard let connection = connection(socket) else { return 0 }
        needsDispatch = true
        switch connection.state {
        case .synSent, .synReceived, .established, .closeWait: return connection.write(bytes)
        default: return 0
        }
    }

    public func setNagle(_ socket: TCPSocket, _ on: Bool) {
        needsDispatch = true
        connection(socket)?.nagle = on
    }

    /// No more data from this side: a FIN after what was written.
    public func shutdown(_ socket: TCPSocket) {
        guard let connection = connection(socket) else { return }
        needsDispatch = true
        connection.shutdown()
        settle(connection, slot: socket.index)
    }

    /// The application is done with the socket. Unread data makes it a reset (RFC 1122
    /// section 4.2.2.13); otherwise the FIN goes after the data written and the engine
    /// finishes the closing handshake on its own. The handle is stale afterwards.
    public func close(_ socket: TCPSocket) {
        guard let connection = connection(socket) else { return }
        needsDispatch = true
        if connection.readable > 0 {
            connection.abort()
        } else {
            connection.shutdown()
        }
        connection.owner = .orphan
        connection.pendingEvents = []
        settle(connection, slot: socket.index)
    }

    /// Sends a RST and ends the connection; the handle is stale afterwards.
    public func abort(_ socket: TCPSocket) {
        guard let connection = connection(socket) else { return }
        needsDispatch = true
        connection.abort()
        connection.owner = .orphan
        connection.pendingEvents = []
        settle(connection, slot: socket.index)
    }
}
