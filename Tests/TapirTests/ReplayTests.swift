import Capture
import Devices
import Foundation
import Packets
import XCTest

/// `tapir replay`: handlers over a capture, no device and no root; what they write is
/// checked packet by packet and by tshark with checksum checking on.
final class ReplayTests: XCTestCase {
    var directory: String!
    let kernelMAC = MACAddress("02:00:00:00:00:01")!
    let kernelIP = IPv4Address("198.18.0.1")!
    let hostIP = IPv4Address("198.18.0.2")!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "tapir-replay-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func frame(_ type: UInt16, dst: MACAddress = MACAddress("02:54:41:50:49:52")!, _ body: (inout [UInt8]) -> Void) -> [UInt8] {
        var bytes: [UInt8] = []
        EthernetRepr(src: kernelMAC, dst: dst, type: type).emit(appendingTo: &bytes)
        body(&bytes)
        return bytes
    }

    func ipv4(_ proto: UInt8, _ payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        IPv4Repr(src: kernelIP, dst: hostIP, proto: proto, payloadLength: payload.count).emit(appendingTo: &bytes)
        return bytes + payload
    }

    /// An ARP request, an echo request and a UDP datagram to port 7, a second apart.
    func writeInput() throws -> String {
        let arp = frame(EtherType.arp, dst: MACAddress(value: 0xffff_ffff_ffff)) { bytes in
            ARPRepr(op: 1, sha: kernelMAC, spa: kernelIP, tha: MACAddress(value: 0), tpa: hostIP)
                .emit(appendingTo: &bytes)
        }
        var echo: [UInt8] = []
        ICMPv4Repr.echoRequest(id: 0x1234, seq: 1, data: Array("tapir ping".utf8)).emit(appendingTo: &echo)
        let ping = frame(EtherType.ipv4) { $0 += ipv4(IPProtocol.icmp, echo) }
        let udpRepr = UDPRepr(sport: 40000, dport: 7, payload: Array("echo me".utf8))
        var udp: [UInt8] = []
        udpRepr.emit(appendingTo: &udp, pseudoHeader: .v4(source: kernelIP, destination: hostIP))
        let datagram = frame(EtherType.ipv4) { $0 += ipv4(IPProtocol.udp, udp) }

        let path = directory + "/in.pcap"
        let writer = try PcapWriter(path: path, linkType: .ethernet)
        for (index, packet) in [arp, ping, datagram].enumerated() {
            try writer.write(packet, time: CaptureTime(seconds: 1_700_000_000 + Int64(index)))
        }
        try writer.close()
        return path
    }

    func testReplayWritesTheHandlersAnswersAndTsharkFindsNothingWrong() throws {
        let input = try writeInput()
        let output = directory + "/out.pcap"
        let result = try ChildProcess.run([TapirCommand.path, "replay", input,
                                           TapirCommand.lua("examples/responder.lua"), "--out", output])
        XCTAssertEqual(result.status, 0, result.stderr)

        let written = try PcapReader(path: output).readAll()
        XCTAssertEqual(written.count, 3, "\(written)")
        guard written.count == 3 else { return }
        let decoded = written.map { packet in
            packet.bytes.withUnsafeBytes { FrameDecoder.decode($0, linkType: .ethernet) }
        }
        written[0].bytes.withUnsafeBytes { bytes in
            let arp = decoded[0].arp(bytes)
            XCTAssertEqual(arp?.op, 2)
            XCTAssertEqual(arp?.spa, hostIP)
            XCTAssertEqual(arp?.tpa, kernelIP)
            XCTAssertEqual(arp?.tha, kernelMAC)
        }
        written[1].bytes.withUnsafeBytes { bytes in
            let icmp = decoded[1].icmp(bytes)
            XCTAssertEqual(icmp?.type, 0)
            XCTAssertEqual(icmp?.id, 0x1234)
            XCTAssertEqual(icmp?.seq, 1)
            XCTAssertEqual(decoded[1].ipv4(bytes)?.dst, kernelIP)
            XCTAssertEqual(icmp?.verifyChecksum(), true)
        }
        written[2].bytes.withUnsafeBytes { bytes in
            XCTAssertEqual(decoded[2].udp(bytes)?.dport, 40000)
            XCTAssertEqual(Array(decoded[2].payload(bytes)), Array("echo me".utf8))
        }
        // Each answer carries the time of the packet it answered.
        XCTAssertEqual(written.map(\.time.seconds), [1_700_000_000, 1_700_000_001, 1_700_000_002])

        guard let tshark = ChildProcess.locate("tshark") else { throw XCTSkip("tshark is not installed") }
        let marks = try ChildProcess.run([tshark, "-r", output, "-o", "ip.check_checksum:TRUE",
                                          "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                                          "-Y", "_ws.malformed || _ws.expert.severity >= warning"])
        XCTAssertEqual(marks.status, 0, marks.stderr)
        XCTAssertEqual(marks.stdout, "", "tshark marks what we wrote")
        let all = try ChildProcess.run([tshark, "-r", output])
        XCTAssertEqual(all.stdout.split(separator: "\n").count, 3, all.stdout)
    }

    func testTimersRunOnTheCapturesClock() throws {
        let input = try writeInput()
        let script = directory + "/timers.lua"
        try """
            local dev = tapir.devices()[1]
            local start = tapir.now()
            -- fires between the second and the third packet of the capture
            tapir.after(1500, function()
              dev:write(string.format("timer at +%d ms", math.floor(tapir.now() - start)))
            end)
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let output = directory + "/out.pcap"
        let result = try ChildProcess.run([TapirCommand.path, "replay", input, script, "--out", output])
        XCTAssertEqual(result.status, 0, result.stderr)
        let written = try PcapReader(path: output).readAll()
        XCTAssertEqual(written.map { String(decoding: $0.bytes, as: UTF8.self) }, ["timer at +1500 ms"])
        XCTAssertEqual(written.first?.time, CaptureTime(seconds: 1_700_000_001, nanoseconds: 500_000_000))
    }

    func testABrokenScriptSaysFileAndLine() throws {
        let input = try writeInput()
        let script = directory + "/broken.lua"
        try "local x = 1\ntapir.on('udp', function() end\n".write(toFile: script, atomically: true, encoding: .utf8)
        let result = try ChildProcess.run([TapirCommand.path, "replay", input, script])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("broken.lua:"), result.stderr)
    }
}
