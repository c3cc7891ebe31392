import XCTest
@testable import TCPEngine

final class BufferTests: XCTestCase {
    func testRingWrapsAndPeeksInTwoPieces() {
        var ring = RingBuffer(capacity: 8)
        defer { ring.deallocate() }
        XCTAssertEqual(([1, 2, 3, 4, 5, 6] as [UInt8]).withUnsafeBytes { ring.enqueue($0) }, 6)
        ring.dequeue(4)
        XCTAssertEqual(([7, 8, 9, 10, 11, 12, 13] as [UInt8]).withUnsafeBytes { ring.enqueue($0) }, 6)
        XCTAssertEqual(ring.count, 8)
        XCTAssertEqual(ring.free, 0)
        let (a, b) = ring.peek(at: 1, length: 10)
        XCTAssertEqual(Array(a) + Array(b), [6, 7, 8, 9, 10, 11, 12])
        XCTAssertEqual(a.count, 3)
        var out = [UInt8](repeating: 0, count: 5)
        XCTAssertEqual(out.withUnsafeMutableBytes { ring.copy(into: $0) }, 5)
        XCTAssertEqual(out, [5, 6, 7, 8, 9])
    }

    func testWritePastTheStoredBytesThenCommit() {
        var ring = RingBuffer(capacity: 10)
        defer { ring.deallocate() }
        _ = ([1, 2] as [UInt8]).withUnsafeBytes { ring.enqueue($0) }
        XCTAssertEqual(([5, 6, 7] as [UInt8]).withUnsafeBytes { ring.write($0, at: 2) }, 3)
        XCTAssertEqual(ring.count, 2)
        XCTAssertEqual(([3, 4] as [UInt8]).withUnsafeBytes { ring.write($0, at: 0) }, 2)
        ring.commit(5)
        let (a, b) = ring.peek(at: 0, length: 10)
        XCTAssertEqual(Array(a) + Array(b), [1, 2, 3, 4, 5, 6, 7])
        // Past the free space: cut.
        XCTAssertEqual([UInt8](repeating: 9, count: 5).withUnsafeBytes { ring.write($0, at: 1) }, 2)
        XCTAssertEqual([UInt8](repeating: 9, count: 5).withUnsafeBytes { ring.write($0, at: 3) }, 0)
    }

    func testGrowKeepsStoredAndOutOfOrderBytesInPlace() {
        var ring = RingBuffer(capacity: 8)
        defer { ring.deallocate() }
        _ = ([1, 2, 3, 4, 5, 6] as [UInt8]).withUnsafeBytes { ring.enqueue($0) }
        ring.dequeue(5)
        // Stored: 6, 7, 8 at the end of the storage; 10 out of order past them, wrapped.
        _ = ([7, 8] as [UInt8]).withUnsafeBytes { ring.enqueue($0) }
        XCTAssertEqual(([10] as [UInt8]).withUnsafeBytes { ring.write($0, at: 1) }, 1)
        ring.grow(to: 20)
        XCTAssertEqual(ring.capacity, 20)
        XCTAssertEqual(ring.free, 17)
        XCTAssertEqual(([9] as [UInt8]).withUnsafeBytes { ring.write($0, at: 0) }, 1)
        ring.commit(2)
        let (a, b) = ring.peek(at: 0, length: 20)
        XCTAssertEqual(Array(a) + Array(b), [6, 7, 8, 9, 10])
    }

    func testAssemblerMergesAndRefusesPastItsRanges() {
        var assembler = Assembler(capacity: 2)
        XCTAssertTrue(assembler.add(start: 10, end: 20))
        XCTAssertTrue(assembler.add(start: 30, end: 40))
        XCTAssertFalse(assembler.add(start: 50, end: 60))
        XCTAssertEqual(assembler.ranges, [.init(start: 10, end: 20), .init(start: 30, end: 40)])
        XCTAssertTrue(assembler.add(start: 15, end: 35))
        XCTAssertEqual(assembler.ranges, [.init(start: 10, end: 40)])
        XCTAssertEqual(assembler.popFront(), 0)
        assembler.shift(by: 12)
        XCTAssertEqual(assembler.ranges, [.init(start: 0, end: 28)])
        XCTAssertEqual(assembler.popFront(), 28)
        XCTAssertTrue(assembler.isEmpty)
    }
}
