import Packets
import XCTest
@testable import TCPEngine

/// A peer that opens thousands of connections, or never reads, cannot take the host's
/// memory: connections, half-open ones and buffer bytes stay within the limits, SYN
/// cookies answer past the backlog, and what does not fit is dropped.
final class FloodTests: XCTestCase {
    let server = TCPEndpoint(.v4(IPv4Address(198, 18, 0, 2)), 80)
    var config: TCPConfiguration = {
        var config = TCPConfiguration(secrets: TCPSecrets(key0: 5, key1: 6))
        config.maxConnections = 64
        config.listenerConnectionLimit = 32
        config.synBacklog = 8
        config.sendBufferSize = 8192
        config.receiveBufferSize = 8192
        config.maxBufferBytes = 64 * 16384
        return config
    }()

    func client(_ index: Int) -> TCPEndpoint {
        TCPEndpoint(.v4(IPv4Address(198, 18, UInt8(1 + index / 50_000 % 200), UInt8(index % 250 + 1))), UInt16(1024 + index % 60_000))
    }

    func send(_ engine: TCPEngine, from source: TCPEndpoint, flags: UInt16, seq: UInt32, ack: UInt32 = 0,
              payload: Int = 0, now: TCPInstant) -> Bool {
        let repr = TCPRepr(sport: source.port, dport: server.port, seq: seq, ack: ack, flags: flags, window: 65535,
                           options: flags & TCPFlags.syn != 0 ? [2, 4, 5, 0xb4] : [],
                           payload: [UInt8](repeating: 0x41, count: payload))
        var bytes: [UInt8] = []
        repr.emit(appendingTo: &bytes, pseudoHeader: TCPFourTuple(local: source, remote: server).outgoingPseudoHeader!)
        return bytes.withUnsafeBytes { engine.process(now: now, source: source, destination: server, segment: try! TCPPacket($0)) }
    }

    func testThousandsOfSYNsAndPeersThatNeverRead() throws {
        let engine = TCPEngine(configuration: config)
        let listener = try engine.listen(server)
        var now = TCPInstant(microseconds: 1_000_000)
        var synACKs: [UInt16: UInt32] = [:]  // port -> our ISN (or cookie)
        let count = 10_000
        for index in 0..<count {
            XCTAssertTrue(send(engine, from: client(index), flags: TCPFlags.syn, seq: 1000, now: now))
            if index % 50 == 49 {
                engine.dispatch(now: now) { segment in
                    if segment.flags == TCPFlags.syn | TCPFlags.ack { synACKs[segment.destination.port] = segment.seq }
                }
                now = now + .milliseconds(1)
            }
        }
        XCTAssertEqual(engine.connectionCount, 8, "only the backlog holds state")
        XCTAssertEqual(engine.bufferBytes, 8 * 16384)
        XCTAssertEqual(engine.counters.synCookiesSent, count - 8)
        XCTAssertEqual(synACKs.count, count)

        // Every peer completes its handshake: the listener's limit (32) caps the connections.
        for index in 0..<count {
            let source = client(index)
            _ = send(engine, from: source, flags: TCPFlags.ack, seq: 1001, ack: synACKs[source.port]! &+ 1, now: now)
        }
        engine.dispatch(now: now) { _ in }
        XCTAssertEqual(engine.connectionCount, 32)
        XCTAssertEqual(engine.counters.synCookiesAccepted, 32 - 8)
        XCTAssertEqual(engine.counters.synsDropped, count - 32)
        XCTAssertLessThanOrEqual(engine.bufferBytes, config.maxBufferBytes)
        XCTAssertEqual(engine.acceptQueueCount(listener), 32)

        // Nobody reads: each peer sends 3 x 4000 bytes; 8192 fit per connection (windows
        // 4192, 192, then 0), the rest is refused. The other peers' data meets the listener:
        // their ACK is no cookie now (its sequence number moved on), so RST, at most 64 per
        // dispatch (the control queue), the rest dropped.
        var windows: [Int: Int] = [:]
        for round in 0..<3 {
            var resets = 0
            for index in 0..<count {
                let source = client(index)
                _ = send(engine, from: source, flags: TCPFlags.ack | TCPFlags.psh, seq: 1001 &+ UInt32(4000 * round),
                         ack: synACKs[source.port]! &+ 1, payload: 4000, now: now)
            }
            now = now + .milliseconds(100)
            engine.dispatch(now: now) { segment in
                if segment.flags & TCPFlags.rst != 0 { resets += 1 } else { windows[Int(segment.window), default: 0] += 1 }
            }
            XCTAssertEqual(resets, round == 0 ? 0 : 64, "round \(round)")
        }
        XCTAssertEqual(windows, [4192: 32, 192: 32, 0: 32])
        XCTAssertEqual(engine.counters.controlQueueDrops, 2 * (count - 32 - 64))
        XCTAssertEqual(engine.bufferBytes, 32 * 16384)
        XCTAssertEqual(engine.connectionCount, 32)
        var held = 0
        while let socket = engine.accept(listener) {
            XCTAssertEqual(engine.readableBytes(socket), 8192)
            held += 1
        }
        XCTAssertEqual(held, 32)
    }
}
