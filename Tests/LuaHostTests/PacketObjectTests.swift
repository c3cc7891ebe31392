import CLua
import Packets
import XCTest
@testable import LuaHost

extension PacketHarness {
    /// The bytes of a Lua string expression evaluated in a handler given the packet.
    func bytes(_ expression: String, on frame: [UInt8], linkType: LinkType = .ethernet) throws -> [UInt8] {
        let lines = try run("""
            function(pkt)
              local value = (\(expression))
              tapir.log.info((value:gsub(".", function(c) return string.format("%02x", c:byte()) end)))
            end
            """, on: frame, linkType: linkType)
        return try XCTUnwrap(lines.last.flatMap(hexBytes))
    }
}

func hexBytes(_ text: String) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    var bytes: [UInt8] = []
    for index in stride(from: 0, to: digits.count, by: 2) {
        guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
        bytes.append(byte)
    }
    return bytes
}

final class PacketObjectTests: XCTestCase {
    /// The install runs in C through LuaState.runProtected: refused memory comes back as a
    /// thrown error, the state is left as it was and a later install succeeds.
    func testAnInstallThatRunsOutOfMemoryThrowsAndTheStateGoesOn() throws {
        let state = try LuaState(log: { _, _ in })
        state.memoryCap = state.memoryUsed + 256
        XCTAssertThrowsError(try PacketObject(state: state)) { error in
            XCTAssertEqual((error as? LuaError)?.kind, .memory, "\(error)")
        }
        XCTAssertEqual(state.stackDepth, 0)
        state.memoryCap = 64 << 20
        let packet = try PacketObject(state: state)
        XCTAssertTrue(try packet.state.isTrue("type(tapir.build.udp) == 'function'"))
    }

    /// One packet object per state: a second would share the first's layer proxies and
    /// address cache, so it is refused, and the first goes on working.
    func testASecondPacketObjectOnOneStateIsRefused() throws {
        let harness = try PacketHarness()
        XCTAssertThrowsError(try PacketObject(state: harness.state)) { error in
            XCTAssertTrue("\(error)".contains("the packet API is installed in this state already"), "\(error)")
        }
        let lines = try harness.run("function(pkt) tapir.log.info(pkt.ip.dst) end", on: try KernelFrames.frame(19))
        XCTAssertEqual(lines.count, 1)
        XCTAssertEqual(harness.state.stackDepth, 0)
    }

    /// Installs the packet API with one field, `ip.bad` of `kind` read directly as
    /// `direct`, into a fresh state; returns the install's error, nil when it succeeds.
    private func installError(kind: clua_field_kind, direct: clua_direct_field) throws -> String? {
        let state = try LuaState(log: { _, _ in })
        var name = clua_field_name()
        name.layer = 1
        name.field = 0
        name.kind = kind
        name.readable = 1
        name.direct = direct
        var request = clua_packet_install_request()
        request.layer_count = 2
        request.frame_layer = 0
        request.payload_field = 1
        request.malformed_field = 2
        var failure: String?
        "bad".withCString { fieldName in
            name.name = fieldName
            ["frame", "ip"].withCStrings { layerNames in
                request.layer_names = layerNames
                withUnsafePointer(to: &name) { names in
                    request.names = names
                    request.name_count = 1
                    withUnsafeMutablePointer(to: &request) { pointer in
                        do { try state.runProtected(clua_packet_install, context: pointer) } catch {
                            failure = "\(error)"
                        }
                    }
                }
            }
        }
        return failure
    }

    /// C reads a direct field as an integer, a boolean or an address (push_direct): an
    /// install that asks it to read another kind, or bytes it cannot read, is refused and
    /// names the field.
    func testADirectReadOfAKindCNeverGivesIsRefused() throws {
        let twoBytes = clua_direct_field(base: UInt8(CLUA_BASE_NETWORK.rawValue), width: 2, shift: 0, offset: 2,
                                         mask: 0xffff)
        XCTAssertNil(try installError(kind: CLUA_FIELD_INTEGER, direct: twoBytes))
        XCTAssertNil(try installError(kind: CLUA_FIELD_BOOLEAN, direct: twoBytes))
        XCTAssertNil(try installError(kind: CLUA_FIELD_BYTES, direct: clua_direct_field()), "not read directly")
        for kind in [CLUA_FIELD_BYTES, CLUA_FIELD_TCP_FLAGS] {
            let error = try XCTUnwrap(installError(kind: kind, direct: twoBytes), "kind \(kind.rawValue) installed")
            XCTAssertTrue(error.contains("packet field 'bad': a direct read cannot give its kind (\(kind.rawValue))"), error)
        }
        let fourBytes = clua_direct_field(base: UInt8(CLUA_BASE_NETWORK.rawValue), width: 4, shift: 0, offset: 12,
                                          mask: 0xffff_ffff)
        XCTAssertNil(try installError(kind: CLUA_FIELD_IPV4, direct: fourBytes))
        for (kind, direct) in [(CLUA_FIELD_IPV4, twoBytes),
                               (CLUA_FIELD_INTEGER, clua_direct_field(base: 4, width: 2, shift: 0, offset: 0, mask: 1)),
                               (CLUA_FIELD_INTEGER, clua_direct_field(base: 2, width: 3, shift: 0, offset: 0, mask: 1)),
                               (CLUA_FIELD_INTEGER, clua_direct_field(base: 2, width: 4, shift: 32, offset: 0, mask: 1))] {
            let error = try XCTUnwrap(installError(kind: kind, direct: direct), "\(direct) installed")
            XCTAssertTrue(error.contains("packet field 'bad': direct read out of range"), error)
        }
    }

    /// The C check sees C's kinds, where a text field is an integer one: Swift's table must
    /// give a direct read to no text field either.
    func testEveryDirectFieldIsOfAKindCGives() {
        for field in PacketField.allCases where field.direct.base != UInt8(CLUA_BASE_NONE.rawValue) {
            switch field.info.kind {
            case .integer, .boolean, .mac, .ipv4, .ipv6: continue
            case .bytes, .tcpFlags, .text: XCTFail("\(field.layer).\(field.name) is read directly as \(field.info.kind)")
            }
        }
    }

    func testPacketReuseKeepsLuaMemoryFlat() throws {
        let harness = try PacketHarness()
        let handler = try harness.state.function("""
            function(pkt)
              local ip, udp = pkt.ip, pkt.udp
              if ip and udp and ip.src == "198.18.0.1" and udp.dport == 53 and #pkt.payload == 53 then
                return true
              end
            end
            """)
        let query = try KernelFrames.frame(19)
        func cycle(_ count: Int, _ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) throws {
            for _ in 0..<count {
                let claimed = try harness.packets.withPacket(bytes, frame: frame) { argument throws(LuaError) in
                    try harness.state.call(handler, with: [argument])
                }
                guard claimed else { return XCTFail("handler did not read the fields") }
            }
        }
        try query.withUnsafeBytes { bytes in
            let frame = DecodedFrame(decoding: bytes, linkType: .ethernet)
            try cycle(1000, bytes, frame)
            harness.state.collectGarbage()
            let luaBefore = harness.state.memoryUsed
            try cycle(100_000, bytes, frame)
            harness.state.collectGarbage()
            let luaAfter = harness.state.memoryUsed
            XCTAssertLessThanOrEqual(luaAfter, luaBefore + 1024, "Lua memory grew from \(luaBefore) to \(luaAfter)")
        }
        XCTAssertEqual(harness.state.stackDepth, 0)
    }

    func testUseAfterTheHandlerReturnedRaises() throws {
        let harness = try PacketHarness()
        let echo = try KernelFrames.frame(17)
        _ = try harness.run("function(pkt) saved = pkt; savedIP = pkt.ip end", on: echo)
        for use in ["saved.ip", "savedIP.src", "#saved", "tostring(saved)", "saved:bytes()", "saved:copy()",
                    "saved:reply{}"] {
            let error = harness.state.loadError("local _ = \(use)")
            XCTAssertEqual(error?.message.hasSuffix("packet used after its handler returned (use pkt:copy())"), true,
                           "\(use): \(String(describing: error))")
        }
        // The state goes on working.
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(pkt.ip.ttl) end", on: echo), ["64"])
    }

    /// An unknown field of a layer lists the layer's fields, as an unknown key does at tapir.on.
    func testAnUnknownFieldListsTheLayersFields() throws {
        let harness = try PacketHarness()
        _ = try harness.run("function(pkt) kept = pkt:copy() end", on: try KernelFrames.frame(17))
        for layer in [PacketLayer.ip, .icmp, .eth] {
            let error = harness.state.loadError("local _ = kept.\(layer.rawValue).foo")
            let fields = layer.keyFields
            XCTAssertFalse(fields.isEmpty)
            XCTAssertEqual(error?.message.components(separatedBy: ": ").dropFirst().joined(separator: ": "),
                           "\(layer.rawValue) has no field 'foo' (its fields: \(fields.joined(separator: ", ")))")
        }
    }

    func testCopySurvivesItsHandler() throws {
        let harness = try PacketHarness()
        let echo = try KernelFrames.frame(17)
        _ = try harness.run("function(pkt) kept = pkt:copy() end", on: echo)
        // The reused packet now shows another frame; the copy still shows the first.
        let arp = try KernelFrames.frame(13)
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(pkt.layers, kept.layers, kept.ip.src, #kept, kept.icmp.seq) end",
                                       on: arp), ["eth:arp\teth:ip:icmp\t198.18.0.1\t98\t1"])
        harness.state.collectGarbage()
        XCTAssertEqual(try harness.bytes("kept:bytes()", on: arp), echo)
        XCTAssertEqual(try harness.bytes("kept:copy():bytes()", on: arp), echo)
        XCTAssertTrue(try harness.state.isTrue("kept.icmp.type == 8 and kept.arp == nil"))
    }

    func testLayerProxyKeptPastItsPacketReadsNilForAnAbsentLayer() throws {
        let harness = try PacketHarness()
        _ = try harness.run("function(pkt) proxy = pkt.ip end", on: try KernelFrames.frame(17))
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(tostring(proxy.src), tostring(pkt.ip)) end",
                                       on: try KernelFrames.frame(13)), ["nil\tnil"])
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(proxy.src, rawequal(proxy, pkt.ip)) end",
                                       on: try KernelFrames.frame(19)), ["198.18.0.1\ttrue"])
    }

    func testToStringIsTheFrameSummary() throws {
        let harness = try PacketHarness()
        for number in [13, 17, 19, 21, 23, 27, 30] {
            let frame = try KernelFrames.frame(number)
            let expected = frame.withUnsafeBytes { bytes in
                DecodedFrame(decoding: bytes, linkType: .ethernet).summary(bytes)
            }
            XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(tostring(pkt)) end", on: frame), [expected])
        }
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(tostring(pkt.udp)) end",
                                       on: try KernelFrames.frame(19)), ["udp layer"])
    }

    func testBytesAndPayload() throws {
        let harness = try PacketHarness()
        let query = try KernelFrames.frame(19)
        XCTAssertEqual(try harness.bytes("pkt:bytes()", on: query), query)
        XCTAssertEqual(try harness.bytes("pkt.payload", on: query), Array(query[(14 + 20 + 8)...]))
        let empty: [UInt8] = []
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(#pkt, pkt.layers, pkt.eth, pkt.malformed) end",
                                       on: empty), ["0\t\tnil\teth: truncated"])
    }

    /// What clua_to_bytes saw, from inside a pusher (a protected call, as dev:write runs).
    nonisolated(unsafe) private static var seenBytes: [UInt8]?
    nonisolated(unsafe) private static var seenLive: Int32?

    /// In its own metatable (the first packet) and in the live one its first read made.
    func testToBytesAcceptsABoundPacket() throws {
        let harness = try PacketHarness()
        guard case .pushed(_, let packet) = harness.packets.argument else { return XCTFail("not a pusher") }
        let pusher: @convention(c) (OpaquePointer?, UnsafeRawPointer?) -> Void = { state, packet in
            clua_packet_push(state, packet)  // a registry read: cannot raise
            PacketObjectTests.seenLive = packet?.assumingMemoryBound(to: clua_packet.self).pointee.live
            var bytes: UnsafePointer<UInt8>?
            var length = 0
            PacketObjectTests.seenBytes = clua_to_bytes(state, -1, &bytes, &length) == 1
                ? Array(UnsafeBufferPointer(start: bytes, count: length)) : nil
        }
        let query = try KernelFrames.frame(19)
        let function = try harness.state.function("function(pkt) return #pkt == 95 and pkt.udp.dport == 53 end")
        for live: Int32 in [0, 1] {
            PacketObjectTests.seenBytes = nil
            let returned = try query.withUnsafeBytes { raw in
                try harness.packets.withPacket(raw, frame: DecodedFrame(decoding: raw, linkType: .ethernet)) { _ throws(LuaError) in
                    try harness.state.call(function, with: [.pushed(by: pusher, with: packet)])
                }
            }
            XCTAssertTrue(returned)
            XCTAssertEqual(PacketObjectTests.seenLive, live)
            XCTAssertEqual(PacketObjectTests.seenBytes, query)
        }
    }

    func testMetatableIsHidden() throws {
        let harness = try PacketHarness()
        XCTAssertEqual(try harness.run("function(pkt) tapir.log.info(getmetatable(pkt), getmetatable(pkt.eth)) end",
                                       on: try KernelFrames.frame(13)), ["packet\tpacket layer"])
    }
}

/// Address fields come from a small cache of their texts per state (CLUA_VALUE_ADDRESS):
/// whatever the cache holds, evicts or finds in a slot another address had, each read
/// gives the frame's own address.
final class AddressCacheTests: XCTestCase {
    /// A UDP frame between two IPv4 hosts, or two IPv6 ones, with the given MACs.
    static func frame(srcMAC: MACAddress, dstMAC: MACAddress, v4: (IPv4Address, IPv4Address)?,
                      v6: (IPv6Address, IPv6Address)? = nil) -> [UInt8] {
        let udp = UDPRepr(sport: 4000, dport: 7, payload: [1, 2, 3])
        var bytes: [UInt8] = []
        if let (src, dst) = v4 {
            let ip = IPv4Repr(src: src, dst: dst, proto: IPProtocol.udp, payloadLength: udp.bufferLength)
            EthernetRepr(src: srcMAC, dst: dstMAC, type: EtherType.ipv4).emit(appendingTo: &bytes)
            ip.emit(appendingTo: &bytes)
            udp.emit(appendingTo: &bytes, pseudoHeader: ip.pseudoHeader)
        } else if let (src, dst) = v6 {
            let ip = IPv6Repr(src: src, dst: dst, proto: IPProtocol.udp, payloadLength: udp.bufferLength)
            EthernetRepr(src: srcMAC, dst: dstMAC, type: EtherType.ipv6).emit(appendingTo: &bytes)
            ip.emit(appendingTo: &bytes)
            udp.emit(appendingTo: &bytes, pseudoHeader: ip.pseudoHeader)
        }
        return bytes
    }

    func testEveryReadGivesTheFramesOwnAddressThroughEvictionsAndSharedSlots() throws {
        let harness = try PacketHarness()
        let handler = try harness.state.function("""
            function(pkt)
              local ip = pkt.ip or pkt.ipv6
              -- twice each: the second read comes from the cache
              tapir.log.info(table.concat({pkt.eth.src, pkt.eth.dst, ip.src, ip.dst, ip.src, pkt.eth.src,
                                           tostring(rawequal(ip.dst, ip.dst))}, " "))
            end
            """)
        defer { harness.state.release(handler) }
        // 600 frames: far more addresses than the cache's 64 slots, so texts are evicted and
        // slots found holding another address of the same or another length; every tenth
        // frame repeats the first one's addresses.
        for index in 0..<600 {
            let n = index % 10 == 9 ? 0 : index
            let srcMAC = MACAddress(bytes: [0x02, 0, 0, 0, UInt8(n >> 8), UInt8(n & 0xff)])!
            let dstMAC = MACAddress(bytes: [0x02, 0x54, 0x41, 0x50, UInt8(n >> 8), UInt8(n & 0xff)])!
            let expected: [String]
            let frame: [UInt8]
            if n % 3 == 2 {
                let src = IPv6Address("2001:2::\(String(n, radix: 16))")!, dst = IPv6Address("2001:2:0:1::\(String(n + 1, radix: 16))")!
                frame = Self.frame(srcMAC: srcMAC, dstMAC: dstMAC, v4: nil, v6: (src, dst))
                expected = ["\(srcMAC)", "\(dstMAC)", "\(src)", "\(dst)", "\(src)", "\(srcMAC)", "true"]
            } else {
                let src = IPv4Address("198.18.\(n / 256).\(n % 256)")!, dst = IPv4Address("198.19.\(n / 256).\(n % 256)")!
                frame = Self.frame(srcMAC: srcMAC, dstMAC: dstMAC, v4: (src, dst))
                expected = ["\(srcMAC)", "\(dstMAC)", "\(src)", "\(dst)", "\(src)", "\(srcMAC)", "true"]
            }
            let before = harness.log.lines.count
            try frame.withUnsafeBytes { bytes in
                let decoded = DecodedFrame(decoding: bytes, linkType: .ethernet)
                _ = try harness.packets.withPacket(bytes, frame: decoded) { argument throws(LuaError) in
                    try harness.state.call(handler, with: [argument])
                }
            }
            XCTAssertEqual(harness.log.lines[before...].map(\.message), [expected.joined(separator: " ")], "frame \(index)")
        }
        XCTAssertEqual(harness.state.stackDepth, 0)
    }
}
