import CLua
import Packets
import XCTest
@testable import LuaHost

/// While bound, the reused packet wears a metatable whose __index is a table of its present
/// layers and its methods (clua_packet.c, "Live metatables"), one kept per set of layers.
/// Whatever sets of layers come, in whatever order, each packet shows its own layers, and
/// a packet kept past its handler still raises.
final class LivePacketMetatableTests: XCTestCase {
    /// One frame of each set of layers the decoder gives for the kernel frames, each also
    /// behind a VLAN tag and as a tun hands it over, with its IPv4 protocol or IPv6 next
    /// header changed to each of ICMP, TCP, UDP, GRE, ICMPv6 and none: more sets of layers
    /// than get a live metatable.
    private static func framesOfManyLayerSets() throws -> [(bytes: [UInt8], linkType: LinkType)] {
        var variants: [(bytes: [UInt8], linkType: LinkType)] = []
        for frame in try KernelFrames.all() {
            let etherType = UInt16(frame[12]) << 8 | UInt16(frame[13])
            guard etherType == 0x0800 || etherType == 0x86dd else {
                variants.append((frame, .ethernet))
                continue
            }
            let protocolAt = etherType == 0x0800 ? 14 + 9 : 14 + 6
            for proto: UInt8? in [nil, 1, 6, 17, 47, 58, 59] {
                var changed = frame
                if let proto { changed[protocolAt] = proto }
                variants.append((changed, .ethernet))
                variants.append((Array(changed[..<12]) + [0x81, 0x00, 0x00, 0x07] + Array(changed[12...]), .ethernet))
                variants.append((Array(changed[14...]), .rawIP))
            }
        }
        var seen = Set<UInt16>()
        return variants.filter { variant in
            let layers = variant.bytes.withUnsafeBytes { DecodedFrame(decoding: $0, linkType: variant.linkType).layers }
            return seen.insert(layers.rawValue).inserted
        }
    }

    private static let layerNames = Layers.names.filter { $0.0 != .frame }

    func testEachPacketShowsItsOwnLayersWhateverCameBefore() throws {
        let harness = try PacketHarness()
        let frames = try Self.framesOfManyLayerSets()
        let names = Self.layerNames.map { "\"\($0.1)\"" }.joined(separator: ", ")
        let handler = try harness.state.function("""
            function(pkt)
              local shown = {}
              for _, name in ipairs({\(names)}) do
                shown[#shown + 1] = name .. "=" .. (pkt[name] ~= nil and "1" or "0")
              end
              tapir.log.info(table.concat(shown, " "))
            end
            """)
        defer { harness.state.release(handler) }
        var layerSets = Set<UInt16>()
        // Three rounds in different orders: the first sets met get their metatables, the
        // others (there are more sets than CLUA_LIVE_METATABLES) read through the packet's
        // own, and packets alternate between the two.
        let orders = [Array(frames.indices), Array(frames.indices.reversed()),
                      frames.indices.sorted { ($0 * 7) % frames.count < ($1 * 7) % frames.count }]
        for index in orders.joined() {
            let (bytes, linkType) = frames[index]
            let before = harness.log.lines.count
            let layers = try bytes.withUnsafeBytes { raw in
                let decoded = DecodedFrame(decoding: raw, linkType: linkType)
                _ = try harness.packets.withPacket(raw, frame: decoded) { argument throws(LuaError) in
                    try harness.state.call(handler, with: [argument])
                }
                return decoded.layers
            }
            layerSets.insert(layers.rawValue)
            let expected = Self.layerNames.map { "\($0.1)=\(layers.contains($0.0) ? 1 : 0)" }.joined(separator: " ")
            XCTAssertEqual(harness.log.lines[before...].map(\.message), [expected], "frame \(index): \(layers)")
        }
        XCTAssertGreaterThan(layerSets.count, Int(CLUA_LIVE_METATABLES), "too few sets of layers to fill the live metatables")
        XCTAssertEqual(harness.state.stackDepth, 0)
    }

    /// The second packet of a set finds its metatable made: keys, errors and methods are
    /// the packet's own from its first read.
    func testAPacketInItsLiveMetatableBehavesAsItsOwn() throws {
        let harness = try PacketHarness()
        let query = try KernelFrames.frame(19)
        for _ in 0..<2 {
            XCTAssertEqual(try harness.run("""
                function(pkt)
                  tapir.log.info(getmetatable(pkt), pkt.layers, #pkt, #pkt.payload, type(pkt.reply), pkt.udp.dport,
                                 tostring(pkt.tcp), tostring(pkt) == tostring(pkt:copy()))
                  tapir.log.info(select(2, pcall(function() return pkt.foo end)))
                  tapir.log.info(select(2, pcall(function() pkt.ip = 1 end)))
                  tapir.log.info(select(2, pcall(function() return pkt[1] end)))
                end
                """, on: query), [
                    "packet\teth:ip:udp\t95\t53\tfunction\t53\tnil\ttrue",
                    "evaluate:4: packet has no field 'foo'",
                    "evaluate:5: packets are read-only (build a new one with tapir.build or pkt:reply)",
                    "evaluate:6: packet fields are named by strings, got number",
                ])
        }
    }

    /// The metatable kept on between packets comes off before any other Lua code runs, so
    /// reading a kept packet raises there, and the next packet of the same layers reads
    /// its own frame.
    func testAKeptPacketRaisesBetweenPacketsOfOneSetOfLayers() throws {
        let harness = try PacketHarness()
        let first = try KernelFrames.frame(17)
        var second = first
        second[14 + 12 ..< 14 + 16] = [198, 18, 0, 9]  // another source address
        let handler = "function(pkt) saved = pkt; tapir.log.info(pkt.ip.src, saved.icmp ~= nil) end"
        XCTAssertEqual(try harness.run(handler, on: first), ["198.18.0.1\ttrue"])
        for use in ["saved.ip", "saved.icmp", "saved.reply", "saved.payload"] {
            let error = harness.state.loadError("local _ = \(use)")
            XCTAssertEqual(error?.message.hasSuffix("packet used after its handler returned (use pkt:copy())"), true,
                           "\(use): \(String(describing: error))")
        }
        XCTAssertEqual(try harness.run(handler, on: second), ["198.18.0.9\ttrue"])
        XCTAssertEqual(try harness.run(handler, on: first), ["198.18.0.1\ttrue"])
    }
}
