import Devices
import Foundation
import Logging
@testable import LuaHost
import Packets
import Reactor
import XCTest

/// IPv4 fragments through the host: reassembled only for scripts that set
/// `tapir.reassemble = true`, and writes over a device's MTU sent as fragments.
final class FragmentationHostTests: XCTestCase {
    var host: TapirHost!
    var device: MemoryDevice!
    var hostDevice: HostDevice!
    var directory: String!

    override func setUpWithError() throws {
        let timers = TimerQueue(clock: ManualClock(now: TimerInstant(nanoseconds: 1_000_000_000)))
        host = TapirHost(timers: timers, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        device = MemoryDevice(name: "mem0", mode: .tap)
        hostDevice = try host.add(device, mtu: 1500)
        directory = NSTemporaryDirectory() + "tapir-frag-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        host.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func load(_ source: String, name: String) throws {
        let path = directory + "/" + name
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        try host.load(path: path)
    }

    /// A UDP datagram to port 7 carrying `payload`, cut into Ethernet frames of MTU 1500.
    func fragmentedUDP(payload: [UInt8], id: UInt16 = 99) -> [[UInt8]] {
        let udp = UDPRepr(sport: 40000, dport: 7, payload: payload)
        let ip = IPv4Repr(src: TestFrames.kernelIP, dst: TestFrames.hostIP, proto: IPProtocol.udp,
                          payloadLength: udp.bufferLength, id: id, flags: 0)
        var frame: [UInt8] = []
        EthernetRepr(src: TestFrames.kernelMAC, dst: TestFrames.hostMAC, type: EtherType.ipv4).emit(appendingTo: &frame)
        ip.emit(appendingTo: &frame)
        udp.emit(appendingTo: &frame, pseudoHeader: ip.pseudoHeader)
        var fragments: [[UInt8]] = []
        var scratch = [UInt8](repeating: 0, count: 14 + 1500)
        _ = frame.withUnsafeBytes { bytes in
            scratch.withUnsafeMutableBytes { scratch in
                IPv4Fragmenter.fragment(bytes, networkOffset: 14, mtu: 1500, identification: id, scratch: scratch) {
                    fragments.append(Array($0))
                    return true
                }
            }
        }
        return fragments
    }

    func testOnlyAScriptThatAskedSeesTheWholeDatagramTheOthersSeeFragments() throws {
        try load("""
            tapir.reassemble = true
            tapir.on("udp", {dport = 7}, function(pkt, dev) dev:write("whole " .. #pkt.payload) end)
            """, name: "whole.lua")
        try load("""
            tapir.on("ip", function(pkt, dev) dev:write("piece " .. pkt.ip.frag) end)
            """, name: "pieces.lua")
        let payload = (0..<4000).map { UInt8(truncatingIfNeeded: $0) }
        for fragment in fragmentedUDP(payload: payload).reversed() {
            device.inject(fragment)
        }
        host.pump(hostDevice)
        let written = device.takeWritten().map { String(decoding: $0, as: UTF8.self) }
        XCTAssertEqual(written, ["piece 370", "piece 185", "piece 0", "whole 4000"])
        XCTAssertEqual(host.reassembler.counters.reassembled, 1)
    }

    func testAReplyOverTheMTUIsWrittenAsFragmentsThatReassembleToIt() throws {
        try load("""
            tapir.reassemble = true
            tapir.on("udp", {dport = 7}, function(pkt, dev) dev:write(pkt:reply{}) return true end)
            """, name: "echo.lua")
        let payload = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 3) }
        for fragment in fragmentedUDP(payload: payload) { device.inject(fragment) }
        host.pump(hostDevice)
        let written = device.takeWritten()
        XCTAssertEqual(written.count, 3)
        XCTAssertTrue(written.allSatisfy { $0.count <= 1514 })
        let reassembler = IPv4Reassembler()
        let whole = written.compactMap { fragment in
            fragment.withUnsafeBytes { reassembler.add($0, networkOffset: 14, now: 0) }
        }
        XCTAssertEqual(whole.count, 1)
        try whole[0].withUnsafeBytes { bytes in
            let frame = FrameDecoder.decode(bytes, linkType: .ethernet)
            XCTAssertFalse(frame.isMalformed)
            let udp = try XCTUnwrap(frame.udp(bytes))
            XCTAssertEqual(udp.dport, 40000)
            XCTAssertEqual(Array(udp.payload), payload)
            XCTAssertTrue(udp.verifyChecksum(.v4(source: TestFrames.hostIP, destination: TestFrames.kernelIP)))
        }
    }

    func testADontFragmentDatagramOverTheMTUIsNotWrittenAndCounted() throws {
        try load("""
            ok = tapir.devices()[1]:write(tapir.build.eth{} .. tapir.build.ip{src = "198.18.0.2", dst = "198.18.0.1",
              proto = 17, df = true, payload = tapir.build.udp{sport = 7, dport = 9, payload = string.rep("x", 2000)}})
            small = tapir.devices()[1]:write(tapir.build.eth{} .. tapir.build.ip{src = "198.18.0.2", dst = "198.18.0.1",
              proto = 17, df = true, payload = tapir.build.udp{sport = 7, dport = 9, payload = "fits"}})
            tapir.on("frame", function(pkt, dev)
              dev:write(tostring(ok) .. " " .. tostring(small) .. " " .. tapir.stats().devices.mem0.too_big)
            end)
            """, name: "df.lua")
        XCTAssertEqual(device.takeWritten().count, 1, "only the small datagram")
        device.inject(TestFrames.arpRequest())
        host.pump(hostDevice)
        XCTAssertEqual(device.takeWritten().map { String(decoding: $0, as: UTF8.self) }, ["false true 1"])
    }
}
