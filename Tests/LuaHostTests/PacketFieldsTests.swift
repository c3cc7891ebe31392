import CLua
import Capture
import Packets
import XCTest
@testable import LuaHost

/// Frames of Tests/PacketsTests/Fixtures/kernel-frames.pcap, numbered as tshark numbers them.
enum KernelFrames {
    static func frame(_ number: Int) throws -> [UInt8] {
        let packets = try all()
        guard number >= 1, number <= packets.count else { throw XCTSkip("fixture has no frame \(number)") }
        return packets[number - 1]
    }

    static func all() throws -> [[UInt8]] {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let path = tests.appendingPathComponent("PacketsTests/Fixtures/kernel-frames.pcap").path
        let reader = try PcapReader(path: path)
        defer { reader.close() }
        return try reader.readAll().map(\.bytes)
    }
}

/// A Lua state with the packet API, and a way to run Lua on one frame and read back text.
final class PacketHarness {
    let log = LogRecorder()
    let state: LuaState
    let packets: PacketObject

    init(options: LuaState.Options = LuaState.Options()) throws {
        state = try LuaState(options: options, log: log.sink)
        packets = try PacketObject(state: state)
        try state.load(chunk: """
            function show(value)
              if type(value) == "string" and value:find("[^%g ]") then
                return "0x" .. value:gsub(".", function(c) return string.format("%02x", c:byte()) end)
              end
              return tostring(value)
            end
            """, name: "harness")
    }

    /// Calls the Lua function `source` with the packet bound to `frame`; returns what it
    /// logged with tapir.log.info, or throws its error.
    func run(_ source: String, on frame: [UInt8], linkType: LinkType = .ethernet) throws -> [String] {
        let function = try state.function(source)
        defer { state.release(function) }
        let before = log.lines.count
        try frame.withUnsafeBytes { bytes in
            let decoded = DecodedFrame(decoding: bytes, linkType: linkType)
            _ = try packets.withPacket(bytes, frame: decoded) { argument throws(LuaError) in
                try state.call(function, with: [argument])
            }
        }
        return log.lines[before...].map(\.message)
    }

    /// `layer.field=value` for each field of the layer as Lua reads it.
    func fields(_ layer: String, of frame: [UInt8], linkType: LinkType = .ethernet) throws -> [String: String] {
        let names = PacketField.allCases.filter { $0.layer.rawValue == layer }.map { "\"\($0.name)\"" }
        let lines = try run("""
            function(pkt)
              local layer = pkt.\(layer)
              if layer == nil then tapir.log.info("absent") return end
              for _, name in ipairs({\(names.joined(separator: ","))}) do
                tapir.log.info(name .. "=" .. show(layer[name]))
              end
            end
            """, on: frame, linkType: linkType)
        if lines == ["absent"] { return [:] }
        var result: [String: String] = [:]
        for line in lines {
            guard let equals = line.firstIndex(of: "=") else { continue }
            result[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return result
    }
}

final class PacketFieldsTests: XCTestCase {
    /// Packets' Layers.names is the one table of layers: PacketLayer's numbers and bits,
    /// and the layer names C was handed (the packet's keys, tapir.build's builders).
    func testLayersComeFromPacketsTableOfNamesAndNumbers() throws {
        XCTAssertEqual(PacketLayer.allCases.map(\.rawValue).sorted(), Layers.names.map(\.1).sorted())
        for (number, (bit, name)) in Layers.names.enumerated() {
            let layer = try XCTUnwrap(PacketLayer(rawValue: name))
            XCTAssertEqual(layer.layers, bit, name)
            XCTAssertEqual(Int(layer.number), bit.number, name)
            XCTAssertEqual(bit.number, number, name)
            XCTAssertEqual(PacketLayer(number: layer.number), layer)
        }
        XCTAssertNil(PacketLayer(number: Int32(Layers.names.count)))
        XCTAssertNil(PacketLayer(number: -1))
        let harness = try PacketHarness()
        try harness.state.load(chunk: """
            local names = {}
            for name in pairs(tapir.build) do names[#names + 1] = name end
            table.sort(names)
            tapir.log.info(table.concat(names, " "))
            """, name: "builders")
        XCTAssertEqual(harness.log.lines.last?.message,
                       Layers.names.map(\.1).filter { $0 != "frame" }.sorted().joined(separator: " "))
        let tagged = try KernelFrames.frame(27)  // VLAN 100, ICMP echo request
        XCTAssertEqual(try harness.run("""
            function(pkt)
              tapir.log.info(pkt.layers, tostring(pkt.vlan), select(2, pcall(function() return pkt.frame end)))
            end
            """, on: tagged), ["eth:vlan:ip:icmp\tvlan layer\tevaluate:2: packet has no field 'frame'"])
    }

    func testEveryFieldHasAUniqueNameInItsLayerAndAnIDBelowTheCLimit() {
        var seen = Set<String>()
        for field in PacketField.allCases {
            XCTAssertLessThan(field.rawValue, Int32(CLUA_MAX_FIELDS))
            XCTAssertTrue(seen.insert("\(field.layer.rawValue).\(field.name)").inserted, "\(field)")
            XCTAssertEqual(PacketField(layer: field.layer.rawValue, name: field.name), field)
        }
        XCTAssertNil(PacketField(layer: "udp", name: "ttl"))
        XCTAssertNil(PacketField(layer: "dhcp", name: "op"))
    }

    func testEthernetAndARPFields() throws {
        let harness = try PacketHarness()
        let request = try KernelFrames.frame(13)  // who has 198.18.0.2? tell 198.18.0.1 (padded to 58)
        XCTAssertEqual(try harness.fields("eth", of: request),
                       ["src": "02:00:00:00:00:0a", "dst": "ff:ff:ff:ff:ff:ff", "type": "2054"])
        XCTAssertEqual(try harness.fields("arp", of: request),
                       ["op": "1", "hwtype": "1", "ptype": "2048", "hwlen": "6", "plen": "4",
                        "sha": "02:00:00:00:00:0a", "spa": "198.18.0.1", "tha": "00:00:00:00:00:00",
                        "tpa": "198.18.0.2"])
        XCTAssertEqual(try harness.fields("vlan", of: request), [:])
        XCTAssertEqual(try harness.fields("ip", of: request), [:])
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(pkt.layers, #pkt, show(pkt.payload), tostring(pkt.malformed)) end",
                                       on: request), ["eth:arp\t58\t\tnil"])
    }

    func testIPv4AndICMPEchoFields() throws {
        let harness = try PacketHarness()
        let echo = try KernelFrames.frame(17)
        XCTAssertEqual(try harness.fields("ip", of: echo),
                       ["version": "4", "ihl": "5", "tos": "0", "len": "84", "id": "\(0xb7f2)", "flags": "2",
                        "df": "true", "mf": "false", "frag": "0", "ttl": "64", "proto": "1", "chksum": "\(0xf68e)",
                        "src": "198.18.0.1", "dst": "198.18.0.2", "options": ""])
        XCTAssertEqual(try harness.fields("icmp", of: echo),
                       ["type": "8", "code": "0", "chksum": "\(0x7fb1)", "id": "25370", "seq": "1"])
        XCTAssertEqual(try harness.fields("udp", of: echo), [:])
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(pkt.layers, #pkt.payload) end", on: echo),
                       ["eth:ip:icmp\t56"])
    }

    func testICMPErrorHasNoIDOrSeq() throws {
        let harness = try PacketHarness()
        let unreachable = try KernelFrames.frame(20)
        XCTAssertEqual(try harness.fields("icmp", of: unreachable),
                       ["type": "3", "code": "3", "chksum": "\(0x8973)", "id": "nil", "seq": "nil"])
        XCTAssertEqual(try harness.fields("ip", of: unreachable)["tos"], "\(0xc0)")
    }

    func testUDPFields() throws {
        let harness = try PacketHarness()
        let query = try KernelFrames.frame(19)
        XCTAssertEqual(try harness.fields("udp", of: query),
                       ["sport": "48949", "dport": "53", "len": "61", "chksum": "\(0xe2de)"])
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(#pkt.payload, pkt.ip.df) end", on: query),
                       ["53\tfalse"])
    }

    func testTCPFields() throws {
        let harness = try PacketHarness()
        let syn = try harness.fields("tcp", of: try KernelFrames.frame(21))
        XCTAssertEqual(syn["sport"], "51486")
        XCTAssertEqual(syn["dport"], "9")
        XCTAssertEqual(syn["seq"], "709756015")
        XCTAssertEqual(syn["ack"], "0")
        XCTAssertEqual(syn["flags"], "2")
        XCTAssertEqual(syn["flagstr"], "S")
        XCTAssertEqual(syn["window"], "64240")
        XCTAssertEqual(syn["urgptr"], "0")
        XCTAssertEqual(syn["dataofs"], "10")
        XCTAssertEqual(syn["chksum"], "\(0xf01d)")
        // MSS 1460, SACK permitted, timestamps, NOP, window scale 10: 20 bytes.
        XCTAssertEqual(syn["options"]?.prefix(10), "0x020405b4")
        XCTAssertEqual(syn["options"]?.count, 2 + 40)

        let reset = try harness.fields("tcp", of: try KernelFrames.frame(22))
        XCTAssertEqual(reset["flags"], "\(0x14)")
        XCTAssertEqual(reset["flagstr"], "R.")
        XCTAssertEqual(reset["ack"], "709756016")
        XCTAssertEqual(reset["options"], "")
    }

    func testIPv6AndNeighborDiscoveryFields() throws {
        let harness = try PacketHarness()
        let solicitation = try KernelFrames.frame(23)
        XCTAssertEqual(try harness.fields("ipv6", of: solicitation),
                       ["version": "6", "tc": "0", "flow": "0", "plen": "32", "nxt": "58", "hlim": "255",
                        "src": "2001:2::1", "dst": "ff02::1:ff00:2"])
        XCTAssertEqual(try harness.fields("icmpv6", of: solicitation),
                       ["type": "135", "code": "0", "chksum": "\(0x378a)", "id": "nil", "seq": "nil",
                        "target": "2001:2::2", "lladdr": "02:00:00:00:00:0a", "flags": "nil"])
        let advertisement = try harness.fields("icmpv6", of: try KernelFrames.frame(24))
        XCTAssertEqual(advertisement["target"], "2001:2::2")
        XCTAssertEqual(advertisement["lladdr"], "02:00:00:00:00:0b")
        XCTAssertEqual(advertisement["flags"], "\(0x60)")
        let echo = try harness.fields("icmpv6", of: try KernelFrames.frame(25))
        XCTAssertEqual(echo["id"], "\(0x631f)")
        XCTAssertEqual(echo["seq"], "1")
        XCTAssertEqual(echo["target"], "nil")
        XCTAssertEqual(try harness.fields("ipv6", of: try KernelFrames.frame(25))["flow"], "\(0x076092)")
        let routerSolicitation = try harness.fields("icmpv6", of: try KernelFrames.frame(8))
        XCTAssertEqual(routerSolicitation["type"], "133")
        XCTAssertEqual(routerSolicitation["lladdr"], "02:00:00:00:00:0a")
    }

    func testVLANFields() throws {
        let harness = try PacketHarness()
        let tagged = try KernelFrames.frame(27)  // VLAN 100, ICMP echo request
        XCTAssertEqual(try harness.fields("vlan", of: tagged),
                       ["id": "100", "pcp": "0", "dei": "false", "tpid": "\(0x8100)", "inner_id": "nil",
                        "type": "\(0x0800)"])
        XCTAssertEqual(try harness.fields("eth", of: tagged)["type"], "\(0x0800)")
        XCTAssertEqual(try harness.fields("icmp", of: tagged)["id"], "4660")
        let qinq = try KernelFrames.frame(28)  // 802.1ad 200, then 802.1Q 100, ARP
        XCTAssertEqual(try harness.fields("vlan", of: qinq),
                       ["id": "200", "pcp": "1", "dei": "false", "tpid": "\(0x88a8)", "inner_id": "100",
                        "type": "\(0x0806)"])
        XCTAssertEqual(try harness.fields("arp", of: qinq)["tpa"], "198.18.200.2")
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(pkt.layers) end", on: qinq), ["eth:vlan:arp"])
    }

    func testFragmentsHaveNoTransportAfterTheFirst() throws {
        let harness = try PacketHarness()
        let first = try KernelFrames.frame(29)
        XCTAssertEqual(try harness.fields("ip", of: first)["mf"], "true")
        XCTAssertEqual(try harness.fields("icmp", of: first)["type"], "8")
        let second = try KernelFrames.frame(30)
        XCTAssertEqual(try harness.fields("ip", of: second)["frag"], "185")
        XCTAssertEqual(try harness.fields("icmp", of: second), [:])
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(pkt.layers, #pkt.payload) end", on: second),
                       ["eth:ip\t1480"])
    }

    func testRawIPFrames() throws {
        let harness = try PacketHarness()
        let echo = Array(try KernelFrames.frame(17).dropFirst(14))
        XCTAssertEqual(try harness.fields("eth", of: echo, linkType: .rawIP), [:])
        XCTAssertEqual(try harness.fields("ip", of: echo, linkType: .rawIP)["src"], "198.18.0.1")
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(pkt.layers) end", on: echo, linkType: .rawIP),
                       ["ip:icmp"])
    }

    func testEveryTruncationOfEveryFixtureFrameReadsWithoutCrashing() throws {
        let harness = try PacketHarness()
        let readAll = try harness.state.function("""
            function(pkt)
              local count = 0
              for _, layer in ipairs({"eth", "vlan", "arp", "ip", "ipv6", "icmp", "icmpv6", "udp", "tcp"}) do
                local proxy = pkt[layer]
                if proxy then
                  for _, name in ipairs(FIELDS[layer]) do
                    local value = proxy[name]
                    count = count + 1
                  end
                end
              end
              local _ = pkt.payload, pkt.layers, pkt.malformed, tostring(pkt), #pkt
              return count
            end
            """)
        var table: [String] = []
        for layer in PacketLayer.allCases where layer != .frame {
            let names = PacketField.allCases.filter { $0.layer == layer }.map { "\"\($0.name)\"" }
            table.append("\(layer.rawValue) = {\(names.joined(separator: ","))}")
        }
        try harness.state.load(chunk: "FIELDS = {\(table.joined(separator: ", "))}", name: "fields")
        var malformedSeen = 0
        for frame in try KernelFrames.all() {
            for length in stride(from: 0, through: frame.count, by: 1) {
                let prefix = Array(frame.prefix(length))
                try prefix.withUnsafeBytes { bytes in
                    let decoded = DecodedFrame(decoding: bytes, linkType: .ethernet)
                    if decoded.isMalformed { malformedSeen += 1 }
                    _ = try harness.packets.withPacket(bytes, frame: decoded) { argument throws(LuaError) in
                        try harness.state.call(readAll, with: [argument])
                    }
                }
            }
        }
        XCTAssertGreaterThan(malformedSeen, 100)
    }

    func testMalformedReason() throws {
        let harness = try PacketHarness()
        var badLength = try KernelFrames.frame(19)
        badLength[14 + 20 + 4] = 0xff  // UDP length past the datagram
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(pkt.malformed, pkt.udp, pkt.ip.src) end",
                                       on: badLength),
                       ["udp: length field beyond buffer or below header\tnil\t198.18.0.1"])
        let cut = Array(try KernelFrames.frame(19).prefix(14 + 20 + 4))
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(pkt.malformed, pkt.ip, pkt.layers) end", on: cut),
                       ["ip: length field beyond buffer or below header\tnil\teth"])
    }

    func testUnknownFieldNamesRaise() throws {
        let harness = try PacketHarness()
        let echo = try KernelFrames.frame(17)
        XCTAssertThrowsError(try harness.run("function(pkt) return pkt.ip.sport end", on: echo)) { error in
            XCTAssertTrue("\(error)".contains("ip has no field 'sport'"), "\(error)")
        }
        XCTAssertThrowsError(try harness.run("function(pkt) return pkt.dhcp end", on: echo)) { error in
            XCTAssertTrue("\(error)".contains("packet has no field 'dhcp'"), "\(error)")
        }
        XCTAssertThrowsError(try harness.run("function(pkt) pkt.ip.ttl = 1 end", on: echo)) { error in
            XCTAssertTrue("\(error)".contains("read-only"), "\(error)")
        }
    }

    // MARK: Keys of tapir.on, compared natively

    func testKeysMatchWithoutLua() throws {
        let query = try KernelFrames.frame(19)
        try query.withUnsafeBytes { bytes in
            let frame = DecodedFrame(decoding: bytes, linkType: .ethernet)
            let dport = try XCTUnwrap(PacketField(layer: "udp", name: "dport"))
            XCTAssertTrue(dport.matches(try XCTUnwrap(dport.key(integer: 53)), bytes: bytes, frame: frame))
            XCTAssertFalse(dport.matches(try XCTUnwrap(dport.key(integer: 54)), bytes: bytes, frame: frame))
            XCTAssertNil(dport.key(string: "53"))
            let src = PacketField.ipSrc
            XCTAssertTrue(src.matches(try XCTUnwrap(src.key(string: "198.18.0.1")), bytes: bytes, frame: frame))
            XCTAssertNil(src.key(string: "1.2.3"))
            XCTAssertFalse(PacketField.tcpSport.matches(.integer(48949), bytes: bytes, frame: frame))
            XCTAssertTrue(PacketField.ethSrc.matches(.mac(MACAddress(2, 0, 0, 0, 0, 0x0a)), bytes: bytes, frame: frame))
        }
        let reset = try KernelFrames.frame(22)
        try reset.withUnsafeBytes { bytes in
            let frame = DecodedFrame(decoding: bytes, linkType: .ethernet)
            XCTAssertTrue(PacketField.tcpFlagstr.matches(try XCTUnwrap(PacketField.tcpFlagstr.key(string: "R.")),
                                                         bytes: bytes, frame: frame))
            XCTAssertTrue(PacketField.tcpFlags.matches(try XCTUnwrap(PacketField.tcpFlags.key(string: "RA")),
                                                       bytes: bytes, frame: frame))
        }
    }
}
