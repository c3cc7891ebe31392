/// Congestion control: slow start and congestion avoidance (RFC 5681), fast retransmit
/// and NewReno fast recovery (RFC 6582); with a peer that sends SACK blocks, recovery by
/// the scoreboard instead (RFC 6675: cwnd is ssthresh through it, and the connection
/// sends while its estimate of what is in flight, `pipe`, leaves room). Windows in bytes.
/// The window grows by the bytes acknowledged, not by the ACKs counted (RFC 3465).
struct NewReno {
    var cwnd: Int
    var ssthresh = 1 << 30
    var duplicateACKs = 0
    /// SND.MAX when the latest recovery or timeout began: one past RFC 6582's "highest
    /// sequence number transmitted", so an ACK of `recover` covers it all.
    var recover: TCPSeq
    var inRecovery = false
    /// This recovery is RFC 6675's (the peer sends SACK blocks): no inflation by
    /// duplicate ACKs, no retransmission on a partial ACK (the holes go as `pipe` allows).
    var sackRecovery = false
    var partialACKs = 0
    let smss: Int
    /// RFC 3465's L * SMSS: the most one ACK grows cwnd by in slow start. L = 2 (the RFC's
    /// choice) for ordinary segments; with super-segments one whole super-segment, which the
    /// kernel behind a tap acknowledges with one ACK: at L = 2 slow start would grow by
    /// 2 SMSS per 64 KB acknowledged, almost not at all. The bytes so acknowledged have
    /// left the network, so the burst that follows is what per-segment ACKs would draw.
    let byteCountingLimit: Int
    /// Bytes acknowledged in congestion avoidance since cwnd last grew (RFC 3465 section 2.1).
    var bytesAcknowledged = 0

    /// RFC 5681 section 3.1's initial window. `largestSegment`: the longest super-segment
    /// sent (0 without).
    init(smss: Int, initialSequence: TCPSeq, largestSegment: Int = 0) {
        self.smss = smss
        byteCountingLimit = Swift.max(2 * smss, largestSegment)
        cwnd = Self.initialWindow(smss)
        recover = initialSequence
    }

    static func initialWindow(_ smss: Int) -> Int {
        smss > 2190 ? 2 * smss : smss > 1095 ? 3 * smss : 4 * smss
    }

    /// The window for new data: cwnd, plus one SMSS for each of the first two duplicate
    /// ACKs (limited transmit, RFC 3042, step 1 of RFC 5681 section 3.2; cwnd itself
    /// does not change).
    var sendWindow: Int {
        !inRecovery && duplicateACKs > 0 && duplicateACKs < 3 ? cwnd + duplicateACKs * smss : cwnd
    }

    /// RFC 5681 section 4.1: the restart window after an idle spell.
    mutating func restartAfterIdle() {
        cwnd = Swift.min(cwnd, Self.initialWindow(smss))
    }

    enum Response {
        case none
        /// Retransmit the first unacknowledged segment now.
        case retransmit
        /// Retransmit it, and restart the retransmission timer (first partial ACK).
        case retransmitAndRestartTimer
    }

    /// An ACK for `acked` new bytes, `ack` its value, `flight` what was outstanding before it.
    mutating func newACK(acked: Int, ack: TCPSeq, flight: Int) -> Response {
        if inRecovery {
            if recover <= ack {
                // Full acknowledgment (RFC 6582 section 3.2 step 3, option 1; after a SACK
                // recovery cwnd stays at ssthresh, as RFC 6675 left it).
                if !sackRecovery { cwnd = Swift.min(ssthresh, Swift.max(flight - acked, smss) + smss) }
                inRecovery = false
                sackRecovery = false
                duplicateACKs = 0
                return .none
            }
            if sackRecovery { return .none }
            // Partial acknowledgment: deflate by what it acked, add back one SMSS if it acked that much.
            cwnd = Swift.max(cwnd - acked, smss) + (acked >= smss ? smss : 0)
            partialACKs += 1
            return partialACKs == 1 ? .retransmitAndRestartTimer : .retransmit
        }
        duplicateACKs = 0
        if cwnd < ssthresh {
            // Slow start (RFC 3465 section 2.2): by the bytes acknowledged, at most L * SMSS
            // an ACK, and not past ssthresh (as Linux's tcp_slow_start).
            cwnd = Swift.min(cwnd + Swift.min(acked, byteCountingLimit), Swift.max(ssthresh, cwnd))
        } else {
            // Congestion avoidance (RFC 3465 section 2.1): one SMSS each time a cwnd's worth
            // of bytes has been acknowledged, however many ACKs that took.
            bytesAcknowledged += acked
            if bytesAcknowledged >= cwnd {
                bytesAcknowledged -= cwnd
                cwnd += smss
            }
        }
        return .none
    }

    /// A duplicate ACK (RFC 5681 section 2's definition) of `una`. `sack`: the peer sends
    /// SACK blocks, so a recovery this starts is RFC 6675's.
    mutating func duplicateACK(una: TCPSeq, max: TCPSeq, flight: Int, sack: Bool) -> Response {
        duplicateACKs += 1
        if inRecovery {
            if !sackRecovery { cwnd += smss }
            return .none
        }
        guard duplicateACKs == 3, mayRecover(una: una) else {
            return .none
        }
        enterRecovery(max: max, flight: flight, sack: sack)
        return .retransmit
    }

    /// RFC 6582 section 3.2 step 2 (and RFC 6675 section 5's RecoveryPoint): a recovery
    /// starts only once the ACKs cover `recover`, so not again for the duplicates of data
    /// sent before a previous recovery or timeout ended.
    func mayRecover(una: TCPSeq) -> Bool { !inRecovery && recover <= una }

    /// Fast retransmit: ssthresh halves the flight; with SACK cwnd is ssthresh (RFC 6675
    /// section 5 step 4.2), without it ssthresh plus the three segments the duplicates
    /// say have left (RFC 6582).
    mutating func enterRecovery(max: TCPSeq, flight: Int, sack: Bool) {
        ssthresh = Swift.max(flight / 2, 2 * smss)
        recover = max
        cwnd = sack ? ssthresh : ssthresh + 3 * smss
        bytesAcknowledged = 0
        inRecovery = true
        sackRecovery = sack
        partialACKs = 0
    }

    /// The retransmission timer expired (RFC 5681 section 3.1, RFC 6582 section 3.2 step 4).
    mutating func timeout(flight: Int, max: TCPSeq) {
        ssthresh = Swift.max(flight / 2, 2 * smss)
        cwnd = smss
        bytesAcknowledged = 0
        inRecovery = false
        sackRecovery = false
        duplicateACKs = 0
        recover = max
    }
}
