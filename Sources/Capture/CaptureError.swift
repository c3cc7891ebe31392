import Glibc

/// Everything that can go wrong with a pcap file or a filter expression, said so a user
/// can act on it.
public enum CaptureError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case unsupportedLinkType(path: String, dataLinkType: Int32, name: String)
    case readFailed(path: String, reason: String)
    case writeFailed(path: String, errno: Int32)
    case badFilter(expression: String, linkType: PcapLinkType, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "cannot open pcap file \(path): \(reason)"
        case let .unsupportedLinkType(path, dlt, name):
            return "\(path): link type \(name) (\(dlt)) is not supported; Tapir reads Ethernet and raw IP captures"
        case let .readFailed(path, reason):
            return "\(path): \(reason)"
        case let .writeFailed(path, code):
            let hint = code == ENOSPC ? " (the disk is full)" : ""
            return "writing pcap \(path) failed: \(String(cString: strerror(code)))\(hint)"
        case let .badFilter(expression, linkType, reason):
            return "pcap filter '\(expression)' does not compile for \(linkType): \(reason)"
        }
    }
}
