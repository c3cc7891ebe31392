import Devices
import Foundation
@testable import LuaHost
import Packets
import XCTest

/// The modules packs share (lua/tapir/counters.lua, lua/tapir/neighbours.lua) on a memory
/// host, and pkt:reply's neighbour-discovery rules they rely on (hop limit 255, never a
/// multicast source).
final class SharedModulesTests: MemoryHostTestCase {
    static let lua = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("lua").path
    static let foreignMAC = MACAddress("02:99:00:00:00:09")!
    static let hostIPv6 = IPv6Address("2001:2::2")!
    static let kernelIPv6 = IPv6Address("2001:2::1")!

    override func setUpWithError() throws {
        try super.setUpWithError()
        var options = TapirHost.Options()
        options.moduleDirectories = [Self.lua]
        try makeHost(options)
    }

    func value(_ chunk: String) throws -> String {
        let state = host.scripts[0].state
        return try state.string(try state.evaluate("return tostring(" + chunk + ")"))
    }

    // MARK: frames

    static func icmpv6(_ message: ICMPv6Repr, src: IPv6Address, dst: IPv6Address, ethDst: MACAddress?,
                       hlim: UInt8 = 255) -> [UInt8] {
        let ip = IPv6Repr(src: src, dst: dst, proto: IPProtocol.icmpv6, payloadLength: message.bufferLength, hlim: hlim)
        var bytes: [UInt8] = []
        if let ethDst { EthernetRepr(src: TestFrames.kernelMAC, dst: ethDst, type: EtherType.ipv6).emit(appendingTo: &bytes) }
        ip.emit(appendingTo: &bytes)
        message.emit(appendingTo: &bytes, pseudoHeader: ip.pseudoHeader)
        return bytes
    }

    /// A solicitation for `target` to its solicited-node group, as the kernel sends one.
    static func solicitation(for target: IPv6Address = hostIPv6, from src: IPv6Address = kernelIPv6,
                             ethernet: Bool = true) -> [UInt8] {
        let group = target.solicitedNodeMulticast
        let groupMAC = MACAddress(value: 0x3333_0000_0000 | (group.low & 0xffff_ffff))
        return icmpv6(.neighborSolicitation(target: target, source: TestFrames.kernelMAC), src: src, dst: group,
                      ethDst: ethernet ? groupMAC : nil)
    }

    static func ping4(ethDst: MACAddress) -> [UInt8] {
        let icmp = ICMPv4Repr(type: ICMPv4Type.echoRequest, code: 0, rest: 0x0001_0001, payload: Array("hi".utf8))
        let ip = IPv4Repr(src: TestFrames.kernelIP, dst: TestFrames.hostIP, proto: IPProtocol.icmp,
                          payloadLength: icmp.bufferLength)
        var bytes: [UInt8] = []
        EthernetRepr(src: TestFrames.kernelMAC, dst: ethDst, type: EtherType.ipv4).emit(appendingTo: &bytes)
        ip.emit(appendingTo: &bytes)
        icmp.emit(appendingTo: &bytes)
        return bytes
    }

    func takeDecoded(from memory: MemoryDevice? = nil, linkType: LinkType = .ethernet) -> [(bytes: [UInt8], frame: DecodedFrame)] {
        (memory ?? device).takeWritten().map { bytes in
            (bytes, bytes.withUnsafeBytes { FrameDecoder.decode($0, linkType: linkType) })
        }
    }

    // MARK: pkt:reply and neighbour discovery

    func testAReplyToASolicitationToItsGroupComesFromTheTargetWithHopLimit255() throws {
        try load("""
            tapir.on("icmpv6", {type = 135}, function(pkt, dev)
              dev:write(pkt:reply{icmpv6 = {type = 136, flags = 0x60, lladdr = "02:54:41:50:49:52"}})
            end)
            """)
        inject(Self.solicitation())
        let out = takeDecoded()
        XCTAssertEqual(out.count, 1)
        try out.first?.bytes.withUnsafeBytes { bytes in
            let frame = out[0].frame
            let ip = try XCTUnwrap(frame.ipv6(bytes))
            XCTAssertEqual(ip.hlim, 255, "RFC 4861 7.1.2: receivers drop an advertisement with another hop limit")
            XCTAssertEqual(ip.src, Self.hostIPv6, "from the target, not the solicited-node group")
            XCTAssertEqual(ip.dst, Self.kernelIPv6)
            XCTAssertEqual(frame.ethernet(bytes)?.src, TestFrames.hostMAC)
            let icmp = try XCTUnwrap(frame.icmpv6(bytes))
            XCTAssertEqual(icmp.type, ICMPv6Type.neighborAdvertisement)
            XCTAssertTrue(icmp.verifyChecksum(ip.pseudoHeader), "the checksum covers the new source")
        }
    }

    func testAReplyToAUnicastSolicitationKeepsItsAddressAndAnOverrideWins() throws {
        try load("""
            tapir.on("icmpv6", {type = 135}, function(pkt, dev)
              if pkt.ipv6.src == "2001:2::1" then
                dev:write(pkt:reply{icmpv6 = {type = 136, flags = 0x60, lladdr = "02:54:41:50:49:52"}})
              else
                dev:write(pkt:reply{ipv6 = {hlim = 7, src = "2001:2::99"}, icmpv6 = {type = 136}})
              end
            end)
            """)
        inject(Self.icmpv6(.neighborSolicitation(target: Self.hostIPv6, source: TestFrames.kernelMAC),
                           src: Self.kernelIPv6, dst: Self.hostIPv6, ethDst: TestFrames.hostMAC))
        inject(Self.solicitation(from: IPv6Address("2001:2::5")!))
        let out = takeDecoded()
        XCTAssertEqual(out.count, 2)
        out[0].bytes.withUnsafeBytes { bytes in
            XCTAssertEqual(out[0].frame.ipv6(bytes)?.src, Self.hostIPv6)
            XCTAssertEqual(out[0].frame.ipv6(bytes)?.hlim, 255)
        }
        out[1].bytes.withUnsafeBytes { bytes in
            XCTAssertEqual(out[1].frame.ipv6(bytes)?.src, IPv6Address("2001:2::99"), "overrides are applied last")
            XCTAssertEqual(out[1].frame.ipv6(bytes)?.hlim, 7)
        }
    }

    func testARouterAdvertisementAnsweringASolicitationComesFromTheLinkLocalOfItsMAC() throws {
        try load("""
            tapir.on("icmpv6", {type = 133}, function(pkt, dev)
              dev:write(pkt:reply{eth = {src = "02:54:41:50:49:52"}, icmpv6 = {type = 134},
                                  payload = string.pack(">I4I4", 0, 0)})
            end)
            tapir.on("icmpv6", {type = 128}, function(pkt, dev)
              dev:write(pkt:reply{icmpv6 = {type = 129}})  -- not neighbour discovery: hop limit 64
            end)
            """)
        let allRouters = IPv6Address("ff02::2")!
        inject(Self.icmpv6(ICMPv6Repr(type: ICMPv6Type.routerSolicitation), src: IPv6Address("fe80::1")!, dst: allRouters,
                           ethDst: MACAddress("33:33:00:00:00:02")!))
        inject(Self.icmpv6(.echoRequest(id: 1, seq: 1, data: []), src: Self.kernelIPv6, dst: Self.hostIPv6,
                           ethDst: TestFrames.hostMAC, hlim: 64))
        let out = takeDecoded()
        XCTAssertEqual(out.count, 2)
        out[0].bytes.withUnsafeBytes { bytes in
            let ip = out[0].frame.ipv6(bytes)
            XCTAssertEqual(ip?.hlim, 255)
            XCTAssertEqual(ip?.src, IPv6Address("fe80::54:41ff:fe50:4952"), "EUI-64 of 02:54:41:50:49:52 (RFC 4291 A)")
            XCTAssertEqual(out[0].frame.icmpv6(bytes)?.type, ICMPv6Type.routerAdvertisement)
        }
        out[1].bytes.withUnsafeBytes { bytes in
            XCTAssertEqual(out[1].frame.ipv6(bytes)?.hlim, 64)
        }
    }

    func testOnATunARouterMessageToAGroupWithNoSourceGivenIsRefusedClearly() throws {
        let tun = MemoryDevice(name: "tun0", mode: .tun)
        let tunDevice = try host.add(tun)
        try load("""
            tapir.on("icmpv6", {type = 133}, function(pkt, dev)
              local ok, why = pcall(pkt.reply, pkt, {icmpv6 = {type = 134}})
              refused = why
            end)
            """)
        var rs: [UInt8] = []
        let message = ICMPv6Repr(type: ICMPv6Type.routerSolicitation)
        let ip = IPv6Repr(src: IPv6Address("fe80::1")!, dst: IPv6Address("ff02::2")!, proto: IPProtocol.icmpv6,
                          payloadLength: message.bufferLength, hlim: 255)
        ip.emit(appendingTo: &rs)
        message.emit(appendingTo: &rs, pseudoHeader: ip.pseudoHeader)
        tun.inject(rs)
        host.pump(tunDevice)
        let refused = try value("refused")
        XCTAssertTrue(refused.contains("the reply would come from the multicast address ff02::2"), refused)
    }

    // MARK: neighbours

    func testNeighboursAnswersARPAndSolicitationsAndIgnoresForeignFrames() throws {
        try load("""
            require("tapir.neighbours").new{mac = "02:54:41:50:49:52", ipv4 = "198.18.0.2", ipv6 = "2001:2::2",
                                           ping = true}:start()
            unclaimed = 0
            tapir.on("unclaimed", function() unclaimed = unclaimed + 1 end)
            """)
        inject(TestFrames.arpRequest())
        inject(TestFrames.arpRequest(for: IPv4Address("198.18.0.77")!))
        inject(Self.solicitation())
        inject(Self.solicitation(from: .unspecified))  // a duplicate address probe: no answer
        inject(Self.ping4(ethDst: TestFrames.hostMAC))
        inject(Self.ping4(ethDst: Self.foreignMAC))
        let out = takeDecoded()
        XCTAssertEqual(out.count, 3, "ARP reply, advertisement, echo reply")
        out[0].bytes.withUnsafeBytes { XCTAssertEqual(out[0].frame.arp($0)?.sha, TestFrames.hostMAC) }
        out[1].bytes.withUnsafeBytes { bytes in
            XCTAssertEqual(out[1].frame.icmpv6(bytes)?.ndFlags, 0x60, "solicited, override")
            XCTAssertEqual(out[1].frame.icmpv6(bytes)?.targetLinkLayerAddress, TestFrames.hostMAC)
        }
        out[2].bytes.withUnsafeBytes { XCTAssertEqual(out[2].frame.icmp($0)?.type, ICMPv4Type.echoReply) }
        XCTAssertEqual(try value("unclaimed"), "1", "only the ARP for another address reaches unclaimed")
    }

    func testRequiringTheModulesRegistersNothing() throws {
        try load("""
            local neighbours, counters = require "tapir.neighbours", require "tapir.counters"
            local host = neighbours.new{mac = "02:54:41:50:49:52", ipv4 = "198.18.0.2"}
            handlers = #tapir.stats().handlers
            owns = host:owns("198.18.0.2") and not host:owns("198.18.0.3")
            accepts = host:accepts("02:54:41:50:49:52") and host:accepts("ff:ff:ff:ff:ff:ff")
                      and host:accepts("33:33:00:00:00:01") and not host:accepts("02:99:00:00:00:09")
            """)
        XCTAssertEqual(try value("handlers"), "0")
        XCTAssertEqual(try value("owns"), "true")
        XCTAssertEqual(try value("accepts"), "true")
        inject(TestFrames.arpRequest())
        XCTAssertEqual(device.takeWritten().count, 0, "not started: nothing answered")
    }

    /// With a tun beside the tap the pcap filter cannot compile for both link types: a Lua
    /// check of the Ethernet destination stands in, and the tun's datagrams pass.
    func testForeignFramesAreIgnoredWithATapAndATunToo() throws {
        let tun = MemoryDevice(name: "tun0", mode: .tun)
        let tunDevice = try host.add(tun)
        try load("""
            require("tapir.neighbours").new{mac = "02:54:41:50:49:52", ipv4 = "198.18.0.2", ping = true}:start()
            """)
        inject(Self.ping4(ethDst: Self.foreignMAC))
        XCTAssertEqual(device.takeWritten().count, 0)
        inject(Self.ping4(ethDst: TestFrames.hostMAC))
        XCTAssertEqual(device.takeWritten().count, 1)
        tun.inject(Array(Self.ping4(ethDst: TestFrames.hostMAC).dropFirst(14)))
        host.pump(tunDevice)
        XCTAssertEqual(tun.takeWritten().count, 1, "a datagram on a tun has no MAC to check")
    }

    func testADeviceRestrictedInstanceAnswersOnlyThereWithTheRouterFlag() throws {
        let second = MemoryDevice(name: "mem1", mode: .tap)
        let secondDevice = try host.add(second)
        try load("""
            local neighbours = require "tapir.neighbours"
            neighbours.new{mac = "02:54:41:50:49:52", ipv6 = "2001:2::2", device = 2, router = true}:start()
            """)
        inject(Self.solicitation())
        XCTAssertEqual(device.takeWritten().count, 0, "device 1 is not the instance's")
        second.inject(Self.solicitation())
        host.pump(secondDevice)
        let out = takeDecoded(from: second)
        XCTAssertEqual(out.count, 1)
        out.first?.bytes.withUnsafeBytes { XCTAssertEqual(out[0].frame.icmpv6($0)?.ndFlags, 0xe0, "router, solicited, override") }
    }

    func testNeighboursRefusesBadSettingsClearly() throws {
        try load("neighbours = require 'tapir.neighbours'")
        let cases = [
            ("neighbours.new{ipv4 = '198.18.0.2'}", "'mac' must be a MAC address"),
            ("neighbours.new{mac = '01:00:5e:00:00:01'}", "is a group address"),
            ("neighbours.new{mac = '02:54:41:50:49:52', foreign = 'drop'}", "'foreign' must be \"ignore\" or \"accept\""),
            ("neighbours.new{mac = '02:54:41:50:49:52', ipv4 = {1}}", "'ipv4' must be an address or a list of them"),
        ]
        for (call, message) in cases {
            let why = try value("select(2, pcall(function() \(call) end))")
            XCTAssertTrue(why.contains(message), "\(call): \(why)")
        }
    }

    // MARK: counters

    func testCountersLiveInTheStateAndSurviveAReload() throws {
        let path = directory + "/counting.lua"
        func version(_ names: String) -> String {
            """
            counters = require("tapir.counters").new{names = {\(names)}, prefix = "test"}
            tapir.on("udp", function() counters.received = counters.received + 1; counters:add("answered", 2) end)
            """
        }
        try version(#""received", "answered""#).write(toFile: path, atomically: true, encoding: .utf8)
        let script = try host.load(path: path)
        inject(TestFrames.udp(dport: 7))
        inject(TestFrames.udp(dport: 7))
        XCTAssertEqual(try value("counters:line()"), "test: received=2 answered=4")
        try version(#""received", "answered", "dropped""#).write(toFile: path, atomically: true, encoding: .utf8)
        try host.reload(script)
        inject(TestFrames.udp(dport: 7))
        XCTAssertEqual(try value("counters:line()"), "test: received=3 answered=6 dropped=0")
        XCTAssertEqual(try value("tapir.state.counters.received"), "3", "the counts are tapir.state's table")
        XCTAssertEqual(try value("table.concat(counters:list(), ',')"), "received=3,answered=6,dropped=0")
    }

    func testCountersNameWhatIsWrong() throws {
        try load("""
            Counters = require "tapir.counters"
            counters = Counters.new{names = {"a"}, key = "mine"}
            """)
        XCTAssertTrue(try value("select(2, pcall(counters.add, counters, 'b'))")
            .contains("no counter 'b' (counters: a)"))
        XCTAssertTrue(try value("select(2, pcall(Counters.new, {names = {'line'}}))")
            .contains("'line' is the name of a method or field"))
        XCTAssertTrue(try value("select(2, pcall(Counters.new, {}))").contains("'names' must be a list"))
        XCTAssertEqual(try value("counters:line()"), "a=0", "no prefix given: none written")
    }
}
