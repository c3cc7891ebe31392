import Packets
import XCTest

final class LinkTypeTests: XCTestCase {
    private func offset(_ linkType: LinkType, _ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { linkType.ipv4Offset(in: $0) }
    }

    private let ipv4Header: [UInt8] = [0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]
    private let macs = [UInt8](repeating: 0xff, count: 6) + [0x02, 0, 0, 0, 0, 1]

    func testUntaggedEthernetCarriesIPv4After14Bytes() {
        XCTAssertEqual(offset(.ethernet, macs + [0x08, 0x00] + ipv4Header), 14)
    }

    func testOneAndTwoVLANTagsMoveTheIPv4HeaderBy4Each() {
        XCTAssertEqual(offset(.ethernet, macs + [0x81, 0x00, 0x00, 0x05, 0x08, 0x00] + ipv4Header), 18)
        XCTAssertEqual(offset(.ethernet, macs + [0x88, 0xa8, 0x00, 0x07, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00] + ipv4Header), 22)
    }

    func testOtherEtherTypesAndTruncatedFramesCarryNoIPv4() {
        XCTAssertNil(offset(.ethernet, macs + [0x86, 0xdd] + ipv4Header))
        XCTAssertNil(offset(.ethernet, macs + [0x08, 0x06]))
        XCTAssertNil(offset(.ethernet, macs + [0x81, 0x00, 0x00]))
        XCTAssertNil(offset(.ethernet, [0x08, 0x00]))
    }

    func testRawIPIsIPv4WhenTheVersionNibbleIs4() {
        XCTAssertEqual(offset(.rawIP, ipv4Header), 0)
        XCTAssertNil(offset(.rawIP, [0x60] + [UInt8](repeating: 0, count: 39)))
        XCTAssertNil(offset(.rawIP, []))
    }
}
