import Synchronization

/// Where a host stands in a multi-queue run (`tapir run --queues N`): one host (its own
/// event loop, thread, Lua states and its queue of each device) per queue. Scripts see
/// `index` as `tapir.queue` and `count` as `tapir.queues`; `board` is where the hosts
/// publish their counters for each other's `tapir.stats()`.
public struct QueuePlace: Sendable {
    /// 1...count.
    public let index: Int
    public let count: Int
    public let board: QueueStatsBoard

    public init(index: Int, count: Int, board: QueueStatsBoard) {
        precondition((1...count).contains(index) && board.queues == count)
        self.index = index
        self.count = count
        self.board = board
    }
}

/// The counters of each queue's host, as that host last published them (TapirHost
/// publishes within `TapirHost.statsPublishDelay` of a read burst, and when it stops).
/// Shared by the queues' threads: a lock around the slots, taken once per publish and
/// once per `tapir.stats()`.
public final class QueueStatsBoard: Sendable {
    public let queues: Int
    private let slots: Mutex<[EncodedValue?]>

    public init(queues: Int) {
        self.queues = queues
        slots = Mutex(Array(repeating: nil, count: queues))
    }

    /// Queue `index` (1-based)'s counters, replacing what it published before.
    func publish(_ stats: EncodedValue, queue index: Int) {
        slots.withLock { $0[index - 1] = stats }
    }

    /// Every queue's last published counters, nil for a queue that has not published yet.
    func snapshot() -> [EncodedValue?] {
        slots.withLock { $0 }
    }
}

/// tapir.stats() of a multi-queue run: the queues' counters added up, plus `queues`,
/// each queue's own.
enum QueueStatsSum {
    static func combined(_ queues: [EncodedValue]) -> EncodedValue {
        var total = queues.first ?? .table([])
        for stats in queues.dropFirst() { total = sum(total, stats) }
        guard case .table(var fields) = total else { return total }
        fields.append((.string("queues"), .array(queues)))
        return .table(fields)
    }

    /// Numbers add up; tables keyed by strings merge key by key; arrays merge entry by
    /// entry, an entry of one being the same as an entry of the other when their string
    /// fields are equal (a handler: its script, selector and defined_at; a TCP connection:
    /// its peer, local address and state), else it is added. Anything else keeps `a`.
    static func sum(_ a: EncodedValue, _ b: EncodedValue) -> EncodedValue {
        switch (a, b) {
        case let (.integer(x), .integer(y)): return .integer(x &+ y)
        case let (.number(x), .number(y)): return .number(x + y)
        case let (.integer(x), .number(y)): return .number(Double(x) + y)
        case let (.number(x), .integer(y)): return .number(x + Double(y))
        case let (.table(x), .table(y)) where isArray(x) && isArray(y):
            var entries = x.map(\.1)
            for entry in y.map(\.1) {
                if let index = entries.firstIndex(where: { identity(of: $0) == identity(of: entry) && identity(of: entry) != nil }) {
                    entries[index] = sum(entries[index], entry)
                } else {
                    entries.append(entry)
                }
            }
            return .array(entries)
        case let (.table(x), .table(y)):
            var fields = x
            for (key, value) in y {
                if let index = fields.firstIndex(where: { $0.0 == key }) {
                    fields[index].1 = sum(fields[index].1, value)
                } else {
                    fields.append((key, value))
                }
            }
            return .table(fields)
        default:
            return a
        }
    }

    /// An array's keys are 1...n (an empty table counts as one).
    private static func isArray(_ fields: [(EncodedValue, EncodedValue)]) -> Bool {
        fields.enumerated().allSatisfy { $0.element.0 == .integer(Int64($0.offset + 1)) }
    }

    /// A record's string fields, in order, as what names it; nil for anything else.
    private static func identity(of value: EncodedValue) -> [String]? {
        guard case .table(let fields) = value else { return nil }
        let strings = fields.compactMap { (key, value) -> String? in
            guard case .string(let name) = key, case .string(let text) = value else { return nil }
            return name + "=" + text
        }
        return strings.isEmpty ? nil : strings
    }
}
