import Glibc

/// A packet's capture time: nanoseconds since the Unix epoch.
public struct CaptureTime: Sendable, Hashable, Comparable {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public init(seconds: Int64, nanoseconds: Int64 = 0) {
        self.nanoseconds = seconds * 1_000_000_000 + nanoseconds
    }

    public var seconds: Int64 { nanoseconds / 1_000_000_000 }
    public var microsecondsOfSecond: Int32 { Int32((nanoseconds % 1_000_000_000) / 1_000) }

    public static func < (a: CaptureTime, b: CaptureTime) -> Bool { a.nanoseconds < b.nanoseconds }
}

extension CaptureTime {
    /// The wall clock now (CLOCK_REALTIME), what a live recording stamps on its packets.
    public static var now: CaptureTime {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return CaptureTime(seconds: Int64(time.tv_sec), nanoseconds: Int64(time.tv_nsec))
    }
}
