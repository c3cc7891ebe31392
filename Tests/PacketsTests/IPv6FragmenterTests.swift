import Foundation
import Packets
import XCTest

/// Datagrams and helpers shared by the IPv6 fragmenter and reassembler tests.
enum IPv6Fragments {
    static let ethernetHeader: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd]
    static let source = IPv6Address("2001:2::2")!
    static let destination = IPv6Address("2001:2::1")!
    static var pseudoHeader: IPPseudoHeader { .v6(source: source, destination: destination) }

    /// A Hop-by-Hop header with Router Alert (8 bytes).
    static let hopByHop = IPv6ExtensionHeader.options(type: IPProtocol.hopByHop, [5, 2, 0, 0])
    /// A Destination Options header with only padding (8 bytes).
    static let destinationOptions = IPv6ExtensionHeader.options(type: IPProtocol.ipv6DestinationOptions, [])
    /// A Segment Routing header (RFC 8754) with one segment, the destination, and none left
    /// to visit (24 bytes).
    static let routing = IPv6ExtensionHeader(type: IPProtocol.ipv6Route,
                                             data: [2, 4, 0, 0, 0, 0, 0] + [0x20, 0x01, 0, 2] + [UInt8](repeating: 0, count: 11) + [1])

    /// An IPv6 datagram carrying a UDP datagram of `udpLength` bytes (header included) with
    /// a counting pattern and its checksum, behind `extensionHeaders`.
    static func udp(_ udpLength: Int, extensionHeaders: [IPv6ExtensionHeader] = [], hlim: UInt8 = 64) -> [UInt8] {
        let data = (0..<(udpLength - 8)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }
        var bytes: [UInt8] = []
        IPv6Repr(src: source, dst: destination, proto: IPProtocol.udp, payloadLength: udpLength, hlim: hlim,
                 tc: 0xb8, flow: 0x12345, extensionHeaders: extensionHeaders).emit(appendingTo: &bytes)
        UDPRepr(sport: 4242, dport: 7, payload: data).emit(appendingTo: &bytes, pseudoHeader: pseudoHeader)
        return bytes
    }

    /// An IPv6 datagram carrying an ICMPv6 echo request with `dataLength` bytes of data.
    static func echoRequest(_ dataLength: Int) -> [UInt8] {
        let data = (0..<dataLength).map { UInt8(truncatingIfNeeded: $0) }
        var bytes: [UInt8] = []
        IPv6Repr(src: source, dst: destination, proto: IPProtocol.icmpv6, payloadLength: 8 + dataLength)
            .emit(appendingTo: &bytes)
        ICMPv6Repr.echoRequest(id: 0x6322, seq: 1, data: data).emit(appendingTo: &bytes, pseudoHeader: pseudoHeader)
        return bytes
    }

    static func fragments(of frame: [UInt8], networkOffset: Int, mtu: Int, identification: UInt32 = 0x0102_0304,
                          scratchLength: Int? = nil) -> (IPv6Fragmenter.Outcome, [[UInt8]]) {
        var out: [[UInt8]] = []
        var scratch = [UInt8](repeating: 0, count: scratchLength ?? networkOffset + mtu)
        let outcome = frame.withUnsafeBytes { bytes in
            scratch.withUnsafeMutableBytes { scratch in
                IPv6Fragmenter.fragment(bytes, networkOffset: networkOffset, mtu: mtu, identification: identification,
                                        scratch: scratch) { fragment in
                    out.append(Array(fragment))
                    return true
                }
            }
        }
        return (outcome, out)
    }

    /// What the reassembler returned for each fragment, in order, nils left out.
    static func reassemble(_ fragments: [[UInt8]], networkOffset: Int, into reassembler: IPv6Reassembler,
                           now: Int64 = 0) -> [[UInt8]] {
        fragments.compactMap { fragment in
            fragment.withUnsafeBytes { reassembler.add($0, networkOffset: networkOffset, now: now) }
        }
    }

    /// A classic pcap file of `frames` (microsecond stamps one apart).
    static func pcap(_ frames: [[UInt8]], linkType: UInt32) -> Data {
        var bytes: [UInt8] = []
        func u32(_ value: UInt32) { bytes += withUnsafeBytes(of: value.littleEndian, Array.init) }
        func u16(_ value: UInt16) { bytes += withUnsafeBytes(of: value.littleEndian, Array.init) }
        u32(0xa1b2_c3d4); u16(2); u16(4); u32(0); u32(0); u32(262_144); u32(linkType)
        for (index, frame) in frames.enumerated() {
            u32(1_795_646_478); u32(UInt32(index)); u32(UInt32(frame.count)); u32(UInt32(frame.count))
            bytes += frame
        }
        return Data(bytes)
    }
}

/// IPv6Fragmenter: the kernel's own fragments rebuilt byte for byte, the unfragmentable part
/// repeated, the rest cut in 8-byte units, refusals, and tshark's reading of the result.
final class IPv6FragmenterTests: XCTestCase {
    typealias F = IPv6Fragments

    func testADatagramWithinTheMTUOrNotIPv6IsLeftAlone() {
        let (outcome, out) = F.fragments(of: F.udp(1460), networkOffset: 0, mtu: 1500)
        XCTAssertEqual(outcome, .fits)
        XCTAssertTrue(out.isEmpty)
        XCTAssertEqual(F.fragments(of: [UInt8](repeating: 0x45, count: 3000), networkOffset: 0, mtu: 1500).0, .fits)
        XCTAssertEqual(F.fragments(of: Array(F.udp(3000).prefix(2000)), networkOffset: 0, mtu: 1500).0, .fits,
                       "a payload length past the bytes: not a datagram to cut")
        XCTAssertEqual(F.fragments(of: F.udp(3000), networkOffset: 2990, mtu: 1500).0, .fits)
    }

    /// Frames 35 and 36 of the fixture are the kernel's fragments of `ping -6 -s 2000` on a
    /// 1500-byte link; the datagram they make, fragmented with their identification, gives
    /// them back exactly.
    func testTheKernelsFragmentsOfPing6AreRebuiltByteForByte() throws {
        let frames = try Fixture.kernelFrames()
        let kernel = [frames[34], frames[35]]
        let whole = F.reassemble(kernel, networkOffset: 14, into: IPv6Reassembler())
        XCTAssertEqual(whole.count, 1)
        let (outcome, out) = F.fragments(of: try XCTUnwrap(whole.first), networkOffset: 14, mtu: 1500,
                                         identification: 0x1bdc_c2be)
        XCTAssertEqual(outcome, .fragmented(2))
        XCTAssertEqual(out, kernel)
    }

    func testA3000ByteUDPDatagramBecomesThreeFragmentsOnEthernet() throws {
        let original = F.ethernetHeader + F.udp(3000)
        let (outcome, out) = F.fragments(of: original, networkOffset: 14, mtu: 1500)
        XCTAssertEqual(outcome, .fragmented(3))
        // 1448 bytes of data (181 units) fit behind 48 bytes of headers in 1500.
        XCTAssertEqual(out.map(\.count), [14 + 1496, 14 + 1496, 14 + 48 + 104])
        XCTAssertEqual(Array(out[0].prefix(14 + 48 + 8)), [UInt8](hex: """
            02 00 00 00 00 01 02 00 00 00 00 02 86 dd
            6b 81 23 45 05 b0 2c 40 20 01 00 02 00 00 00 00 00 00 00 00 00 00 00 02
            20 01 00 02 00 00 00 00 00 00 00 00 00 00 00 01
            11 00 00 01 01 02 03 04
            10 92 00 07 0b b8
            """) + Array(original[(14 + 46)..<(14 + 48)]))
        XCTAssertEqual(Array(out[1][(14 + 4)..<(14 + 6)]), [0x05, 0xb0])
        XCTAssertEqual(Array(out[1][(14 + 40)..<(14 + 48)]), [0x11, 0, 0x05, 0xa9, 1, 2, 3, 4], "offset 181, M")
        XCTAssertEqual(Array(out[2][(14 + 4)..<(14 + 6)]), [0, 112])
        XCTAssertEqual(Array(out[2][(14 + 40)..<(14 + 48)]), [0x11, 0, 0x0b, 0x50, 1, 2, 3, 4], "offset 362, last")
        for fragment in out {
            XCTAssertEqual(Array(fragment.prefix(14)), F.ethernetHeader)
            XCTAssertEqual(Array(fragment[14..<(14 + 4)]), Array(original[14..<(14 + 4)]), "traffic class and flow kept")
            XCTAssertEqual(fragment[14 + 7], 64, "hop limit kept")
            try fragment.withUnsafeBytes { bytes in
                let packet = try IPv6Packet(UnsafeRawBufferPointer(rebasing: bytes[14...]))
                XCTAssertEqual(packet.fragmentID, 0x0102_0304)
                XCTAssertEqual(packet.fragmentHeaderOffset, 40)
            }
        }
        XCTAssertEqual(Array(out[1][(14 + 48)...]), Array(original[(14 + 40 + 1448)..<(14 + 40 + 2896)]))
        XCTAssertEqual(F.reassemble(out.reversed(), networkOffset: 14, into: IPv6Reassembler()), [original])
    }

    func testTheUnfragmentablePartIsRepeatedAndTheRestSentOnce() throws {
        // Hop-by-Hop, Destination Options, Routing: unfragmentable. The Destination Options
        // after the Routing header are for the final destination: fragmentable.
        let headers = [F.hopByHop, F.destinationOptions, F.routing, F.destinationOptions]
        let original = F.udp(4000, extensionHeaders: headers)
        let (outcome, out) = F.fragments(of: original, networkOffset: 0, mtu: 1280)
        // (1280 - 80 - 8) & ~7 = 1192 bytes a fragment: 8 + 4000 = 4008 bytes in 4.
        XCTAssertEqual(outcome, .fragmented(4))
        for (index, fragment) in out.enumerated() {
            XCTAssertLessThanOrEqual(fragment.count, 1280)
            XCTAssertEqual(Array(fragment[40..<56]), Array(original[40..<56]), "Hop-by-Hop and Destination Options")
            XCTAssertEqual(fragment[56], IPProtocol.ipv6Fragment, "the Routing header names the Fragment header")
            XCTAssertEqual(Array(fragment[57..<80]), Array(original[57..<80]))
            XCTAssertEqual(fragment[80], IPProtocol.ipv6DestinationOptions, "the Fragment header names what followed")
            try fragment.withUnsafeBytes { bytes in
                let packet = try IPv6Packet(bytes)
                XCTAssertEqual(packet.fragmentHeaderOffset, 80)
                XCTAssertEqual(Int(packet.frag) * 8, 1192 * index)
                XCTAssertEqual(packet.moreFragments, index < 3)
                if index == 0 {
                    XCTAssertEqual(packet.upperLayerOffset, 96, "the first fragment holds the whole chain")
                    XCTAssertEqual(packet.proto, IPProtocol.udp)
                }
            }
        }
        XCTAssertEqual(F.reassemble(out, networkOffset: 0, into: IPv6Reassembler()), [original])

        // Without a Routing header, Destination Options are fragmentable: only Hop-by-Hop repeats.
        let (_, short) = F.fragments(of: F.udp(3000, extensionHeaders: [F.hopByHop, F.destinationOptions]),
                                     networkOffset: 0, mtu: 1500)
        try short[1].withUnsafeBytes { bytes in
            let packet = try IPv6Packet(bytes)
            XCTAssertEqual(packet.fragmentHeaderOffset, 48)
            XCTAssertEqual(bytes[40], IPProtocol.ipv6Fragment)
            XCTAssertEqual(bytes[48], IPProtocol.ipv6DestinationOptions)
        }
    }

    func testRefusals() {
        let big = F.udp(3000)
        XCTAssertEqual(F.fragments(of: big, networkOffset: 0, mtu: 1279).0, .mtuBelowMinimum)
        XCTAssertEqual(F.fragments(of: big, networkOffset: 0, mtu: 576).0, .mtuBelowMinimum)
        XCTAssertEqual(F.fragments(of: F.udp(500), networkOffset: 0, mtu: 576).0, .fits)
        XCTAssertEqual(F.fragments(of: big, networkOffset: 0, mtu: 1280).0, .fragmented(3))

        // A fragment, or an atomic fragment, is not cut again.
        let (_, pieces) = F.fragments(of: big, networkOffset: 0, mtu: 1500)
        XCTAssertEqual(F.fragments(of: pieces[0], networkOffset: 0, mtu: 1280).0, .alreadyFragmented)
        XCTAssertEqual(F.fragments(of: pieces[0], networkOffset: 0, mtu: 1500).0, .fits)
        let atomic = F.udp(3000, extensionHeaders: [.fragment(offset: 0, moreFragments: false, id: 9)])
        XCTAssertEqual(F.fragments(of: atomic, networkOffset: 0, mtu: 1500).0, .alreadyFragmented)

        // A 2048-byte Hop-by-Hop header cannot be repeated in 1280 bytes; 2048 bytes of final
        // Destination Options leave the UDP header out of the first fragment (RFC 7112).
        let long = IPv6ExtensionHeader.options(type: IPProtocol.hopByHop, [0x1e, 0xff] + [UInt8](repeating: 0, count: 255)
                                                   + [0x1e, 0xff] + [UInt8](repeating: 0, count: 255)
                                                   + [0x1e, 0xff] + [UInt8](repeating: 0, count: 255)
                                                   + [0x1e, 0xff] + [UInt8](repeating: 0, count: 255)
                                                   + [0x1e, 0xff] + [UInt8](repeating: 0, count: 255)
                                                   + [0x1e, 0xff] + [UInt8](repeating: 0, count: 255)
                                                   + [0x1e, 0xff] + [UInt8](repeating: 0, count: 255)
                                                   + [0x1e, 0xf1] + [UInt8](repeating: 0, count: 241))
        XCTAssertEqual(long.length, 2048)
        XCTAssertEqual(F.fragments(of: F.udp(100, extensionHeaders: [long]), networkOffset: 0, mtu: 1500).0, .noRoom)
        XCTAssertEqual(F.fragments(of: F.udp(100, extensionHeaders: [long]), networkOffset: 0, mtu: 2150).0,
                       .fragmented(3), "room for the headers and 48 bytes of data a fragment")
        var final = long
        final.type = IPProtocol.ipv6DestinationOptions
        XCTAssertEqual(F.fragments(of: F.udp(100, extensionHeaders: [final]), networkOffset: 0, mtu: 1500).0, .noRoom)
        XCTAssertEqual(F.fragments(of: F.udp(100, extensionHeaders: [final]), networkOffset: 0, mtu: 2104).0,
                       .fragmented(2), "2048 + 8 of UDP header in the first fragment, the 92 other bytes after")
        XCTAssertEqual(F.fragments(of: big, networkOffset: 0, mtu: 1500, scratchLength: 1499).0, .noRoom)

        // Ten extension headers are as deep as the decoders walk: no room for a Fragment header.
        let nine = F.udp(3000, extensionHeaders: [IPv6ExtensionHeader](repeating: F.destinationOptions, count: 9))
        let (outcome, out) = F.fragments(of: nine, networkOffset: 0, mtu: 1500)
        XCTAssertEqual(outcome, .fragmented(3))
        XCTAssertEqual(F.reassemble(out, networkOffset: 0, into: IPv6Reassembler()), [nine])
        let ten = F.udp(3000, extensionHeaders: [IPv6ExtensionHeader](repeating: F.destinationOptions, count: 10))
        XCTAssertEqual(F.fragments(of: ten, networkOffset: 0, mtu: 1500).0, .noRoom)
    }

    func testEmitRefusingAFragmentStops() {
        var seen = 0
        var scratch = [UInt8](repeating: 0, count: 1280)
        let outcome = F.udp(5000).withUnsafeBytes { bytes in
            scratch.withUnsafeMutableBytes { scratch in
                IPv6Fragmenter.fragment(bytes, networkOffset: 0, mtu: 1280, identification: 1, scratch: scratch) { _ in
                    seen += 1
                    return seen < 2
                }
            }
        }
        XCTAssertEqual(outcome, .stopped)
        XCTAssertEqual(seen, 2)
    }

    func testEthernetPaddingIsNotSent() {
        let original = F.udp(3000)
        let (_, padded) = F.fragments(of: F.ethernetHeader + original + [0xee, 0xee], networkOffset: 14, mtu: 1500)
        let (_, plain) = F.fragments(of: F.ethernetHeader + original, networkOffset: 14, mtu: 1500)
        XCTAssertEqual(padded, plain)
    }

    /// What the fragmenter writes, as tshark reads it with IPv6 reassembly on: nothing
    /// malformed, every datagram reassembled at its length and its checksum good.
    func testTSharkReassemblesTheFragmentsWithGoodChecksums() throws {
        let tshark = try TShark.path()
        let datagrams = [
            F.echoRequest(4000),
            F.udp(5000, extensionHeaders: [F.hopByHop, F.destinationOptions, F.routing, F.destinationOptions]),
            F.udp(65_535),
        ]
        var frames: [[UInt8]] = []
        for (index, datagram) in datagrams.enumerated() {
            let (outcome, out) = F.fragments(of: F.ethernetHeader + datagram, networkOffset: 14, mtu: 1280 + 700 * index,
                                             identification: UInt32(index + 1))
            guard case .fragmented = outcome else { return XCTFail("\(outcome)") }
            frames += out
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ipv6-fragmenter-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("fragments.pcap")
        try F.pcap(frames, linkType: 1).write(to: file)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: tshark)
        process.arguments = ["-r", file.path, "-n", "-o", "ipv6.defragment:TRUE", "-o", "udp.check_checksum:TRUE", "-V"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        // On failure, the lines that tell why.
        let report = text.split(separator: "\n")
            .filter { ["Malformed", "Expert Info", "Checksum", "Reassembled IPv6 length"].contains(where: $0.contains) }
            .joined(separator: "\n")
        XCTAssertFalse(text.contains("Malformed"), report)
        XCTAssertFalse(text.contains("Expert Info (Error"), report)
        // The fragmentable part of each: the ICMPv6 message; Destination Options and UDP; UDP.
        for length in [8 + 4000, 8 + 5000, 65_535] {
            XCTAssertTrue(text.contains("[Reassembled IPv6 length: \(length)]"), "\(length) bytes not reassembled")
        }
        let good = text.components(separatedBy: "[Checksum Status: Good]").count - 1
        XCTAssertEqual(good, datagrams.count, report)
        XCTAssertFalse(text.contains("[Checksum Status: Bad]"), report)
    }
}
