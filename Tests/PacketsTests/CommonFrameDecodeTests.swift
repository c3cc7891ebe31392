import XCTest
@_spi(Checking) @testable import Packets

/// The decoder's one-pass path for the most common frame must give exactly what the full
/// decoder gives: compared over valid frames and many damaged copies of them.
final class CommonFrameDecodeTests: XCTestCase {
    private static func frame(proto: UInt8, transport: [UInt8], vlan: Bool = false, options: [UInt8] = [],
                              fragment: UInt16 = 0) -> [UInt8] {
        var bytes: [UInt8] = []
        EthernetRepr(src: MACAddress("02:00:00:00:00:01")!, dst: MACAddress("02:54:41:50:49:52")!,
                     type: vlan ? 0x8100 : EtherType.ipv4).emit(appendingTo: &bytes)
        if vlan { bytes += [0x00, 0x07, 0x08, 0x00] }
        var ip = IPv4Repr(src: IPv4Address("198.18.0.1")!, dst: IPv4Address("198.18.0.2")!, proto: proto,
                          payloadLength: transport.count)
        ip.options = options
        ip.frag = fragment
        ip.emit(appendingTo: &bytes)
        return bytes + transport
    }

    private static var validFrames: [[UInt8]] {
        let pseudo = IPPseudoHeader.v4(source: IPv4Address("198.18.0.1")!, destination: IPv4Address("198.18.0.2")!)
        var frames: [[UInt8]] = []
        for size in [0, 1, 16, 300] {
            var udp: [UInt8] = []
            UDPRepr(sport: 40000, dport: 7, payload: [UInt8](repeating: 0x61, count: size))
                .emit(appendingTo: &udp, pseudoHeader: pseudo)
            var tcp: [UInt8] = []
            TCPRepr(sport: 1, dport: 2, flags: TCPFlags.ack, payload: [UInt8](repeating: 0x62, count: size))
                .emit(appendingTo: &tcp, pseudoHeader: pseudo)
            var tcpOptions: [UInt8] = []
            TCPRepr(sport: 1, dport: 2, flags: TCPFlags.syn, options: [2, 4, 5, 0xb4])
                .emit(appendingTo: &tcpOptions, pseudoHeader: pseudo)
            frames += [frame(proto: IPProtocol.udp, transport: udp), frame(proto: IPProtocol.tcp, transport: tcp),
                       frame(proto: IPProtocol.tcp, transport: tcpOptions),
                       frame(proto: IPProtocol.udp, transport: udp, vlan: true),
                       frame(proto: IPProtocol.udp, transport: udp, options: [1, 1, 1, 0]),
                       frame(proto: IPProtocol.udp, transport: udp, fragment: 100),
                       frame(proto: IPProtocol.icmp, transport: [8, 0, 0, 0, 0, 1, 0, 1])]
            frames.append(frame(proto: IPProtocol.udp, transport: udp) + [0, 0, 0, 0])  // Ethernet padding
        }
        return frames
    }

    private func check(_ bytes: [UInt8], _ fastTaken: inout Int, file: StaticString = #filePath, line: UInt = #line) {
        bytes.withUnsafeBytes { raw in
            let full = FrameDecoder.decodeInFull(raw, linkType: .ethernet)
            if let fast = FrameDecoder.decodeCommonEthernet(raw) {
                fastTaken += 1
                XCTAssertEqual(fast, full, "\(bytes)", file: file, line: line)
            }
            XCTAssertEqual(FrameDecoder.decode(raw, linkType: .ethernet), full, file: file, line: line)
        }
    }

    func testTheCommonPathAgreesWithTheFullDecoderOnValidFrames() {
        var fastTaken = 0
        for frame in Self.validFrames { check(frame, &fastTaken) }
        // UDP and option-less TCP (two of the eight shapes), at four sizes, plus padding.
        XCTAssertEqual(fastTaken, 4 * 3)
    }

    func testTheCommonPathAgreesWithTheFullDecoderOnDamagedFrames() {
        var generator = SystemRandomNumberGenerator()
        var fastTaken = 0
        var checked = 0
        for frame in Self.validFrames {
            for _ in 0..<2_000 {
                var damaged = frame
                switch Int.random(in: 0..<4, using: &generator) {
                case 0:  // a header byte changed
                    let at = Int.random(in: 0..<min(damaged.count, 14 + 20 + 20), using: &generator)
                    damaged[at] = UInt8.random(in: 0...255, using: &generator)
                case 1:  // cut short
                    damaged = Array(damaged.prefix(Int.random(in: 0...damaged.count, using: &generator)))
                case 2:  // a length field changed: IPv4 total length or UDP length
                    let at = [16, 17, 38, 39].randomElement(using: &generator)!
                    if at < damaged.count { damaged[at] = UInt8.random(in: 0...255, using: &generator) }
                default:  // TCP data offset changed
                    if damaged.count > 46 { damaged[46] = UInt8.random(in: 0...255, using: &generator) }
                }
                check(damaged, &fastTaken)
                checked += 1
            }
        }
        XCTAssertGreaterThan(fastTaken, checked / 10, "the common path was taken for too few frames to say much")
        XCTAssertLessThan(fastTaken, checked, "the damaged frames all looked common")
    }
}
