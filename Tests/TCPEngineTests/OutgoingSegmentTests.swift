import Packets
import XCTest
@testable import TCPEngine

final class OutgoingSegmentTests: XCTestCase {
    func written(_ segment: TCPOutgoingSegment) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xee, count: segment.length + 10)
        XCTAssertEqual(bytes.withUnsafeMutableBytes { segment.write(into: $0) }, segment.length)
        XCTAssertEqual(bytes.withUnsafeMutableBytes { segment.write(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<10])) }, 0)
        return Array(bytes.prefix(segment.length))
    }

    /// A SYN with every option, as Linux lays them out, byte for byte.
    func testSYNOptions() throws {
        var options = TCPOutgoingOptions()
        options.mss = 1460
        options.sackPermitted = true
        options.timestamp = (0x0102_0304, 0)
        options.windowScale = 7
        let segment = TCPOutgoingSegment(source: TCPEndpoint(.v4(IPv4Address(198, 18, 0, 2)), 8080),
                                         destination: TCPEndpoint(.v4(IPv4Address(198, 18, 0, 1)), 40000),
                                         seq: 0x1122_3344, ack: 0, flags: TCPFlags.syn, window: 65535, options: options)
        let bytes = written(segment)
        XCTAssertEqual(bytes.count, 40)
        XCTAssertEqual(Array(bytes[0..<16]), [0x1f, 0x90, 0x9c, 0x40, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 0xa0, 0x02, 0xff, 0xff])
        XCTAssertEqual(Array(bytes[20...]), [2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7])
        try bytes.withUnsafeBytes { raw in
            let packet = try TCPPacket(raw)
            XCTAssertTrue(packet.verifyChecksum(.v4(source: IPv4Address(198, 18, 0, 2), destination: IPv4Address(198, 18, 0, 1))))
            XCTAssertEqual(packet.mss, 1460)
            XCTAssertEqual(packet.windowScale, 7)
        }
    }

    /// Payload from two pieces (a ring buffer's wrap), SACK blocks, IPv6 checksum.
    func testTwoPiecePayloadAndSACKOverIPv6() throws {
        let first: [UInt8] = [1, 2, 3]
        let second: [UInt8] = [4, 5]
        var options = TCPOutgoingOptions()
        options.timestamp = (7, 9)
        XCTAssertTrue(options.appendSACKBlock(TCPSACKBlock(left: 100, right: 200)))
        XCTAssertTrue(options.appendSACKBlock(TCPSACKBlock(left: 300, right: 400)))
        XCTAssertTrue(options.appendSACKBlock(TCPSACKBlock(left: 500, right: 600)))
        XCTAssertFalse(options.appendSACKBlock(TCPSACKBlock(left: 700, right: 800)))
        XCTAssertEqual(options.length, 40)
        let source = IPv6Address("2001:2::2")!, destination = IPv6Address("2001:2::1")!
        try first.withUnsafeBytes { a in
            try second.withUnsafeBytes { b in
                let segment = TCPOutgoingSegment(source: TCPEndpoint(.v6(source), 80), destination: TCPEndpoint(.v6(destination), 1234),
                                                 seq: 1, ack: 2, flags: TCPFlags.ack | TCPFlags.psh, window: 100,
                                                 options: options, payload: (a, b))
                let bytes = written(segment)
                XCTAssertEqual(bytes.count, 20 + 40 + 5)
                try bytes.withUnsafeBytes { raw in
                    let packet = try TCPPacket(raw)
                    XCTAssertEqual(Array(packet.payload), [1, 2, 3, 4, 5])
                    XCTAssertTrue(packet.verifyChecksum(.v6(source: source, destination: destination)))
                    let sack = packet.option(TCPOptionKind.sack).map(Array.init)
                    XCTAssertEqual(sack?.count, 24)
                    XCTAssertEqual(Array(sack![0..<8]), [0, 0, 0, 100, 0, 0, 0, 200])
                }
            }
        }
    }
}
