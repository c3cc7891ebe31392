/// A point on the engine's clock, in microseconds from an origin the host picks (a
/// monotonic clock). The engine never reads a clock itself: every call that needs the time
/// is given one, so tests drive it with a manual clock.
public struct TCPInstant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var microseconds: Int64

    @inlinable public init(microseconds: Int64) { self.microseconds = microseconds }
    public static func milliseconds(_ value: Int64) -> TCPInstant { TCPInstant(microseconds: value * 1000) }
    public static let zero = TCPInstant(microseconds: 0)

    /// Milliseconds, the unit of the timestamps option's clock (RFC 7323 section 5.4).
    public var milliseconds: Int64 { microseconds / 1000 }

    @inlinable public static func < (a: TCPInstant, b: TCPInstant) -> Bool { a.microseconds < b.microseconds }
    @inlinable public static func + (a: TCPInstant, d: TCPDuration) -> TCPInstant {
        TCPInstant(microseconds: a.microseconds &+ d.microseconds)
    }
    @inlinable public static func - (a: TCPInstant, b: TCPInstant) -> TCPDuration {
        TCPDuration(microseconds: a.microseconds &- b.microseconds)
    }

    public var description: String {
        let sign = microseconds < 0 ? "-" : ""
        let magnitude = microseconds.magnitude
        let fraction = String(magnitude % 1_000_000)
        return "\(sign)\(magnitude / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
    }
}

/// A span of the engine's clock, in microseconds.
public struct TCPDuration: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var microseconds: Int64

    @inlinable public init(microseconds: Int64) { self.microseconds = microseconds }
    public static func milliseconds(_ value: Int64) -> TCPDuration { TCPDuration(microseconds: value * 1000) }
    public static func seconds(_ value: Int64) -> TCPDuration { TCPDuration(microseconds: value * 1_000_000) }
    public static let zero = TCPDuration(microseconds: 0)

    public var milliseconds: Int64 { microseconds / 1000 }

    @inlinable public static func < (a: TCPDuration, b: TCPDuration) -> Bool { a.microseconds < b.microseconds }
    @inlinable public static func + (a: TCPDuration, b: TCPDuration) -> TCPDuration {
        TCPDuration(microseconds: a.microseconds &+ b.microseconds)
    }
    @inlinable public static func * (a: TCPDuration, k: Int64) -> TCPDuration {
        TCPDuration(microseconds: a.microseconds &* k)
    }

    public var description: String { "\(microseconds / 1000) ms" }
}
