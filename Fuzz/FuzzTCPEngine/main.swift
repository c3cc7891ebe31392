// Fuzz target: segments against a TCP engine's listener and connections. Each input is a
// run of steps; a step is
//   byte 0: bits 0-1 which peer (40000: a connection the harness established first;
//           40001: a new one to the listener; 9000: the engine's own active open;
//           40002 over IPv6), bits 2-4 an application call, bits 5-7 how far time moves
//   byte 1: the length of the TCP segment that follows (0-19: no segment this step)
// The segment's ports are set to the peer's; its sequence and acknowledgment numbers are
// taken as offsets from what the engine last said (within +-32 KiB; with the field's top
// bit set, as they are); the checksum is filled in. After each step the engine is
// dispatched and every segment it sends must be one TCPPacket reads back, checksum right,
// from its own endpoint; limits must hold. At the end everything is closed and time runs
// on: every connection must be gone and every buffer byte returned. A trap is a finding.
import FuzzDriver
import Packets
import TCPEngine

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

let local4 = TCPAddress.v4(IPv4Address(198, 18, 0, 2))
let remote4 = TCPAddress.v4(IPv4Address(198, 18, 0, 1))
let local6 = TCPAddress.v6(IPv6Address("2001:2::2")!)
let remote6 = TCPAddress.v6(IPv6Address("2001:2::1")!)

struct Peer {
    var remote: TCPEndpoint
    var local: TCPEndpoint
    /// What the engine last acknowledged, and the end of what it last sent.
    var expected: UInt32 = 0
    var sentEnd: UInt32 = 0
    var socket: TCPSocket?
}

@MainActor
final class Harness {
    var config = TCPConfiguration(secrets: TCPSecrets(key0: 3, key1: 4))
    let engine: TCPEngine
    var peers: [Peer]
    var now = TCPInstant(microseconds: 5_000_000)
    var listeners: [TCPListener] = []
    var scratch = [UInt8](repeating: 0, count: 70_000)
    var segment = [UInt8](repeating: 0, count: 300)

    init() {
        config.maxConnections = 8
        config.listenerConnectionLimit = 4
        config.synBacklog = 2
        config.sendBufferSize = 4096
        config.receiveBufferSize = 4096
        config.maxBufferBytes = 6 * 8192
        config.timeWait = .seconds(2)
        config.reassemblyRanges = 3
        engine = TCPEngine(configuration: config)
        peers = [
            Peer(remote: TCPEndpoint(remote4, 40000), local: TCPEndpoint(local4, 80)),
            Peer(remote: TCPEndpoint(remote4, 40001), local: TCPEndpoint(local4, 80)),
            Peer(remote: TCPEndpoint(remote4, 9000), local: TCPEndpoint(local4, 50000)),
            Peer(remote: TCPEndpoint(remote6, 40002), local: TCPEndpoint(local6, 80)),
        ]
        listeners.append(try! engine.listen(TCPEndpoint(.v4(.any), 80)))
        listeners.append(try! engine.listen(TCPEndpoint(.v6(.unspecified), 80)))
        // Peer 0 starts established: SYN, then the ACK of the SYN-ACK.
        inject(0, flags: TCPFlags.syn, seq: 1000, ack: 0, payload: 0)
        inject(0, flags: TCPFlags.ack, seq: 1001, ack: peers[0].sentEnd, payload: 0)
        peers[0].socket = engine.accept(listeners[0])
        check(peers[0].socket != nil, "the set-up handshake did not complete")
        peers[2].socket = try! engine.connect(from: peers[2].local, to: peers[2].remote, now: now)
        dispatch()
    }

    func inject(_ index: Int, flags: UInt16, seq: UInt32, ack: UInt32, payload: Int) {
        let repr = TCPRepr(sport: peers[index].remote.port, dport: peers[index].local.port, seq: seq, ack: ack,
                           flags: flags, window: 65535, options: [2, 4, 5, 0xb4], payload: Array(repeating: 0x61, count: payload))
        let pseudo = TCPFourTuple(local: peers[index].remote, remote: peers[index].local).outgoingPseudoHeader!
        var bytes: [UInt8] = []
        repr.emit(appendingTo: &bytes, pseudoHeader: pseudo)
        bytes.withUnsafeBytes { raw in
            let packet = try! TCPPacket(raw)
            _ = engine.process(now: now, source: peers[index].remote, destination: peers[index].local, segment: packet)
        }
        dispatch()
    }

    func dispatch() {
        var rounds = 0
        while let deadline = engine.nextDeadline(now: now), deadline <= now {
            engine.dispatch(now: now) { out in
                let length = out.length
                check(length <= 20 + 40 + 4096, "segment of \(length) bytes")
                scratch.withUnsafeMutableBytes { buffer in
                    check(out.write(into: buffer) == length, "write(into:) wrote a different length")
                    let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
                    guard let packet = try? TCPPacket(bytes) else { fatalError("TCPPacket refuses a segment the engine sent") }
                    check(packet.verifyChecksum(out.pseudoHeader!), "bad checksum on a sent segment")
                    check(packet.payload.count <= 1460, "payload of \(packet.payload.count)")
                    guard let index = peers.firstIndex(where: { $0.remote == out.destination }) else {
                        fatalError("a segment to \(out.destination), nobody's")
                    }
                    check(peers[index].local == out.source || peers[index].local.port == out.source.port,
                          "a segment from \(out.source) to \(out.destination)")
                    if packet.flags & TCPFlags.ack != 0 { peers[index].expected = packet.ack }
                    let seqLength = packet.payload.count + (packet.flags & TCPFlags.syn != 0 ? 1 : 0) + (packet.flags & TCPFlags.fin != 0 ? 1 : 0)
                    if packet.flags & TCPFlags.rst == 0 { peers[index].sentEnd = packet.seq &+ UInt32(seqLength) }
                }
            }
            rounds += 1
            check(rounds < 1000, "dispatch does not settle")
        }
        check(engine.bufferBytes <= config.maxBufferBytes, "buffer bytes \(engine.bufferBytes) over the limit")
        check(engine.connectionCount <= config.maxConnections, "\(engine.connectionCount) connections")
        engine.pollEvents { _, _ in }
    }

    func act(_ action: UInt8, _ index: Int) {
        if action == 7 {
            if let socket = engine.accept(listeners[index == 3 ? 1 : 0]) {
                let port = engine.endpoints(socket)!.remote.port
                if let at = peers.firstIndex(where: { $0.remote.port == port }) { peers[at].socket = socket }
            }
            return
        }
        guard let socket = peers[index].socket else { return }
        switch action {
        case 1: _ = scratch.withUnsafeMutableBytes { engine.read(socket, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<3000])) }
        case 2: _ = scratch.withUnsafeBytes { engine.write(socket, UnsafeRawBufferPointer(rebasing: $0[0..<100])) }
        case 3: _ = scratch.withUnsafeBytes { engine.write(socket, UnsafeRawBufferPointer(rebasing: $0[0..<5000])) }
        case 4: engine.shutdown(socket)
        case 5:
            engine.close(socket)
            peers[index].socket = nil
        case 6:
            engine.abort(socket)
            peers[index].socket = nil
        default: break
        }
    }

    static let steps: [Int64] = [0, 1_000, 40_000, 200_000, 1_000_000, 3_000_000, 30_000_000, 0]

    func run(_ input: UnsafeRawBufferPointer) {
        var at = 0
        while at + 2 <= input.count {
            let control = input[at]
            let length = Int(input[at + 1])
            at += 2
            let index = Int(control & 3)
            now = now + TCPDuration(microseconds: Self.steps[Int(control >> 5)])
            dispatch()
            act(control >> 2 & 7, index)
            dispatch()
            let available = min(length, input.count - at)
            defer { at += available }
            guard available >= 20 else { continue }
            let raw = UnsafeRawBufferPointer(rebasing: input[at..<at + available])
            segment.withUnsafeMutableBytes { buffer in
                let out = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<available])
                out.copyMemory(from: raw)
                let peer = peers[index]
                func field(_ offset: Int) -> UInt32 { UInt32(bigEndian: out.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
                func relative(_ value: UInt32, to base: UInt32) -> UInt32 {
                    value & 0x8000_0000 != 0 ? value : base &+ (value & 0xffff) &- 0x8000
                }
                out.storeBytes(of: peer.remote.port.bigEndian, toByteOffset: 0, as: UInt16.self)
                out.storeBytes(of: peer.local.port.bigEndian, toByteOffset: 2, as: UInt16.self)
                out.storeBytes(of: relative(field(4), to: peer.expected).bigEndian, toByteOffset: 4, as: UInt32.self)
                out.storeBytes(of: relative(field(8), to: peer.sentEnd).bigEndian, toByteOffset: 8, as: UInt32.self)
                guard let packet = try? MutableTCPPacket(out) else { return }
                let pseudo = TCPFourTuple(local: peer.remote, remote: peer.local).outgoingPseudoHeader!
                if packet.urg != 0xdead { packet.fillChecksum(pseudo) }
                _ = engine.process(now: now, source: peer.remote, destination: peer.local, segment: packet.view)
            }
            dispatch()
        }
        // The end: the application lets go of everything, time runs on; nothing may stay.
        for index in peers.indices {
            if let socket = peers[index].socket { engine.abort(socket) }
        }
        while let socket = engine.accept(listeners[0]) { engine.abort(socket) }
        while let socket = engine.accept(listeners[1]) { engine.abort(socket) }
        for listener in listeners { engine.close(listener) }
        for _ in 0..<40 {
            now = now + .seconds(60)
            dispatch()
        }
        var left = ""
        engine.forEachConnection { tuple, state, held in left += " \(tuple) \(state)\(held ? " (held)" : "")" }
        check(engine.connectionCount == 0, "\(engine.connectionCount) connections left after everything closed:\(left)")
        check(engine.bufferBytes == 0, "\(engine.bufferBytes) buffer bytes left after everything closed")
    }
}

FuzzDriver.run { input in
    Harness().run(input)
}
