import XCTest
@testable import Packets

final class AddressTests: XCTestCase {
    func testMACAddress() {
        let mac = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x0a)
        XCTAssertEqual(mac.description, "02:00:00:00:00:0a")
        XCTAssertEqual(MACAddress("02:00:00:00:00:0A"), mac)
        XCTAssertEqual(MACAddress("02-00-00-00-00-0a"), mac)
        XCTAssertEqual(MACAddress.broadcast.description, "ff:ff:ff:ff:ff:ff")
        XCTAssertEqual(mac.bytes, [2, 0, 0, 0, 0, 10])
        XCTAssertEqual(MACAddress(bytes: mac.bytes), mac)
        for bad in ["", "02:00:00:00:00", "02:00:00:00:00:0g", "02:00:00:00:00:0a:", "0200.0000.000a", "02:00:00:00:00:0a0"] {
            XCTAssertNil(MACAddress(bad), bad)
        }
        XCTAssertTrue(MACAddress("33:33:00:00:00:01")!.isMulticast)
        XCTAssertFalse(mac.isMulticast)
    }

    func testIPv4Address() {
        XCTAssertEqual(IPv4Address("198.18.0.1"), IPv4Address(198, 18, 0, 1))
        XCTAssertEqual(IPv4Address(198, 18, 0, 1).description, "198.18.0.1")
        XCTAssertEqual(IPv4Address(255, 255, 255, 255).description, "255.255.255.255")
        XCTAssertEqual(IPv4Address(0, 0, 0, 0).description, "0.0.0.0")
        for bad in ["", "198.18.0", "198.18.0.256", "198.18.0.1.2", "198..0.1", "198.18.0.1 ", "a.b.c.d", "1.2.3.1234"] {
            XCTAssertNil(IPv4Address(bad), bad)
        }
        XCTAssertEqual(IPv4Address(bytes: [1, 2, 3, 4])?.value, 0x0102_0304)
    }

    func testIPv6FormatsAsRFC5952() {
        let cases: [(String, String)] = [
            ("2001:2:0:0:0:0:0:1", "2001:2::1"),
            ("0:0:0:0:0:0:0:0", "::"),
            ("0:0:0:0:0:0:0:1", "::1"),
            ("fe80:0:0:0:0:ff:fe00:a", "fe80::ff:fe00:a"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  // the first of two equal runs
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // a single zero group stays
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),  // the longest run
            ("ff02:0:0:0:0:1:ff00:2", "ff02::1:ff00:2"),
            ("1:0:0:0:0:0:0:0", "1::"),
            ("2001:DB8:AAAA:BBBB:CCCC:DDDD:EEEE:FFFF", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff"),
            ("::ffff:198.18.0.1", "::ffff:198.18.0.1"),
            ("0:0:0:0:0:ffff:c612:1", "::ffff:198.18.0.1"),
            ("64:ff9b::198.18.0.1", "64:ff9b::c612:1"),
        ]
        for (input, expected) in cases {
            guard let address = IPv6Address(input) else {
                XCTFail("\(input) did not parse")
                continue
            }
            XCTAssertEqual(address.description, expected, input)
            XCTAssertEqual(IPv6Address(expected), address, expected)
        }
    }

    func testIPv6RejectsMalformedText() {
        for bad in ["", ":", ":::", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "12345::", "g::", "1:", ":1",
                    "1::2:3:4:5:6:7:8", "::198.18.0.256", "::1.2.3", "1.2.3.4::", "2001:2::1%eth0"] {
            XCTAssertNil(IPv6Address(bad), bad)
        }
    }

    func testIPv6Properties() {
        let address = IPv6Address("2001:2::2")!
        XCTAssertEqual(address.solicitedNodeMulticast.description, "ff02::1:ff00:2")
        XCTAssertTrue(IPv6Address("fe80::1")!.isLinkLocal)
        XCTAssertTrue(IPv6Address("ff02::1")!.isMulticast)
        XCTAssertEqual(IPv6Address(bytes: address.bytes), address)
        XCTAssertEqual(address.group(7), 2)
    }

    /// Formatting through a caller's stack buffer, as the Lua layer does.
    func testFormattedIntoBuffer() {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: IPv6Address.maxTextLength) { buffer in
            let base = buffer.baseAddress!
            let count = IPv6Address("2001:2::1")!.formatted(into: base)
            XCTAssertEqual(String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self), "2001:2::1")
            let longest = IPv6Address("::ffff:255.255.255.255")!.formatted(into: base)
            XCTAssertLessThanOrEqual(longest, IPv6Address.maxTextLength)
            let full = IPv6Address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")!.formatted(into: base)
            XCTAssertEqual(full, 39)
        }
    }

    /// Random addresses survive text and back.
    func testRandomRoundTrips() {
        var random = SplitMix64(seed: 5952)
        for _ in 0..<5_000 {
            // Zero groups often, so the "::" rules get exercised.
            let groups = (0..<8).map { _ in Bool.random(using: &random) ? 0 : UInt16.random(in: 0...0xffff, using: &random) }
            let address = IPv6Address(groups: groups)
            XCTAssertEqual(IPv6Address(address.description), address, address.description)
            let v4 = IPv4Address(value: UInt32.random(in: 0...UInt32.max, using: &random))
            XCTAssertEqual(IPv4Address(v4.description), v4)
            let mac = MACAddress(value: random.next())
            XCTAssertEqual(MACAddress(mac.description), mac)
        }
    }
}
