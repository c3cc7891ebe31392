import Foundation
import Packets
import XCTest
@testable import LuaHost

/// Every builder and reply output byte-equal to what the writer before Packets' emitters
/// produced (Fixtures/packet-writer-golden.txt was recorded with that writer, at commit
/// "The IPv4 offset of a written frame ... is LinkType.ipv4Offset"). Errors are compared
/// too: a refusal must read the same. To record anew (only for a deliberate change of
/// output): TAPIR_RECORD_GOLDEN=1 swift test --filter PacketWriterGoldenTests.
final class PacketWriterGoldenTests: XCTestCase {
    private static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/packet-writer-golden.txt")

    /// Lua helpers: `out(label, f)` logs "label => hex" (long outputs as length and a hash)
    /// or "label => error: message".
    private static let prelude = """
        MAC, KMAC = "02:54:41:50:49:52", "02:00:00:00:00:01"
        local function hex(s)
          if #s > 2048 then
            local h = 2166136261
            for i = 1, #s do h = ((h ~ s:byte(i)) * 16777619) & 0xffffffff end
            return string.format("%d bytes fnv1a %08x", #s, h)
          end
          return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
        end
        function out(label, f)
          local ok, result = pcall(f)
          -- Which of several fields of an absent layer is named depends on table order.
          if not ok then result = tostring(result):gsub("field '[%w.]+': the packet has no", "a field: the packet has no") end
          tapir.log.info(label .. " => " .. (ok and hex(result) or "error: " .. tostring(result)))
        end
        """

    /// Builder calls, each an expression.
    static let builderCases: [String] = [
        "tapir.build.eth{}",
        "tapir.build.eth{src = MAC, dst = KMAC, type = 0x86dd, payload = 'abc'}",
        "tapir.build.eth{type = 0x10000}",
        "tapir.build.vlan{id = 100, pcp = 5, dei = true, type = 0x0806, payload = 'x'}",
        "tapir.build.vlan{}",
        "tapir.build.vlan{id = 4096}",
        "tapir.build.arp{op = 2, sha = MAC, spa = '198.18.0.2', tha = KMAC, tpa = '198.18.0.1'}",
        "tapir.build.arp{}",
        "tapir.build.arp{payload = 'pad'}",
        "tapir.build.ip{proto = 17, src = '198.18.0.2', dst = '198.18.0.1', payload = tapir.build.udp{sport = 1, dport = 7, payload = 'x'}}",
        "tapir.build.ip{proto = 6, src = '198.18.0.2', dst = '198.18.0.1', ttl = 9, tos = 4, id = 77, flags = 1, df = true, frag = 100, options = '\\1\\1\\1\\1\\7\\3\\4', payload = tapir.build.tcp{sport = 80, dport = 999, flags = 'SA', payload = 'hi'}}",
        "tapir.build.ip{proto = 1, chksum = 0x4242, payload = tapir.build.icmp{type = 8, id = 1, seq = 2, payload = 'ping'}}",
        "tapir.build.ip{proto = 1, src = '198.18.0.2', dst = '198.18.0.1', flags = 7, mf = false, payload = tapir.build.icmp{type = 0, code = 0, payload = 'x'}}",
        "tapir.build.ip{proto = 17, src = '198.18.0.2', dst = '198.18.0.1', payload = tapir.build.udp{chksum = 0x1234}}",
        "tapir.build.ip{proto = 17, payload = tapir.build.udp{sport = 0, dport = 0}}",
        "tapir.build.ip{proto = 58, payload = 'raw'}",
        "tapir.build.ip{}",
        "tapir.build.ip{proto = 256}",
        "tapir.build.ip{proto = 1, options = string.rep('\\1', 41)}",
        "tapir.build.ip{proto = 17, payload = string.rep('x', 65515)}",
        "tapir.build.ip{proto = 17, payload = string.rep('x', 65516)}",
        "tapir.build.ip{proto = 17, frag = 0x2000}",
        "tapir.build.ipv6{nxt = 58, src = 'fe80::1', dst = 'ff02::1:ff00:2', hlim = 255, payload = tapir.build.icmpv6{type = 135, target = '2001:2::2', lladdr = MAC}}",
        "tapir.build.ipv6{nxt = 58, src = '2001:2::2', dst = '2001:2::1', payload = tapir.build.icmpv6{type = 136, flags = 0x60, target = '2001:2::2', lladdr = MAC}}",
        "tapir.build.ipv6{nxt = 58, src = '2001:2::2', dst = '2001:2::1', tc = 3, flow = 0xabcde, payload = tapir.build.icmpv6{type = 128, id = 5, seq = 6, payload = 'hi'}}",
        "tapir.build.ipv6{nxt = 17, src = '2001:2::2', dst = '2001:2::1', payload = tapir.build.udp{sport = 53, dport = 5353, payload = 'q'}}",
        "tapir.build.ipv6{nxt = 6, src = '2001:2::2', dst = '2001:2::1', payload = tapir.build.tcp{flags = 'S', options = '\\2\\4\\5\\180'}}",
        "tapir.build.ipv6{nxt = 58, payload = tapir.build.icmpv6{chksum = 0x1111}}",
        "tapir.build.ipv6{nxt = 59}",
        "tapir.build.ipv6{}",
        "tapir.build.ipv6{nxt = 17, flow = 0x100000}",
        "tapir.build.ipv6{nxt = 17, payload = string.rep('x', 65535)}",
        "tapir.build.ipv6{nxt = 17, payload = string.rep('x', 65536)}",
        "tapir.build.icmp{}",
        "tapir.build.icmp{type = 3, code = 4, chksum = 0x5555, payload = 'orig'}",
        "tapir.build.icmp{type = 0, id = 65535, seq = 65535, payload = string.rep('z', 3000)}",
        "tapir.build.icmpv6{}",
        "tapir.build.icmpv6{type = 133, lladdr = MAC}",
        "tapir.build.icmpv6{type = 128, target = '2001:2::5', payload = 'p'}",
        "tapir.build.icmpv6{type = 136, flags = 0xe0, id = 3, seq = 4}",
        "tapir.build.udp{}",
        "tapir.build.udp{sport = 65535, dport = 0, chksum = 1, payload = 'data'}",
        "tapir.build.udp{payload = string.rep('x', 65507)}",
        "tapir.build.udp{payload = string.rep('x', 65508)}",
        "tapir.build.tcp{}",
        "tapir.build.tcp{sport = 1, dport = 2, seq = 0xffffffff, ack = 1, flags = 'FSRPAUEWN', window = 0, urgptr = 7, chksum = 9, options = '\\1\\1\\1', payload = 'data'}",
        "tapir.build.tcp{flags = 0x1ff}",
        "tapir.build.tcp{flags = 0x200}",
        "tapir.build.tcp{options = string.rep('\\1', 41)}",
        "tapir.build.tcp{options = string.rep('\\1', 40)}",
        "tapir.build.tcp{seq = -1}",
    ]

    /// pkt:reply arguments, each applied to every input frame.
    static let replyCases: [String] = [
        "{}",
        "{payload = 'xyz'}",
        "{payload = ''}",
        "{icmp = {type = 0}}",
        "{icmp = {type = 3, code = 3, id = 7, seq = 9, chksum = 0x1234}}",
        "{icmpv6 = {type = 129}}",
        "{icmpv6 = {type = 136, flags = 0x60, lladdr = MAC}}",
        "{icmpv6 = {type = 135, target = '2001:2::9'}, payload = 'ab'}",
        "{icmpv6 = {type = 1, code = 4, id = 1, seq = 2, chksum = 3}}",
        "{tcp = {flags = 'RA', window = 0}}",
        "{tcp = {flags = 0x12, seq = 5, ack = 6, options = '\\2\\4\\5\\180\\1', urgptr = 3, chksum = 77, sport = 9, dport = 10}}",
        "{udp = {sport = 1, dport = 2}, payload = 'pong'}",
        "{udp = {chksum = 0}}",
        "{udp = {chksum = 0xabcd}}",
        "{ip = {ttl = 5, tos = 3, id = 9, df = true, mf = true, frag = 3, options = '\\1\\1\\1', chksum = 0x1111}}",
        "{ip = {src = '198.18.0.9', dst = '198.18.0.8', proto = 253, flags = 4}}",
        "{ip = {options = string.rep('\\1', 41)}}",
        "{ipv6 = {hlim = 3, tc = 5, flow = 0x12345, src = '2001:2::9', dst = '2001:2::8', nxt = 59}}",
        "{eth = {src = '02:00:00:00:00:99', dst = '02:00:00:00:00:98', type = 0x88b5}}",
        "{eth = {src = MAC}}",
        "{vlan = {id = 7, pcp = 3, dei = true}}",
        "{vlan = {type = 0x800}}",
        "{arp = {op = 2, sha = MAC}}",
        "{arp = {sha = MAC, spa = '198.18.0.2', tha = KMAC, tpa = '198.18.0.1', op = 1}, payload = 'pad'}",
        "{payload = string.rep('x', 70000)}",
        "{payload = string.rep('y', 65000)}",
    ]

    /// Frames beyond the kernel capture's: tags, tun, options, fragments, extension headers.
    static let extraFrames: [(name: String, linkType: LinkType, hex: String)] = [
        ("vlan udp", .ethernet, "0254415049520200000000018100006408004500001e000040004011aea7c6120001c612000275300007000a96116869"),
        ("qinq icmp", .ethernet, "02544150495202000000000188a800078100006408004500001e000040004001aeb7c6120001c612000208008f93000100026869"),
        ("tun icmp", .rawIP, "4500001e000040004001aeb7c6120001c612000208008f93000100026869"),
        ("ip options udp", .ethernet, "025441504952020000000001080046000022000040004011aba2c6120001c61200020101010075300007000a96116869"),
        ("tcp data", .ethernet, "02544150495202000000000108004500002e000040004006aea2c6120001c6120002c35000070000000100000002501800ff1b69000068656c6c6f0a"),
        ("ip later fragment", .ethernet, "02544150495202000000000108004500001d000020014011cea7c6120001c6120002616263646566676869"),
        ("ipv6 udp", .ethernet, "02544150495202000000000186dd60000000000911402001000200000000000000000000000120010002000000000000000000000002753000070009d29b78"),
        ("ipv6 hbh tcp", .ethernet, "02544150495202000000000186dd60000000001c0040200100020000000000000000000000012001000200000000000000000000000206000104000000009c400050000000010000000050020400cf480000"),
        ("vlan arp", .ethernet, "ffffffffffff0200000000018100000508060001080006040001020000000001c6120001000000000000c6120002"),
        ("short", .ethernet, "0254415049"),
    ]

    private func run(_ lines: [String], harness: PacketHarness, frame: [UInt8], linkType: LinkType) throws -> [String] {
        try harness.run("function(pkt)\n" + lines.joined(separator: "\n") + "\nend", on: frame, linkType: linkType)
    }

    private func actualLines() throws -> [String] {
        let harness = try PacketHarness(options: LuaState.Options())
        try harness.state.load(chunk: Self.prelude, name: "golden")
        var lines: [String] = []
        let builds = Self.builderCases.map { "out(\(luaString($0)), function() return \($0) end)" }
        lines += try run(builds, harness: harness, frame: try KernelFrames.frame(17), linkType: .ethernet)
            .map { "build " + $0 }
        var frames: [(String, LinkType, [UInt8])] = try KernelFrames.all().enumerated().map {
            ("kernel frame \($0.offset + 1)", .ethernet, $0.element)
        }
        frames += Self.extraFrames.map { ($0.name, $0.linkType, bytes(hex: $0.hex)) }
        for (name, linkType, frame) in frames {
            let replies = Self.replyCases.map { "out(\(luaString($0)), function() return pkt:reply\($0) end)" }
            lines += try run(replies, harness: harness, frame: frame, linkType: linkType).map { "reply \(name) " + $0 }
        }
        return lines
    }

    func testEveryBuilderAndReplyOutputIsByteEqualToTheRecordedOne() throws {
        let actual = try actualLines()
        if ProcessInfo.processInfo.environment["TAPIR_RECORD_GOLDEN"] != nil {
            try (actual.joined(separator: "\n") + "\n").write(to: Self.fixture, atomically: true, encoding: .utf8)
            throw XCTSkip("recorded \(actual.count) lines to \(Self.fixture.path)")
        }
        let expected = try String(contentsOf: Self.fixture, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(actual.count, expected.count, "number of cases")
        var mismatches = 0
        for (got, want) in zip(actual, expected) where got != want {
            mismatches += 1
            if mismatches <= 10 { XCTFail("got:  \(got)\nwant: \(want)") }
        }
        XCTAssertEqual(mismatches, 0, "outputs that differ from the recording")
        // The recording holds real output, not only refusals.
        XCTAssertGreaterThan(expected.filter { !$0.contains("=> error:") }.count, 500)
    }

    private func luaString(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    private func bytes(hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex), index != hex.endIndex {
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }
}
