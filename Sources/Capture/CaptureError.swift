import SystemPackage

/// Everything that can go wrong with a pcap file or a filter expression, said so a user
/// can act on it.
public enum CaptureError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case unsupportedLinkType(path: String, dataLinkType: Int32, name: String)
    case readFailed(path: String, reason: String)
    case writeFailed(path: String, errno: Errno)
    /// A write to a writer already closed.
    case closed(path: String)
    case badFilter(expression: String, linkType: PcapLinkType, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "cannot open pcap file \(path): \(reason)"
        case let .unsupportedLinkType(path, dlt, name):
            return "\(path): link type \(name) (\(dlt)) is not supported; Tapir reads Ethernet and raw IP captures"
        case let .readFailed(path, reason):
            return "\(path): \(reason)"
        case let .writeFailed(path, errno):
            let hint = errno == .noSpace ? " (the disk is full)" : ""
            return "writing pcap \(path) failed: \(errno)\(hint)"
        case let .closed(path):
            return "pcap \(path) is closed: nothing more can be written to it"
        case let .badFilter(expression, linkType, reason):
            return "pcap filter '\(expression)' does not compile for \(linkType): \(reason)"
        }
    }
}
