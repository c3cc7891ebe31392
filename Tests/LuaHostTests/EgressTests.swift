import Devices
import Glibc
import Logging
@testable import LuaHost
import Packets
import TCPEngine
import XCTest

/// The write path on its own: queueing during a burst, the MTU, the maximum size, failures.
final class EgressTests: XCTestCase {
    private var logged: LogLines!
    private var set: DeviceSet!
    private var egress: Egress!
    private var gone: [String] = []

    override func setUp() {
        logged = LogLines()
        let lines = logged!
        let logger = Logger(label: "test") { _ in CollectingLogHandler(lines: lines) }
        set = DeviceSet(logger: logger)
        egress = Egress(devices: set, logger: logger)
        egress.deviceGone = { [unowned self] device, reason in self.gone.append("\(device.name): \(reason)") }
    }

    private func add(_ device: MemoryDevice, mtu: Int? = nil, maxPacketSize: Int? = nil) throws -> HostDevice {
        try set.add(device, mtu: mtu, maxPacketSize: maxPacketSize, errorLogInterval: .seconds(10))
    }

    private func write(_ bytes: [UInt8], to device: HostDevice) -> Bool {
        bytes.withUnsafeBytes { egress.write($0, to: device) }
    }

    func testWritesDuringABurstAreQueuedAndGoOutInOrderAtTheFlush() throws {
        let memory = MemoryDevice(name: "mem0", mode: .tap)
        let device = try add(memory)
        var observed: [[UInt8]] = []
        egress.packetObserver = { bytes, _, outgoing in if outgoing { observed.append(Array(bytes)) } }
        egress.isQueueing = true
        XCTAssertTrue(write(Array("a".utf8), to: device))
        XCTAssertTrue(write(Array("b".utf8), to: device))
        XCTAssertEqual(memory.takeWritten(), [])
        egress.isQueueing = false
        egress.flush()
        XCTAssertEqual(memory.takeWritten(), [Array("a".utf8), Array("b".utf8)])
        XCTAssertEqual(observed, [Array("a".utf8), Array("b".utf8)])
        XCTAssertTrue(write(Array("c".utf8), to: device))
        XCTAssertEqual(memory.takeWritten(), [Array("c".utf8)])
    }

    /// The TCP engine's super-segment to a device that does not cut it (no offloads): it
    /// goes as pieces of `segmentSize` payload, each with its own sequence number, IPv4
    /// length and identification, and checksums that verify (the super-segment's was only
    /// the pseudo-header's sum); PSH on the last only; the observer sees the same pieces.
    func testASuperSegmentGoesAsOrdinarySegmentsToADeviceWithoutOffloads() throws {
        let memory = MemoryDevice(name: "mem0", mode: .tap)
        let device = try add(memory)
        var observed: [[UInt8]] = []
        egress.packetObserver = { bytes, _, outgoing in if outgoing { observed.append(Array(bytes)) } }
        let payload = (0..<3500).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var frame = [UInt8](repeating: 0, count: 14 + 20 + 20 + payload.count)
        payload.withUnsafeBytes { data in
            frame.withUnsafeMutableBytes { buffer in
                let segment = TCPOutgoingSegment(source: TCPEndpoint(.v4(TestFrames.hostIP), 19),
                                                 destination: TCPEndpoint(.v4(TestFrames.kernelIP), 40000),
                                                 seq: 0xffff_fff0, ack: 7, flags: TCPFlags.ack | TCPFlags.psh, window: 100,
                                                 payload: (data, UnsafeRawBufferPointer(start: nil, count: 0)))
                EthernetRepr(src: TestFrames.hostMAC, dst: TestFrames.kernelMAC, type: EtherType.ipv4)
                    .emit(into: buffer)
                IPv4Repr(src: TestFrames.hostIP, dst: TestFrames.kernelIP, proto: IPProtocol.tcp,
                         payloadLength: segment.length, id: 9)
                    .emit(into: UnsafeMutableRawBufferPointer(rebasing: buffer[14..<34]))
                XCTAssertEqual(segment.write(into: UnsafeMutableRawBufferPointer(rebasing: buffer[34...]),
                                             partialChecksum: true), 20 + payload.count)
            }
        }
        XCTAssertTrue(frame.withUnsafeBytes { egress.writeSuperSegment($0, segmentSize: 1448, to: device) })
        let pieces = memory.takeWritten()
        XCTAssertEqual(pieces.map(\.count), [1448, 1448, 604].map { 14 + 20 + 20 + $0 })
        XCTAssertEqual(observed, pieces)
        var at = 0
        for (index, piece) in pieces.enumerated() {
            try piece.withUnsafeBytes { bytes in
                let ip = try IPv4Packet(UnsafeRawBufferPointer(rebasing: bytes[14...]))
                XCTAssertEqual(Int(ip.len), piece.count - 14)
                XCTAssertEqual(ip.id, UInt16(9 + index))
                XCTAssertTrue(Checksum.verify(UnsafeRawBufferPointer(rebasing: bytes[14..<34])))
                let tcp = UnsafeRawBufferPointer(rebasing: bytes[34...])
                XCTAssertTrue(Checksum.verify(tcp, pseudoHeader: ip.pseudoHeader.sum(protocol: IPProtocol.tcp, length: tcp.count)),
                              "piece \(index): its TCP checksum does not verify")
                XCTAssertEqual(tcp.u32(TCPField.sequenceNumber), 0xffff_fff0 &+ UInt32(at))
                XCTAssertEqual(tcp.u16(TCPField.dataOffsetAndFlags) & TCPFlags.psh != 0, index == 2)
                XCTAssertEqual(Array(tcp[20...]), Array(payload[at..<at + tcp.count - 20]))
                at += tcp.count - 20
            }
        }
    }

    /// A UDP datagram of `size` payload bytes in an Ethernet frame, Don't Fragment set or not.
    private func datagram(size: Int, dontFragment: Bool) -> [UInt8] {
        let udp = UDPRepr(sport: 40000, dport: 7, payload: [UInt8](repeating: 0x78, count: size))
        let ip = IPv4Repr(src: TestFrames.kernelIP, dst: TestFrames.hostIP, proto: IPProtocol.udp,
                          payloadLength: udp.bufferLength, id: 5, flags: dontFragment ? IPv4Flags.dontFragment : 0)
        var frame: [UInt8] = []
        EthernetRepr(src: TestFrames.hostMAC, dst: TestFrames.kernelMAC, type: EtherType.ipv4).emit(appendingTo: &frame)
        ip.emit(appendingTo: &frame)
        udp.emit(appendingTo: &frame, pseudoHeader: ip.pseudoHeader)
        return frame
    }

    func testAnIPv4DatagramOverTheMTUGoesOutAsFragmentsUnlessItMustNot() throws {
        let memory = MemoryDevice(name: "mem0", mode: .tap)
        let device = try add(memory, mtu: 576)
        XCTAssertTrue(write(datagram(size: 1000, dontFragment: false), to: device))
        let fragments = memory.takeWritten()
        XCTAssertEqual(fragments.count, 2)
        XCTAssertTrue(fragments.allSatisfy { $0.count - 14 <= 576 }, "\(fragments.map(\.count))")
        XCTAssertFalse(write(datagram(size: 1000, dontFragment: true), to: device))
        XCTAssertEqual(device.tooBigWrites, 1)
        XCTAssertTrue(write(datagram(size: 500, dontFragment: true), to: device))
        XCTAssertEqual(memory.takeWritten(), [datagram(size: 500, dontFragment: true)])
    }

    func testAPacketOverTheMaximumIsRefusedCountedAndSaid() throws {
        let memory = MemoryDevice(name: "mem0", mode: .tap)
        let device = try add(memory, maxPacketSize: 100)
        XCTAssertFalse(write([UInt8](repeating: 0, count: 101), to: device))
        XCTAssertFalse(write([UInt8](repeating: 0, count: 200), to: device))
        XCTAssertEqual(device.oversizedWrites, 2)
        XCTAssertEqual(memory.takeWritten(), [])
        XCTAssertEqual(logged.lines.filter { $0.contains("refused: larger than its maximum packet size, 100 bytes") }.count, 1,
                       "\(logged.lines)")
    }

    func testAFailedWriteIsSaidWithItsCauseAndTheirEndIsSaid() throws {
        let memory = MemoryDevice(name: "mem0", mode: .tap)
        let device = try add(memory)
        memory.failNextWrites(1, errno: ENOBUFS)
        XCTAssertFalse(write([1], to: device))
        XCTAssertTrue(logged.lines.contains { $0.contains("write to mem0 failed: \(WriteFailure.noBuffers.explanation)") },
                      "\(logged.lines)")
        XCTAssertTrue(write([2], to: device))
        XCTAssertTrue(logged.lines.contains { $0.contains("writes to mem0 go out again, after 1 failed") }, "\(logged.lines)")
        XCTAssertEqual(gone, [])
    }

    func testAWriteThatFindsTheDeviceGoneTellsTheHostAndLaterWritesAreNotTried() throws {
        let memory = MemoryDevice(name: "mem0", mode: .tap)
        let device = try add(memory)
        memory.failNextWrites(1, errno: ENODEV)
        XCTAssertFalse(write([1], to: device))
        XCTAssertEqual(gone.count, 1)
        device.goneReported = true
        XCTAssertFalse(write([2], to: device))
        XCTAssertEqual(gone.count, 1)
    }
}
