/// Initial sequence numbers (RFC 6528) and SYN cookies (RFC 4987) from one secret key.
public struct TCPSecrets: Sendable {
    public var key0: UInt64
    public var key1: UInt64

    public init(key0: UInt64, key1: UInt64) {
        self.key0 = key0
        self.key1 = key1
    }

    /// A key from the system's random source (getrandom on Linux).
    public static func random() -> TCPSecrets {
        var generator = SystemRandomNumberGenerator()
        return TCPSecrets(key0: generator.next(), key1: generator.next())
    }

    /// RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a timer
    /// ticking every 4 microseconds, F SipHash-2-4 of the four-tuple.
    public func initialSequence(_ tuple: TCPFourTuple, now: TCPInstant) -> TCPSeq {
        var hasher = SipHash24(key0: key0, key1: key1)
        tuple.hash(into: &hasher)
        let f = UInt32(truncatingIfNeeded: hasher.finalize())
        let m = UInt32(truncatingIfNeeded: now.microseconds / 4)
        return TCPSeq(m &+ f)
    }

    /// A per-connection offset for the timestamps clock (RFC 7323 section 5.4), so the
    /// clock's value says nothing about the host's uptime.
    public func timestampOffset(_ tuple: TCPFourTuple) -> UInt32 {
        var hasher = SipHash24(key0: key1, key1: key0)
        tuple.hash(into: &hasher)
        hasher.combine(0x7473_6f66_6673_6574 as UInt64)
        return UInt32(truncatingIfNeeded: hasher.finalize())
    }

    // SYN cookies, laid out as D. J. Bernstein's (RFC 4987 section 3.6): the top 5 bits are a
    // counter that ticks every 64 seconds, the next 3 an index into `cookieMSS`, the low 24 a
    // keyed hash of the four-tuple, the counter and the client's initial sequence number.

    /// The MSS values a cookie can carry; a SYN's MSS is rounded down to one of these.
    public static let cookieMSS: [UInt16] = [216, 536, 1024, 1220, 1380, 1440, 1460, 8960]
    static let cookiePeriodMicroseconds: Int64 = 64_000_000

    func cookieHash(_ tuple: TCPFourTuple, counter: UInt32, clientSequence: TCPSeq) -> UInt32 {
        var hasher = SipHash24(key0: key0 ^ 0x636f_6f6b_6965_7321, key1: key1)
        tuple.hash(into: &hasher)
        hasher.combine(UInt64(counter) << 32 | UInt64(clientSequence.value))
        return UInt32(truncatingIfNeeded: hasher.finalize()) & 0x00ff_ffff
    }

    /// The initial sequence number of a SYN-ACK that keeps no state: the cookie.
    public func cookie(_ tuple: TCPFourTuple, clientSequence: TCPSeq, mss: UInt16, now: TCPInstant) -> TCPSeq {
        let counter = UInt32(truncatingIfNeeded: now.microseconds / Self.cookiePeriodMicroseconds) & 31
        var index = 0
        for (candidate, value) in Self.cookieMSS.enumerated() where value <= mss { index = candidate }
        let hash = cookieHash(tuple, counter: counter, clientSequence: clientSequence)
        return TCPSeq(counter << 27 | UInt32(index) << 24 | hash)
    }

    /// The MSS a returned cookie carries if it is one this host made in the last two
    /// periods for this four-tuple and client sequence number; nil otherwise.
    public func checkCookie(_ cookie: TCPSeq, _ tuple: TCPFourTuple, clientSequence: TCPSeq, now: TCPInstant) -> UInt16? {
        let current = UInt32(truncatingIfNeeded: now.microseconds / Self.cookiePeriodMicroseconds) & 31
        let counter = cookie.value >> 27
        guard counter == current || counter == (current &- 1) & 31 else { return nil }
        guard cookie.value & 0x00ff_ffff == cookieHash(tuple, counter: counter, clientSequence: clientSequence) else {
            return nil
        }
        return Self.cookieMSS[Int(cookie.value >> 24 & 7)]
    }
}

/// What a SYN-ACK with a cookie keeps of the SYN's options besides the MSS, in the low 5
/// bits of its timestamp value, which the peer echoes (as Linux does): the window shift
/// (15: none) and SACK-permitted. Only when the SYN had timestamps.
struct SYNCookieOptions: Equatable {
    var windowShift: UInt8?
    var sackPermitted: Bool

    static let mask: UInt32 = 0x1f

    /// The timestamp value to send: the clock's, its low bits replaced, never ahead of the
    /// clock (the values after it must not look older to the peer's PAWS), so up to 63 ms
    /// behind.
    func timestampValue(_ clock: UInt32) -> UInt32 {
        let bits = UInt32(Swift.min(windowShift ?? 15, 15)) | (sackPermitted ? 0x10 : 0)
        var value = clock & ~Self.mask | bits
        if Int32(bitPattern: value &- clock) > 0 { value = (value &- (Self.mask + 1)) & ~Self.mask | bits }
        return value
    }

    init(windowShift: UInt8?, sackPermitted: Bool) {
        self.windowShift = windowShift.map { Swift.min($0, 14) }
        self.sackPermitted = sackPermitted
    }

    init(echo: UInt32) {
        let shift = UInt8(echo & 0xf)
        windowShift = shift == 15 ? nil : Swift.min(shift, 14)
        sackPermitted = echo & 0x10 != 0
    }
}
