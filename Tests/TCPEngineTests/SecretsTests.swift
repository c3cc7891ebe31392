import Packets
import XCTest
@testable import TCPEngine

final class SecretsTests: XCTestCase {
    let secrets = TCPSecrets(key0: 1, key1: 2)
    let tuple = TCPFourTuple(local: TCPEndpoint(.v4(IPv4Address(198, 18, 0, 2)), 80),
                             remote: TCPEndpoint(.v4(IPv4Address(198, 18, 0, 1)), 40000))
    var other: TCPFourTuple {
        var other = tuple
        other.remote.port = 40001
        return other
    }

    /// RFC 6528: the clock term ticks every 4 microseconds; the hash differs per four-tuple
    /// and per key.
    func testInitialSequenceNumbers() {
        let t0 = TCPInstant(microseconds: 1_000_000)
        let isn = secrets.initialSequence(tuple, now: t0)
        XCTAssertEqual(secrets.initialSequence(tuple, now: t0 + TCPDuration(microseconds: 4)).value, isn.value &+ 1)
        XCTAssertEqual(secrets.initialSequence(tuple, now: t0 + .seconds(1)).value, isn.value &+ 250_000)
        XCTAssertNotEqual(secrets.initialSequence(other, now: t0), isn)
        XCTAssertNotEqual(TCPSecrets(key0: 1, key1: 3).initialSequence(tuple, now: t0), isn)
        let v6 = TCPFourTuple(local: TCPEndpoint(.v6(IPv6Address("2001:2::2")!), 80),
                              remote: TCPEndpoint(.v6(IPv6Address("2001:2::1")!), 40000))
        XCTAssertNotEqual(secrets.initialSequence(v6, now: t0), isn)
    }

    /// RFC 4987: a cookie is good for its four-tuple and client ISN during its 64-second
    /// period and the next, and carries the MSS rounded down to the table.
    func testCookies() {
        let now = TCPInstant(microseconds: 10_000_000)
        let client = TCPSeq(123_456)
        let cookie = secrets.cookie(tuple, clientSequence: client, mss: 1400, now: now)
        XCTAssertEqual(secrets.checkCookie(cookie, tuple, clientSequence: client, now: now), 1380)
        XCTAssertEqual(secrets.checkCookie(cookie, tuple, clientSequence: client, now: now + .seconds(100)), 1380)
        XCTAssertNil(secrets.checkCookie(cookie, tuple, clientSequence: client, now: now + .seconds(130)))
        XCTAssertNil(secrets.checkCookie(cookie, other, clientSequence: client, now: now))
        XCTAssertNil(secrets.checkCookie(cookie, tuple, clientSequence: client + 1, now: now))
        XCTAssertNil(secrets.checkCookie(cookie + 1, tuple, clientSequence: client, now: now))
        XCTAssertNil(TCPSecrets(key0: 9, key1: 2).checkCookie(cookie, tuple, clientSequence: client, now: now))
        for (mss, carried) in [(100, 216), (536, 536), (1460, 1460), (9000, 8960), (1219, 1024)] as [(UInt16, UInt16)] {
            let cookie = secrets.cookie(tuple, clientSequence: client, mss: mss, now: now)
            XCTAssertEqual(secrets.checkCookie(cookie, tuple, clientSequence: client, now: now), carried, "MSS \(mss)")
        }
    }

    /// The options a cookie keeps in the low 5 bits of its timestamp come back from the echo;
    /// the value is never ahead of the clock, and at most 63 ms behind.
    func testCookieOptionsInTheTimestamp() {
        for (shift, sack) in [(nil, false), (0, true), (7, true), (14, false), (20, true)] as [(UInt8?, Bool)] {
            let kept = SYNCookieOptions(windowShift: shift, sackPermitted: sack)
            for clock in [0x1234_5678, 0x1234_5660, 0x1234_567f, 5] as [UInt32] {
                let value = kept.timestampValue(clock)
                let behind = Int32(bitPattern: clock &- value)
                XCTAssertTrue(behind >= 0 && behind < 64, "clock \(clock), value \(value)")
                XCTAssertEqual(SYNCookieOptions(echo: value), kept)
            }
            let value = kept.timestampValue(0x1234_5678)
            XCTAssertEqual(SYNCookieOptions(echo: value), kept)
            XCTAssertEqual(SYNCookieOptions(echo: value).windowShift, shift.map { min($0, 14) })
        }
    }

    func testSequenceComparisonWraps() {
        XCTAssertTrue(TCPSeq(0xffff_fff0) < TCPSeq(5))
        XCTAssertEqual(TCPSeq(5) - TCPSeq(0xffff_fff0), 21)
        XCTAssertEqual((TCPSeq(0xffff_fff0) + 32).value, 16)
    }
}
