import Devices
import Glibc
import XCTest

final class MemoryDeviceTests: XCTestCase {
    private let buffer = ReadBuffer()

    private func readBytes(_ device: MemoryDevice) -> [UInt8]? {
        if case .packet(let packet) = device.read(into: buffer.bytes) { return Array(packet) }
        return nil
    }

    func testInjectedPacketsAreReadOneAtATime() {
        let device = MemoryDevice(name: "mem1", mode: .tun)
        device.inject([1, 2, 3])
        device.inject([4])
        XCTAssertEqual(device.pendingCount, 2)
        XCTAssertEqual(readBytes(device), [1, 2, 3])
        XCTAssertEqual(readBytes(device), [4])
        XCTAssertNil(readBytes(device))
        XCTAssertEqual(device.counters.rxPackets, 2)
        XCTAssertEqual(device.counters.rxBytes, 4)
        XCTAssertNil(device.fileDescriptor)
    }

    func testOnePacketPerWrite() {
        let device = MemoryDevice()
        XCTAssertEqual(device.write([1, 1]), .written)
        XCTAssertEqual(device.write([2]), .written)
        XCTAssertEqual(device.write([3, 3, 3]), .written)
        XCTAssertEqual(device.takeWritten(), [[1, 1], [2], [3, 3, 3]])
        XCTAssertEqual(device.takeWritten(), [])
        XCTAssertEqual(device.counters.txPackets, 3)
        XCTAssertEqual(device.counters.txBytes, 6)
    }

    func testInjectedReadErrors() {
        let device = MemoryDevice()
        device.inject([1])
        device.inject([2])
        device.failNextReads(2, errno: EINTR)
        XCTAssertEqual(readBytes(device), [1], "EINTR is retried")
        device.failNextReads(errno: EAGAIN)
        var seen: [[UInt8]] = []
        let report = DeviceDrain().drain(device, into: buffer.bytes) { seen.append(Array($0)) }
        XCTAssertEqual(report.stop, .wouldBlock)
        XCTAssertEqual(seen, [], "EAGAIN ends the drain before the queued packet")
        XCTAssertEqual(readBytes(device), [2])
    }

    func testInjectedWriteErrorsAreCounted() {
        let device = MemoryDevice()
        device.failNextWrites(2, errno: ENOBUFS)
        device.failNextWrites(errno: EINTR)
        XCTAssertEqual(device.write([1]), .failed(.noBuffers))
        XCTAssertEqual(device.write([2]), .failed(.noBuffers))
        XCTAssertEqual(device.write([3]), .written, "EINTR is retried")
        XCTAssertEqual(device.takeWritten(), [[3]])
        XCTAssertEqual(device.counters.writeNoBuffers, 2)
        XCTAssertEqual(device.counters.writeErrors, 2)
    }

    func testGoneIsSaidOnce() {
        let device = MemoryDevice(name: "mem2")
        device.inject([1])
        device.failNextReads(errno: ENODEV)
        guard case .gone(let reason) = device.read(into: buffer.bytes) else { return XCTFail("expected gone") }
        XCTAssertTrue(reason.contains("mem2"))
        XCTAssertTrue(device.isGone)
        XCTAssertNil(readBytes(device))
        XCTAssertEqual(device.write([1]), .failed(.closed))
    }

    func testOversizedPacketIsCutToTheBuffer() {
        let device = MemoryDevice()
        device.inject([UInt8](repeating: 1, count: 100))
        let small = UnsafeMutableRawBufferPointer.allocate(byteCount: 10, alignment: 1)
        defer { small.deallocate() }
        guard case .packet(let packet) = device.read(into: small) else { return XCTFail("expected a packet") }
        XCTAssertEqual(packet.count, 10)
    }
}
