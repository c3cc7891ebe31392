import Devices
import Glibc
import XCTest

final class DeviceDrainTests: XCTestCase {
    private let buffer = ReadBuffer()

    func testBudgetStopsABusyDeviceSoAnotherIsServed() {
        let busy = MemoryDevice(name: "busy")
        let quiet = MemoryDevice(name: "quiet")
        let packet = [UInt8](repeating: 0xab, count: 1500)
        for _ in 0..<1000 { busy.inject(packet) }
        for _ in 0..<3 { quiet.inject([1, 2, 3]) }

        let drain = DeviceDrain()
        XCTAssertEqual(drain.byteBudget, 256 * 1024)
        var busyPackets = 0
        var quietPackets = 0
        var rounds = 0
        // A level-triggered loop: every wakeup serves each ready device once, in turn.
        while busy.pendingCount > 0 || quiet.pendingCount > 0 {
            rounds += 1
            let busyReport = drain.drain(busy, into: buffer.bytes) { _ in busyPackets += 1 }
            XCTAssertLessThan(busyReport.bytes, drain.byteBudget + packet.count, "one packet past the budget at most")
            if busy.pendingCount > 0 {
                XCTAssertTrue(busyReport.morePending)
                XCTAssertGreaterThanOrEqual(busyReport.bytes, drain.byteBudget)
            }
            let quietBefore = quiet.pendingCount
            let quietReport = drain.drain(quiet, into: buffer.bytes) { _ in quietPackets += 1 }
            XCTAssertEqual(quietReport.stop, .wouldBlock)
            XCTAssertEqual(quietReport.packets, quietBefore, "the quiet device is served fully every round")
            XCTAssertEqual(quiet.pendingCount, 0)
            if rounds < 4 { quiet.inject([9]) }  // new traffic arrives while the busy one is still pending
            XCTAssertLessThan(rounds, 20)
        }
        XCTAssertEqual(busyPackets, 1000)
        XCTAssertEqual(quietPackets, 6)
        XCTAssertEqual(rounds, 1 + (1000 * 1500) / (256 * 1024))  // 175 packets of 1500 bytes a round
    }

    func testSmallBudgetAndTunTapDevice() throws {
        let io = ScriptedDeviceIO()
        io.readSteps = Array(repeating: .bytes([UInt8](repeating: 1, count: 100)), count: 10)
        let device = try TunTapDevice.open(.init(name: "scripted0", mode: .tun), io: io)
        let drain = DeviceDrain(byteBudget: 250)
        var count = 0
        let first = drain.drain(device, into: buffer.bytes) { _ in count += 1 }
        XCTAssertEqual(first, DeviceDrain.Report(packets: 3, bytes: 300, stop: .budgetExhausted))
        XCTAssertEqual(io.readSteps.count, 7)
        let rest = DeviceDrain(byteBudget: 10_000).drain(device, into: buffer.bytes) { _ in count += 1 }
        XCTAssertEqual(rest.stop, .wouldBlock)
        XCTAssertEqual(count, 10)
    }
}
