// Runs a `Script` against a TCPEngine with a manual clock: inbound lines are built into
// segments (checksummed) and processed at their times, the engine is dispatched at every
// deadline on the way, and each segment it sends must match the next `>` line, field by
// field and at the same time. Anything sent that the script does not expect is an error.
import Packets
@testable import TCPEngine

/// The data byte at a stream offset (the sequence number less the ISN less one).
func patternByte(_ offset: Int64) -> UInt8 {
    UInt8(truncatingIfNeeded: offset &* 7 &+ (offset >> 8) &+ 3)
}

final class ScriptRunner {
    struct Sent {
        var time: Int64
        var segment: ScriptSegment
        var payloadOK: Bool
        var raw: String
    }

    /// What the runner knows of one connection, by the script side's port.
    struct Peer {
        var remoteISN: UInt32
        var localISN: UInt32?
        var tsOffset: UInt32?
        var lastTimestamp: UInt32 = 0
        var socket: TCPSocket?
        var written: Int64 = 0
        var read: Int64 = 0
        var events: TCPEvents = []
    }

    let script: Script
    let name: String
    var engine: TCPEngine!
    var clock: Int64 = 0
    var pending: [Sent] = []
    var peers: [UInt16: Peer] = [:]
    var current: UInt16 = 40000
    var listener: TCPListener?
    var localAddress: TCPAddress = .v4(IPv4Address(198, 18, 0, 2))
    var remoteAddress: TCPAddress = .v4(IPv4Address(198, 18, 0, 1))
    let localPort: UInt16 = 8080
    var remoteISNBase: UInt32 = 4_294_967_000
    var line = 0

    init(script: Script, name: String) {
        self.script = script
        self.name = name
    }

    func fail(_ message: String) -> ScriptError { ScriptError(line: line, message: message) }

    func configure() throws {
        var config = TCPConfiguration(secrets: TCPSecrets(key0: 0x0706_0504_0302_0100, key1: 0x0f0e_0d0c_0b0a_0908))
        for (key, value) in script.config {
            let number = Int(value) ?? 0
            let flag = value == "on" || value == "1" || value == "true"
            switch key {
            case "ipv6":
                if flag {
                    localAddress = .v6(IPv6Address("2001:2::2")!)
                    remoteAddress = .v6(IPv6Address("2001:2::1")!)
                }
            case "remote_isn": remoteISNBase = UInt32(value)!
            case "mtu": config.mtu = number
            case "sndbuf": config.sendBufferSize = number
            case "rcvbuf": config.receiveBufferSize = number
            case "sndbuf_limit": config.sendBufferLimit = number
            case "rcvbuf_limit": config.receiveBufferLimit = number
            case "super_segment_bytes": config.superSegmentBytes = number
            case "max_connections": config.maxConnections = number
            case "max_buffer_bytes": config.maxBufferBytes = number
            case "listener_limit": config.listenerConnectionLimit = number
            case "syn_backlog": config.synBacklog = number
            case "syn_cookies": config.synCookies = flag
            case "time_wait_ms": config.timeWait = .milliseconds(Int64(number))
            case "fin_wait2_ms": config.finWait2Timeout = .milliseconds(Int64(number))
            case "delayed_ack_ms": config.delayedAck = .milliseconds(Int64(number))
            case "nagle": config.nagle = flag
            case "wscale": config.windowScaling = flag
            case "ts": config.timestamps = flag
            case "sack": config.selectiveAcknowledgments = flag
            case "initial_rto_ms": config.initialRTO = .milliseconds(Int64(number))
            case "min_rto_ms": config.minRTO = .milliseconds(Int64(number))
            case "max_rto_ms": config.maxRTO = .milliseconds(Int64(number))
            case "max_retransmissions": config.maxRetransmissions = number
            case "max_syn_retransmissions": config.maxSYNRetransmissions = number
            case "reassembly_ranges": config.reassemblyRanges = number
            case "challenge_ack_limit": config.challengeACKLimit = number
            default: throw ScriptError(line: 0, message: "unknown config \(key)")
            }
        }
        engine = TCPEngine(configuration: config)
    }

    func peer(_ port: UInt16) -> Peer {
        if let peer = peers[port] { return peer }
        let peer = Peer(remoteISN: remoteISNBase)
        peers[port] = peer
        return peer
    }

    func run() throws {
        try configure()
        for scriptLine in script.lines {
            line = scriptLine.number
            let time = scriptLine.time
            guard time >= clock else { throw fail("time goes back (\(seconds(time)) < \(seconds(clock)))") }
            try advance(to: time)
            switch scriptLine.event {
            case let .inbound(segment):
                try expectNothingPending(before: scriptLine.text)
                try send(segment)
                try advance(to: time)
            case let .outbound(expected):
                try match(expected, at: time)
            case let .command(command):
                try expectNothingPending(before: scriptLine.text)
                try perform(command)
                try advance(to: time)
            }
        }
        try expectNothingPending(before: "the end of the script")
    }

    func seconds(_ micros: Int64) -> String { TCPInstant(microseconds: micros).description.dropLast(3).description }

    /// Dispatches whenever the engine's next deadline comes before `time`, then polls
    /// events: the engine is only asked when it says something is due.
    func advance(to time: Int64) throws {
        defer { pollEvents() }
        var rounds = 0
        while let deadline = engine.nextDeadline(now: TCPInstant(microseconds: clock)), deadline.microseconds <= time {
            clock = max(clock, deadline.microseconds)
            dispatch()
            rounds += 1
            if rounds > 10_000 { throw fail("the engine's deadline does not move (at \(seconds(clock)))") }
        }
        clock = time
    }

    func dispatch() {
        engine.dispatch(now: TCPInstant(microseconds: clock)) { segment in
            pending.append(record(segment))
        }
    }

    func pollEvents() {
        engine.pollEvents { source, events in
            guard case let .socket(socket) = source else { return }
            for (port, var peer) in peers where peer.socket == socket {
                peer.events.formUnion(events)
                peers[port] = peer
            }
        }
    }

    func expectNothingPending(before what: String) throws {
        guard let first = pending.first else { return }
        throw fail("unexpected segment sent at \(seconds(first.time)) before \(what): \(first.raw)"
                   + (pending.count > 1 ? " (and \(pending.count - 1) more)" : ""))
    }

    // MARK: Segments

    /// Writes the outgoing segment as bytes, checks its checksum, and reads it back into
    /// script terms (relative numbers).
    func record(_ segment: TCPOutgoingSegment) -> Sent {
        var bytes = [UInt8](repeating: 0, count: segment.length)
        let written = bytes.withUnsafeMutableBytes { segment.write(into: $0) }
        precondition(written == segment.length)
        let port = segment.destination.port
        var peer = self.peer(port)
        return bytes.withUnsafeBytes { raw -> Sent in
            let packet = try! TCPPacket(raw)
            let tuple = TCPFourTuple(local: segment.source, remote: segment.destination)
            let checksumOK = packet.verifyChecksum(tuple.outgoingPseudoHeader!)
            if packet.flags & TCPFlags.syn != 0 && peer.localISN == nil { peer.localISN = packet.seq }
            let base = peer.localISN ?? 0
            let start = Int64(packet.seq &- base)
            let length = Int64(packet.payload.count)
            var options: [ScriptOption] = []
            let optionBytes = packet.options
            var at = 0
            while at < optionBytes.count {
                let kind = optionBytes[at]
                if kind == 0 { options.append(.eol); break }
                if kind == 1 { options.append(.nop); at += 1; continue }
                let optionLength = Int(optionBytes[at + 1])
                let data = UnsafeRawBufferPointer(rebasing: optionBytes[(at + 2)..<(at + optionLength)])
                func u32(_ offset: Int) -> UInt32 { data.loadUnaligned(fromByteOffset: offset, as: UInt32.self).bigEndian }
                switch kind {
                case 2: options.append(.mss(Int(data.loadUnaligned(as: UInt16.self).bigEndian)))
                case 3: options.append(.wscale(Int(data[0])))
                case 4: options.append(.sackOK)
                case 8:
                    // Raw here; made relative when matched (`match`), unless the script says `*`.
                    peer.lastTimestamp = u32(0)
                    options.append(.timestamp(val: Int64(u32(0)), ecr: Int64(u32(4))))
                case 5:
                    var blocks: [(Int64, Int64)] = []
                    for index in 0..<(data.count / 8) {
                        blocks.append((Int64(u32(8 * index) &- peer.remoteISN), Int64(u32(8 * index + 4) &- peer.remoteISN)))
                    }
                    options.append(.sack(blocks))
                default: break
                }
                at += optionLength
            }
            var payloadOK = true
            for (index, byte) in packet.payload.enumerated() where byte != patternByte(start - 1 + Int64(index)) {
                payloadOK = false
                break
            }
            let result = ScriptSegment(flags: packet.flags, start: start, end: start + length,
                                       ack: packet.flags & TCPFlags.ack != 0 ? Int64(packet.ack &- peer.remoteISN) : nil,
                                       window: Int(packet.window), options: options, port: port)
            peers[port] = peer
            var text = relativeTimestamps(result, expected: nil, peer: &peer).description + (port != 40000 ? " to \(port)" : "")
            if !checksumOK { text += " [BAD CHECKSUM]" }
            if !payloadOK { text += " [payload differs from the pattern]" }
            return Sent(time: clock, segment: result, payloadOK: payloadOK && checksumOK, raw: text)
        }
    }

    func match(_ expected: ScriptSegment, at time: Int64) throws {
        guard !pending.isEmpty else {
            throw fail("expected at \(seconds(time)): \(expected)\n    nothing was sent")
        }
        let sent = pending.removeFirst()
        var actual = relativeTimestamps(sent.segment, expected: expected, peer: &peers[sent.segment.port!]!, at: sent.time)
        var differences: [String] = []
        if sent.time != time { differences.append("time: sent at \(seconds(sent.time)), expected \(seconds(time))") }
        let expectedPort = expected.port ?? 40000
        if actual.port != expectedPort { differences.append("to port \(actual.port!), expected \(expectedPort)") }
        if actual.flags != expected.flags {
            differences.append("flags \(TCPFlags.text(actual.flags)), expected \(TCPFlags.text(expected.flags))")
        }
        if actual.start != expected.start || actual.end != expected.end {
            differences.append("seq \(actual.start):\(actual.end), expected \(expected.start):\(expected.end)")
        }
        if actual.ack != expected.ack {
            differences.append("ack \(actual.ack.map(String.init) ?? "none"), expected \(expected.ack.map(String.init) ?? "none")")
        }
        if let window = expected.window, actual.window != window { differences.append("win \(actual.window!), expected \(window)") }
        if actual.options != expected.options {
            differences.append("options <\(actual.options.map(\.description).joined(separator: ","))>, expected <\(expected.options.map(\.description).joined(separator: ","))>")
        }
        if !sent.payloadOK { differences.append("payload or checksum wrong: \(sent.raw)") }
        if !differences.isEmpty {
            actual.port = nil
            throw fail("segment differs:\n    expected \(expected) at \(seconds(time))\n    sent     \(sent.raw) at \(seconds(sent.time))\n    "
                       + differences.joined(separator: "\n    "))
        }
    }

    /// The segment's timestamp value relative to the peer's offset, learned from the first
    /// one (its emission time in ms is its relative value); `TS val *` expected: not
    /// compared, not learned from.
    func relativeTimestamps(_ segment: ScriptSegment, expected: ScriptSegment?, peer: inout Peer, at time: Int64? = nil) -> ScriptSegment {
        var segment = segment
        segment.options = segment.options.map { option in
            guard case let .timestamp(raw, echo) = option else { return option }
            let wanted = expected?.options.first { if case .timestamp = $0 { true } else { false } }
            if case let .timestamp(val, _)? = wanted, val == ScriptOption.wildcard { return .timestamp(val: val, ecr: echo) }
            if peer.tsOffset == nil {
                guard let time else { return option }
                peer.tsOffset = UInt32(truncatingIfNeeded: raw) &- UInt32(truncatingIfNeeded: time / 1000)
            }
            return .timestamp(val: Int64(UInt32(truncatingIfNeeded: raw) &- peer.tsOffset!), ecr: echo)
        }
        return segment
    }

    /// Builds the segment a script line describes and hands it to the engine.
    func send(_ segment: ScriptSegment) throws {
        let port = segment.port ?? current
        let peer = self.peer(port)
        var options: [UInt8] = []
        for option in segment.options {
            switch option {
            case let .mss(value): options += [2, 4, UInt8(value >> 8), UInt8(value & 0xff)]
            case .sackOK: options += [4, 2]
            case .nop: options += [1]
            case .eol: options += [0]
            case let .wscale(value): options += [3, 3, UInt8(value)]
            case let .timestamp(val, ecr):
                let echo = ecr == ScriptOption.wildcard ? peer.lastTimestamp
                    : ecr == 0 ? 0 : UInt32(truncatingIfNeeded: ecr) &+ (peer.tsOffset ?? 0)
                options += [8, 10] + be32(UInt32(truncatingIfNeeded: val)) + be32(echo)
            case let .sack(blocks):
                options += [5, UInt8(2 + 8 * blocks.count)]
                for (left, right) in blocks {
                    options += be32(UInt32(truncatingIfNeeded: left) &+ (peer.localISN ?? 0))
                    options += be32(UInt32(truncatingIfNeeded: right) &+ (peer.localISN ?? 0))
                }
            }
        }
        let synLength: Int64 = segment.flags & TCPFlags.syn != 0 ? 1 : 0
        let dataStart = segment.start + synLength  // relative seq of the first data byte
        let payload = (0..<(segment.end - segment.start)).map { patternByte(dataStart - 1 + $0) }
        let repr = TCPRepr(sport: port, dport: localPort, seq: peer.remoteISN &+ UInt32(truncatingIfNeeded: segment.start),
                           ack: segment.ack.map { (peer.localISN ?? 0) &+ UInt32(truncatingIfNeeded: $0) } ?? 0,
                           flags: segment.flags, window: UInt16(segment.window ?? 65535), options: options, payload: payload)
        let source = TCPEndpoint(remoteAddress, port)
        let destination = TCPEndpoint(localAddress, localPort)
        let pseudo = TCPFourTuple(local: source, remote: destination).outgoingPseudoHeader!
        var bytes: [UInt8] = []
        repr.emit(appendingTo: &bytes, pseudoHeader: pseudo)
        peers[port] = peer
        try bytes.withUnsafeBytes { raw in
            let packet = try TCPPacket(raw)
            _ = engine.process(now: TCPInstant(microseconds: clock), source: source, destination: destination, segment: packet)
        }
        _ = peer
    }

    func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    // MARK: Commands

    func socket() throws -> TCPSocket {
        guard let socket = peer(current).socket else { throw fail("no socket for port \(current)") }
        return socket
    }

    func perform(_ command: Command) throws {
        let now = TCPInstant(microseconds: clock)
        switch command {
        case let .listen(backlog, limit):
            listener = try engine.listen(TCPEndpoint(localAddress, localPort),
                                         options: TCPListenOptions(connectionLimit: limit, synBacklog: backlog))
        case .unlisten:
            guard let listener else { throw fail("unlisten without listen") }
            engine.close(listener)
        case .connect:
            let socket = try engine.connect(from: TCPEndpoint(localAddress, localPort),
                                            to: TCPEndpoint(remoteAddress, current), now: now)
            peers[current, default: Peer(remoteISN: remoteISNBase)].socket = socket
        case let .accept(expectNone):
            guard let listener else { throw fail("accept without listen") }
            let socket = engine.accept(listener)
            if expectNone {
                if let socket { throw fail("accept returned \(socket), expected none") }
                return
            }
            guard let socket else { throw fail("accept returned none") }
            let port = engine.endpoints(socket)!.remote.port
            peers[port, default: Peer(remoteISN: remoteISNBase)].socket = socket
            current = port
        case let .write(count, expect):
            var peer = peer(current)
            let bytes = (0..<Int64(count)).map { patternByte(peer.written + $0) }
            let taken = bytes.withUnsafeBytes { engine.write(try! socket(), $0) }
            if let expect, expect != Command.anyCount, taken != expect { throw fail("write \(count) took \(taken), expected \(expect)") }
            if expect == nil && taken != count { throw fail("write \(count) took \(taken)") }
            peer.written += Int64(taken)
            peers[current] = peer
        case let .read(count, expect):
            var peer = peer(current)
            var bytes = [UInt8](repeating: 0, count: count)
            let socket = try socket()
            let got = bytes.withUnsafeMutableBytes { engine.read(socket, into: $0) }
            if let expect, got != expect { throw fail("read \(count) returned \(got), expected \(expect)") }
            if expect == nil && got != count { throw fail("read \(count) returned \(got)") }
            for index in 0..<got where bytes[index] != patternByte(peer.read + Int64(index)) {
                throw fail("read: byte \(peer.read + Int64(index)) of the stream is \(bytes[index]), expected \(patternByte(peer.read + Int64(index)))")
            }
            peer.read += Int64(got)
            peers[current] = peer
        case let .eof(expected):
            let atEnd = engine.isAtEnd(try socket())
            if atEnd != expected { throw fail("at end: \(atEnd), expected \(expected)") }
        case .shutdown: engine.shutdown(try socket())
        case .close: engine.close(try socket())
        case .abort: engine.abort(try socket())
        case let .nagle(on): engine.setNagle(try socket(), on)
        case let .state(name):
            let state = peer(current).socket.flatMap { engine.state($0) }
            let text = state?.rawValue ?? "gone"
            if text != name { throw fail("state \(text), expected \(name)") }
        case let .events(names):
            pollEvents()
            let events = peer(current).events
            if events.description != names { throw fail("events \(events), expected \(names)") }
            peers[current]!.events = []
        case let .counter(name, value):
            let actual = name == "bufferBytes" ? engine.bufferBytes
                : name == "connectionCount" ? engine.connectionCount : try field(engine.counters, name)
            if actual != value { throw fail("counter \(name) is \(actual), expected \(value)") }
        case let .socketCounter(name, value):
            guard let counters = engine.counters(try socket()) else { throw fail("socket is gone") }
            let actual = try field(counters, name)
            if actual != value { throw fail("socket counter \(name) is \(actual), expected \(value)") }
        case let .use(port):
            current = port
        case .tick:
            break
        case .forget:
            peers[current] = Peer(remoteISN: remoteISNBase)
        }
    }

    func field(_ value: Any, _ name: String) throws -> Int {
        for child in Mirror(reflecting: value).children where child.label == name {
            return child.value as! Int
        }
        throw fail("no counter \(name)")
    }
}
