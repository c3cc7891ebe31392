import Packets
import XCTest
@testable import LuaHost

final class BuilderTests: XCTestCase {
    /// Builds with a Lua expression (given the packet `pkt` of `frame` to read from).
    private func build(_ expression: String, reading frame: [UInt8] = [], _ harness: PacketHarness) throws -> [UInt8] {
        try harness.bytes(expression, on: frame)
    }

    func testTransportAloneIsHandCheckedBytes() throws {
        let harness = try PacketHarness()
        XCTAssertEqual(try build("tapir.build.udp{sport = 1, dport = 7, payload = 'x'}", harness),
                       [0, 1, 0, 7, 0, 9, 0, 0, 0x78])
        XCTAssertEqual(try build("tapir.build.vlan{id = 100, pcp = 1, type = 0x0806}", harness),
                       [0x20, 0x64, 0x08, 0x06])
        // ICMP computes its own checksum: type 8, id 1, seq 2, no data: ~(0x0800 + 1 + 2) = 0xf7fc.
        XCTAssertEqual(try build("tapir.build.icmp{id = 1, seq = 2}", harness),
                       [8, 0, 0xf7, 0xfc, 0, 1, 0, 2])
        // TCP defaults: SYN, window 8192, data offset 5; checksum left 0 without an IP parent.
        XCTAssertEqual(try build("tapir.build.tcp{sport = 1, dport = 2, seq = 3}", harness),
                       [0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0x00, 0, 0, 0, 0])
    }

    func testARPReplyEqualsTheKernelsFrame() throws {
        let harness = try PacketHarness()
        let kernelReply = try KernelFrames.frame(14)  // 198.18.0.2 is at 02:00:00:00:00:0b
        XCTAssertEqual(try build("""
            tapir.build.eth{src = "02:00:00:00:00:0b", dst = "02:00:00:00:00:0a", type = 0x0806} ..
              tapir.build.arp{op = 2, sha = "02:00:00:00:00:0b", spa = "198.18.0.2",
                              tha = "02:00:00:00:00:0a", tpa = "198.18.0.1"}
            """, harness), kernelReply)
    }

    func testICMPEchoEqualsTheKernelsFrame() throws {
        let harness = try PacketHarness()
        let echo = try KernelFrames.frame(17)
        XCTAssertEqual(try build("""
            tapir.build.eth{src = pkt.eth.src, dst = pkt.eth.dst} ..
              tapir.build.ip{src = "198.18.0.1", dst = "198.18.0.2", proto = 1, id = 0xb7f2, df = true,
                             payload = tapir.build.icmp{type = 8, id = 25370, seq = 1, payload = pkt.payload}}
            """, reading: echo, harness), echo)
    }

    func testUDPOverIPv4EqualsTheKernelsFrame() throws {
        let harness = try PacketHarness()
        let query = try KernelFrames.frame(19)
        XCTAssertEqual(try build("""
            tapir.build.eth{src = pkt.eth.src, dst = pkt.eth.dst, type = 0x0800} ..
              tapir.build.ip{src = pkt.ip.src, dst = pkt.ip.dst, proto = 17, id = 0x4a55,
                             payload = tapir.build.udp{sport = 48949, dport = 53, payload = pkt.payload}}
            """, reading: query, harness), query)
    }

    func testTCPWithOptionsEqualsTheKernelsFrame() throws {
        let harness = try PacketHarness()
        let syn = try KernelFrames.frame(21)
        XCTAssertEqual(try build("""
            tapir.build.eth{src = pkt.eth.src, dst = pkt.eth.dst} ..
              tapir.build.ip{src = pkt.ip.src, dst = pkt.ip.dst, proto = 6, id = 0xc842, flags = 2,
                             payload = tapir.build.tcp{sport = 51486, dport = 9, seq = 709756015, flags = "S",
                                                       window = 64240, options = pkt.tcp.options}}
            """, reading: syn, harness), syn)
    }

    func testICMPv6EchoAndNeighborAdvertisementEqualTheKernelsFrames() throws {
        let harness = try PacketHarness()
        let echo = try KernelFrames.frame(25)
        XCTAssertEqual(try build("""
            tapir.build.eth{src = pkt.eth.src, dst = pkt.eth.dst, type = 0x86dd} ..
              tapir.build.ipv6{src = "2001:2::1", dst = "2001:2::2", nxt = 58, flow = 0x076092,
                               payload = tapir.build.icmpv6{type = 128, id = 0x631f, seq = 1, payload = pkt.payload}}
            """, reading: echo, harness), echo)
        let advertisement = try KernelFrames.frame(24)
        XCTAssertEqual(try build("""
            tapir.build.eth{src = pkt.eth.src, dst = pkt.eth.dst, type = 0x86dd} ..
              tapir.build.ipv6{src = "2001:2::2", dst = "2001:2::1", nxt = 58, hlim = 255,
                               payload = tapir.build.icmpv6{type = 136, flags = 0x60, target = "2001:2::2",
                                                            lladdr = "02:00:00:00:00:0b"}}
            """, reading: advertisement, harness), advertisement)
    }

    func testVLANComposesByConcatenation() throws {
        let harness = try PacketHarness()
        let tagged = try KernelFrames.frame(27)
        XCTAssertEqual(try build("""
            tapir.build.eth{src = pkt.eth.src, dst = pkt.eth.dst, type = 0x8100} ..
              tapir.build.vlan{id = 100, type = 0x0800} ..
              tapir.build.ip{src = pkt.ip.src, dst = pkt.ip.dst, proto = 1, id = 0x4242, df = true,
                             payload = tapir.build.icmp{id = 4660, seq = 1, payload = pkt.payload}}
            """, reading: tagged, harness), tagged)
    }

    func testBuiltFramesDecodeWithValidChecksums() throws {
        let harness = try PacketHarness()
        let frames = [
            "tapir.build.eth{} .. tapir.build.ip{src = '198.18.0.9', dst = '198.18.1.1', proto = 17, ttl = 7, " +
                "options = '\\1\\1\\1', payload = tapir.build.udp{sport = 5, dport = 6, payload = 'hello'}}",
            "tapir.build.eth{type = 0x86dd} .. tapir.build.ipv6{src = '2001:2::9', dst = '2001:2::1', nxt = 17, " +
                "payload = tapir.build.udp{sport = 5, dport = 6, payload = 'odd'}}",
            "tapir.build.eth{type = 0x86dd} .. tapir.build.ipv6{src = '2001:2::9', dst = '2001:2::1', nxt = 6, " +
                "payload = tapir.build.tcp{sport = 5, dport = 6, flags = 'PA', payload = 'data'}}",
            "tapir.build.eth{} .. tapir.build.ip{src = '198.18.0.9', dst = '198.18.1.1', proto = 6, " +
                "payload = tapir.build.tcp{sport = 5, dport = 6, flags = 0x12, options = '\\2\\4\\5\\180'}}",
        ]
        for expression in frames {
            let bytes = try build(expression, harness)
            try bytes.withUnsafeBytes { raw in
                let frame = DecodedFrame(decoding: raw, linkType: .ethernet)
                XCTAssertFalse(frame.isMalformed, "\(expression): \(String(describing: frame.malformedReason))")
                let pseudoHeader = try XCTUnwrap(frame.pseudoHeader(raw), expression)
                if let ip = frame.ipv4(raw) { XCTAssertTrue(ip.verifyChecksum(), expression) }
                if let udp = frame.udp(raw) {
                    XCTAssertTrue(udp.verifyChecksum(pseudoHeader), expression)
                } else {
                    let tcp = try XCTUnwrap(frame.tcp(raw), expression)
                    XCTAssertTrue(tcp.verifyChecksum(pseudoHeader), expression)
                }
            }
        }
        // The options were padded to a multiple of 4, and the TTL taken.
        XCTAssertEqual(try harness.run("""
            function(pkt)
              local p = tapir.build.ip{src = '198.18.0.9', dst = '198.18.1.1', proto = 17, ttl = 7, options = '\\1\\1\\1'}
              tapir.log.info(#p, p:byte(1), p:byte(9), p:byte(24))
            end
            """, on: []), ["24\t70\t7\t0"])
    }

    func testAnExplicitTransportChecksumIsKept() throws {
        let harness = try PacketHarness()
        let bytes = try build("tapir.build.ip{proto = 17, payload = tapir.build.udp{chksum = 0x1234}}", harness)
        XCTAssertEqual(Array(bytes[26...27]), [0x12, 0x34])
    }

    /// Address and flag strings given to builders are read by the same Swift parser as
    /// tapir.on's keys (PacketFieldKind.parse, called from C): text forms and raw bytes.
    func testAddressAndFlagStringsAreReadByTheSwiftParser() throws {
        let harness = try PacketHarness()
        for text in ["02:00:00:00:00:0A", "02-54-41-50-49-52", "\\x02TAPIR"] {
            let bytes = try build("tapir.build.eth{src = \"\(text)\"}", harness)
            let lua = try XCTUnwrap(harness.bytes("\"\(text)\"", on: []))
            guard case .mac(let expected)? = lua.withUnsafeBytes({ PacketFieldKind.mac.parse($0) }) else {
                return XCTFail("\(text) is not a MAC address to the parser")
            }
            XCTAssertEqual(Array(bytes[6..<12]), expected.bytes, text)
        }
        for text in ["198.18.0.1", "\\xc6\\x12\\x00\\x02"] {
            let bytes = try build("tapir.build.ip{src = \"\(text)\", proto = 17}", harness)
            let lua = try harness.bytes("\"\(text)\"", on: [])
            guard case .ipv4(let expected)? = lua.withUnsafeBytes({ PacketFieldKind.ipv4.parse($0) }) else {
                return XCTFail("\(text) is not an IPv4 address to the parser")
            }
            XCTAssertEqual(Array(bytes[12..<16]), expected.bytes, text)
        }
        for text in ["2001:2::1", "::ffff:198.18.0.1", "fe80::1:2:3:4:5"] {
            let bytes = try build("tapir.build.ipv6{src = \"\(text)\", nxt = 17}", harness)
            XCTAssertEqual(Array(bytes[8..<24]), IPv6Address(text)?.bytes, text)
        }
        for (letters, flags) in [("S", 0x02), ("SA", 0x12), ("R.", 0x14), ("FPUEWCN", 0x1e9), ("", 0)] {
            let bytes = try build("tapir.build.tcp{flags = \"\(letters)\"}", harness)
            XCTAssertEqual(Int(bytes[12] & 1) << 8 | Int(bytes[13]), flags, letters)
            XCTAssertEqual(PacketField.tcpFlags.key(string: letters), .integer(Int64(flags)), letters)
        }
        for (expression, expected) in [("eth{src = '02:00:00:00:00:0g'}", "MAC address"),
                                       ("ip{src = '198.18.0.256', proto = 17}", "IPv4 address"),
                                       ("ipv6{src = '2001:2:::1', nxt = 17}", "IPv6 address"),
                                       ("tcp{flags = 'S!'}", "integer or TCP flag letters")] {
            let error = harness.state.loadError("local _ = tapir.build.\(expression)")
            XCTAssertTrue(error?.message.contains("\(expected) expected") ?? false, "\(expression): \(String(describing: error))")
        }
    }

    func testWrongArgumentsRaiseLuaErrorsNamingFunctionAndField() throws {
        let harness = try PacketHarness()
        let cases: [(String, String)] = [
            ("tapir.build.ip{src = '1.2.3', proto = 17}",
             "bad argument #1 to 'ip' (field 'src': IPv4 address expected, got '1.2.3')"),
            ("tapir.build.ipv6{dst = true, nxt = 17}",
             "bad argument #1 to 'ipv6' (field 'dst': IPv6 address expected, got boolean)"),
            ("tapir.build.eth{src = '02:00:00:00:00'}",
             "bad argument #1 to 'eth' (field 'src': MAC address expected, got '02:00:00:00:00')"),
            ("tapir.build.udp{sport = 'x'}", "bad argument #1 to 'udp' (field 'sport': integer expected, got 'x')"),
            ("tapir.build.udp{sport = 1.5}", "bad argument #1 to 'udp' (field 'sport': integer expected, got number)"),
            ("tapir.build.udp{sport = 70000}", "bad argument #1 to 'udp' (field 'sport': 70000 out of range 0..65535)"),
            ("tapir.build.udp{payload = {}}", "bad argument #1 to 'udp' (field 'payload': string expected, got table)"),
            ("tapir.build.tcp{flags = 'SX'}",
             "bad argument #1 to 'tcp' (field 'flags': integer or TCP flag letters expected, got 'SX')"),
            ("tapir.build.tcp{bogus = 1}", "bad argument #1 to 'tcp' (tcp has no field 'bogus')"),
            ("tapir.build.tcp{[1] = 1}", "bad argument #1 to 'tcp' (field names must be strings, got number)"),
            ("tapir.build.ip{proto = 17, len = 5}",
             "bad argument #1 to 'ip' (field 'len' is computed, it cannot be set)"),
            ("tapir.build.ip{src = '198.18.0.1'}", "bad argument #1 to 'ip' (field 'proto' is required)"),
            ("tapir.build.vlan{dei = 1}", "bad argument #1 to 'vlan' (field 'dei': boolean expected, got number)"),
            ("tapir.build.eth('x')", "bad argument #1 to 'eth' (table expected, got string)"),
            ("tapir.build.ip{proto = 17, payload = string.rep('x', 65516)}",
             "bad argument #1 to 'ip' (too long: 65536 bytes, at most 65535)"),
        ]
        for (expression, message) in cases {
            let error = harness.state.loadError("local _ = \(expression)")
            XCTAssertEqual(error?.message, "test:1: \(message)", expression)
        }
        // pcall catches them like any Lua error, and the state goes on.
        XCTAssertTrue(try harness.state.isTrue("not pcall(tapir.build.ip, {proto = 'udp'})"))
        XCTAssertEqual(try build("tapir.build.udp{}", harness), [0, 0, 0, 0, 0, 8, 0, 0])
        XCTAssertEqual(harness.state.stackDepth, 0)
    }
}
