import XCTest
@testable import Packets

final class FrameSummaryTests: XCTestCase {
    func testSummariesOfKernelFrames() throws {
        let frames = try Fixture.kernelFrames()
        func summary(_ number: Int) -> String {
            frames[number - 1].withUnsafeBytes { FrameDecoder.decode($0, linkType: .ethernet).summary($0) }
        }
        XCTAssertEqual(summary(14), "02:00:00:00:00:0b > 02:00:00:00:00:0a, ARP, Reply 198.18.0.2 is-at 02:00:00:00:00:0b")
        XCTAssertEqual(summary(21), "02:00:00:00:00:0a > 02:00:00:00:00:0b, IP 198.18.0.1 > 198.18.0.2: TCP 51486 > 9: Flags [S], seq 709756015, win 64240, length 0")
        XCTAssertEqual(summary(23), "02:00:00:00:00:0a > 33:33:ff:00:00:02, IP6 2001:2::1 > ff02::1:ff00:2: ICMP6, neighbor solicitation, who has 2001:2::2, length 32")
        XCTAssertEqual(summary(27), "02:00:00:00:00:0a > 02:00:00:00:00:0b, vlan 100, IP 198.18.100.1 > 198.18.100.2: ICMP echo request, id 4660, seq 1, length 22")
        XCTAssertEqual(summary(30), "02:00:00:00:00:0a > 02:00:00:00:00:0b, IP 198.18.0.1 > 198.18.0.2: ICMP fragment, offset 1480, length 1480")
        XCTAssertTrue(summary(19).hasSuffix("IP 198.18.0.1 > 198.18.0.2: UDP 48949 > 53, length 53"), summary(19))
    }

    func testMalformedIsSaid() {
        let bytes = [UInt8](hex: "02000000000b 02000000000a 0800 44 00 00 14")
        bytes.withUnsafeBytes { raw in
            XCTAssertEqual(FrameDecoder.decode(raw, linkType: .ethernet).summary(raw),
                           "02:00:00:00:00:0a > 02:00:00:00:00:0b, ethertype 0x0800, length 18 [malformed ip: truncated]")
        }
    }
}
