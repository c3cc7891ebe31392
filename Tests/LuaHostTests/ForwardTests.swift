import Packets
import XCTest
@testable import LuaHost

/// pkt:forward, pkt:ethernet_header, pkt:ipv4_header and pkt:ipv6_header (CLua's
/// clua_forward.c), what the router forwards with: a handler forwards each datagram back
/// out of the memory tap behind a link header of its own; the written frames are read with
/// Packets' decoders.
final class ForwardTests: MemoryHostTestCase {
    static let link = "\\2\\0\\0\\0\\0\\2\\2\\0\\0\\0\\0\\1"

    func loadForwarder() throws -> Script {
        try load("""
            fields, errors = {}, {}
            tapir.on("frame", function(pkt, dev)
              local _, _, type = pkt:ethernet_header()
              fields = type == 0x0800 and {pkt:ipv4_header(14)} or {pkt:ipv6_header(14)}
              fields.eth = {pkt:ethernet_header()}
              local ok, result = pcall(pkt.forward, pkt, dev, 14, "\(Self.link)" .. string.pack(">I2", type))
              if not ok then errors[#errors + 1] = result end
              return true
            end)
            """)
    }

    func testAnIPv4DatagramGoesOutWithItsTTLLoweredAndItsChecksumRight() throws {
        let script = try loadForwarder()
        let frame = try KernelFrames.frame(17)   // the kernel's echo request, TTL 64, 98 bytes
        inject(frame + [0, 0, 0, 0])             // link padding after it is not forwarded
        let out = try XCTUnwrap(device.takeWritten().first)
        XCTAssertEqual(out.count, frame.count)
        XCTAssertEqual(Array(out[0..<12]), [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1])
        try out.withUnsafeBytes { raw in
            let decoded = DecodedFrame(decoding: raw, linkType: .ethernet)
            let ip = try XCTUnwrap(decoded.ipv4(raw))
            XCTAssertEqual(ip.ttl, 63)
            XCTAssertTrue(ip.verifyChecksum(), "RFC 1624's incremental update gives the full sum's checksum")
        }
        XCTAssertEqual(Array(out[26...]), Array(frame[26...]), "all but TTL (22) and checksum (24, 25) as they came")
        XCTAssertEqual(Array(out[12..<22]), Array(frame[12..<22]))
        XCTAssertEqual(out[23], frame[23])
        let fields = try script.state.string(try script.state.evaluate(
            "return table.concat(fields, ' ', 1, 7) .. ' ' .. tostring(fields[8]) .. ' ' .. fields.eth[3]"))
        XCTAssertEqual(fields, "20 84 16384 64 1 3323068417 3323068418 true 2048",
                       "header length, total length, DF, TTL, ICMP, 198.18.0.1, 198.18.0.2, checksum right, IPv4")
    }

    func testAnIPv6DatagramGoesOutWithItsHopLimitLowered() throws {
        let script = try loadForwarder()
        var frame: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd]
        frame += [0x60, 0, 0, 0, 0, 8, 17, 9]                      // payload 8, UDP, hop limit 9
        frame += [0x20, 0x01, 0, 2, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 7) + [5]
        frame += [0x20, 0x01, 0, 2, 0, 0, 0, 2] + [UInt8](repeating: 0, count: 7) + [5]
        frame += [0x13, 0x88, 0x17, 0x70, 0, 8, 0, 0]
        inject(frame)
        let out = try XCTUnwrap(device.takeWritten().first)
        XCTAssertEqual(out.count, frame.count)
        XCTAssertEqual(out[21], 8, "hop limit 9 -> 8")
        XCTAssertEqual(Array(out[22...]), Array(frame[22...]))
        let fields = try script.state.string(try script.state.evaluate(
            "return string.format('%d %d %d %x %x %x %x', table.unpack(fields, 1, 7))"))
        XCTAssertEqual(fields, "8 17 9 2001000200000001 5 2001000200000002 5")
    }

    func testATTLOfOneOrNoDatagramIsRefusedWithAReason() throws {
        let script = try loadForwarder()
        var frame = try KernelFrames.frame(17)
        frame[22] = 1
        inject(frame)
        inject([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45])   // an IPv4 header cut short
        XCTAssertTrue(device.takeWritten().isEmpty)
        let errors = try script.state.string(try script.state.evaluate("return table.concat(errors, '; ')"))
        XCTAssertEqual(errors, "forward: TTL 1 runs out here; forward: no IPv4 or IPv6 datagram at offset 14")
        XCTAssertTrue(try script.state.evaluateBoolean("return fields[1] == nil"), "pkt:ipv4_header: nil for the cut one")
    }
}
