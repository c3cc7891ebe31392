import Devices
import Foundation
@testable import LuaHost
import XCTest

/// A read burst's small frames are set aside and handled after (ReadBatch): the handlers
/// still see every frame whole, once each and in the order read, whatever mix of small
/// and slot-overflowing frames the burst holds and however many batches it takes.
final class ReadBatchTests: MemoryHostTestCase {
    func testABurstIsHandledWholeAndInOrderAcrossBatchesAndLargeFrames() throws {
        try load("""
            tapir.on("udp", function(pkt)
              local payload = pkt.payload
              tapir.log.info(pkt.udp.sport .. " " .. #payload .. " " .. payload:sub(-6))
              return true
            end)
            """)
        // 100 frames in one burst: mostly small, a slot-size one now and then past 2048
        // bytes (handled apart, after the small ones before it), payloads ending in their
        // number so a frame overwritten by a later one shows.
        var expected: [String] = []
        for index in 0..<100 {
            let size = index % 17 == 5 ? 3000 : 10 + index
            let tail = String(format: "#%05d", index)
            let payload = String(repeating: "x", count: size - tail.count) + tail
            device.inject(TestFrames.udp(dport: 9, sport: UInt16(20000 + index), payload: payload))
            expected.append("\(20000 + index) \(size) \(tail)")
        }
        XCTAssertEqual(host.pump(hostDevice), 100)
        let lines = logged.lines.compactMap { line in line.range(of: "2\\d{4} ", options: .regularExpression).map { String(line[$0.lowerBound...]) } }
        XCTAssertEqual(lines, expected)
    }

    /// A burst read while a batch is being handled (a pack test's runner pumps a device
    /// from inside a step) goes around the batch: nothing of the batch in hand is
    /// overwritten.
    func testABatchIsNotOverwrittenByABurstReadWhileItIsHandled() {
        let batch = ReadBatch()
        let first: [UInt8] = [1, 2, 3], second: [UInt8] = [4, 5, 6, 7]
        XCTAssertTrue(first.withUnsafeBytes { batch.add($0, offload: nil) })
        XCTAssertTrue(second.withUnsafeBytes { batch.add($0, offload: nil) })
        var seen: [[UInt8]] = []
        batch.handleAll { bytes, _ in
            let inner: [UInt8] = [9, 9, 9]
            XCTAssertFalse(inner.withUnsafeBytes { batch.add($0, offload: nil) }, "refused while handling")
            seen.append(Array(bytes))
        }
        XCTAssertEqual(seen, [first, second])
        XCTAssertEqual(batch.count, 0)
        let header = VirtioNetHeader(flags: VirtioNetHeader.dataValidFlag)
        XCTAssertTrue(first.withUnsafeBytes { batch.add($0, offload: header) })
        XCTAssertFalse([UInt8](repeating: 0, count: ReadBatch.slotSize + 1).withUnsafeBytes { batch.add($0, offload: nil) })
        batch.handleAll { bytes, offload in
            XCTAssertEqual(Array(bytes), first)
            XCTAssertEqual(offload, header, "each frame keeps its own header")
        }
    }
}
