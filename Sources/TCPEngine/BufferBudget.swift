/// The buffer bytes of every connection together, held to `TCPConfiguration.maxBufferBytes`:
/// a connection is charged its buffers when it is set up and whenever it grows one.
final class BufferBudget {
    let limit: Int
    private(set) var used = 0

    init(limit: Int) {
        self.limit = limit
    }

    var available: Int { Swift.max(limit - used, 0) }

    /// Charges `bytes` if they fit; false (nothing charged) if not.
    func take(_ bytes: Int) -> Bool {
        guard used + bytes <= limit else { return false }
        used += bytes
        return true
    }

    func release(_ bytes: Int) {
        used -= bytes
    }
}
