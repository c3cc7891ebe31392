import CLua
import Packets
import XCTest
@testable import LuaHost

/// While bound, the reused packet wears a metatable whose __index is a table of its present
/// layers and its methods (clua_packet.c, "Live metatables"), one kept per set of layers.
/// Whatever sets of layers come, in whatever order, each packet shows its own layers, and
/// a packet kept past its handler still raises.
final class LivePacketMetatableTests: XCTestCase {
    /// The kernel frames of each kind, two with a protocol the decoder does not know
    /// (IPv4 GRE, IPv6 no next header), and the IP ones again behind a VLAN tag and as a
    /// tun hands them over: 20 sets of layers, more than the live metatables kept at once.
    private static func framesOfManyLayerSets() throws -> [(bytes: [UInt8], linkType: LinkType)] {
        var frames: [(bytes: [UInt8], linkType: LinkType)] = []
        var ipOnly = try KernelFrames.frame(19), ipv6Only = try KernelFrames.frame(25)
        ipOnly[14 + 9] = 47
        ipv6Only[14 + 6] = 59
        for frame in try [13, 28, 17, 19, 21, 25].map(KernelFrames.frame) + [ipOnly, ipv6Only] {
            frames.append((frame, .ethernet))
            let etherType = UInt16(frame[12]) << 8 | UInt16(frame[13])
            guard etherType == 0x0800 || etherType == 0x86dd else { continue }
            frames.append((Array(frame[..<12]) + [0x81, 0x00, 0x00, 0x07] + Array(frame[12...]), .ethernet))
            frames.append((Array(frame[14...]), .rawIP))
        }
        return frames
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
        // Three rounds in different orders: each set's metatable is made, kept, evicted
        // (there are more sets than CLUA_LIVE_METATABLES) and made again.
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
        XCTAssertGreaterThan(layerSets.count, Int(CLUA_LIVE_METATABLES), "too few sets of layers to evict any")
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
