import XCTest
@testable import TCPEngine

/// The congestion window alone (NewReno.swift), near 2^32 so every comparison wraps.
final class CongestionControlTests: XCTestCase {
    let base = TCPSeq(4_294_967_000)
    let smss = 1000

    /// `recover` is SND.MAX when the recovery began (one past RFC 6582's "highest sequence
    /// number transmitted"): an ACK of exactly that much acknowledges everything and ends
    /// the recovery; it is not a partial ACK.
    func testRecoveryEndsAtAnACKOfEverythingSent() {
        var reno = NewReno(smss: smss, initialSequence: base)
        let max = base + 10_000
        reno.enterRecovery(max: max, flight: 10_000, sack: false)
        XCTAssertEqual(reno.ssthresh, 5000)
        XCTAssertEqual(reno.newACK(acked: 10_000, ack: max, flight: 10_000), .none)
        XCTAssertFalse(reno.inRecovery)
        XCTAssertEqual(reno.cwnd, 2000)  // min(ssthresh, max(flight - acked, SMSS) + SMSS)

        var sackReno = NewReno(smss: smss, initialSequence: base)
        sackReno.enterRecovery(max: max, flight: 10_000, sack: true)
        XCTAssertEqual(sackReno.newACK(acked: 10_000, ack: max, flight: 10_000), .none)
        XCTAssertFalse(sackReno.inRecovery)
    }

    /// After a timeout, duplicate ACKs start a recovery again once the data sent before it
    /// is all acknowledged (RFC 6582 section 3.2 step 2), not only once an ACK passes it.
    func testRecoveryMayStartOnceTheDataBeforeATimeoutIsAcknowledged() {
        var reno = NewReno(smss: smss, initialSequence: base)
        let max = base + 10_000
        reno.timeout(flight: 10_000, max: max)
        XCTAssertFalse(reno.mayRecover(una: max - 1))
        XCTAssertTrue(reno.mayRecover(una: max))
    }
}

/// Appropriate Byte Counting (RFC 3465).
final class ByteCountingTests: XCTestCase {
    let base = TCPSeq(4_294_967_000)

    /// Slow start: by the bytes acknowledged, at most L * SMSS an ACK (L = 2 for ordinary
    /// segments, one super-segment with them), never past ssthresh.
    func testSlowStartGrowsByTheBytesAcknowledged() {
        var reno = NewReno(smss: 1000, initialSequence: base)
        XCTAssertEqual(reno.cwnd, 4000)
        _ = reno.newACK(acked: 2000, ack: base + 2001, flight: 4000)
        XCTAssertEqual(reno.cwnd, 6000)
        _ = reno.newACK(acked: 6000, ack: base + 8001, flight: 6000)  // a stretch ACK: 2 SMSS
        XCTAssertEqual(reno.cwnd, 8000)

        var superReno = NewReno(smss: 1000, initialSequence: base, largestSegment: 65000)
        _ = superReno.newACK(acked: 4000, ack: base + 4001, flight: 4000)
        XCTAssertEqual(superReno.cwnd, 8000)
        _ = superReno.newACK(acked: 8000, ack: base + 12001, flight: 8000)
        XCTAssertEqual(superReno.cwnd, 16000)
        superReno.ssthresh = 20000
        _ = superReno.newACK(acked: 16000, ack: base + 28001, flight: 16000)
        XCTAssertEqual(superReno.cwnd, 20000)
    }

    /// Congestion avoidance: one SMSS each time a cwnd's worth is acknowledged, however
    /// the bytes came (one ACK each or stretch ACKs).
    func testCongestionAvoidanceGrowsOnceACwndIsAcknowledged() {
        var reno = NewReno(smss: 1000, initialSequence: base, largestSegment: 65000)
        reno.ssthresh = 10000
        reno.cwnd = 10000
        var ack = base + 1
        for _ in 0..<9 {
            ack = ack + 1000
            _ = reno.newACK(acked: 1000, ack: ack, flight: 10000)
        }
        XCTAssertEqual(reno.cwnd, 10000)
        ack = ack + 1500
        _ = reno.newACK(acked: 1500, ack: ack, flight: 10000)
        XCTAssertEqual(reno.cwnd, 11000)
        // 500 carried over: 10500 more bytes in one stretch ACK make the next SMSS, once.
        ack = ack + 10500
        _ = reno.newACK(acked: 10500, ack: ack, flight: 11000)
        XCTAssertEqual(reno.cwnd, 12000)
    }
}
