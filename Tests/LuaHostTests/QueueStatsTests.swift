@testable import LuaHost
import XCTest

/// tapir.stats() of a multi-queue run: the queues' tables added up (QueueStatsSum).
final class QueueStatsTests: XCTestCase {
    func queue(rx: Int64, calls: Int64, time: Double, held: [EncodedValue]) -> EncodedValue {
        .record([
            "devices": .table([(.string("tap0"), .record(["rx_packets": .integer(rx), "tx_packets": .integer(rx * 2)]))]),
            "handlers": .array([
                .record(["script": .string("echo"), "selector": .string("udp"), "defined_at": .string("echo.lua:3"),
                         "calls": .integer(calls), "errors": .integer(0), "time_ms": .number(time)]),
            ]),
            "tcp": .record(["connections": .integer(Int64(held.count)), "held": .array(held)]),
        ])
    }

    func connection(_ peer: String) -> EncodedValue {
        .record(["peer": .string(peer), "local": .string("198.18.0.2:80"), "state": .string("established"),
                 "counters": .record(["segments_in": .integer(3)])])
    }

    func field(_ value: EncodedValue, _ path: EncodedValue...) -> EncodedValue? {
        var current = value
        for key in path {
            guard case .table(let fields) = current, let next = fields.first(where: { $0.0 == key })?.1 else { return nil }
            current = next
        }
        return current
    }

    func testNumbersAddUpHandlersMergeConnectionsJoinAndEachQueueIsKept() {
        let first = queue(rx: 5, calls: 4, time: 1.5, held: [connection("198.18.0.1:1000")])
        let second = queue(rx: 7, calls: 6, time: 0.25, held: [connection("198.18.0.1:1001")])
        let total = QueueStatsSum.combined([first, second])
        XCTAssertEqual(field(total, .string("devices"), .string("tap0"), .string("rx_packets")), .integer(12))
        XCTAssertEqual(field(total, .string("devices"), .string("tap0"), .string("tx_packets")), .integer(24))
        XCTAssertEqual(field(total, .string("handlers"), .integer(1), .string("calls")), .integer(10))
        XCTAssertEqual(field(total, .string("handlers"), .integer(1), .string("time_ms")), .number(1.75))
        XCTAssertEqual(field(total, .string("handlers"), .integer(1), .string("script")), .string("echo"))
        XCTAssertNil(field(total, .string("handlers"), .integer(2)), "one handler, in both queues' states")
        XCTAssertEqual(field(total, .string("tcp"), .string("connections")), .integer(2))
        XCTAssertEqual(field(total, .string("tcp"), .string("held"), .integer(2), .string("peer")),
                       .string("198.18.0.1:1001"), "connections of different queues are listed apart")
        XCTAssertEqual(field(total, .string("queues"), .integer(1)), first)
        XCTAssertEqual(field(total, .string("queues"), .integer(2)), second)
    }

    func testAQueueThatHasNotPublishedAddsNothing() {
        let first = queue(rx: 5, calls: 4, time: 1, held: [])
        let total = QueueStatsSum.combined([first, .table([])])
        XCTAssertEqual(field(total, .string("devices"), .string("tap0"), .string("rx_packets")), .integer(5))
        XCTAssertEqual(field(total, .string("queues"), .integer(2)), .table([]))
    }

    func testTheBoardKeepsEachQueuesLastPublication() {
        let board = QueueStatsBoard(queues: 2)
        XCTAssertEqual(board.snapshot(), [nil, nil])
        board.publish(.integer(1), queue: 2)
        board.publish(.integer(2), queue: 2)
        XCTAssertEqual(board.snapshot(), [nil, .integer(2)])
    }
}
