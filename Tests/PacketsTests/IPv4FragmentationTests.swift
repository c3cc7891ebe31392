import Packets
import XCTest

/// IPv4Fragmenter and IPv4Reassembler: fragments that tshark and the kernel would accept,
/// and reassembly that survives reordering, repeats, overlaps and floods of junk.
final class IPv4FragmentationTests: XCTestCase {
    let ethernetHeader: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]

    /// A datagram of `dataLength` payload bytes (a counting pattern), proto 17.
    func datagram(dataLength: Int, id: UInt16 = 0x1234, flags: UInt8 = 0, frag: UInt16 = 0,
                  options: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = []
        IPv4Repr(src: IPv4Address(198, 18, 0, 2), dst: IPv4Address(198, 18, 0, 1), proto: 17,
                 payloadLength: dataLength, id: id, flags: flags, frag: frag, options: options)
            .emit(appendingTo: &bytes)
        bytes += (0..<dataLength).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        return bytes
    }

    func fragments(of frame: [UInt8], networkOffset: Int, mtu: Int, identification: UInt16 = 77)
        -> (IPv4Fragmenter.Outcome, [[UInt8]]) {
        var out: [[UInt8]] = []
        var scratch = [UInt8](repeating: 0, count: networkOffset + mtu)
        let outcome = frame.withUnsafeBytes { bytes in
            scratch.withUnsafeMutableBytes { scratch in
                IPv4Fragmenter.fragment(bytes, networkOffset: networkOffset, mtu: mtu, identification: identification,
                                        scratch: scratch) { fragment in
                    out.append(Array(fragment))
                    return true
                }
            }
        }
        return (outcome, out)
    }

    func reassemble(_ fragments: [[UInt8]], networkOffset: Int, into reassembler: IPv4Reassembler,
                    now: Int64 = 0) -> [[UInt8]] {
        fragments.compactMap { fragment in
            fragment.withUnsafeBytes { reassembler.add($0, networkOffset: networkOffset, now: now) }
        }
    }

    func testADatagramWithinTheMTUIsLeftAlone() {
        let (outcome, out) = fragments(of: datagram(dataLength: 1480), networkOffset: 0, mtu: 1500)
        XCTAssertEqual(outcome, .fits)
        XCTAssertTrue(out.isEmpty)
    }

    func testA3000ByteDatagramBecomesThreeValidFragmentsOnEthernet() throws {
        let original = ethernetHeader + datagram(dataLength: 3008)
        let (outcome, out) = fragments(of: original, networkOffset: 14, mtu: 1500)
        XCTAssertEqual(outcome, .fragmented(3))
        XCTAssertEqual(out.map(\.count), [14 + 1500, 14 + 1500, 14 + 20 + 3008 - 2960])
        var offsets: [UInt16] = []
        for fragment in out {
            XCTAssertEqual(Array(fragment[0..<14]), ethernetHeader)
            try fragment.withUnsafeBytes { bytes in
                let packet = try IPv4Packet(UnsafeRawBufferPointer(rebasing: bytes[14...]))
                XCTAssertTrue(packet.verifyChecksum())
                XCTAssertEqual(packet.id, 0x1234)
                XCTAssertFalse(packet.dontFragment)
                offsets.append(packet.frag)
                XCTAssertEqual(packet.moreFragments, fragment != out.last)
            }
        }
        XCTAssertEqual(offsets, [0, 185, 370])
        let whole = reassemble(out.reversed(), networkOffset: 14, into: IPv4Reassembler())
        XCTAssertEqual(whole, [original])
    }

    func testDontFragmentOrAnMTUWithNoRoomIsRefused() {
        XCTAssertEqual(fragments(of: datagram(dataLength: 2000, flags: 2), networkOffset: 0, mtu: 1500).0,
                       .tooBigDontFragment)
        XCTAssertEqual(fragments(of: datagram(dataLength: 200), networkOffset: 0, mtu: 24).0, .tooBigDontFragment)
    }

    func testIdentificationZeroIsReplacedAndOnlyCopiedOptionsRepeat() throws {
        // Security (type 130, copied) and Record Route (type 7, not copied).
        let options: [UInt8] = [130, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0, 0]
        let (outcome, out) = fragments(of: datagram(dataLength: 2000, id: 0, options: options), networkOffset: 0,
                                       mtu: 1000, identification: 4242)
        XCTAssertEqual(outcome, .fragmented(3))
        for (index, fragment) in out.enumerated() {
            try fragment.withUnsafeBytes { bytes in
                let packet = try IPv4Packet(bytes)
                XCTAssertEqual(packet.id, 4242)
                XCTAssertTrue(packet.verifyChecksum())
                XCTAssertEqual(packet.headerLength, index == 0 ? 40 : 32)
                if index > 0 { XCTAssertEqual(Array(packet.options), Array(options[0..<11]) + [0]) }
            }
        }
        let whole = reassemble(out, networkOffset: 0, into: IPv4Reassembler())
        XCTAssertEqual(whole.first?.count, 40 + 2000)
    }

    func testFragmentingAFragmentKeepsItsOffsetAndMoreFragments() throws {
        let (outcome, out) = fragments(of: datagram(dataLength: 1600, flags: 1, frag: 100), networkOffset: 0, mtu: 1000)
        XCTAssertEqual(outcome, .fragmented(2))
        try out[1].withUnsafeBytes { bytes in
            let packet = try IPv4Packet(bytes)
            XCTAssertEqual(packet.frag, 100 + 122)
            XCTAssertTrue(packet.moreFragments)
        }
    }

    func testReassemblyIgnoresRepeatsAndDropsOverlaps() {
        let (_, out) = fragments(of: datagram(dataLength: 4000), networkOffset: 0, mtu: 1500)
        let reassembler = IPv4Reassembler()
        XCTAssertEqual(reassemble([out[0], out[0], out[2], out[1]], networkOffset: 0, into: reassembler).count, 1)
        XCTAssertEqual(reassembler.counters.reassembled, 1)

        // A fragment overlapping another (offset 8 into the first) drops the datagram.
        var overlapping = out[1]
        overlapping.withUnsafeMutableBytes { bytes in
            bytes.storeBytes(of: UInt16(0x2000 | 1).bigEndian, toByteOffset: 6, as: UInt16.self)
        }
        let other = IPv4Reassembler()
        XCTAssertEqual(reassemble([out[0], overlapping, out[1], out[2]], networkOffset: 0, into: other).count, 0)
        XCTAssertEqual(other.counters.overlapping, 1)
    }

    func testIncompleteDatagramsTimeOutAndPendingIsBounded() {
        var limits = IPv4Reassembler.Limits()
        limits.maxPending = 4
        let reassembler = IPv4Reassembler(limits: limits)
        for id in 0..<10 {
            let (_, out) = fragments(of: datagram(dataLength: 3000, id: UInt16(id + 1)), networkOffset: 0, mtu: 1500)
            _ = reassemble([out[0]], networkOffset: 0, into: reassembler, now: Int64(id))
        }
        XCTAssertEqual(reassembler.pendingCount, 4)
        XCTAssertEqual(reassembler.counters.evicted, 6)
        reassembler.expire(now: 31_000_000_000)
        XCTAssertEqual(reassembler.pendingCount, 0)
        XCTAssertEqual(reassembler.counters.timedOut, 4)
    }

    func testAPingOfDeathAndMisalignedFragmentsAreDropped() {
        // The last fragment at offset 65,528 with 100 bytes would make a 65,648-byte datagram.
        let death = datagram(dataLength: 100, frag: 8191)
        let reassembler = IPv4Reassembler()
        XCTAssertEqual(reassemble([death], networkOffset: 0, into: reassembler).count, 0)
        XCTAssertEqual(reassembler.counters.tooBig, 1)
        XCTAssertEqual(reassemble([datagram(dataLength: 13, flags: 1)], networkOffset: 0, into: reassembler).count, 0)
        XCTAssertEqual(reassembler.counters.inconsistent, 1)
        XCTAssertEqual(reassembler.pendingCount, 0)
    }

    func testRandomFragmentJunkNeverTrapsAndStaysBounded() {
        var generator = SplitMix64(seed: 7)
        let reassembler = IPv4Reassembler()
        for _ in 0..<20_000 {
            var bytes = datagram(dataLength: Int(generator.next() % 200), id: UInt16(generator.next() % 8))
            bytes.withUnsafeMutableBytes { buffer in
                buffer.storeBytes(of: UInt16(truncatingIfNeeded: generator.next() & 0x3fff).bigEndian,
                                  toByteOffset: 6, as: UInt16.self)
            }
            _ = bytes.withUnsafeBytes { reassembler.add($0, networkOffset: 0, now: 0) }
        }
        XCTAssertLessThanOrEqual(reassembler.pendingCount, reassembler.limits.maxPending)
    }
}
