/// A passive open: the endpoint, its limits, the connections it made that the
/// application has not accepted yet (a fixed-capacity queue) and its counts.
final class Listener {
    let endpoint: TCPEndpoint
    let connectionLimit: Int
    let synBacklog: Int
    let mtu: Int
    let nagle: Bool
    let handle: TCPListener
    /// Connections made through this listener that still exist.
    var connections = 0
    /// Of those, the ones in SYN-RECEIVED.
    var synReceived = 0
    private var queue: [Int32]
    private var queueHead = 0
    var pendingEvents: TCPEvents = []
    var inEventQueue = false

    init(endpoint: TCPEndpoint, handle: TCPListener, options: TCPListenOptions, config: TCPConfiguration) {
        self.endpoint = endpoint
        self.handle = handle
        connectionLimit = Swift.max(options.connectionLimit ?? config.listenerConnectionLimit, 1)
        synBacklog = Swift.max(options.synBacklog ?? config.synBacklog, 0)
        mtu = options.mtu ?? config.mtu
        nagle = options.nagle ?? config.nagle
        queue = []
        queue.reserveCapacity(connectionLimit)
    }

    var acceptQueueCount: Int { queue.count - queueHead }

    func enqueue(_ index: Int32) {
        if queueHead > 0 && queue.count == queue.capacity {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        queue.append(index)
        pendingEvents.insert(.acceptable)
    }

    func dequeue() -> Int32? {
        guard queueHead < queue.count else { return nil }
        let index = queue[queueHead]
        queueHead += 1
        if queueHead == queue.count {
            queue.removeAll(keepingCapacity: true)
            queueHead = 0
        }
        return index
    }

    /// Drops `index` from the queue (a connection reset before it was accepted).
    func remove(_ index: Int32) {
        guard let at = queue[queueHead...].firstIndex(of: index) else { return }
        queue.remove(at: at)
    }
}
