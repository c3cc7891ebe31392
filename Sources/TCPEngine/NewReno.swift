/// Congestion control: slow start and congestion avoidance (RFC 5681), fast retransmit
/// and NewReno fast recovery (RFC 6582). Windows in bytes.
struct NewReno {
    var cwnd: Int
    var ssthresh = 1 << 30
    var duplicateACKs = 0
    var recover: TCPSeq
    var inRecovery = false
    var partialACKs = 0
    let smss: Int

    /// RFC 5681 section 3.1's initial window.
    init(smss: Int, initialSequence: TCPSeq) {
        self.smss = smss
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
            if recover < ack {
                // Full acknowledgment (RFC 6582 section 3.2 step 3, option 1).
                cwnd = Swift.min(ssthresh, Swift.max(flight - acked, smss) + smss)
                inRecovery = false
                duplicateACKs = 0
                return .none
            }
            // Partial acknowledgment: deflate by what it acked, add back one SMSS if it acked that much.
            cwnd = Swift.max(cwnd - acked, smss) + (acked >= smss ? smss : 0)
            partialACKs += 1
            return partialACKs == 1 ? .retransmitAndRestartTimer : .retransmit
        }
        duplicateACKs = 0
        if cwnd < ssthresh {
            cwnd += Swift.min(acked, smss)
        } else {
            cwnd += Swift.max(1, smss * smss / cwnd)
        }
        return .none
    }

    /// A duplicate ACK (RFC 5681 section 2's definition) of `una`.
    mutating func duplicateACK(una: TCPSeq, max: TCPSeq, flight: Int) -> Response {
        duplicateACKs += 1
        if inRecovery {
            cwnd += smss
            return .none
        }
        // RFC 6582 section 3.2 step 2: only if the ACK covers `recover` (so not again for
        // the duplicates of data sent before a previous recovery or timeout ended).
        guard duplicateACKs == 3, recover < una else {
            return .none
        }
        ssthresh = Swift.max(flight / 2, 2 * smss)
        recover = max
        cwnd = ssthresh + 3 * smss
        inRecovery = true
        partialACKs = 0
        return .retransmit
    }

    /// The retransmission timer expired (RFC 5681 section 3.1, RFC 6582 section 3.2 step 4).
    mutating func timeout(flight: Int, max: TCPSeq) {
        ssthresh = Swift.max(flight / 2, 2 * smss)
        cwnd = smss
        inRecovery = false
        duplicateACKs = 0
        recover = max
    }
}
