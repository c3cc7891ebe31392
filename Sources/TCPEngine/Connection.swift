import Packets

/// A received segment, its fields read once from the checked view.
struct Segment {
    var seq: TCPSeq
    var ack: TCPSeq
    var flags: UInt16
    var window: UInt16
    var payload: UnsafeRawBufferPointer
    var options: ReceivedOptions
    /// The option bytes, valid while the segment is processed.
    var optionBytes: UnsafeRawBufferPointer

    init(_ packet: TCPPacket) {
        seq = TCPSeq(packet.seq)
        ack = TCPSeq(packet.ack)
        flags = packet.flags
        window = packet.window
        payload = packet.payload
        options = ReceivedOptions(packet)
        optionBytes = packet.options
    }

    /// SACK block `index`, below `options.sackBlockCount`: its left and right edges.
    func sackBlock(_ index: Int) -> (left: TCPSeq, right: TCPSeq) {
        let at = options.sackBlocksAt + 8 * index
        return (TCPSeq(optionBytes.loadBigEndianU32(at)), TCPSeq(optionBytes.loadBigEndianU32(at + 4)))
    }

    var syn: Bool { flags & TCPFlags.syn != 0 }
    var fin: Bool { flags & TCPFlags.fin != 0 }
    var rst: Bool { flags & TCPFlags.rst != 0 }
    var hasACK: Bool { flags & TCPFlags.ack != 0 }
    /// SEG.LEN: payload plus one each for SYN and FIN.
    var length: Int { payload.count + (syn ? 1 : 0) + (fin ? 1 : 0) }
}

/// What a connection asks of the engine after a segment.
enum Outcome: Equatable {
    case none
    /// Send `<SEQ=seq><CTL=RST>` (or `<SEQ=0><ACK=ack><CTL=RST,ACK>`) to the peer.
    case reset(seq: TCPSeq, ack: TCPSeq?)
    /// Send a challenge ACK (RFC 5961) if the engine-wide limit allows.
    case challengeACK
}

/// Who holds a connection: its listener until accepted, then the application until it
/// closes it; an orphan lingers until its closing handshake ends.
enum Owner {
    case listener
    case application
    case orphan
}

/// One connection: its state machine (RFC 9293 section 3.10), buffers, timers and
/// congestion state. The engine demultiplexes segments to it and asks it what is due.
final class Connection {
    let tuple: TCPFourTuple
    private(set) var state: TCPState
    let passive: Bool
    var owner: Owner
    var listener: Listener?
    /// Counted in its listener's SYN backlog (passive, SYN-RECEIVED).
    var inBacklog = false
    /// Established from a listener and not yet in its accept queue.
    var acceptPending = false
    var pendingEvents: TCPEvents = []
    var inEventQueue = false
    var counters = TCPConnectionCounters()
    private let config: TCPConfiguration

    // Send sequence space (RFC 9293 section 3.3.1); SND.MAX is the highest sent (SND.NXT
    // goes back to SND.UNA on a timeout).
    let iss: TCPSeq
    private(set) var sndUna: TCPSeq
    private(set) var sndNxt: TCPSeq
    private(set) var sndMax: TCPSeq
    private(set) var sndWnd = 0
    private var maxSndWnd = 0
    private var sndWl1 = TCPSeq(0)
    private var sndWl2 = TCPSeq(0)
    /// The sequence number of the send buffer's first byte.
    private var sendStart: TCPSeq
    /// The FIN's sequence number, once the application shut the sending side.
    private(set) var finSeq: TCPSeq?

    // Receive sequence space.
    private(set) var irs = TCPSeq(0)
    private(set) var rcvNxt = TCPSeq(0)
    /// The right edge of the window last advertised (never moved left).
    private var rcvAdvertised = TCPSeq(0)
    private(set) var finReceived = false

    // Options.
    private var sndShift: UInt8 = 0
    private var rcvShift: UInt8 = 0
    private var offeredShift: UInt8?
    /// The MSS this side advertises (from the MTU) and the payload of a full segment sent.
    let localMSS: Int
    private(set) var smss: Int
    private var timestamps = false
    private var tsRecent: UInt32 = 0
    private let tsOffset: UInt32
    private var lastACKSent = TCPSeq(0)
    private var sack = false
    var nagle: Bool

    // Buffers.
    private(set) var sendBuffer: RingBuffer
    private(set) var receiveBuffer: RingBuffer
    private var assembler: Assembler
    /// Budget taken for the receive buffer beyond its capacity: the room the window offered
    /// may still need (see `reserveOfferedWindow`).
    private var receiveReserved = 0
    private var buffersReleased = false
    /// What this connection holds of the budget.
    var bufferBytes: Int { sendBuffer.capacity + receiveBuffer.capacity + receiveReserved }
    /// What the buffers may grow to, as data needs the room, while the budget allows.
    private let sendLimit: Int
    private let receiveLimit: Int
    /// The most the window offered may reach past the stored bytes' start: the first
    /// receive buffer size, growing by every byte received in order up to `receiveLimit`
    /// (the window opens as the peer uses it, doubling a round trip, as Linux's receive
    /// autotuning does). An idle connection so offers, and reserves (`receiveReserved`),
    /// no more than its first buffer.
    private var windowCeiling: Int
    private let budget: BufferBudget

    // Timers.
    private(set) var retransmitDeadline: TCPInstant?
    private(set) var delayedACKDeadline: TCPInstant?
    private(set) var persistDeadline: TCPInstant?
    /// TIME-WAIT's end, or an orphan's FIN-WAIT-2 timeout.
    private(set) var closeDeadline: TCPInstant?
    private var rtt: RTTEstimator
    private var rttTiming: (end: TCPSeq, sent: TCPInstant)?
    private var retries = 0
    private var persistBackoff = 0
    /// Zero-window probes sent since the peer last said anything (RFC 9293 section
    /// 3.8.6.1 keeps probing while the peer answers; one that never does is given up).
    private var probesUnanswered = 0
    private var congestion: NewReno
    /// What the peer SACKed above SND.UNA (with `sack` on), and the end of what this
    /// recovery has retransmitted (RFC 6675's HighRxt).
    private var scoreboard = SACKScoreboard()
    private var highRetransmitted = TCPSeq(0)
    /// SND.MAX when the latest hole was retransmitted: data past it SACKed while the holes
    /// before stay holes says those retransmissions were lost too.
    private var retransmittedBelow: TCPSeq?
    /// The tail loss probe (RFC 8985 section 7, with SACK): when it is due, and the end
    /// of what was sent when the probe went, until an ACK passes it.
    private(set) var tailProbeDeadline: TCPInstant?
    private var tailProbeEnd: TCPSeq?
    /// When data was last sent (RFC 5681 section 4.1's idle test).
    private var lastDataSent: TCPInstant?

    // What the next dispatch owes.
    private var ackNow = false
    /// ACKs owed beyond the next one: each out-of-order segment of a burst processed
    /// before a dispatch gets its own duplicate ACK (RFC 5681 section 4.2), so the
    /// sender's count of three works.
    private var extraACKs = 0
    private var unacknowledgedBytes = 0
    private var retransmitFirst = false
    private var probeNow = false
    var resetPending = false

    /// The buffers' first sizes are charged to `budget` by the engine before this is made.
    init(tuple: TCPFourTuple, passive: Bool, iss: TCPSeq, mtu: Int, config: TCPConfiguration, budget: BufferBudget) {
        self.tuple = tuple
        self.passive = passive
        self.config = config
        state = passive ? .listen : .synSent
        owner = passive ? .listener : .application
        self.iss = iss
        sndUna = iss
        sndNxt = iss
        sndMax = iss
        sendStart = iss + 1
        localMSS = Swift.max(mtu - tuple.local.address.ipHeaderLength - 20, 64)
        smss = Swift.min(localMSS, tuple.local.address.isIPv6 ? 1220 : 536)
        tsOffset = config.secrets.timestampOffset(tuple)
        nagle = config.nagle
        sendBuffer = RingBuffer(capacity: config.sendBufferSize)
        receiveBuffer = RingBuffer(capacity: config.receiveBufferSize)
        sendLimit = Swift.max(config.sendBufferSize, config.sendBufferLimit)
        receiveLimit = Swift.max(config.receiveBufferSize, config.receiveBufferLimit)
        windowCeiling = config.receiveBufferSize
        self.budget = budget
        assembler = Assembler(capacity: config.reassemblyRanges)
        rtt = RTTEstimator(initial: config.initialRTO, minimum: config.minRTO, maximum: config.maxRTO)
        congestion = NewReno(smss: smss, initialSequence: iss, largestSegment: Self.superSegmentLength(config))
        offeredShift = config.offeredWindowShift
    }

    deinit { releaseBuffers() }

    /// The longest super-segment a connection sends (0 without).
    private static func superSegmentLength(_ config: TCPConfiguration) -> Int {
        config.superSegmentBytes > 0 ? Swift.min(config.superSegmentBytes, 65000) : 0
    }

    /// Frees the buffers; the engine gives their bytes (`bufferBytes`) back to the budget.
    func releaseBuffers() {
        sendBuffer.deallocate()
        receiveBuffer.deallocate()
        receiveReserved = 0
        buffersReleased = true
    }

    // MARK: Opening

    /// A SYN arrived at a listener: SYN-RECEIVED, the SYN-ACK due.
    func acceptSYN(_ seg: Segment, now: TCPInstant) {
        irs = seg.seq
        rcvNxt = seg.seq + 1
        negotiate(seg.options)
        sndWnd = Int(seg.window)
        maxSndWnd = sndWnd
        sndWl1 = seg.seq
        state = .synReceived
        if let value = seg.options.timestamp?.value { tsRecent = value }
    }

    /// A returned SYN cookie's ACK: ESTABLISHED at once, with the cookie's MSS, and the
    /// peer's window scale and SACK-permitted as the timestamp it echoes carries them (nil
    /// options when it has none: then no timestamps, scaling or SACK).
    func acceptCookie(_ seg: Segment, mss: UInt16, options: SYNCookieOptions?) {
        irs = seg.seq - 1
        rcvNxt = seg.seq
        if let options, let value = seg.options.timestamp?.value {
            timestamps = true
            tsRecent = value
            sack = options.sackPermitted
            if let shift = options.windowShift, offeredShift != nil {
                sndShift = shift
                rcvShift = offeredShift!
            } else {
                offeredShift = nil
            }
        } else {
            offeredShift = nil
        }
        smss = Swift.max(Swift.min(localMSS, Int(mss)) - (timestamps ? 12 : 0), 32)
        congestion = NewReno(smss: smss, initialSequence: iss, largestSegment: Self.superSegmentLength(config))
        sndUna = seg.ack
        sndNxt = seg.ack
        sndMax = seg.ack
        sndWnd = Int(seg.window) << Int(sndShift)
        maxSndWnd = sndWnd
        sndWl1 = seg.seq
        sndWl2 = seg.ack
        lastACKSent = rcvNxt
        rcvAdvertised = rcvNxt + advertisableWindow()
        reserveOfferedWindow()
        state = .established
    }

    /// Reads the options of a SYN (or SYN-ACK): MSS, window scale, SACK-permitted,
    /// timestamps, each used only if both sides sent it.
    private func negotiate(_ options: ReceivedOptions) {
        let peerMSS = options.mss.map(Int.init) ?? (tuple.local.address.isIPv6 ? 1220 : 536)
        if let shift = options.windowScale, let offered = offeredShift {
            sndShift = Swift.min(shift, 14)
            rcvShift = offered
        } else {
            sndShift = 0
            rcvShift = 0
            offeredShift = nil
        }
        sack = config.selectiveAcknowledgments && options.sackPermitted
        timestamps = config.timestamps && options.timestamp != nil
        smss = Swift.max(Swift.min(peerMSS, localMSS) - (timestamps ? 12 : 0), 32)
        congestion = NewReno(smss: smss, initialSequence: iss, largestSegment: Self.superSegmentLength(config))
    }

    // MARK: Segment arrival (RFC 9293 section 3.10.7)

    func process(_ segment: Segment, now: TCPInstant) -> Outcome {
        var seg = segment
        counters.segmentsIn += 1
        switch state {
        case .closed, .listen:
            return .none
        case .synSent:
            return processSYNSent(seg, now: now)
        default:
            break
        }

        // SYN-RECEIVED and our SYN-ACK lost: the peer's SYN again. Answer it again.
        if state == .synReceived && seg.syn && !seg.hasACK && !seg.rst && seg.seq == irs {
            sndNxt = iss
            return .none
        }

        // Simultaneous open: the peer's SYN-ACK acknowledges our SYN; its SYN we have.
        if state == .synReceived && !passive && seg.syn && seg.hasACK && !seg.rst && seg.seq == irs {
            seg.flags &= ~TCPFlags.syn
            seg.seq = irs + 1
        }

        // RFC 7323 section 5.3: PAWS, a timestamp older than the last one is a duplicate.
        if timestamps, !seg.rst, let ts = seg.options.timestamp, Int32(bitPattern: ts.value &- tsRecent) < 0 {
            counters.pawsDrops += 1
            ackNow = true
            return .none
        }

        // First: the sequence number.
        let window = Swift.max(rcvAdvertised - rcvNxt, 0)
        let length = seg.length
        var acceptable: Bool
        if length == 0 {
            // RFC 9293's test is RCV.NXT =< SEG.SEQ < RCV.NXT + RCV.WND. But a peer that
            // filled the window sends its ACKs at SEQ = RCV.NXT + RCV.WND until what it sent
            // arrives; dropped, they left our own data unacknowledged until it was sent
            // again. The right edge itself is accepted, as Linux and the BSDs do.
            acceptable = rcvNxt <= seg.seq && seg.seq <= rcvNxt + window
        } else {
            acceptable = window > 0 && (inWindow(seg.seq, window) || inWindow(seg.seq + length - 1, window))
        }
        // A zero window takes no data, but the ACK, window and RST of a segment at RCV.NXT count.
        var takeText = true
        if !acceptable && window == 0 && seg.seq == rcvNxt {
            acceptable = true
            takeText = false
            ackNow = !seg.rst
        }
        if !acceptable {
            if seg.rst { return .none }
            counters.unacceptableSegments += 1
            if state == .timeWait && seg.fin { closeDeadline = now + config.timeWait }
            ackNow = true
            return .none
        }
        if timestamps, let ts = seg.options.timestamp, seg.seq <= lastACKSent, lastACKSent < seg.seq + Swift.max(length, 1) {
            tsRecent = ts.value
        }

        // Second: RST (RFC 5961 section 3.2: exactly RCV.NXT resets, else a challenge ACK).
        if seg.rst {
            guard seg.seq == rcvNxt else { return .challengeACK }
            switch state {
            case .synReceived where passive:
                enter(.closed)
            case .closing, .lastAck:
                enter(.closed)
                pendingEvents.insert(.closed)
            case .timeWait:
                enter(.closed)  // reported closed already
            default:
                enter(.closed)
                pendingEvents.insert(.reset)
            }
            return .none
        }

        // Fourth: SYN in a synchronized state: a challenge ACK (RFC 5961 section 4.2).
        if seg.syn {
            if state == .synReceived && passive {
                enter(.closed)
                return .none
            }
            return .challengeACK
        }

        // Fifth: the ACK field.
        guard seg.hasACK else { return .none }
        probesUnanswered = 0
        if state == .synReceived {
            guard sndUna < seg.ack && seg.ack <= sndMax else { return .reset(seq: seg.ack, ack: nil) }
            if rttTiming != nil {
                rtt.sample(now - rttTiming!.sent)
                rttTiming = nil
            }
            sndUna = seg.ack
            if sndNxt < sndUna { sndNxt = sndUna }
            retransmitDeadline = nil
            if retries > 0 { rtt.synRetransmitted() }
            retries = 0
            // The window of a SYN-ACK is never scaled (RFC 7323 section 2.2).
            sndWnd = Int(seg.window) << Int(segment.syn ? 0 : sndShift)
            maxSndWnd = sndWnd
            sndWl1 = seg.seq
            sndWl2 = seg.ack
            if inBacklog {
                inBacklog = false
                listener?.synReceived -= 1
            }
            if finSeq != nil {
                enter(.finWait1)
            } else {
                enter(.established)
            }
            if passive { acceptPending = true } else { pendingEvents.formUnion([.connected, .writable]) }
        }
        // RFC 5961 section 5.2: an ACK outside [SND.UNA - MAX.SND.WND, SND.MAX] is answered and dropped.
        if sndMax < seg.ack || seg.ack < sndUna - maxSndWnd {
            ackNow = true
            return .none
        }
        let newWindow = Int(seg.window) << Int(segment.syn ? 0 : sndShift)
        if sack && seg.options.sackBlockCount > 0 {
            recordSACKBlocks(seg, una: TCPSeq.max(sndUna, seg.ack))
        }
        if sndUna < seg.ack {
            acknowledge(seg, now: now)
        } else if seg.ack == sndUna && seg.payload.isEmpty && !seg.syn && !seg.fin && newWindow == sndWnd
                    && sndUna < sndMax && sndWnd > 0 && state != .timeWait {
            counters.duplicateACKsIn += 1
            let flight = sndMax - sndUna
            if congestion.duplicateACK(una: sndUna, max: sndMax, flight: flight, sack: sack) == .retransmit {
                startedFastRecovery()
            }
        }
        // RFC 6675 section 5: the first unacknowledged segment is lost once more than
        // (DupThresh - 1) * SMSS bytes above it are SACKed, however few ACKs said so (a
        // super-segment lost in part is followed by few, or none).
        // A tail loss probe SACKed while what was sent before it is not: that is lost
        // (RFC 8985 section 7.4's detection, by the probe's ACK).
        if congestion.sackRecovery, let mark = retransmittedBelow, let highest = scoreboard.highest,
           mark < highest, sndUna < highRetransmitted {
            // Sent after the retransmissions, received before them: they are lost (RACK's
            // reasoning, RFC 8985 section 6.2, without its timers): the holes go again.
            highRetransmitted = sndUna
            retransmittedBelow = nil
            counters.lostRetransmissions += 1
            retransmitFirst = true
        }
        if sack && congestion.mayRecover(una: sndUna) && sndUna < sndMax && sndWnd > 0 && state != .timeWait
            && (scoreboard.bytes > 2 * smss || tailProbeEnd != nil && !scoreboard.isEmpty) {
            congestion.enterRecovery(max: sndMax, flight: sndMax - sndUna, sack: true)
            startedFastRecovery()
        }
        if sndWl1 < seg.seq || (sndWl1 == seg.seq && sndWl2 <= seg.ack) {
            sndWnd = newWindow
            maxSndWnd = Swift.max(maxSndWnd, sndWnd)
            sndWl1 = seg.seq
            sndWl2 = seg.ack
            if sndWnd > 0 {
                persistDeadline = nil
                persistBackoff = 0
                if sndUna < sndMax && retransmitDeadline == nil { retransmitDeadline = now + rtt.rto }
            }
        }
        let finAcked = finSeq.map { $0 < sndUna } ?? false
        switch state {
        case .finWait1 where finAcked:
            enter(.finWait2)
            if owner == .orphan { closeDeadline = now + config.finWait2Timeout }
        case .closing where finAcked:
            enterTimeWait(now)
            return .none
        case .lastAck where finAcked:
            enter(.closed)
            pendingEvents.insert(.closed)
            return .none
        default:
            break
        }

        // Seventh: the text.
        if takeText && !seg.payload.isEmpty && (state == .established || state == .finWait1 || state == .finWait2) {
            if owner == .orphan {
                // RFC 1122 section 4.2.2.13: data for a closed connection is answered with RST.
                resetPending = true
                enter(.closed)
                return .none
            }
            if !receive(seg, now: now) { return .none }
        }

        // Eighth: FIN, once everything before it has arrived.
        if seg.fin && takeText && !finReceived && seg.seq + seg.payload.count == rcvNxt {
            rcvNxt += 1
            finReceived = true
            reserveOfferedWindow()
            ackNow = true
            pendingEvents.insert(.readable)
            switch state {
            case .synReceived, .established:
                enter(.closeWait)
            case .finWait1:
                if finAcked { enterTimeWait(now) } else { enter(.closing) }
            case .finWait2:
                enterTimeWait(now)
            default:
                break
            }
        } else if seg.fin && !finReceived {
            // A FIN past a hole (or past the window): the peer sends it again; say where we are.
            ackNow = true
        }
        return .none
    }

    private func inWindow(_ seq: TCPSeq, _ window: Int) -> Bool {
        rcvNxt <= seq && seq < rcvNxt + window
    }

    private func processSYNSent(_ seg: Segment, now: TCPInstant) -> Outcome {
        var ackAcceptable = false
        if seg.hasACK {
            if seg.ack <= iss || sndMax < seg.ack {
                return seg.rst ? .none : .reset(seq: seg.ack, ack: nil)
            }
            ackAcceptable = sndUna <= seg.ack && seg.ack <= sndMax
        }
        if seg.rst {
            if ackAcceptable {
                enter(.closed)
                pendingEvents.insert(.reset)
            }
            return .none
        }
        guard seg.syn else { return .none }
        irs = seg.seq
        rcvNxt = seg.seq + 1
        negotiate(seg.options)
        if let value = seg.options.timestamp?.value { tsRecent = value }
        if ackAcceptable {
            if let timing = rttTiming {
                rtt.sample(now - timing.sent)
                rttTiming = nil
            } else if timestamps, let echo = seg.options.timestamp?.echo, echo != 0 {
                rtt.sample(.milliseconds(Int64(Int32(bitPattern: timestampNow(now) &- echo))))
            }
            sndUna = seg.ack
            sndWnd = Int(seg.window)
            maxSndWnd = sndWnd
            sndWl1 = seg.seq
            sndWl2 = seg.ack
            retransmitDeadline = nil
            if retries > 0 { rtt.synRetransmitted() }
            retries = 0
            rcvAdvertised = rcvNxt + advertisableWindow()
            reserveOfferedWindow()
            ackNow = true
            if finSeq != nil { enter(.finWait1) } else { enter(.established) }
            pendingEvents.formUnion([.connected, .writable])
        } else {
            // Simultaneous open: SYN-ACK with our ISN again.
            sndWnd = Int(seg.window)
            maxSndWnd = sndWnd
            sndWl1 = seg.seq
            sndNxt = iss
            enter(.synReceived)
        }
        return .none
    }

    /// The blocks of a segment's SACK option, those within [`una`, SND.MAX], onto the scoreboard.
    private func recordSACKBlocks(_ seg: Segment, una: TCPSeq) {
        for index in 0..<seg.options.sackBlockCount {
            let block = seg.sackBlock(index)
            scoreboard.add(left: block.left, right: block.right, una: una, max: sndMax)
        }
    }

    /// Fast retransmit: the first unacknowledged segment goes at the next dispatch; with
    /// SACK the holes after it follow as `pipe` leaves room.
    private func startedFastRecovery() {
        counters.fastRetransmits += 1
        tailProbeDeadline = nil
        tailProbeEnd = nil
        if congestion.sackRecovery {
            counters.sackRecoveries += 1
            highRetransmitted = sndUna
            retransmittedBelow = nil
        }
        retransmitFirst = true
    }

    /// New data acknowledged (SND.UNA < SEG.ACK <= SND.MAX).
    private func acknowledge(_ seg: Segment, now: TCPInstant) {
        let acked = seg.ack - sndUna
        let flight = sndMax - sndUna
        let dataEnd = finSeq.map { TCPSeq.min($0, seg.ack) } ?? seg.ack
        let dataAcked = dataEnd - sendStart
        if dataAcked > 0 {
            sendBuffer.dequeue(dataAcked)
            sendStart += dataAcked
            pendingEvents.insert(.writable)
        }
        sndUna = seg.ack
        if sndNxt < sndUna { sndNxt = sndUna }
        scoreboard.acknowledge(upTo: sndUna)
        retries = 0

        if timestamps, let echo = seg.options.timestamp?.echo, echo != 0 {
            let measured = Int64(Int32(bitPattern: timestampNow(now) &- echo))
            if measured >= 0 { rtt.sample(.milliseconds(measured)) }
        } else if let timing = rttTiming, timing.end <= seg.ack {
            rtt.sample(now - timing.sent)
            rttTiming = nil
        }

        var restart = true
        switch congestion.newACK(acked: acked, ack: seg.ack, flight: flight) {
        case .none: break
        case .retransmit:
            retransmitFirst = true
            restart = false
        case .retransmitAndRestartTimer:
            retransmitFirst = true
        }
        if congestion.sackRecovery && scoreboard.isEmpty && highRetransmitted <= sndUna && sndUna < sndMax {
            // A partial ACK with nothing SACKed above it: the segment at SND.UNA is the next
            // one lost, as NewReno has it (RFC 6582 section 3.2 step 3).
            retransmitFirst = true
        }
        if sndUna == sndMax {
            retransmitDeadline = nil
        } else if restart || retransmitDeadline == nil {
            retransmitDeadline = now + rtt.rto
        }
        if let end = tailProbeEnd, end <= sndUna { tailProbeEnd = nil }
        armTailProbe(now)
    }

    /// RFC 8985 section 7.2: with data out, no recovery running and no probe unanswered, a
    /// probe is due after two smoothed round trips (10 ms at least; 200 ms more when one
    /// segment is out, for the peer's delayed ACK), if that comes before the RTO: a lost
    /// tail (a whole super-segment, or the last segments of a write) draws no duplicate
    /// ACKs, and the probe's SACK blocks start the recovery a full RTO sooner. One probe per
    /// tail: while one is unanswered (`tailProbeEnd`) none is armed, and only a new ACK
    /// arms the next.
    private func armTailProbe(_ now: TCPInstant) {
        tailProbeDeadline = nil
        guard sack, rtt.hasSample, tailProbeEnd == nil, !congestion.inRecovery, sndUna < sndMax,
              state.isSynchronized, let rto = retransmitDeadline else { return }
        var timeout = TCPDuration(microseconds: Swift.max(2 * rtt.srtt, 10_000))
        if sndMax - sndUna <= smss { timeout = timeout + .milliseconds(200) }
        if now + timeout < rto { tailProbeDeadline = now + timeout }
    }

    /// The tail loss probe (RFC 8985 section 7.3): new data if the window takes it, else the
    /// last SMSS sent, again; its ACK says what of the tail was lost (SACK blocks) or that
    /// nothing else was.
    private func tailProbe(now: TCPInstant) -> TCPOutgoingSegment? {
        guard state.isSynchronized, sndUna < sndMax, sndWnd > 0, !congestion.inRecovery, sndNxt == sndMax else { return nil }
        let available = sendBuffer.count - (sndNxt - sendStart)
        var segment: TCPOutgoingSegment?
        if available > 0 && sndNxt - sndUna + Swift.min(available, smss) <= sndWnd {
            segment = dataSegment(at: sndNxt, limit: smss, now: now)
        }
        if segment == nil {
            let dataEnd = finSeq.map { TCPSeq.min($0, sndMax) } ?? sndMax
            let start = TCPSeq.max(sndUna, dataEnd - smss)
            segment = dataSegment(at: start, limit: dataEnd - start, now: now)
        }
        guard segment != nil else { return nil }
        counters.tailLossProbes += 1
        tailProbeEnd = sndMax
        tailProbeDeadline = nil
        retransmitDeadline = now + rtt.rto
        return segment
    }

    /// Data at or after RCV.NXT: in order into the receive buffer, out of order past it
    /// (and into the assembler). False if the segment's end was not taken (FIN then waits).
    private func receive(_ seg: Segment, now: TCPInstant) -> Bool {
        var payload = seg.payload
        var seq = seg.seq
        if seq < rcvNxt {
            let skip = Swift.min(rcvNxt - seq, payload.count)
            payload = UnsafeRawBufferPointer(rebasing: payload[skip...])
            seq = rcvNxt
        }
        guard !payload.isEmpty else { return true }
        let offset = seq - rcvNxt
        // The buffer grows into the room reserved for the window offered first.
        budget.release(receiveReserved)
        receiveReserved = 0
        makeRoom(in: &receiveBuffer, for: offset + payload.count, limit: receiveLimit)
        reserveOfferedWindow()
        let written = receiveBuffer.write(payload, at: offset)
        counters.bytesIn += written
        if offset == 0 {
            let filledHole = !assembler.isEmpty
            receiveBuffer.commit(written)
            rcvNxt += written
            assembler.shift(by: written)
            let joined = assembler.popFront()
            receiveBuffer.commit(joined)
            rcvNxt += joined
            windowCeiling = Swift.min(windowCeiling + written + joined, receiveLimit)
            if written > 0 { pendingEvents.insert(.readable) }
            if filledHole {
                acknowledgeAtOnce()
            } else {
                unacknowledgedBytes += written
                let fullSegment = localMSS - (timestamps ? 12 : 0)
                if unacknowledgedBytes >= 2 * fullSegment || config.delayedAck == .zero {
                    ackNow = true
                } else if delayedACKDeadline == nil {
                    delayedACKDeadline = now + config.delayedAck
                }
            }
        } else {
            // Out of order: a duplicate ACK at once (RFC 5681 section 4.2), with SACK blocks.
            acknowledgeAtOnce()
            if written == 0 || !assembler.add(start: offset, end: offset + written) {
                counters.outOfOrderRefused += 1
                return false
            }
            counters.outOfOrderSegments += 1
        }
        if written < payload.count { ackNow = true }
        return offset == 0 && written == payload.count
    }

    private func acknowledgeAtOnce() {
        if ackNow { extraACKs = Swift.min(extraACKs + 1, 16) } else { ackNow = true }
    }

    private func enter(_ next: TCPState) {
        state = next
        if next == .closed {
            extraACKs = 0
            retransmitDeadline = nil
            delayedACKDeadline = nil
            persistDeadline = nil
            closeDeadline = nil
            tailProbeDeadline = nil
            if inBacklog {
                inBacklog = false
                listener?.synReceived -= 1
            }
        }
    }

    private func enterTimeWait(_ now: TCPInstant) {
        enter(.timeWait)
        retransmitDeadline = nil
        tailProbeDeadline = nil
        persistDeadline = nil
        closeDeadline = now + config.timeWait
        pendingEvents.insert(.closed)
    }

    // MARK: Application calls

    /// Bytes the application may read.
    var readable: Int { receiveBuffer.count }

    func read(into buffer: UnsafeMutableRawBufferPointer, consume: Bool) -> Int {
        let count = receiveBuffer.copy(into: buffer)
        guard consume, count > 0 else { return count }
        consumed(count)
        return count
    }

    /// The received bytes at the head, as far as they are contiguous in the ring and at
    /// most `limit`, freed without a copy (see TCPEngine.take).
    func take(upTo limit: Int) -> UnsafeRawBufferPointer {
        let piece = receiveBuffer.peek(at: 0, length: limit).0
        if piece.count > 0 { consumed(piece.count) }
        return piece
    }

    private func consumed(_ count: Int) {
        let before = Swift.max(rcvAdvertised - rcvNxt, 0)
        receiveBuffer.dequeue(count)
        reserveOfferedWindow()
        // A window update once the window opened by enough (RFC 9293 section 3.8.6.2.2).
        let after = advertisableWindow()
        if after - before >= windowStep, state == .established || state == .finWait1 || state == .finWait2 {
            ackNow = true
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard finSeq == nil, state != .closed, state != .listen else { return 0 }
        makeRoom(in: &sendBuffer, for: bytes.count, limit: sendLimit)
        return sendBuffer.enqueue(bytes)
    }

    /// Bytes `write` would take now.
    var writableBytes: Int { space(of: sendBuffer, limit: sendLimit) }

    /// Room past the stored bytes: the free space, and what the buffer may still grow by
    /// (`reserved` of it already taken from the budget).
    private func space(of buffer: RingBuffer, limit: Int, reserved: Int = 0) -> Int {
        Swift.max(Swift.min(limit, buffer.capacity + reserved + budget.available) - buffer.count, 0)
    }

    /// Room for the window to offer: the receive buffer's, with what it holds reserved.
    private var receiveSpace: Int { space(of: receiveBuffer, limit: windowCeiling, reserved: receiveReserved) }

    /// A window offered is a promise: the peer may send up to its right edge, and every
    /// byte up to it must find room. So the budget the buffer needs to grow to the edge
    /// (RCV.NXT + RCV.WND past the stored bytes) is taken when the edge is offered, not when
    /// the data comes: otherwise other connections could take it meanwhile, and the bytes
    /// sent into the window would be dropped each time they came (the peer's retransmission
    /// timer backing off: a stall). Given back as the application reads (the stored bytes
    /// shrink), as the buffer grows into it, and when the connection's buffers are freed;
    /// all of it once the peer's FIN is in (no text is taken after it, RFC 9293 section
    /// 3.10.7.4: the edge offered promises nothing any more).
    private func reserveOfferedWindow() {
        guard !buffersReleased else { return }
        let edge = receiveBuffer.count + Swift.max(rcvAdvertised - rcvNxt, 0)
        let needed = finReceived ? 0 : Swift.max(Swift.min(edge, receiveLimit) - receiveBuffer.capacity, 0)
        if needed > receiveReserved {
            // Offered only within `receiveSpace`, so the budget has it.
            if budget.take(needed - receiveReserved) { receiveReserved = needed }
        } else if needed < receiveReserved {
            budget.release(receiveReserved - needed)
            receiveReserved = needed
        }
    }

    /// Grows `buffer` (doubling, at most to `limit`, as far as the budget allows) so that
    /// `bytes` fit past the stored ones.
    private func makeRoom(in buffer: inout RingBuffer, for bytes: Int, limit: Int) {
        let needed = buffer.count + bytes
        guard needed > buffer.capacity, buffer.capacity < limit else { return }
        var target = Swift.max(buffer.capacity, 4096)
        while target < needed { target *= 2 }
        let extra = Swift.min(Swift.min(target, limit) - buffer.capacity, budget.available)
        guard extra > 0, budget.take(extra) else { return }
        buffer.grow(to: buffer.capacity + extra)
    }

    /// The sending side is done: a FIN follows the data written.
    func shutdown() {
        guard finSeq == nil else { return }
        switch state {
        case .synSent, .listen:
            enter(.closed)
            return
        case .closed, .finWait1, .finWait2, .closing, .lastAck, .timeWait:
            return
        default:
            break
        }
        finSeq = sendStart + sendBuffer.count
        switch state {
        case .established: enter(.finWait1)
        case .closeWait: enter(.lastAck)
        default: break  // SYN-RECEIVED: FIN-WAIT-1 once established
        }
    }

    /// An ACK at the next dispatch (a challenge ACK).
    func requestACK() { ackNow = true }

    func abort() {
        switch state {
        case .closed, .listen, .synSent, .timeWait:
            enter(.closed)
        default:
            resetPending = true
            enter(.closed)
        }
    }

    // MARK: Sending (dispatch)

    func timestampNow(_ now: TCPInstant) -> UInt32 {
        tsOffset &+ UInt32(truncatingIfNeeded: now.milliseconds)
    }

    /// The least a window update may open the window by (RFC 9293 section 3.8.6.2.2).
    private var windowStep: Int { Swift.max(Swift.min(receiveLimit / 2, localMSS), 1) }

    /// The window to advertise: free receive space, in units of the scale.
    private func advertisableWindow() -> Int {
        let maximum = 65535 << Int(rcvShift)
        return (Swift.min(receiveSpace, maximum) >> Int(rcvShift)) << Int(rcvShift)
    }

    /// The earliest instant something is due, if any.
    var nextDeadline: TCPInstant? {
        var earliest = retransmitDeadline
        if let deadline = delayedACKDeadline, earliest == nil || deadline < earliest! { earliest = deadline }
        if let deadline = persistDeadline, earliest == nil || deadline < earliest! { earliest = deadline }
        if let deadline = tailProbeDeadline, earliest == nil || deadline < earliest! { earliest = deadline }
        if let deadline = closeDeadline, earliest == nil || deadline < earliest! { earliest = deadline }
        return earliest
    }

    /// Whether a dispatch now would send something without a timer.
    var wantsToSend: Bool {
        ackNow || extraACKs > 0 || resetPending || retransmitFirst || probeNow
    }

    /// Runs the timers that are due and hands every segment that is due to `emit`.
    func dispatch(now: TCPInstant, emit: (TCPOutgoingSegment) -> Void) {
        if let deadline = closeDeadline, deadline <= now {
            closeDeadline = nil
            if state == .timeWait || state == .finWait2 {
                enter(.closed)
                return
            }
        }
        if let deadline = retransmitDeadline, deadline <= now {
            retransmissionTimeout(now)
        }
        var tailProbeDue = false
        if let deadline = tailProbeDeadline, deadline <= now {
            tailProbeDeadline = nil
            tailProbeDue = true
        }
        if let deadline = persistDeadline, deadline <= now {
            persistDeadline = nil
            persistBackoff += 1
            probesUnanswered += 1
            if probesUnanswered > config.maxRetransmissions {
                enter(.closed)
                if owner == .application { pendingEvents.insert(.timedOut) }
                return
            }
            probeNow = true
        }
        if owner == .orphan && state == .finWait2 && closeDeadline == nil {
            // Closed by the application after its FIN was acknowledged: FIN-WAIT-2 is bounded.
            closeDeadline = now + config.finWait2Timeout
        }
        if let deadline = delayedACKDeadline, deadline <= now {
            delayedACKDeadline = nil
            ackNow = true
        }
        if resetPending {
            resetPending = false
            // The highest sequence number sent: after a timeout SND.NXT is back at SND.UNA
            // (go-back-N), left of where the peer may be.
            var segment = makeSegment(seq: sndMax, flags: TCPFlags.rst | TCPFlags.ack, now: now)
            segment.options = TCPOutgoingOptions()
            segment.window = 0
            counters.segmentsOut += 1
            emit(segment)
            return
        }
        if tailProbeDue, let segment = tailProbe(now: now) {
            counters.segmentsOut += 1
            counters.bytesOut += segment.payloadLength
            emit(segment)
        }
        var segmentsLeft = 1024
        while segmentsLeft > 0, let segment = nextSegment(now: now) {
            counters.segmentsOut += 1
            counters.bytesOut += segment.payloadLength
            emit(segment)
            segmentsLeft -= 1
        }
    }

    private func retransmissionTimeout(_ now: TCPInstant) {
        retries += 1
        let limit = state == .synSent || state == .synReceived ? config.maxSYNRetransmissions : config.maxRetransmissions
        if retries > limit {
            enter(.closed)
            if owner == .application || !passive { pendingEvents.insert(.timedOut) }
            return
        }
        counters.timeouts += 1
        if state.isSynchronized { congestion.timeout(flight: sndMax - sndUna, max: sndMax) }
        scoreboard.clear()
        tailProbeDeadline = nil
        tailProbeEnd = nil
        rtt.backOff()
        rttTiming = nil
        sndNxt = sndUna
        if sndWnd == 0 && state.isSynchronized {
            // A closed window: the persist timer probes it instead.
            retransmitDeadline = nil
            persistDeadline = now + persistInterval
            return
        }
        retransmitFirst = false
        retransmitDeadline = now + rtt.rto
    }

    private func makeSegment(seq: TCPSeq, flags: UInt16, now: TCPInstant) -> TCPOutgoingSegment {
        var options = TCPOutgoingOptions()
        if timestamps { options.timestamp = (timestampNow(now), tsRecent) }
        var flags = flags
        var window = 0
        if flags & TCPFlags.ack != 0 || flags & TCPFlags.syn != 0 {
            // Receiver silly window avoidance (RFC 9293 section 3.8.6.2.2, MUST-39): the
            // right edge moves on only by min(buffer / 2, MSS) or more, and never back.
            let advertise = advertisableWindow()
            let current = Swift.max(rcvAdvertised - rcvNxt, 0)
            if advertise - current >= windowStep || flags & TCPFlags.syn != 0 {
                rcvAdvertised = rcvNxt + advertise
            }
            if flags & TCPFlags.syn != 0 {
                window = Swift.min(Swift.max(rcvAdvertised - rcvNxt, 0), 65535)
            } else {
                // RFC 7323 section 2.4: the field counts units of 2^shift. Rounded down, the
                // edge the peer sees falls short of one offered before whenever RCV.NXT moved
                // by other than whole units; rounded up (as Linux does) it never moves left,
                // and the edge kept is the one the field says. But the peer may fill what the
                // field offers, so it is rounded up only while the buffer holds that much:
                // rounded up at every ACK while the application read nothing, the edge crept
                // past the buffer's end, the bytes sent there were dropped each time they
                // came, and the peer, its window full, sent its ACKs at a sequence number
                // past RCV.NXT + RCV.WND (a 50 MiB echo through 1% loss stalled for 25 s).
                // Rounded down, the edge offered before is still the one taken up to.
                let offered = Swift.max(rcvAdvertised - rcvNxt, 0)
                let unit = 1 << Int(rcvShift)
                window = (offered + unit - 1) >> Int(rcvShift)
                if window << Int(rcvShift) > receiveSpace {
                    window = offered >> Int(rcvShift)
                } else {
                    rcvAdvertised = rcvNxt + (window << Int(rcvShift))
                }
            }
        }
        reserveOfferedWindow()
        if flags & TCPFlags.ack != 0 {
            ackNow = false
            delayedACKDeadline = nil
            unacknowledgedBytes = 0
            lastACKSent = rcvNxt
            if sack && !assembler.isEmpty && flags & TCPFlags.syn == 0 { appendSACKBlocks(&options) }
        } else {
            flags &= ~TCPFlags.ack
        }
        return TCPOutgoingSegment(source: tuple.local, destination: tuple.remote, seq: seq.value,
                                  ack: flags & TCPFlags.ack != 0 ? rcvNxt.value : 0, flags: flags,
                                  window: UInt16(Swift.min(window, 65535)), options: options)
    }

    /// RFC 2018 section 4: the block with the latest segment first, then the others.
    private func appendSACKBlocks(_ options: inout TCPOutgoingOptions) {
        let ranges = assembler.ranges
        if assembler.latest >= 0 { options.appendSACKBlock(sackBlock(ranges[assembler.latest])) }
        for index in ranges.indices where index != assembler.latest {
            if !options.appendSACKBlock(sackBlock(ranges[index])) { break }
        }
    }

    private func sackBlock(_ range: Assembler.Range) -> TCPSACKBlock {
        TCPSACKBlock(left: (rcvNxt + range.start).value, right: (rcvNxt + range.end).value)
    }

    private func nextSegment(now: TCPInstant) -> TCPOutgoingSegment? {
        switch state {
        case .closed, .listen:
            return nil
        case .timeWait:
            return ackNow ? makeSegment(seq: sndNxt, flags: TCPFlags.ack, now: now) : nil
        case .synSent, .synReceived:
            if sndNxt == iss { return synSegment(now: now) }
            return ackNow && state == .synReceived ? makeSegment(seq: sndNxt, flags: TCPFlags.ack, now: now) : nil
        default:
            break
        }

        if retransmitFirst {
            retransmitFirst = false
            if sndUna < sndMax, let segment = dataSegment(at: sndUna, limit: smss, now: now) {
                if congestion.sackRecovery {
                    highRetransmitted = TCPSeq.max(highRetransmitted, sndUna + segment.sequenceLength)
                    retransmittedBelow = sndMax
                }
                return segment
            }
        }
        if congestion.sackRecovery, let segment = holeSegment(now: now) { return segment }

        let offset = sndNxt - sendStart
        let available = Swift.max(sendBuffer.count - offset, 0)
        let finDue = finSeq != nil && sndNxt <= finSeq!

        if probeNow {
            probeNow = false
            if sndWnd > 0 {
                // The persist timer also overrides sender silly window avoidance when a
                // small window stays small (RFC 9293 section 3.8.6.2.1).
                let room = Swift.min(available, smss, sndWnd - (sndNxt - sndUna))
                if room > 0 { return dataSegment(at: sndNxt, limit: room, now: now) }
            } else if available > 0 || finDue || sndUna < sndMax {
                // RFC 9293 section 3.8.6.1: probe a zero window with one octet.
                sndNxt = sndUna
                counters.zeroWindowProbes += 1
                let segment = dataSegment(at: sndNxt, limit: 1, now: now)
                persistDeadline = now + persistInterval
                return segment
            }
        }

        // RFC 5681 section 4.1: after an idle spell longer than the RTO, start again from
        // the initial window.
        if available > 0 && sndUna == sndMax, let last = lastDataSent, now - last > rtt.rto {
            congestion.restartAfterIdle()
            lastDataSent = nil
        }
        let inFlight = sndNxt - sndUna
        var usable = Swift.min(sndWnd, congestion.sendWindow) - inFlight
        if congestion.sackRecovery { usable = Swift.min(sndWnd - inFlight, congestion.cwnd - pipe) }
        var length = Swift.min(available, Swift.max(smss, config.superSegmentBytes), Swift.max(usable, 0))
        if length > 0 && length < smss {
            if length < available {
                // Sender silly window avoidance: wait for a window worth sending into.
                if length < maxSndWnd / 2 { length = 0 }
            } else if nagle && sndUna < sndNxt && finSeq == nil {
                // Nagle: a small segment waits while data is unacknowledged.
                length = 0
            }
        }
        let finFits = finDue && sndNxt + length == finSeq! && sndNxt + length < sndUna + Swift.max(sndWnd, 1)
        if length > 0 || finFits {
            return dataSegment(at: sndNxt, limit: length, now: now)
        }

        // Nothing can go and nothing is in flight: a zero (or too small) window with data
        // waiting starts the persist timer.
        if (available > 0 || finDue) && sndUna == sndMax && retransmitDeadline == nil && persistDeadline == nil
            && (sndWnd == 0 || length == 0 && !nagle) {
            persistDeadline = now + persistInterval
        }
        if ackNow { return makeSegment(seq: sndNxt, flags: TCPFlags.ack, now: now) }
        if extraACKs > 0 {
            extraACKs -= 1
            return makeSegment(seq: sndNxt, flags: TCPFlags.ack, now: now)
        }
        return nil
    }

    /// RFC 6675's pipe, the bytes taken to be in the network, reckoned as Linux's FACK
    /// did: what was sent above the highest SACKed byte, and what was retransmitted into
    /// the holes below it; the rest of the holes is taken as lost.
    private var pipe: Int {
        let lostEnd = scoreboard.highest ?? sndUna
        let retransmittedEnd = TCPSeq.min(TCPSeq.max(highRetransmitted, sndUna), lostEnd)
        let retransmitted = (retransmittedEnd - sndUna) - scoreboard.bytes(below: retransmittedEnd)
        return (sndMax - lostEnd) + retransmitted
    }

    /// In a SACK recovery, the next hole not yet retransmitted (RFC 6675 section 4's
    /// NextSeg, rule 1), one SMSS at most, if cwnd leaves room over `pipe`.
    private func holeSegment(now: TCPInstant) -> TCPOutgoingSegment? {
        guard congestion.cwnd - pipe >= smss,
              let hole = scoreboard.hole(from: TCPSeq.max(highRetransmitted, sndUna)),
              let segment = dataSegment(at: hole.start, limit: Swift.min(hole.end - hole.start, smss), now: now)
        else { return nil }
        highRetransmitted = hole.start + Swift.max(segment.sequenceLength, 1)
        retransmittedBelow = sndMax
        return segment
    }

    private var persistInterval: TCPDuration {
        var interval = rtt.rto
        for _ in 0..<Swift.min(persistBackoff, 16) { interval = interval * 2 }
        return Swift.min(interval, config.maxRTO)
    }

    /// Data (and the FIN if it follows) from `seq`, at most `limit` bytes.
    private func dataSegment(at seq: TCPSeq, limit: Int, now: TCPInstant) -> TCPOutgoingSegment? {
        let offset = seq - sendStart
        let available = Swift.max(sendBuffer.count - offset, 0)
        var length = Swift.min(available, limit)
        var flags = TCPFlags.ack
        if length > 0 && offset + length == sendBuffer.count { flags |= TCPFlags.psh }
        if let fin = finSeq, seq + length == fin, seq + length < sndUna + Swift.max(sndWnd, 1) || seq < sndMax {
            flags |= TCPFlags.fin
        }
        var segment = makeSegment(seq: seq, flags: flags, now: now)
        // SACK blocks take room from the data.
        let room = smss + (timestamps ? 12 : 0) - segment.options.length
        let most = room * Swift.max(Self.superSegmentLength(config) / room, 1)
        var cut = length > most
        if cut {
            length = most
        } else if length > room && seq - sendStart + length < sendBuffer.count {
            // A super-segment short of the end of the data: whole pieces only (a short one
            // in the middle of the stream would be a silly small segment).
            cut = length % room != 0
            length -= length % room
        }
        if cut {
            flags &= ~(TCPFlags.fin | TCPFlags.psh)
            segment.flags = flags
        }
        if length > room { segment.segmentSize = room }
        guard length > 0 || flags & TCPFlags.fin != 0 else { return nil }
        segment.payload = sendBuffer.peek(at: offset, length: length)
        if length > 0 { lastDataSent = now }
        let end = seq + length + (flags & TCPFlags.fin != 0 ? 1 : 0)
        if seq < sndMax {
            counters.retransmittedSegments += 1
            rttTiming = nil
        } else if rttTiming == nil && !timestamps {
            rttTiming = (end, now)
        }
        if seq == sndNxt { sndNxt = end }
        let newData = sndMax < end
        if newData { sndMax = end }
        if retransmitDeadline == nil {
            // Into a closed window (a FIN, a probe) the persist timer watches instead.
            if sndWnd > 0 {
                retransmitDeadline = now + rtt.rto
            } else if persistDeadline == nil {
                persistDeadline = now + persistInterval
            }
        }
        if newData { armTailProbe(now) }
        return segment
    }

    private func synSegment(now: TCPInstant) -> TCPOutgoingSegment {
        let synACK = state == .synReceived
        var segment = makeSegment(seq: iss, flags: synACK ? TCPFlags.syn | TCPFlags.ack : TCPFlags.syn, now: now)
        var options = TCPOutgoingOptions()
        options.mss = UInt16(Swift.min(localMSS, 65535))
        if synACK {
            options.windowScale = offeredShift
            options.sackPermitted = sack
            if timestamps { options.timestamp = (timestampNow(now), tsRecent) }
        } else {
            options.windowScale = offeredShift
            options.sackPermitted = config.selectiveAcknowledgments
            if config.timestamps { options.timestamp = (timestampNow(now), 0) }
        }
        segment.options = options
        if sndMax == iss && rttTiming == nil { rttTiming = (iss + 1, now) } else if sndMax != iss {
            counters.retransmittedSegments += 1
            rttTiming = nil
        }
        sndNxt = iss + 1
        sndMax = TCPSeq.max(sndMax, sndNxt)
        if retransmitDeadline == nil { retransmitDeadline = now + rtt.rto }
        return segment
    }
}
