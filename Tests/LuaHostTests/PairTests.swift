import Devices
import Foundation
import Logging
@testable import LuaHost
import Packets
import Reactor
import XCTest

/// `require "tapir.pair"`: Twisted Pair's classes, their checks and argument lists, and
/// where the port corrects Twisted (IHL honoured, a way to answer UDP).
final class PairTests: XCTestCase {
    var host: TapirHost!
    var device: MemoryDevice!
    var hostDevice: HostDevice!
    var path: String!

    override func setUpWithError() throws {
        var options = TapirHost.Options()
        options.moduleDirectories = [URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("lua").path]
        host = TapirHost(options: options, timers: TimerQueue(clock: ManualClock()),
                         logger: Logger(label: "test") { _ in CollectingLogHandler(lines: LogLines()) })
        device = MemoryDevice(name: "tap0", mode: .tap)
        hostDevice = try host.add(device)
        path = NSTemporaryDirectory() + "tapir-pair-\(getpid())-\(UUID().uuidString).lua"
    }

    override func tearDownWithError() throws {
        host.stop()
        try? FileManager.default.removeItem(atPath: path)
    }

    func load(_ source: String) throws {
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        try host.load(path: path)
    }

    func testAddProtoChecksAsTwistedDoes() throws {
        try load("""
            local pair = require "tapir.pair"
            local function fails(f, message)
              local ok, err = pcall(f)
              assert(not ok, "expected an error")
              assert(err:find(message, 1, true), err)
            end
            fails(function() pair.EthernetProtocol():addProto(-1, pair.IPProtocol()) end,
                  "Added protocol must be positive or zero")
            fails(function() pair.EthernetProtocol():addProto(1 << 16, pair.IPProtocol()) end,
                  "Added protocol must fit in 16 bits")
            fails(function() pair.IPProtocol():addProto(1 << 32, pair.RawUDPProtocol()) end,
                  "Added protocol must fit in 32 bits")
            fails(function() pair.RawUDPProtocol():addProto(42, {}) end,
                  "Added protocol must be an instance of DatagramProtocol")
            fails(function() pair.RawUDPProtocol():addProto(1 << 16, pair.DatagramProtocol()) end,
                  "Added protocol must fit in 16 bits")
            """)
    }

    /// A UDP datagram in an IPv4 packet with a 4-byte option (IHL 6): Twisted would slice
    /// at 20 bytes; the port reads the header length.
    func testTheStackDeliversUDPWithTwistedsArgumentsAndHonoursIHL() throws {
        try load("""
            local pair = require "tapir.pair"
            local Proto = pair.DatagramProtocol.subclass("Proto")
            function Proto:datagramReceived(data, addr, reply)
              received = string.format("%s|%s|%d", data, addr[1], addr[2])
              reply("pong:" .. data)
            end
            local udp = pair.RawUDPProtocol(); udp:addProto(42, Proto())
            local ip = pair.IPProtocol(); ip:addProto(17, udp)
            local eth = pair.EthernetProtocol(); eth:addProto(0x800, ip)
            port = pair.TuntapPort("tap0", eth)
            port:startListening()
            assert(port:getHost().type == "TAP" and port:getHost().name == "tap0")
            """)
        let udp = UDPRepr(sport: 5555, dport: 42, payload: Array("ping".utf8))
        let ip = IPv4Repr(src: IPv4Address("198.18.0.1")!, dst: IPv4Address("198.18.0.2")!,
                          proto: IPProtocol.udp, payloadLength: udp.bufferLength, options: [1, 1, 1, 0])
        var frame: [UInt8] = []
        EthernetRepr(src: MACAddress("02:00:00:00:00:01")!, dst: MACAddress("02:00:00:00:00:02")!,
                     type: EtherType.ipv4).emit(appendingTo: &frame)
        ip.emit(appendingTo: &frame)
        udp.emit(appendingTo: &frame, pseudoHeader: ip.pseudoHeader)
        XCTAssertEqual(frame[14], 0x46, "IHL 6")
        device.inject(frame)
        host.pump(hostDevice)

        let received = try host.scripts[0].state.evaluate("return received")
        XCTAssertEqual(try host.scripts[0].state.string(received), "ping|198.18.0.1|5555")
        let written = device.takeWritten()
        XCTAssertEqual(written.count, 1)
        written.first?.withUnsafeBytes { bytes in
            let decoded = FrameDecoder.decode(bytes, linkType: .ethernet)
            XCTAssertEqual(decoded.udp(bytes)?.dport, 5555)
            XCTAssertEqual(decoded.ipv4(bytes)?.dst, IPv4Address("198.18.0.1"))
            XCTAssertEqual(Array(decoded.payload(bytes)), Array("pong:ping".utf8))
            XCTAssertEqual(decoded.ethernet(bytes)?.dst, MACAddress("02:00:00:00:00:01"))
        }
    }

    func testStopListeningStopsDelivery() throws {
        try load("""
            local pair = require "tapir.pair"
            count = 0
            local eth = pair.EthernetProtocol()
            eth:addProto(0x806, {datagramReceived = function() count = count + 1 end})
            port = pair.TuntapPort("tap0", eth)
            port:startListening()
            """)
        device.inject(TestFrames.arpRequest())
        host.pump(hostDevice)
        try host.scripts[0].state.load(chunk: "port:stopListening()", name: "stop")
        device.inject(TestFrames.arpRequest())
        host.pump(hostDevice)
        let count = try host.scripts[0].state.evaluate("return count")
        XCTAssertEqual(try host.scripts[0].state.string(count), "1")
    }

    /// ARPProtocol:answer(address, mac): a request for the address gets a reply from the
    /// port, one for another address none; arpReceived still sees both.
    func testARPProtocolAnswersForItsAddress() throws {
        try load("""
            local pair = require "tapir.pair"
            seen = 0
            local arp = pair.ARPProtocol(); arp:answer("198.18.0.2", "02:00:00:00:00:02")
            function arp:arpReceived(op) seen = seen + 1 end
            local eth = pair.EthernetProtocol(); eth:addProto(0x806, arp)
            pair.TuntapPort("tap0", eth):startListening()
            """)
        device.inject(TestFrames.arpRequest(for: IPv4Address("198.18.0.2")!))
        device.inject(TestFrames.arpRequest(for: IPv4Address("198.18.0.77")!))
        host.pump(hostDevice)
        let written = device.takeWritten()
        XCTAssertEqual(written.count, 1, "one reply, for 198.18.0.2 only")
        written.first?.withUnsafeBytes { bytes in
            let decoded = FrameDecoder.decode(bytes, linkType: .ethernet)
            let arp = decoded.arp(bytes)
            XCTAssertEqual(arp?.op, 2)
            XCTAssertEqual(arp?.sha, MACAddress("02:00:00:00:00:02"))
            XCTAssertEqual(arp?.spa, IPv4Address("198.18.0.2"))
            XCTAssertEqual(arp?.tpa, TestFrames.kernelIP)
            XCTAssertEqual(decoded.ethernet(bytes)?.src, MACAddress("02:00:00:00:00:02"))
            XCTAssertEqual(decoded.ethernet(bytes)?.dst, TestFrames.kernelMAC)
        }
        let seen = try host.scripts[0].state.evaluate("return seen")
        XCTAssertEqual(try host.scripts[0].state.string(seen), "2")
    }
}
