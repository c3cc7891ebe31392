import CPacket
import Packets
import XCTest

/// A packet socket completes the TCP or UDP checksum of a frame this machine's own stack
/// left to the hardware (TP_STATUS_CSUMNOTREADY: the field holds only the pseudo-header's
/// sum). Here `tapir_packet_complete_checksum` is held to the Packets module's checksum over
/// frames with no tag, one or two VLAN tags of each kind the decoder takes, IPv4 and IPv6,
/// TCP and UDP; and frames it must not touch are left as they are.
final class ChecksumCompletionTests: XCTestCase {
    private let tagKinds: [[UInt16]] = [[], [0x8100], [0x88a8], [0x9100], [0x88a8, 0x8100], [0x9100, 0x8100],
                                        [0x8100, 0x8100]]

    func testEveryTaggingIsCompletedAsTheChecksumModuleComputesIt() {
        for tags in tagKinds {
            for ipv6 in [false, true] {
                for proto in [UInt8(6), UInt8(17)] {
                    for payloadLength in [0, 1, 37, 1400] {
                        let whole = frame(tags: tags, ipv6: ipv6, proto: proto, payloadLength: payloadLength)
                        var partial = whole
                        let field = checksumOffset(tags: tags, ipv6: ipv6, proto: proto)
                        let pseudo = pseudoHeaderSum(of: whole, tags: tags, ipv6: ipv6, proto: proto)
                        partial[field] = UInt8(pseudo >> 8)
                        partial[field + 1] = UInt8(pseudo & 0xff)
                        XCTAssertNotEqual(partial, whole)
                        complete(&partial)
                        XCTAssertEqual(partial, whole, "tags \(tags), IPv6 \(ipv6), protocol \(proto), \(payloadLength) bytes")
                    }
                }
            }
        }
    }

    func testFramesItCannotFinishAreLeftAsTheyAre() {
        // Three tags (the decoder takes two), a fragment, a frame shorter than its IP length
        // says, and an ARP frame.
        var threeTags = frame(tags: [0x88a8, 0x8100, 0x8100], ipv6: false, proto: 17, payloadLength: 20)
        threeTags[threeTags.count - 30] ^= 0xff
        var fragment = frame(tags: [], ipv6: false, proto: 17, payloadLength: 20)
        fragment[14 + 6] = 0x20  // More Fragments
        fragment[14 + 26] ^= 0xff
        var short = frame(tags: [0x8100], ipv6: true, proto: 6, payloadLength: 100)
        short[18 + 56] ^= 0xff
        short.removeLast(10)
        var arp = [UInt8](repeating: 0xff, count: 6) + [0x02, 0, 0, 0, 0, 1, 0x08, 0x06] + [UInt8](repeating: 7, count: 28)
        for var original in [threeTags, fragment, short, arp] {
            let before = original
            complete(&original)
            XCTAssertEqual(original, before)
        }
        arp.removeAll()
        complete(&arp)  // nothing at all: no read past it
        XCTAssertEqual(arp, [])
    }

    // MARK: frames

    private func complete(_ bytes: inout [UInt8]) {
        let count = UInt32(bytes.count)
        bytes.withUnsafeMutableBufferPointer { tapir_packet_complete_checksum($0.baseAddress, count) }
    }

    private func networkOffset(_ tags: [UInt16]) -> Int { 14 + 4 * tags.count }

    private func checksumOffset(tags: [UInt16], ipv6: Bool, proto: UInt8) -> Int {
        networkOffset(tags) + (ipv6 ? 40 : 20) + (proto == 6 ? 16 : 6)
    }

    /// An Ethernet frame with `tags`, an IPv4 or IPv6 header, a TCP or UDP header and a
    /// payload, every checksum right.
    private func frame(tags: [UInt16], ipv6: Bool, proto: UInt8, payloadLength: Int) -> [UInt8] {
        var bytes: [UInt8] = [0x02, 0x54, 0x41, 0x50, 0x49, 0x52, 0x02, 0, 0, 0, 0, 1]
        for (index, tag) in tags.enumerated() {
            bytes += [UInt8(tag >> 8), UInt8(tag & 0xff), 0x00, UInt8(10 + index)]
        }
        bytes += ipv6 ? [0x86, 0xdd] : [0x08, 0x00]
        let payload = (0..<payloadLength).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        var transport: [UInt8]
        if proto == 6 {
            transport = [0x30, 0x39, 0x00, 0x50, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]
        } else {
            let length = 8 + payloadLength
            transport = [0x30, 0x39, 0x00, 0x07, UInt8(length >> 8), UInt8(length & 0xff), 0, 0]
        }
        transport += payload
        if ipv6 {
            let length = transport.count
            bytes += [0x60, 0, 0, 0, UInt8(length >> 8), UInt8(length & 0xff), proto, 64]
            bytes += [0x20, 0x01, 0x00, 0x02] + [UInt8](repeating: 0, count: 11) + [1]
            bytes += [0x20, 0x01, 0x00, 0x02] + [UInt8](repeating: 0, count: 11) + [2]
        } else {
            let length = 20 + transport.count
            var header: [UInt8] = [0x45, 0, UInt8(length >> 8), UInt8(length & 0xff), 0x12, 0x34, 0x40, 0, 64, proto, 0, 0,
                                   198, 18, 0, 1, 198, 18, 0, 2]
            let sum = header.withUnsafeBytes { Checksum.compute($0) }
            header[10] = UInt8(sum >> 8)
            header[11] = UInt8(sum & 0xff)
            bytes += header
        }
        let start = bytes.count
        bytes += transport
        let pseudo = pseudoHeaderSum(of: bytes, tags: tags, ipv6: ipv6, proto: proto)
        var sum = bytes[start...].withUnsafeBytes { Checksum.compute($0, pseudoHeader: pseudo) }
        if proto == 17, sum == 0 { sum = 0xffff }
        let field = checksumOffset(tags: tags, ipv6: ipv6, proto: proto)
        bytes[field] = UInt8(sum >> 8)
        bytes[field + 1] = UInt8(sum & 0xff)
        return bytes
    }

    private func pseudoHeaderSum(of bytes: [UInt8], tags: [UInt16], ipv6: Bool, proto: UInt8) -> UInt16 {
        let network = networkOffset(tags)
        let transportLength = bytes.count - network - (ipv6 ? 40 : 20)
        return bytes.withUnsafeBytes { buffer in
            ipv6 ? Checksum.pseudoHeaderSum(source: IPv6Address(loading: buffer, at: network + 8),
                                            destination: IPv6Address(loading: buffer, at: network + 24),
                                            protocol: proto, length: transportLength)
                 : Checksum.pseudoHeaderSum(source: IPv4Address(loading: buffer, at: network + 12),
                                            destination: IPv4Address(loading: buffer, at: network + 16),
                                            protocol: proto, length: transportLength)
        }
    }
}
