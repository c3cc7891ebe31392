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
