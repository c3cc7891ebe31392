import Capture
import XCTest

final class PcapFilterTests: XCTestCase {
    // A UDP datagram 198.18.0.1:40000 -> 198.18.0.2:53 in an Ethernet frame.
    let udpFrame: [UInt8] = [
        0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,
        0x45, 0, 0, 29, 0, 1, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
        0x9c, 0x40, 0, 53, 0, 9, 0, 0, 0x78,
    ]

    func testMatchesOnEthernet() throws {
        XCTAssertTrue(try PcapFilter("udp dst port 53", linkType: .ethernet).matches(udpFrame))
        XCTAssertTrue(try PcapFilter("src host 198.18.0.1", linkType: .ethernet).matches(udpFrame))
        XCTAssertFalse(try PcapFilter("tcp", linkType: .ethernet).matches(udpFrame))
        XCTAssertFalse(try PcapFilter("udp port 54", linkType: .ethernet).matches(udpFrame))
    }

    func testMatchesOnRawIP() throws {
        let datagram = Array(udpFrame.dropFirst(14))
        XCTAssertTrue(try PcapFilter("udp dst port 53", linkType: .rawIP).matches(datagram))
        XCTAssertFalse(try PcapFilter("icmp", linkType: .rawIP).matches(datagram))
    }

    func testTruncatedPacketNeverMatchesPastItsEnd() throws {
        let filter = try PcapFilter("udp dst port 53", linkType: .ethernet)
        for length in 0..<udpFrame.count - 6 {
            XCTAssertFalse(filter.matches(Array(udpFrame.prefix(length))), "length \(length)")
        }
    }

    func testExpressionThatCannotApplyToTheLinkTypeIsAnError() {
        XCTAssertThrowsError(try PcapFilter("ether host 02:00:00:00:00:01", linkType: .rawIP)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("ether host 02:00:00:00:00:01"), message)
            XCTAssertTrue(message.contains("raw IP"), message)
        }
    }

    func testSyntaxErrorIsAnErrorNamingTheExpression() {
        XCTAssertThrowsError(try PcapFilter("udp port", linkType: .ethernet)) { error in
            XCTAssertTrue("\(error)".contains("'udp port'"), "\(error)")
            XCTAssertTrue("\(error)".contains("syntax error"), "\(error)")
        }
    }
}
