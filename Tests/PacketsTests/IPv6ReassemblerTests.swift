import Packets
import XCTest

/// IPv6Reassembler: the kernel's fragments of a ping, round trips through the fragmenter in
/// any order, and each rule of RFC 8200 section 4.5, RFC 5722, RFC 6946 and RFC 7112.
final class IPv6ReassemblerTests: XCTestCase {
    typealias F = IPv6Fragments

    /// A raw fragment (no link header): the fixed header, `before` (extension headers before
    /// the Fragment header), a Fragment header naming `proto`, then `data`.
    func fragment(offset: Int, more: Bool, id: UInt32 = 5, data: [UInt8], proto: UInt8 = IPProtocol.udp,
                  before: [IPv6ExtensionHeader] = []) -> [UInt8] {
        var bytes: [UInt8] = []
        IPv6Repr(src: F.source, dst: F.destination, proto: proto, payloadLength: data.count,
                 extensionHeaders: before + [.fragment(offset: UInt16(offset / 8), moreFragments: more, id: id)])
            .emit(appendingTo: &bytes)
        return bytes + data
    }

    /// A raw fragment with `header` put in front of its first extension header (the payload
    /// length and the fixed header's Next Header fixed up).
    func inserting(_ header: IPv6ExtensionHeader, into fragment: [UInt8]) -> [UInt8] {
        var bytes = Array(fragment[0..<40]) + [fragment[6]] + header.data + Array(fragment[40...])
        bytes[6] = header.type
        let length = bytes.count - 40
        bytes[4] = UInt8(length >> 8)
        bytes[5] = UInt8(length & 0xff)
        return bytes
    }

    func testTheKernelsFragmentsOfPing6Reassemble() throws {
        let frames = try Fixture.kernelFrames()
        let kernel = [frames[34], frames[35]]
        for order in [kernel, kernel.reversed()] {
            let reassembler = IPv6Reassembler()
            let whole = F.reassemble(order, networkOffset: 14, into: reassembler)
            XCTAssertEqual(whole.count, 1)
            let bytes = try XCTUnwrap(whole.first)
            XCTAssertEqual(bytes.count, 14 + 40 + 2008)
            XCTAssertEqual(Array(bytes.prefix(14 + 40 + 8)), [UInt8](hex: """
                02 00 00 00 00 0b 02 00 00 00 00 0a 86 dd
                60 07 60 92 07 d8 3a 40 20 01 00 02 00 00 00 00 00 00 00 00 00 00 00 01
                20 01 00 02 00 00 00 00 00 00 00 00 00 00 00 02
                80 00 1e c3 63 22 00 01
                """))
            XCTAssertEqual(Array(bytes[(14 + 40)..<(14 + 40 + 1448)]), Array(frames[34][(14 + 48)...]))
            XCTAssertEqual(Array(bytes[(14 + 40 + 1448)...]), Array(frames[35][(14 + 48)...]))
            try bytes.withUnsafeBytes { raw in
                let ip = try IPv6Packet(UnsafeRawBufferPointer(rebasing: raw[14...]))
                XCTAssertFalse(ip.hasFragmentHeader)
                XCTAssertEqual(ip.proto, IPProtocol.icmpv6)
                let icmp = try ICMPv6Packet(ip.payload)
                XCTAssertEqual(icmp.type, ICMPv6Type.echoRequest)
                XCTAssertTrue(icmp.verifyChecksum(ip.pseudoHeader))
            }
            XCTAssertEqual(reassembler.counters.fragments, 2)
            XCTAssertEqual(reassembler.counters.reassembled, 1)
            XCTAssertEqual(reassembler.pendingCount, 0)
        }
    }

    /// Fragment then reassemble gives the datagram back, whatever the order, with repeats.
    func testRoundTripsInEveryOrder() {
        var generator = SplitMix64(seed: 17)
        var cases: [(mtu: Int, udpLength: Int)] = []
        for mtu in [1280, 1281, 1500, 4000, 9000] {
            for udpLength in [mtu - 39, 2008, 9001, 40_000, 65_535] where 40 + udpLength > mtu {
                cases.append((mtu, udpLength))
            }
        }
        for _ in 0..<20 {
            cases.append((1280 + Int(generator.next() % 7721), 1241 + Int(generator.next() % (65_535 - 1240))))
        }
        for (mtu, udpLength) in cases {
            let original = F.ethernetHeader + F.udp(udpLength)
            let (outcome, out) = F.fragments(of: original, networkOffset: 14, mtu: mtu)
            guard 40 + udpLength > mtu else {
                XCTAssertEqual(outcome, .fits)
                continue
            }
            XCTAssertEqual(outcome, .fragmented(out.count), "\(udpLength) at \(mtu)")
            XCTAssertTrue(out.allSatisfy { $0.count <= 14 + mtu }, "\(udpLength) at \(mtu)")
            // Shuffled with repeats: each piece but the one that completes the datagram twice,
            // the repeat anywhere before that last piece.
            let shuffled = out.shuffled(using: &generator)
            var repeated = Array(shuffled.dropLast())
            for piece in shuffled.dropLast() { repeated.insert(piece, at: Int(generator.next() % UInt64(repeated.count + 1))) }
            repeated.append(shuffled[shuffled.count - 1])
            let orders = [out, out.reversed(), shuffled, repeated]
            for (index, order) in orders.enumerated() {
                let reassembler = IPv6Reassembler()
                let whole = F.reassemble(order, networkOffset: 14, into: reassembler)
                XCTAssertEqual(whole.count, 1, "\(udpLength) at \(mtu), order \(index)")
                XCTAssertTrue(whole.first == original, "\(udpLength) at \(mtu), order \(index)")
                XCTAssertEqual(reassembler.counters.overlapping, 0)
                XCTAssertEqual(reassembler.pendingCount, 0)
            }
            // The same fragments again once it is whole make a new datagram, as from the network.
            XCTAssertEqual(F.reassemble(out + out, networkOffset: 14, into: IPv6Reassembler()), [original, original])
        }
        // On tun: no link header.
        let datagram = F.udp(10_000, extensionHeaders: [F.hopByHop, F.routing])
        let (_, out) = F.fragments(of: datagram, networkOffset: 0, mtu: 1280)
        XCTAssertEqual(F.reassemble(out.shuffled(using: &generator), networkOffset: 0, into: IPv6Reassembler()),
                       [datagram])
    }

    func testOverlappingFragmentsDropTheDatagramAndExactRepeatsAreIgnored() {
        // 4000 bytes of UDP at 1280: 1232-byte pieces at 0, 1232, 2464, 3696.
        let (_, out) = F.fragments(of: F.udp(4000), networkOffset: 0, mtu: 1280)
        XCTAssertEqual(out.count, 4)
        let repeats = IPv6Reassembler()
        XCTAssertEqual(F.reassemble([out[0], out[0], out[3], out[2], out[2], out[1]], networkOffset: 0, into: repeats),
                       [F.udp(4000)])
        XCTAssertEqual(repeats.counters.overlapping, 0)
        XCTAssertEqual(repeats.counters.fragments, 6)
        XCTAssertEqual(repeats.pendingCount, 0)

        // The second piece moved 8 bytes back overlaps the first: nothing is reassembled,
        // not even once the right pieces come (the first is gone with the datagram).
        var shifted = out[1]
        shifted[40 + 2] = UInt8(((1224 / 8) << 3) >> 8)
        shifted[40 + 3] = UInt8(((1224 / 8) << 3) & 0xff) | 1
        let overlap = IPv6Reassembler()
        XCTAssertEqual(F.reassemble([out[0], shifted, out[1], out[2], out[3]], networkOffset: 0, into: overlap), [])
        XCTAssertEqual(overlap.counters.overlapping, 1)
        XCTAssertEqual(overlap.pendingCount, 1, "the later pieces wait for a first fragment that will not come")

        // The same place with other bytes is an overlap too (RFC 5722), not a repeat.
        var other = out[2]
        other[100] ^= 0xff
        let changed = IPv6Reassembler()
        XCTAssertEqual(F.reassemble([out[2], other, out[0], out[1], out[3]], networkOffset: 0, into: changed), [])
        XCTAssertEqual(changed.counters.overlapping, 1)
    }

    func testIncompleteDatagramsTimeOutAfter60Seconds() {
        let (_, out) = F.fragments(of: F.udp(3000), networkOffset: 0, mtu: 1500)
        let reassembler = IPv6Reassembler()
        XCTAssertEqual(F.reassemble([out[0]], networkOffset: 0, into: reassembler, now: 0), [])
        XCTAssertEqual(F.reassemble([out[1]], networkOffset: 0, into: reassembler, now: 59_000_000_000), [])
        XCTAssertEqual(F.reassemble([out[2]], networkOffset: 0, into: reassembler, now: 60_000_000_000), [F.udp(3000)])

        let late = IPv6Reassembler()
        XCTAssertEqual(F.reassemble([out[0], out[1]], networkOffset: 0, into: late, now: 0), [])
        XCTAssertEqual(F.reassemble([out[2]], networkOffset: 0, into: late, now: 60_000_000_001), [])
        XCTAssertEqual(late.counters.timedOut, 1)
        XCTAssertEqual(late.pendingCount, 1, "the last piece starts a datagram of its own")
        late.expire(now: 120_000_000_002)
        XCTAssertEqual(late.pendingCount, 0)
        XCTAssertEqual(late.counters.timedOut, 2)
    }

    func testPendingDatagramsAndBytesAreBoundedOldestFirst() {
        var limits = IPv6Reassembler.Limits()
        limits.maxPending = 4
        let reassembler = IPv6Reassembler(limits: limits)
        var firsts: [[UInt8]] = []
        for id in 0..<10 {
            let (_, out) = F.fragments(of: F.udp(3000), networkOffset: 0, mtu: 1500, identification: UInt32(id))
            XCTAssertEqual(F.reassemble([out[0]], networkOffset: 0, into: reassembler, now: Int64(id)), [])
            firsts.append(out[0])
        }
        XCTAssertEqual(reassembler.pendingCount, 4)
        XCTAssertEqual(reassembler.counters.evicted, 6)
        // The newest four are the ones kept.
        let (_, last) = F.fragments(of: F.udp(3000), networkOffset: 0, mtu: 1500, identification: 9)
        XCTAssertEqual(F.reassemble([last[1], last[2]], networkOffset: 0, into: reassembler, now: 10), [F.udp(3000)])
        let (_, oldest) = F.fragments(of: F.udp(3000), networkOffset: 0, mtu: 1500, identification: 0)
        XCTAssertEqual(F.reassemble([oldest[1], oldest[2]], networkOffset: 0, into: reassembler, now: 11), [])

        var small = IPv6Reassembler.Limits()
        small.maxBytes = 4000
        let bytes = IPv6Reassembler(limits: small)
        for id in 0..<3 {
            let (_, out) = F.fragments(of: F.udp(3000), networkOffset: 0, mtu: 1500, identification: UInt32(id))
            _ = F.reassemble([out[0], out[1]], networkOffset: 0, into: bytes, now: Int64(id))
        }
        // 2896 bytes held for each: one at a time fits in 4000.
        XCTAssertEqual(bytes.pendingCount, 1)
        XCTAssertEqual(bytes.counters.evicted, 2)
    }

    func testNothingPasses65535BytesOfPayload() {
        let reassembler = IPv6Reassembler()
        // 65,528 + 16: past the end.
        XCTAssertEqual(F.reassemble([fragment(offset: 65_528, more: false, data: [UInt8](repeating: 1, count: 16))],
                                    networkOffset: 0, into: reassembler), [])
        XCTAssertEqual(reassembler.counters.tooBig, 1)
        // 65,520 + 15 = 65,535 is the most; with an 8-byte Hop-by-Hop header in front, too much.
        let edge = fragment(offset: 65_520, more: false, data: [UInt8](repeating: 1, count: 15))
        XCTAssertEqual(F.reassemble([edge], networkOffset: 0, into: reassembler), [])
        XCTAssertEqual(reassembler.counters.tooBig, 1)
        XCTAssertEqual(reassembler.pendingCount, 1)
        XCTAssertEqual(F.reassemble([inserting(F.hopByHop, into: edge)], networkOffset: 0, into: reassembler), [])
        XCTAssertEqual(reassembler.counters.tooBig, 2)

        // Each fragment within the limit, but the first fragment's unfragmentable part
        // (longer than the others') makes the whole one too long.
        let (_, out) = F.fragments(of: F.udp(65_535), networkOffset: 0, mtu: 9000, identification: 6)
        let whole = IPv6Reassembler()
        XCTAssertEqual(F.reassemble([inserting(F.hopByHop, into: out[0])] + out.dropFirst(), networkOffset: 0,
                                    into: whole), [])
        XCTAssertEqual(whole.counters.tooBig, 1)
        XCTAssertEqual(whole.counters.reassembled, 0)
        XCTAssertEqual(whole.pendingCount, 0)
    }

    func testAMisalignedOrEmptyFragmentIsDiscardedAndTheRestStays() {
        let (_, out) = F.fragments(of: F.udp(3000), networkOffset: 0, mtu: 1500)
        // The middle fragment 3 bytes short: More Fragments set, 1445 bytes.
        var short = Array(out[1].dropLast(3))
        short[5] -= 3
        let empty = fragment(offset: 1448, more: true, id: 0x0102_0304, data: [])
        let reassembler = IPv6Reassembler()
        XCTAssertEqual(F.reassemble([out[0], short, empty, out[2]], networkOffset: 0, into: reassembler), [])
        XCTAssertEqual(reassembler.counters.inconsistent, 2)
        XCTAssertEqual(F.reassemble([out[1]], networkOffset: 0, into: reassembler), [F.udp(3000)])
    }

    func testDisagreeingLastFragmentsDropTheDatagram() {
        let (_, out) = F.fragments(of: F.udp(3000), networkOffset: 0, mtu: 1500)
        let early = fragment(offset: 1448, more: false, id: 0x0102_0304, data: [UInt8](repeating: 0, count: 16))
        let reassembler = IPv6Reassembler()
        XCTAssertEqual(F.reassemble([out[0], out[2], early, out[1]], networkOffset: 0, into: reassembler), [])
        XCTAssertEqual(reassembler.counters.inconsistent, 1)
    }

    func testAnAtomicFragmentIsAWholeDatagramAtOnce() {
        let reassembler = IPv6Reassembler()
        let (_, out) = F.fragments(of: F.udp(3000), networkOffset: 0, mtu: 1500, identification: 5)
        XCTAssertEqual(F.reassemble([out[0]], networkOffset: 0, into: reassembler), [])

        // Same source, destination and identification as the datagram being collected.
        let atomic = F.udp(100, extensionHeaders: [.fragment(offset: 0, moreFragments: false, id: 5)])
        XCTAssertEqual(F.reassemble([F.ethernetHeader + atomic], networkOffset: 14, into: reassembler),
                       [F.ethernetHeader + F.udp(100)])
        let behindHopByHop = F.udp(100, extensionHeaders: [F.hopByHop, .fragment(offset: 0, moreFragments: false, id: 5)])
        XCTAssertEqual(behindHopByHop[40], IPProtocol.ipv6Fragment)
        XCTAssertEqual(F.reassemble([behindHopByHop], networkOffset: 0, into: reassembler),
                       [F.udp(100, extensionHeaders: [F.hopByHop])])
        XCTAssertEqual(reassembler.counters.atomic, 2)
        XCTAssertEqual(reassembler.counters.fragments, 1)
        XCTAssertEqual(F.reassemble([out[1], out[2]], networkOffset: 0, into: reassembler), [F.udp(3000)])
    }

    func testAFirstFragmentWithoutTheUpperLayerHeaderIsDropped() {
        let reassembler = IPv6Reassembler()
        // 8 bytes of a 20-byte TCP header.
        let tcp = fragment(offset: 0, more: true, data: [UInt8](repeating: 0, count: 8), proto: IPProtocol.tcp)
        XCTAssertEqual(F.reassemble([tcp], networkOffset: 0, into: reassembler), [])
        // A Destination Options header of 2048 bytes cut after 1232: the chain does not end.
        let cut = fragment(offset: 0, more: true, data: [IPProtocol.udp, 255] + [UInt8](repeating: 0, count: 1230),
                           proto: IPProtocol.ipv6DestinationOptions)
        XCTAssertEqual(F.reassemble([cut], networkOffset: 0, into: reassembler), [])
        XCTAssertEqual(reassembler.counters.incompleteHeaderChain, 2)
        XCTAssertEqual(reassembler.pendingCount, 0)
        // 8 bytes hold a UDP header: kept.
        let udp = fragment(offset: 0, more: true, data: [UInt8](repeating: 0, count: 8))
        XCTAssertEqual(F.reassemble([udp], networkOffset: 0, into: reassembler), [])
        XCTAssertEqual(reassembler.counters.incompleteHeaderChain, 2)
        XCTAssertEqual(reassembler.pendingCount, 1)
    }

    func testTheFirstFragmentsHeadersAreKept() {
        // Extension headers before the Fragment header, and the one after it, come back.
        let headers = [F.hopByHop, F.destinationOptions, F.routing, F.destinationOptions]
        let original = F.udp(6000, extensionHeaders: headers)
        let (_, out) = F.fragments(of: original, networkOffset: 0, mtu: 1280)
        let reassembler = IPv6Reassembler()
        XCTAssertEqual(F.reassemble(out.reversed(), networkOffset: 0, into: reassembler), [original])

        // Only the offset-0 fragment's unfragmentable part and Next Header count (RFC 8200).
        let (_, plain) = F.fragments(of: F.udp(3000), networkOffset: 0, mtu: 1500)
        var others = plain.dropFirst().map { inserting(F.hopByHop, into: $0) }
        others[0][48] = IPProtocol.tcp
        XCTAssertEqual(F.reassemble(others + [plain[0]], networkOffset: 0, into: reassembler), [F.udp(3000)])
        XCTAssertEqual(F.reassemble([inserting(F.hopByHop, into: plain[0])] + plain.dropFirst(), networkOffset: 0,
                                    into: reassembler), [F.udp(3000, extensionHeaders: [F.hopByHop])])
    }

    func testTheFirstFragmentsLinkHeaderIsKept() {
        // The first fragment from a tap, the others from a tun, and the other way round.
        let (_, out) = F.fragments(of: F.udp(3000), networkOffset: 0, mtu: 1500)
        let reassembler = IPv6Reassembler()
        XCTAssertEqual(F.reassemble([F.ethernetHeader + out[0]], networkOffset: 14, into: reassembler), [])
        XCTAssertEqual(F.reassemble([out[2], out[1]], networkOffset: 0, into: reassembler), [F.ethernetHeader + F.udp(3000)])
        XCTAssertEqual(F.reassemble([out[0], out[1]], networkOffset: 0, into: reassembler), [])
        XCTAssertEqual(F.reassemble([F.ethernetHeader + out[2]], networkOffset: 14, into: reassembler), [F.udp(3000)])
    }

    func testWholeDatagramsAndJunkAreLeftAlone() {
        let reassembler = IPv6Reassembler()
        XCTAssertEqual(F.reassemble([F.udp(100), F.udp(3000, extensionHeaders: [F.hopByHop])], networkOffset: 0,
                                    into: reassembler), [])
        XCTAssertEqual(F.reassemble([[0x45] + [UInt8](repeating: 0, count: 60), [0x60, 0, 0]], networkOffset: 0,
                                    into: reassembler), [])
        // A Fragment header past the payload length.
        var past = fragment(offset: 8, more: true, data: [])
        past[5] = 0
        XCTAssertEqual(F.reassemble([past], networkOffset: 0, into: reassembler), [])
        XCTAssertEqual(reassembler.counters, IPv6Reassembler.Counters())

        var generator = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            var bytes = fragment(offset: 0, more: true, id: UInt32(generator.next() % 8),
                                 data: (0..<Int(generator.next() % 200)).map { _ in UInt8(truncatingIfNeeded: generator.next()) },
                                 proto: UInt8(truncatingIfNeeded: generator.next() % 64),
                                 before: generator.next() % 4 == 0 ? [F.hopByHop] : [])
            let at = bytes[6] == IPProtocol.hopByHop ? 48 : 40
            bytes[at + 2] = UInt8(truncatingIfNeeded: generator.next())
            bytes[at + 3] = UInt8(truncatingIfNeeded: generator.next())
            if generator.next() % 8 == 0 { bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next()) }
            _ = bytes.withUnsafeBytes { reassembler.add($0, networkOffset: 0, now: 0) }
        }
        XCTAssertLessThanOrEqual(reassembler.pendingCount, reassembler.limits.maxPending)
        XCTAssertGreaterThan(reassembler.counters.fragments, 10_000)
    }
}
