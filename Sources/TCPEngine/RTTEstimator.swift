/// The retransmission timeout of RFC 6298: SRTT and RTTVAR from samples, RTO = SRTT +
/// max(G, 4 RTTVAR) within [min, max], doubled on each expiry (section 5.5).
struct RTTEstimator {
    private(set) var srtt: Int64 = 0
    private(set) var rttvar: Int64 = 0
    private(set) var hasSample = false
    private(set) var rto: TCPDuration
    let minimum: TCPDuration
    let maximum: TCPDuration
    /// Clock granularity G: the engine's clock is in microseconds, the timestamps' in ms.
    static let granularity: Int64 = 1000

    init(initial: TCPDuration, minimum: TCPDuration, maximum: TCPDuration) {
        rto = initial
        self.minimum = minimum
        self.maximum = maximum
    }

    mutating func sample(_ measured: TCPDuration) {
        let r = Swift.max(measured.microseconds, 0)
        if !hasSample {
            srtt = r
            rttvar = r / 2
            hasSample = true
        } else {
            rttvar = (3 * rttvar + abs(srtt - r)) / 4
            srtt = (7 * srtt + r) / 8
        }
        let value = srtt + Swift.max(Self.granularity, 4 * rttvar)
        rto = TCPDuration(microseconds: Swift.min(Swift.max(value, minimum.microseconds), maximum.microseconds))
    }

    /// RFC 6298 section 5.7: a SYN (or SYN-ACK) timed out and no RTT was measured: the
    /// RTO starts over at 3 seconds once the handshake is done.
    mutating func synRetransmitted() {
        if !hasSample { rto = Swift.min(.seconds(3), maximum) }
    }

    mutating func backOff() {
        rto = TCPDuration(microseconds: Swift.min(rto.microseconds * 2, maximum.microseconds))
    }
}
