import XCTest
@testable import Packets

/// emit(parse(x)) == x for every layer of every kernel frame, and whole frames rebuilt from
/// representations carry the checksums the kernel computed.
final class RoundTripTests: XCTestCase {
    func bytes(_ raw: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> [UInt8] {
        Array(raw[start..<end])
    }

    func testEveryLayerRoundTrips() throws {
        var layersChecked = 0
        for (index, frameBytes) in try Fixture.kernelFrames().enumerated() {
            try frameBytes.withUnsafeBytes { raw in
                let frame = FrameDecoder.decode(raw, linkType: .ethernet)
                let name = "frame \(index + 1)"
                var rebuilt: [UInt8] = []

                let eth = try XCTUnwrap(frame.ethernet(raw), name)
                let ethRepr = EthernetRepr.parse(eth)
                ethRepr.emit(appendingTo: &rebuilt)
                XCTAssertEqual(rebuilt, bytes(raw, 0, eth.headerLength), name)

                if let arp = frame.arp(raw) {
                    var out: [UInt8] = []
                    try ARPRepr.parse(arp).emit(appendingTo: &out)
                    XCTAssertEqual(out, bytes(raw, frame.networkOffset, frame.networkEnd), name)
                    rebuilt += out
                }
                var pseudo: IPPseudoHeader?
                if let ip = frame.ipv4(raw) {
                    XCTAssertTrue(ip.verifyChecksum(), name)
                    let repr = try IPv4Repr.parse(ip)
                    var out: [UInt8] = []
                    repr.emit(appendingTo: &out)
                    XCTAssertEqual(out, bytes(raw, frame.networkOffset, frame.transportOffset), name)
                    rebuilt += out
                    pseudo = repr.pseudoHeader
                }
                if let ip = frame.ipv6(raw) {
                    let repr = IPv6Repr.parse(ip)
                    var out: [UInt8] = []
                    repr.emit(appendingTo: &out)
                    XCTAssertEqual(out, bytes(raw, frame.networkOffset, frame.transportOffset), name)
                    rebuilt += out
                    pseudo = repr.pseudoHeader
                }
                let transport = frame.has(.ip) || frame.has(.ipv6)
                    ? bytes(raw, frame.transportOffset, frame.networkEnd) : []
                // A first fragment's transport checksum covers later fragments too: parse
                // it without checking, and compare the emitted header fields only.
                let whole = !frame.isFragment
                if let icmp = frame.icmp(raw) {
                    let repr = try ICMPv4Repr.parse(icmp, checkChecksum: whole)
                    var out: [UInt8] = []
                    repr.emit(appendingTo: &out)
                    if whole { XCTAssertEqual(out, transport, name) }
                    rebuilt += out
                }
                if let icmp = frame.icmpv6(raw), let pseudo {
                    let repr = try ICMPv6Repr.parse(icmp, pseudoHeader: whole ? pseudo : nil)
                    var out: [UInt8] = []
                    repr.emit(appendingTo: &out, pseudoHeader: pseudo)
                    if whole { XCTAssertEqual(out, transport, name) }
                    rebuilt += out
                }
                if let udp = frame.udp(raw), let pseudo {
                    let repr = try UDPRepr.parse(udp, pseudoHeader: pseudo)
                    var out: [UInt8] = []
                    repr.emit(appendingTo: &out, pseudoHeader: pseudo)
                    XCTAssertEqual(out, transport, name)
                    rebuilt += out
                }
                if let tcp = frame.tcp(raw), let pseudo {
                    let repr = try TCPRepr.parse(tcp, pseudoHeader: pseudo)
                    var out: [UInt8] = []
                    repr.emit(appendingTo: &out, pseudoHeader: pseudo)
                    XCTAssertEqual(out, transport, name)
                    rebuilt += out
                }
                if frame.has(.ip) || frame.has(.ipv6), !(frame.has(.icmp) || frame.has(.icmpv6) || frame.has(.udp) || frame.has(.tcp)) {
                    rebuilt += transport  // fragment data
                }
                // The whole frame, rebuilt from representations, plus the original padding.
                if whole || !(frame.has(.icmp) || frame.has(.icmpv6)) {
                    let end = max(frame.networkEnd, eth.headerLength)
                    XCTAssertEqual(rebuilt + bytes(raw, end, raw.count), frameBytes, name)
                }
                layersChecked += frame.layers.rawValue.nonzeroBitCount
            }
        }
        XCTAssertGreaterThan(layersChecked, 100)
    }

    /// Checksums the kernel put on the wire verify, and fillChecksum computes them again.
    func testKernelChecksumsVerifyAndRefill() throws {
        var verified = 0
        for frameBytes in try Fixture.kernelFrames() {
            var copy = frameBytes
            copy.withUnsafeMutableBytes { mutable in
                let raw = UnsafeRawBufferPointer(mutable)
                let frame = FrameDecoder.decode(raw, linkType: .ethernet)
                guard let pseudo = frame.pseudoHeader(raw) else { return }
                let transport = UnsafeMutableRawBufferPointer(rebasing: mutable[frame.transportOffset..<frame.networkEnd])
                if frame.has(.ip) {
                    let ip = try! MutableIPv4Packet(UnsafeMutableRawBufferPointer(rebasing: mutable[frame.networkOffset..<frame.networkEnd]))
                    XCTAssertTrue(ip.verifyChecksum())
                    let kernel = ip.chksum
                    ip.setChksum(0x1234)
                    ip.fillChecksum()
                    XCTAssertEqual(ip.chksum, kernel)
                    verified += 1
                }
                guard !frame.isFragment else { return }
                if frame.has(.icmp), let icmp = try? MutableICMPv4Packet(transport) {
                    XCTAssertTrue(icmp.verifyChecksum())
                    let kernel = icmp.chksum
                    icmp.fillChecksum()
                    XCTAssertEqual(icmp.chksum, kernel)
                    verified += 1
                }
                if frame.has(.icmpv6), let icmp = try? MutableICMPv6Packet(transport) {
                    XCTAssertTrue(icmp.verifyChecksum(pseudo))
                    let kernel = icmp.chksum
                    icmp.fillChecksum(pseudo)
                    XCTAssertEqual(icmp.chksum, kernel)
                    verified += 1
                }
                if frame.has(.udp), let udp = try? MutableUDPPacket(transport) {
                    XCTAssertTrue(udp.verifyChecksum(pseudo))
                    let kernel = udp.chksum
                    udp.fillChecksum(pseudo)
                    XCTAssertEqual(udp.chksum, kernel)
                    verified += 1
                }
                if frame.has(.tcp), let tcp = try? MutableTCPPacket(transport) {
                    XCTAssertTrue(tcp.verifyChecksum(pseudo))
                    let kernel = tcp.chksum
                    tcp.fillChecksum(pseudo)
                    XCTAssertEqual(tcp.chksum, kernel)
                    verified += 1
                }
            }
        }
        XCTAssertGreaterThan(verified, 40)
    }

    /// A TTL decrement with the incremental update gives the checksum a full recompute gives.
    func testIncrementalTTLDecrement() throws {
        var checked = 0
        for frameBytes in try Fixture.kernelFrames() {
            var copy = frameBytes
            copy.withUnsafeMutableBytes { mutable in
                let frame = FrameDecoder.decode(UnsafeRawBufferPointer(mutable), linkType: .ethernet)
                guard frame.has(.ip) else { return }
                let ip = try! MutableIPv4Packet(UnsafeMutableRawBufferPointer(rebasing: mutable[frame.networkOffset..<frame.networkEnd]))
                var ttl = ip.ttl
                while ttl > 0 {
                    XCTAssertEqual(ip.decrementTTL(), ttl - 1)
                    ttl -= 1
                    XCTAssertTrue(ip.verifyChecksum(), "ttl \(ttl)")
                    checked += 1
                }
                XCTAssertNil(ip.decrementTTL())
                let incremental = ip.chksum
                ip.fillChecksum()
                XCTAssertEqual(ip.chksum, incremental)
            }
        }
        XCTAssertGreaterThan(checked, 1000)
    }
}
