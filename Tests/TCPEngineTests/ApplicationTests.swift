import Packets
import XCTest
@testable import TCPEngine

/// The application side's errors and handles.
final class ApplicationTests: XCTestCase {
    let local = TCPEndpoint(.v4(IPv4Address(198, 18, 0, 2)), 0)
    let remote = TCPEndpoint(.v4(IPv4Address(198, 18, 0, 1)), 7)
    let now = TCPInstant(microseconds: 0)

    func engine(_ change: (inout TCPConfiguration) -> Void = { _ in }) -> TCPEngine {
        var config = TCPConfiguration(secrets: TCPSecrets(key0: 1, key1: 1))
        change(&config)
        return TCPEngine(configuration: config)
    }

    func testListenTwiceIsAddressInUse() throws {
        let engine = engine()
        _ = try engine.listen(TCPEndpoint(.v4(.any), 80))
        XCTAssertThrowsError(try engine.listen(TCPEndpoint(.v4(.any), 80))) { XCTAssertEqual($0 as? TCPError, .addressInUse) }
        XCTAssertNoThrow(try engine.listen(TCPEndpoint(.v6(.unspecified), 80)))
    }

    func testConnectPicksEphemeralPortsAndRefusesMixedFamilies() throws {
        let engine = engine()
        let first = try engine.connect(from: local, to: remote, now: now)
        let second = try engine.connect(from: local, to: remote, now: now)
        XCTAssertEqual(engine.endpoints(first)?.local.port, 49152)
        XCTAssertEqual(engine.endpoints(second)?.local.port, 49153)
        XCTAssertEqual(engine.state(first), .synSent)
        XCTAssertThrowsError(try engine.connect(from: local, to: TCPEndpoint(.v6(IPv6Address("2001:2::1")!), 7), now: now)) {
            XCTAssertEqual($0 as? TCPError, .addressFamilyMismatch)
        }
        var fixed = local
        fixed.port = 49152
        XCTAssertThrowsError(try engine.connect(from: fixed, to: remote, now: now)) { XCTAssertEqual($0 as? TCPError, .addressInUse) }
    }

    func testLimitsRefuseConnects() throws {
        let few = engine { $0.maxConnections = 1 }
        _ = try few.connect(from: local, to: remote, now: now)
        XCTAssertThrowsError(try few.connect(from: local, to: remote, now: now)) { XCTAssertEqual($0 as? TCPError, .connectionLimit) }
        let small = engine { $0.maxBufferBytes = 200_000 }
        _ = try small.connect(from: local, to: remote, now: now)
        XCTAssertEqual(small.bufferBytes, 2 * 65536)
        XCTAssertThrowsError(try small.connect(from: local, to: remote, now: now)) { XCTAssertEqual($0 as? TCPError, .memoryLimit) }
    }

    func testHandlesGoStale() throws {
        let engine = engine()
        let socket = try engine.connect(from: local, to: remote, now: now)
        XCTAssertEqual([UInt8](repeating: 1, count: 10).withUnsafeBytes { engine.write(socket, $0) }, 10)
        engine.abort(socket)
        var sent = 0
        engine.dispatch(now: now) { _ in sent += 1 }
        XCTAssertEqual(sent, 0, "a SYN-SENT connection aborts without a RST")
        XCTAssertNil(engine.state(socket))
        XCTAssertEqual([UInt8](repeating: 1, count: 10).withUnsafeBytes { engine.write(socket, $0) }, 0)
        XCTAssertTrue(engine.isAtEnd(socket))
        XCTAssertEqual(engine.connectionCount, 0)
        // The slot is used again with a new generation: the old handle stays stale.
        let again = try engine.connect(from: local, to: remote, now: now)
        XCTAssertEqual(again.index, socket.index)
        XCTAssertNotEqual(again.generation, socket.generation)
        XCTAssertNil(engine.state(socket))
        XCTAssertEqual(engine.state(again), .synSent)
    }

    func testNextDeadlineFollowsTheTimers() throws {
        let engine = engine()
        XCTAssertNil(engine.nextDeadline(now: now))
        _ = try engine.connect(from: local, to: remote, now: now)
        XCTAssertEqual(engine.nextDeadline(now: now), now, "the SYN is due")
        var flags: [UInt16] = []
        engine.dispatch(now: now) { flags.append($0.flags) }
        XCTAssertEqual(flags, [TCPFlags.syn])
        XCTAssertEqual(engine.nextDeadline(now: now), now + .seconds(1), "the SYN's retransmission timer")
    }

    /// RFC 1122 section 4.2.3.10: a SYN to a multicast or broadcast address (or from one)
    /// is not the engine's, even with a wildcard listener.
    func testMulticastAndBroadcastAreNotClaimed() throws {
        let engine = engine()
        _ = try engine.listen(TCPEndpoint(.v4(.any), 80))
        _ = try engine.listen(TCPEndpoint(.v6(.unspecified), 80))
        func syn(from source: TCPAddress, to destination: TCPAddress) -> Bool {
            let from = TCPEndpoint(source, 40000), to = TCPEndpoint(destination, 80)
            var bytes: [UInt8] = []
            TCPRepr(sport: 40000, dport: 80, seq: 1, flags: TCPFlags.syn)
                .emit(appendingTo: &bytes, pseudoHeader: TCPFourTuple(local: from, remote: to).outgoingPseudoHeader!)
            return bytes.withUnsafeBytes { engine.process(now: now, source: from, destination: to, segment: try! TCPPacket($0)) }
        }
        let host = TCPAddress.v4(IPv4Address(198, 18, 0, 1))
        XCTAssertFalse(syn(from: host, to: .v4(IPv4Address(224, 0, 0, 1))))
        XCTAssertFalse(syn(from: host, to: .v4(.broadcast)))
        XCTAssertFalse(syn(from: .v4(IPv4Address(224, 0, 0, 1)), to: .v4(IPv4Address(198, 18, 0, 2))))
        XCTAssertFalse(syn(from: .v4(.any), to: .v4(IPv4Address(198, 18, 0, 2))))
        XCTAssertFalse(syn(from: .v6(IPv6Address("2001:2::1")!), to: .v6(IPv6Address("ff02::1")!)))
        XCTAssertEqual(engine.connectionCount, 0)
        XCTAssertTrue(syn(from: host, to: .v4(IPv4Address(198, 18, 0, 2))))
        XCTAssertEqual(engine.connectionCount, 1)
    }

    /// Connections that get events, are closed and freed, their slots used again, all
    /// without a poll: the event queue keeps its capacity (stale entries are dropped).
    func testEventQueueStaysBoundedWithoutPolls() throws {
        let engine = engine { $0.maxConnections = 2 }
        let capacity = engine.events.capacity
        let peer = TCPEndpoint(.v4(IPv4Address(198, 18, 0, 1)), 7)
        for round in 0..<300 {
            var from = local
            from.port = UInt16(1000 + round)
            let socket = try engine.connect(from: from, to: peer, now: now)
            var iss: UInt32 = 0
            engine.dispatch(now: now) { iss = $0.seq }
            // The SYN-ACK: connected (an event, queued), then the application aborts.
            var bytes: [UInt8] = []
            TCPRepr(sport: 7, dport: from.port, seq: 500, ack: iss &+ 1, flags: TCPFlags.syn | TCPFlags.ack)
                .emit(appendingTo: &bytes, pseudoHeader: TCPFourTuple(local: peer, remote: from).outgoingPseudoHeader!)
            XCTAssertTrue(bytes.withUnsafeBytes { engine.process(now: now, source: peer, destination: from, segment: try! TCPPacket($0)) })
            XCTAssertEqual(engine.state(socket), .established)
            engine.abort(socket)
            engine.dispatch(now: now) { _ in }
            XCTAssertEqual(engine.connectionCount, 0)
        }
        XCTAssertEqual(engine.events.capacity, capacity)
        var polled = 0
        engine.pollEvents { _, _ in polled += 1 }
        XCTAssertEqual(polled, 0, "every queued socket is gone")
    }
}
