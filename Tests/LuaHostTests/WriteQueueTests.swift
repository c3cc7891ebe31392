import XCTest
@testable import LuaHost

final class WriteQueueTests: XCTestCase {
    private func flushed(_ queue: WriteQueue) -> [(Int64, [UInt8])] {
        var out: [(Int64, [UInt8])] = []
        queue.flush { id, count, frame in
            for index in 0..<count { out.append((id, Array(frame(index).bytes))) }
        }
        return out
    }

    func testFramesComeOutInOrderWithTheirDevicesAndTheQueueIsEmptyAfter() {
        let queue = WriteQueue(capacity: 64)
        XCTAssertTrue(queue.isEmpty)
        for (id, frame) in [(1, [1, 2, 3]), (2, [4]), (1, []), (3, [5, 6])] as [(Int64, [UInt8])] {
            XCTAssertTrue(frame.withUnsafeBytes { queue.append($0, deviceID: id) })
        }
        XCTAssertFalse(queue.isEmpty)
        let out = flushed(queue)
        XCTAssertEqual(out.map(\.0), [1, 2, 1, 3])
        XCTAssertEqual(out.map(\.1), [[1, 2, 3], [4], [], [5, 6]])
        XCTAssertTrue(queue.isEmpty)
        XCTAssertTrue(flushed(queue).isEmpty)
    }

    func testConsecutiveFramesForOneDeviceComeAsOneRun() {
        let queue = WriteQueue(capacity: 64)
        for (id, frame) in [(1, [1]), (1, [2, 2]), (2, [3]), (2, [4]), (2, [5]), (1, [6])] as [(Int64, [UInt8])] {
            XCTAssertTrue(frame.withUnsafeBytes { queue.append($0, deviceID: id) })
        }
        var runs: [(Int64, [[UInt8]])] = []
        queue.flush { id, count, frame in runs.append((id, (0..<count).map { Array(frame($0).bytes) })) }
        XCTAssertEqual(runs.map(\.0), [1, 2, 1])
        XCTAssertEqual(runs.map(\.1), [[[1], [2, 2]], [[3], [4], [5]], [[6]]])
        XCTAssertTrue(queue.isEmpty)
    }

    func testAFrameThatDoesNotFitIsRefusedUntilTheQueueIsFlushed() {
        let queue = WriteQueue(capacity: 8)
        let six = [UInt8](repeating: 6, count: 6)
        XCTAssertTrue(six.withUnsafeBytes { queue.append($0, deviceID: 1) })
        XCTAssertFalse(six.withUnsafeBytes { queue.append($0, deviceID: 1) }, "2 bytes left")
        XCTAssertEqual(flushed(queue).count, 1)
        XCTAssertTrue(six.withUnsafeBytes { queue.append($0, deviceID: 2) }, "room again after the flush")
        XCTAssertEqual(flushed(queue).map(\.0), [2])
        let nine = [UInt8](repeating: 9, count: 9)
        XCTAssertFalse(nine.withUnsafeBytes { queue.append($0, deviceID: 1) }, "larger than the whole queue")
    }
}
