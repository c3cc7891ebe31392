import XCTest
@testable import Packets

/// OffloadUndo against the rules of the kernel's own segmentation (tcp_gso_segment): the
/// pieces of a super-segment, put back together, are the original payload; each is a
/// valid packet (checksums verify) with its own sequence number, IPv4 id and length,
/// CWR on the first only, PSH and FIN on the last only. A partial checksum, completed,
/// is the one the packet had before the kernel's offload left it partial.
final class OffloadUndoTests: XCTestCase {
    private let v4Source = IPv4Address("198.18.0.1")!
    private let v4Destination = IPv4Address("198.18.0.2")!

    private func superSegment(payload: [UInt8], ipv6: Bool, flags: UInt16, options: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = []
        EthernetRepr(src: MACAddress("02:00:00:00:00:01")!, dst: MACAddress("02:54:41:50:49:52")!,
                     type: ipv6 ? EtherType.ipv6 : EtherType.ipv4).emit(appendingTo: &bytes)
        let tcp = TCPRepr(sport: 40000, dport: 9, seq: 0xffff_f000, ack: 77, flags: flags, options: options,
                          payload: payload, checksum: 0x1234)  // a partial sum stands there; recomputed
        var segment: [UInt8] = []
        if ipv6 {
            let source = IPv6Address("2001:2::1")!, destination = IPv6Address("2001:2::2")!
            tcp.emit(appendingTo: &segment, pseudoHeader: .v6(source: source, destination: destination))
            IPv6Repr(src: source, dst: destination, proto: IPProtocol.tcp, payloadLength: segment.count)
                .emit(appendingTo: &bytes)
        } else {
            tcp.emit(appendingTo: &segment, pseudoHeader: .v4(source: v4Source, destination: v4Destination))
            IPv4Repr(src: v4Source, dst: v4Destination, proto: IPProtocol.tcp, payloadLength: segment.count, id: 0xfffe)
                .emit(appendingTo: &bytes)
        }
        return bytes + segment
    }

    private func cut(_ frame: [UInt8], size: Int) -> [[UInt8]] {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 70_000, alignment: 16)
        defer { scratch.deallocate() }
        var pieces: [[UInt8]] = []
        let done = frame.withUnsafeBytes { bytes in
            OffloadUndo.segmentTCP(bytes, FrameDecoder.decode(bytes, linkType: .ethernet), segmentSize: size,
                                   into: scratch) { pieces.append(Array($0)) }
        }
        XCTAssertTrue(done)
        return pieces
    }

    func testASuperSegmentIsCutIntoValidSegmentsThatAddUpToItsPayload() throws {
        for ipv6 in [false, true] {
            let payload = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let frame = superSegment(payload: payload, ipv6: ipv6,
                                     flags: TCPFlags.ack | TCPFlags.psh | TCPFlags.fin | TCPFlags.cwr,
                                     options: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2])
            let pieces = cut(frame, size: 1448)
            XCTAssertEqual(pieces.count, 7, "10000 bytes in 1448-byte pieces")
            var joined: [UInt8] = []
            for (index, piece) in pieces.enumerated() {
                try piece.withUnsafeBytes { bytes in
                    let decoded = FrameDecoder.decode(bytes, linkType: .ethernet)
                    XCTAssertFalse(decoded.isMalformed)
                    let checks = FrameChecksums(bytes, decoded)
                    XCTAssertTrue(checks.allVerify, "piece \(index) (ipv6 \(ipv6)): \(checks)")
                    let tcp = try XCTUnwrap(decoded.tcp(bytes))
                    XCTAssertEqual(tcp.seq, 0xffff_f000 &+ UInt32(index * 1448), "sequence numbers wrap as they go")
                    XCTAssertEqual(tcp.flags & TCPFlags.cwr != 0, index == 0)
                    XCTAssertEqual(tcp.flags & (TCPFlags.psh | TCPFlags.fin) != 0, index == pieces.count - 1)
                    XCTAssertEqual(tcp.flags & TCPFlags.ack, TCPFlags.ack)
                    XCTAssertEqual(tcp.options.count, 12, "options are kept on every piece")
                    if !ipv6 {
                        XCTAssertEqual(try XCTUnwrap(decoded.ipv4(bytes)).id, 0xfffe &+ UInt16(index))
                    }
                    XCTAssertLessThanOrEqual(tcp.payload.count, 1448)
                    joined += tcp.payload
                }
            }
            XCTAssertEqual(joined, payload)
        }
    }

    func testAPayloadOfExactlyOneSegmentComesOutAsItselfWithItsChecksumsComplete() throws {
        let frame = superSegment(payload: [UInt8](repeating: 0x61, count: 1000), ipv6: false, flags: TCPFlags.ack)
        let pieces = cut(frame, size: 1448)
        XCTAssertEqual(pieces.count, 1)
        XCTAssertEqual(pieces[0].count, frame.count)
        pieces[0].withUnsafeBytes { bytes in
            XCTAssertTrue(FrameChecksums(bytes, FrameDecoder.decode(bytes, linkType: .ethernet)).allVerify)
        }
    }

    func testWhatIsNotATCPDatagramIsRefusedAndNothingIsHandedOn() {
        var udp: [UInt8] = []
        UDPRepr(sport: 1, dport: 2, payload: [1, 2, 3]).emit(appendingTo: &udp, pseudoHeader: .v4(source: v4Source, destination: v4Destination))
        var frame: [UInt8] = []
        EthernetRepr(src: MACAddress("02:00:00:00:00:01")!, dst: MACAddress("02:54:41:50:49:52")!,
                     type: EtherType.ipv4).emit(appendingTo: &frame)
        IPv4Repr(src: v4Source, dst: v4Destination, proto: IPProtocol.udp, payloadLength: udp.count)
            .emit(appendingTo: &frame)
        frame += udp
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 2000, alignment: 16)
        defer { scratch.deallocate() }
        var calls = 0
        frame.withUnsafeBytes { bytes in
            XCTAssertFalse(OffloadUndo.segmentTCP(bytes, FrameDecoder.decode(bytes, linkType: .ethernet),
                                                  segmentSize: 100, into: scratch) { _ in calls += 1 })
            XCTAssertFalse(OffloadUndo.segmentTCP(bytes, FrameDecoder.decode(bytes, linkType: .ethernet),
                                                  segmentSize: 0, into: scratch) { _ in calls += 1 })
        }
        XCTAssertEqual(calls, 0)
    }

    /// What the kernel does to a checksum it offloads (CHECKSUM_PARTIAL): the field holds
    /// the pseudo-header sum, uncomplemented; completing it gives back the full checksum.
    func testACompletedPartialChecksumIsTheFullOne() throws {
        for (proto, checksumAt) in [(IPProtocol.tcp, TCPField.checksum), (IPProtocol.udp, UDPField.checksum)] {
            let pseudo = IPPseudoHeader.v4(source: v4Source, destination: v4Destination)
            var transport: [UInt8] = []
            if proto == IPProtocol.tcp {
                TCPRepr(sport: 5, dport: 6, seq: 1, flags: TCPFlags.ack, payload: Array("partial".utf8))
                    .emit(appendingTo: &transport, pseudoHeader: pseudo)
            } else {
                UDPRepr(sport: 5, dport: 6, payload: Array("partial!".utf8)).emit(appendingTo: &transport, pseudoHeader: pseudo)
            }
            var frame: [UInt8] = []
            EthernetRepr(src: MACAddress("02:00:00:00:00:01")!, dst: MACAddress("02:54:41:50:49:52")!,
                         type: EtherType.ipv4).emit(appendingTo: &frame)
            IPv4Repr(src: v4Source, dst: v4Destination, proto: proto, payloadLength: transport.count)
                .emit(appendingTo: &frame)
            let start = frame.count
            frame += transport
            let full = frame
            let partial = pseudo.sum(protocol: proto, length: transport.count)
            frame[start + checksumAt] = UInt8(partial >> 8)
            frame[start + checksumAt + 1] = UInt8(partial & 0xff)
            XCTAssertNotEqual(frame, full)
            frame.withUnsafeMutableBytes { bytes in
                XCTAssertTrue(OffloadUndo.completeChecksum(bytes, start: start, offset: checksumAt, end: bytes.count,
                                                           udp: proto == IPProtocol.udp))
            }
            XCTAssertEqual(frame, full, "protocol \(proto)")
            frame.withUnsafeMutableBytes { bytes in
                XCTAssertFalse(OffloadUndo.completeChecksum(bytes, start: start, offset: 5000, end: bytes.count),
                               "an offset past the frame is refused")
            }
            XCTAssertEqual(frame, full)
        }
    }
}
