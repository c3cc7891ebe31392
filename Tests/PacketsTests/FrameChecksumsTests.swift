import Foundation
import XCTest
@testable import Packets

final class FrameChecksumsTests: XCTestCase {
    private let source = IPv4Address("198.18.0.1")!
    private let destination = IPv4Address("198.18.0.2")!

    private func udpFrame(checksum: UInt16? = nil, headerChecksum: UInt16? = nil) -> [UInt8] {
        let udp = UDPRepr(sport: 40000, dport: 7, payload: Array("hello".utf8))
        let ip = IPv4Repr(src: source, dst: destination, proto: IPProtocol.udp, payloadLength: udp.bufferLength,
                          checksum: headerChecksum)
        var bytes: [UInt8] = []
        EthernetRepr(src: MACAddress("02:00:00:00:00:01")!, dst: MACAddress("02:00:00:00:00:02")!,
                     type: EtherType.ipv4).emit(appendingTo: &bytes)
        ip.emit(appendingTo: &bytes)
        udp.emit(appendingTo: &bytes, pseudoHeader: ip.pseudoHeader)
        if let checksum {
            bytes[14 + 20 + 6] = UInt8(checksum >> 8)
            bytes[14 + 20 + 7] = UInt8(checksum & 0xff)
        }
        return bytes
    }

    private func checksums(_ bytes: [UInt8]) -> FrameChecksums {
        bytes.withUnsafeBytes { FrameChecksums($0, FrameDecoder.decode($0, linkType: .ethernet)) }
    }

    func testAGoodDatagramVerifies() {
        let result = checksums(udpFrame())
        XCTAssertEqual(result.ipHeader, true)
        XCTAssertEqual(result.transport, true)
        XCTAssertTrue(result.allVerify)
    }

    func testABadUDPChecksumFailsAndZeroOverIPv4MeansNone() {
        XCTAssertEqual(checksums(udpFrame(checksum: 0x1234)).transport, false)
        XCTAssertFalse(checksums(udpFrame(checksum: 0x1234)).allVerify)
        XCTAssertEqual(checksums(udpFrame(checksum: 0)).transport, true)
    }

    func testABadIPv4HeaderChecksumFails() {
        let result = checksums(udpFrame(headerChecksum: 0x4242))
        XCTAssertEqual(result.ipHeader, false)
        XCTAssertFalse(result.allVerify)
    }

    func testTheKernelsOwnFramesAllVerify() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/kernel-frames.pcap")
        let records = try TinyPcap.read(Array(try Data(contentsOf: url))).records
        XCTAssertGreaterThan(records.count, 40)
        var transports = 0
        for record in records {
            let result = checksums(record.bytes)
            XCTAssertTrue(result.allVerify, "\(record.bytes.count)-byte frame")
            if result.transport != nil { transports += 1 }
        }
        XCTAssertGreaterThan(transports, 20, "ICMP, ICMPv6, UDP and TCP checksums were checked")
    }

    func testAFragmentsTransportIsNotChecked() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/kernel-frames.pcap")
        let records = try TinyPcap.read(Array(try Data(contentsOf: url))).records
        let fragment = records[28]  // frame 29: the first IPv4 fragment of a 3000-byte ping
        let result = checksums(fragment.bytes)
        XCTAssertEqual(result.ipHeader, true)
        XCTAssertNil(result.transport)
    }
}
