import XCTest
@testable import Packets

/// The header-only emitters the Lua builders and replies write through: a given checksum
/// kept, a transport checksum filled only when 0, raw flags and options.
final class HeaderEmitTests: XCTestCase {
    private let v4 = IPPseudoHeader.v4(source: IPv4Address("198.18.0.1")!, destination: IPv4Address("198.18.0.2")!)

    /// `payload` placed after `headerLength` bytes, then `emit` writes the header.
    private func emitted(_ headerLength: Int, _ payload: [UInt8], _ emit: (UnsafeMutableRawBufferPointer) -> Bool) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xaa, count: headerLength) + payload
        let written = bytes.withUnsafeMutableBytes { emit($0) }
        XCTAssertTrue(written)
        return bytes
    }

    func testUDPHeaderAroundAPayloadInPlaceEqualsTheOwnedEmit() {
        let payload: [UInt8] = Array("hello".utf8)
        var owned: [UInt8] = []
        UDPRepr(sport: 40000, dport: 7, payload: payload).emit(appendingTo: &owned, pseudoHeader: v4)
        let inPlace = emitted(8, payload) {
            UDPRepr(sport: 40000, dport: 7).emitHeader(into: $0, payloadLength: payload.count, pseudoHeader: v4)
        }
        XCTAssertEqual(inPlace, owned)
        owned.withUnsafeBytes { XCTAssertTrue(try! UDPPacket($0).verifyChecksum(v4)) }
    }

    func testAGivenTransportChecksumIsKeptAndZeroIsFilled() {
        let kept = emitted(8, [1, 2]) {
            UDPRepr(sport: 1, dport: 2, checksum: 0x1234).emitHeader(into: $0, payloadLength: 2, pseudoHeader: v4)
        }
        XCTAssertEqual(Array(kept[6...7]), [0x12, 0x34])
        let filled = emitted(8, [1, 2]) {
            UDPRepr(sport: 1, dport: 2, checksum: 0).emitHeader(into: $0, payloadLength: 2, pseudoHeader: v4)
        }
        filled.withUnsafeBytes { XCTAssertTrue(try! UDPPacket($0).verifyChecksum(v4)) }
        let alone = emitted(8, [1, 2]) {
            UDPRepr(sport: 1, dport: 2).emitHeader(into: $0, payloadLength: 2, pseudoHeader: nil)
        }
        XCTAssertEqual(Array(alone[6...7]), [0, 0], "no pseudo-header: left 0 for the IP layer to fill")
    }

    func testAUDPSumOfZeroIsSentAsAllOnes() {
        // Ports and length chosen so the datagram and pseudo-header sum to 0xffff.
        let zero = IPPseudoHeader.v4(source: .any, destination: .any)
        let bytes = emitted(8, []) {
            UDPRepr(sport: 0, dport: 0xffff - 17 - 8 - 8).emitHeader(into: $0, payloadLength: 0, pseudoHeader: zero)
        }
        XCTAssertEqual(Array(bytes[6...7]), [0xff, 0xff])
    }

    func testTCPKeepsRawFlagsAndPadsOptions() {
        let segment = emitted(24, Array("data".utf8)) {
            TCPRepr(sport: 1, dport: 2, seq: 0xffff_ffff, ack: 1, flags: 0x1ff, window: 0, urg: 7, options: [1, 1, 1],
                    checksum: 9).emitHeader(into: $0, payloadLength: 4, pseudoHeader: v4)
        }
        XCTAssertEqual(Array(segment[12...13]), [0x61, 0xff], "data offset 6, all nine flags")
        XCTAssertEqual(Array(segment[16...17]), [0, 9], "the checksum given")
        XCTAssertEqual(Array(segment[20...23]), [1, 1, 1, 0], "options padded with End of Options")
    }

    func testIPv4KeepsAGivenHeaderChecksumAndComputesOneOtherwise() {
        var header = IPv4Repr(src: IPv4Address("198.18.0.2")!, dst: IPv4Address("198.18.0.1")!, proto: 17,
                              payloadLength: 8, checksum: 0x4242)
        var given: [UInt8] = []
        header.emit(appendingTo: &given)
        XCTAssertEqual(Array(given[10...11]), [0x42, 0x42])
        header.checksum = nil
        var computed: [UInt8] = []
        header.emit(appendingTo: &computed)
        let datagram = computed + [UInt8](repeating: 0, count: 8)
        datagram.withUnsafeBytes { XCTAssertTrue(try! IPv4Packet($0).verifyChecksum()) }
    }

    func testICMPv4ChecksumGivenOrComputedOverThePayloadInPlace() {
        let given = emitted(8, Array("orig".utf8)) {
            ICMPv4Repr(type: 3, code: 4, checksum: 0x5555).emitHeader(into: $0, payloadLength: 4)
        }
        XCTAssertEqual(Array(given[2...3]), [0x55, 0x55])
        let computed = emitted(8, Array("ping".utf8)) {
            ICMPv4Repr.echoRequest(id: 1, seq: 2, data: []).emitHeader(into: $0, payloadLength: 4)
        }
        computed.withUnsafeBytes { XCTAssertTrue(ICMPv4Packet(unchecked: $0).verifyChecksum()) }
    }

    func testICMPv6TargetAndLinkLayerOptionOnlyWhenGiven() {
        let mac = MACAddress("02:54:41:50:49:52")!
        let advertisement = ICMPv6Repr(type: ICMPv6Type.neighborAdvertisement, rest: 0x6000_0000,
                                       target: IPv6Address("2001:2::2")!, targetLinkLayerAddress: mac)
        XCTAssertEqual(advertisement.headerLength, 32)
        let echo = ICMPv6Repr(type: ICMPv6Type.echoRequest, rest: 0x0005_0006)
        XCTAssertEqual(echo.headerLength, 8)
        let bytes = emitted(32, []) { advertisement.emitHeader(into: $0, payloadLength: 0, pseudoHeader: nil) }
        XCTAssertEqual(Array(bytes[24...25]), [NDOption.targetLinkLayerAddress, 1])
        XCTAssertEqual(Array(bytes[2...3]), [0, 0], "left for the IPv6 layer")
    }

    func testTheTransportFillLeavesOtherProtocolsAndShortSegmentsAlone() {
        var short: [UInt8] = [0, 0, 0, 0]
        short.withUnsafeMutableBytes { v4.fillTransportChecksumIfZero(protocol: IPProtocol.udp, segment: $0) }
        XCTAssertEqual(short, [0, 0, 0, 0])
        var other = [UInt8](repeating: 0, count: 20)
        other.withUnsafeMutableBytes { v4.fillTransportChecksumIfZero(protocol: 47, segment: $0) }
        XCTAssertEqual(other, [UInt8](repeating: 0, count: 20))
    }

    func testAVLANTagIsItsTCIThenTheNextEtherType() {
        let bytes = emitted(4, []) { VLANTag(pcp: 5, dei: true, id: 100).emit(into: $0, followedBy: EtherType.arp) }
        XCTAssertEqual(bytes, [0xb0, 0x64, 0x08, 0x06])
    }
}
