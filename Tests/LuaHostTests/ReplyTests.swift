import Packets
import XCTest
@testable import LuaHost

final class ReplyTests: XCTestCase {
    private func decode(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer, DecodedFrame) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { raw in
            try body(raw, DecodedFrame(decoding: raw, linkType: .ethernet))
        }
    }

    func testEchoRequestToEchoReply() throws {
        let harness = try PacketHarness()
        let request = try KernelFrames.frame(17)
        let reply = try harness.bytes("pkt:reply{icmp = {type = 0}}", on: request)
        XCTAssertEqual(reply.count, request.count)
        try decode(reply) { raw, frame in
            let eth = try XCTUnwrap(frame.ethernet(raw))
            XCTAssertEqual(eth.src.description, "02:00:00:00:00:0b")
            XCTAssertEqual(eth.dst.description, "02:00:00:00:00:0a")
            let ip = try XCTUnwrap(frame.ipv4(raw))
            XCTAssertEqual(ip.src.description, "198.18.0.2")
            XCTAssertEqual(ip.dst.description, "198.18.0.1")
            XCTAssertEqual(ip.ttl, 64)
            XCTAssertTrue(ip.verifyChecksum())
            let icmp = try XCTUnwrap(frame.icmp(raw))
            XCTAssertEqual(icmp.type, 0)
            XCTAssertEqual(icmp.id, 25370)
            XCTAssertEqual(icmp.seq, 1)
            XCTAssertTrue(icmp.verifyChecksum())
            XCTAssertEqual(Array(icmp.payload), Array(request[(14 + 20 + 8)...]))
        }
        // The kernel's own reply differs only in the IPv4 id and checksum.
        let kernelReply = try KernelFrames.frame(18)
        XCTAssertEqual(try harness.bytes("pkt:reply{icmp = {type = 0}, ip = {id = pkt.ip.id}}", on: request)
                           .enumerated().filter { ![18, 19, 24, 25].contains($0.offset) }.map(\.element),
                       kernelReply.enumerated().filter { ![18, 19, 24, 25].contains($0.offset) }.map(\.element))
    }

    func testRawIPReply() throws {
        let harness = try PacketHarness()
        let request = Array(try KernelFrames.frame(17).dropFirst(14))  // as a tun device reads it
        let reply = try harness.bytes("pkt:reply{icmp = {type = 0}}", on: request, linkType: .rawIP)
        reply.withUnsafeBytes { raw in
            let frame = DecodedFrame(decoding: raw, linkType: .rawIP)
            XCTAssertEqual(frame.layers, [.frame, .ip, .icmp])
            XCTAssertEqual(frame.ipv4(raw)?.dst.description, "198.18.0.1")
            XCTAssertEqual(frame.ipv4(raw)?.verifyChecksum(), true)
            XCTAssertEqual(frame.icmp(raw)?.verifyChecksum(), true)
            XCTAssertEqual(frame.icmp(raw)?.type, 0)
        }
    }

    func testICMPv6EchoReply() throws {
        let harness = try PacketHarness()
        let request = try KernelFrames.frame(25)
        let reply = try harness.bytes("pkt:reply{icmpv6 = {type = 129}}", on: request)
        XCTAssertEqual(Array(reply[15...17]), Array(request[15...17]), "the flow label is kept")
        // The kernel chose its own flow label; with that one, its reply exactly.
        XCTAssertEqual(try harness.bytes("pkt:reply{icmpv6 = {type = 129}, ipv6 = {flow = 0x0b759}}", on: request),
                       try KernelFrames.frame(26))
    }

    func testUDPReplySwapsPortsWithANewPayload() throws {
        let harness = try PacketHarness()
        let query = try KernelFrames.frame(19)
        let reply = try harness.bytes("pkt:reply{payload = 'pong'}", on: query)
        try decode(reply) { raw, frame in
            let udp = try XCTUnwrap(frame.udp(raw))
            XCTAssertEqual(udp.sport, 53)
            XCTAssertEqual(udp.dport, 48949)
            XCTAssertEqual(udp.len, 12)
            XCTAssertEqual(Array(udp.payload), Array("pong".utf8))
            XCTAssertTrue(udp.verifyChecksum(try XCTUnwrap(frame.pseudoHeader(raw))))
            XCTAssertTrue(try XCTUnwrap(frame.ipv4(raw)).verifyChecksum())
            XCTAssertEqual(frame.ipv4(raw)?.len, 32)
        }
        // Without payload= the data is kept; overrides apply last.
        let echoed = try harness.bytes("pkt:reply{udp = {sport = 5353}, ip = {ttl = 5}}", on: query)
        try decode(echoed) { raw, frame in
            XCTAssertEqual(frame.udp(raw)?.sport, 5353)
            XCTAssertEqual(frame.ipv4(raw)?.ttl, 5)
            XCTAssertEqual(Array(frame.payload(raw)), Array(query[(14 + 20 + 8)...]))
            XCTAssertTrue(try XCTUnwrap(frame.udp(raw)).verifyChecksum(try XCTUnwrap(frame.pseudoHeader(raw))))
        }
    }

    func testUDPOverIPv6Reply() throws {
        let harness = try PacketHarness()
        let src = try XCTUnwrap(IPv6Address("2001:2::1"))
        let dst = try XCTUnwrap(IPv6Address("2001:2::2"))
        var frame: [UInt8] = []
        EthernetRepr(src: MACAddress(2, 0, 0, 0, 0, 0x0a), dst: MACAddress(2, 0, 0, 0, 0, 0x0b),
                     type: EtherType.ipv6).emit(appendingTo: &frame)
        let udp = UDPRepr(sport: 40000, dport: 7, payload: Array("ping".utf8))
        IPv6Repr(src: src, dst: dst, proto: IPProtocol.udp, payloadLength: udp.bufferLength).emit(appendingTo: &frame)
        udp.emit(appendingTo: &frame, pseudoHeader: .v6(source: src, destination: dst))
        let reply = try harness.bytes("pkt:reply{payload = 'pong!'}", on: frame)
        try decode(reply) { raw, decoded in
            let ip = try XCTUnwrap(decoded.ipv6(raw))
            XCTAssertEqual(ip.src, dst)
            XCTAssertEqual(ip.dst, src)
            XCTAssertEqual(ip.hlim, 64)
            XCTAssertEqual(ip.plen, 13)
            let datagram = try XCTUnwrap(decoded.udp(raw))
            XCTAssertEqual(datagram.sport, 7)
            XCTAssertEqual(datagram.dport, 40000)
            XCTAssertEqual(Array(datagram.payload), Array("pong!".utf8))
            XCTAssertTrue(datagram.verifyChecksum(ip.pseudoHeader))
        }
    }

    func testARPRequestToReplyEqualsTheKernelsReply() throws {
        let harness = try PacketHarness()
        let request = try KernelFrames.frame(13)  // sent to broadcast: the reply comes from sha
        XCTAssertEqual(try harness.bytes("pkt:reply{arp = {op = 2, sha = '02:00:00:00:00:0b'}}", on: request),
                       try KernelFrames.frame(14))
    }

    func testNeighborSolicitationToAdvertisementEqualsTheKernelsOne() throws {
        let harness = try PacketHarness()
        let solicitation = try KernelFrames.frame(23)
        XCTAssertEqual(try harness.bytes("""
            pkt:reply{ipv6 = {src = pkt.icmpv6.target, hlim = 255},
                      icmpv6 = {type = 136, flags = 0x60, lladdr = '02:00:00:00:00:0b'}}
            """, on: solicitation), try KernelFrames.frame(24))
    }

    func testTCPResetEqualsTheKernelsOne() throws {
        let harness = try PacketHarness()
        let syn = try KernelFrames.frame(21)
        XCTAssertEqual(try harness.bytes("pkt:reply{tcp = {flags = 'R.', window = 0}, ip = {id = 0, df = true}}",
                                         on: syn), try KernelFrames.frame(22))
    }

    func testVLANTagsAreKept() throws {
        let harness = try PacketHarness()
        let reply = try harness.bytes("pkt:reply{icmp = {type = 0}}", on: try KernelFrames.frame(27))
        decode(reply) { raw, frame in
            XCTAssertEqual(frame.vlanTag(0)?.id, 100)
            XCTAssertEqual(frame.icmp(raw)?.type, 0)
            XCTAssertEqual(frame.icmp(raw)?.verifyChecksum(), true)
            XCTAssertEqual(frame.ipv4(raw)?.dst.description, "198.18.100.1")
        }
        let qinq = try harness.bytes("pkt:reply{arp = {sha = '02:00:00:00:00:0b'}}", on: try KernelFrames.frame(28))
        try decode(qinq) { raw, frame in
            XCTAssertEqual(frame.vlanCount, 2)
            XCTAssertEqual(frame.vlanTag(0)?.id, 200)
            XCTAssertEqual(frame.vlanTag(0)?.tpid, 0x88a8)
            XCTAssertEqual(frame.vlanTag(1)?.id, 100)
            let arp = try XCTUnwrap(frame.arp(raw))
            XCTAssertEqual(arp.op, 2)
            XCTAssertEqual(arp.spa.description, "198.18.200.2")
            XCTAssertEqual(arp.tpa.description, "198.18.200.1")
            XCTAssertEqual(frame.ethernet(raw)?.src.description, "02:00:00:00:00:0b")
        }
    }

    func testWrongOverridesRaiseLuaErrors() throws {
        let harness = try PacketHarness()
        let query = try KernelFrames.frame(19)
        let cases: [(String, String)] = [
            ("pkt:reply{udp = {sport = 'x'}}", "field 'udp.sport': integer expected, got 'x'"),
            ("pkt:reply{ip = {src = '300.1.1.1'}}", "field 'ip.src': IPv4 address expected, got '300.1.1.1'"),
            ("pkt:reply{tcp = {sport = 1}}", "field 'tcp.sport': the packet has no tcp layer"),
            ("pkt:reply{foo = 1}", "unknown key 'foo': expected payload or a layer name"),
            ("pkt:reply{ip = 5}", "field 'ip': table expected, got number"),
            ("pkt:reply{payload = 5}", "field 'payload': string expected, got number"),
            ("pkt:reply{udp = {len = 5}}", "field 'udp.len' is computed, it cannot be set"),
            ("pkt:reply{ip = {ttl = 256}}", "field 'ip.ttl': 256 out of range 0..255"),
            ("pkt:reply(5)", "table expected, got number"),
        ]
        for (expression, message) in cases {
            XCTAssertThrowsError(try harness.run("function(pkt) local _ = \(expression) end", on: query)) { error in
                let text = (error as? LuaError)?.message ?? "\(error)"
                XCTAssertTrue(text.hasSuffix("bad argument #1 to 'reply' (\(message))"), "\(expression): \(text)")
            }
        }
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(#pkt:reply()) end", on: query), ["95"])
        XCTAssertEqual(harness.state.stackDepth, 0)
    }
}
