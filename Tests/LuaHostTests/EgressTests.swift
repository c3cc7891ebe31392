import Devices
import Glibc
import Logging
@testable import LuaHost
import Packets
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
