import XCTest
@testable import TCPEngine

/// The scoreboard alone: blocks kept within [SND.UNA, SND.MAX], merged, bounded, moved past
/// by SND.UNA, and its holes, near 2^32 so every comparison wraps.
final class SACKScoreboardTests: XCTestCase {
    let base = TCPSeq(4_294_967_000)

    func seq(_ offset: Int) -> TCPSeq { base + offset }

    func ranges(_ board: SACKScoreboard) -> [[Int]] {
        board.ranges.map { [$0.start - base, $0.end - base] }
    }

    func testBlocksAreMergedInOrderAndOutsideOnesIgnored() {
        var board = SACKScoreboard(capacity: 8)
        let una = seq(1000), max = seq(9000)
        board.add(left: seq(5000), right: seq(6000), una: una, max: max)
        board.add(left: seq(2000), right: seq(3000), una: una, max: max)
        board.add(left: seq(3000), right: seq(4000), una: una, max: max)  // adjacent: joins
        board.add(left: seq(500), right: seq(1000), una: una, max: max)   // D-SACK below SND.UNA
        board.add(left: seq(8000), right: seq(9500), una: una, max: max)  // past SND.MAX
        board.add(left: seq(7000), right: seq(6500), una: una, max: max)  // inverted
        board.add(left: seq(500), right: seq(1500), una: una, max: max)   // straddles SND.UNA
        XCTAssertEqual(ranges(board), [[2000, 4000], [5000, 6000]])
        XCTAssertEqual(board.bytes, 3000)
        XCTAssertEqual(board.bytes(below: seq(3500)), 1500)
        XCTAssertEqual(board.highest, seq(6000))
        board.add(left: seq(3500), right: seq(5500), una: una, max: max)  // bridges both
        XCTAssertEqual(ranges(board), [[2000, 6000]])
    }

    func testHolesLieBetweenSACKedRangesBelowTheHighest() {
        var board = SACKScoreboard(capacity: 8)
        board.add(left: seq(2000), right: seq(3000), una: seq(1000), max: seq(9000))
        board.add(left: seq(4000), right: seq(5000), una: seq(1000), max: seq(9000))
        XCTAssertEqual(board.hole(from: seq(1000)), .init(start: seq(1000), end: seq(2000)))
        XCTAssertEqual(board.hole(from: seq(2500)), .init(start: seq(3000), end: seq(4000)))
        XCTAssertNil(board.hole(from: seq(4500)))
        XCTAssertNil(board.hole(from: seq(6000)))
    }

    func testSNDUNAMovingOnDropsAndClipsRangesAndClearForgetsAll() {
        var board = SACKScoreboard(capacity: 8)
        board.add(left: seq(2000), right: seq(3000), una: seq(1000), max: seq(9000))
        board.add(left: seq(4000), right: seq(5000), una: seq(1000), max: seq(9000))
        board.acknowledge(upTo: seq(4500))
        XCTAssertEqual(ranges(board), [[4500, 5000]])
        board.clear()
        XCTAssertTrue(board.isEmpty)
        XCTAssertNil(board.highest)
    }

    func testPastItsCapacityTheHighestRangeIsForgotten() {
        var board = SACKScoreboard(capacity: 2)
        for start in [5000, 3000, 7000] {
            board.add(left: seq(start), right: seq(start + 500), una: seq(1000), max: seq(9000))
        }
        XCTAssertEqual(ranges(board), [[3000, 3500], [5000, 5500]])
    }
}
