import Glibc
import SystemPackage

/// Which way a recorded packet went, as pcapng's `epb_flags` say it (bits 0-1).
public enum PacketDirection: UInt32, Sendable {
    /// Read from the device: what the kernel (or the wire) sent the host.
    case inbound = 1
    /// Written to the device by the host.
    case outbound = 2
}

/// Writes a pcapng file (one section, an interface block per device, enhanced packet
/// blocks carrying their direction and, when given, a comment), unbuffered: each block
/// is one write(2), so a reader of the file or pipe sees each packet at once. `path` "-"
/// writes to standard output (see `CaptureOutput`). The format: draft-ietf-opsawg-pcapng.
public final class PcapngWriter {
    public let path: String
    private var descriptor: CInt
    private let ownsDescriptor: Bool
    /// The interfaces described so far, by index: their link types.
    public private(set) var interfaces: [PcapLinkType] = []

    private enum BlockType: UInt32 {
        case sectionHeader = 0x0A0D_0D0A
        case interfaceDescription = 0x0000_0001
        case enhancedPacket = 0x0000_0006
    }

    /// Option codes; each block type numbers its own, but for the comment.
    private enum Option {
        static let comment: UInt16 = 1            // opt_comment
        static let userApplication: UInt16 = 4    // shb_userappl
        static let interfaceName: UInt16 = 2      // if_name
        static let timeResolution: UInt16 = 9     // if_tsresol
        static let packetFlags: UInt16 = 2        // epb_flags
    }

    public init(path: String) throws(CaptureError) {
        if path == "-" {
            descriptor = CaptureOutput.descriptor
            ownsDescriptor = false
        } else {
            descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
            }
            ownsDescriptor = true
        }
        self.path = path
        var block = BlockBuilder()
        block.append32(0x1A2B_3C4D)                   // byte-order magic
        block.append16(1)                             // version 1.0
        block.append16(0)
        block.append64(UInt64.max)                    // section length: not given
        block.option(Option.userApplication, Array("tapir".utf8))
        block.endOptions()
        try emit(.sectionHeader, block)
    }

    deinit { try? close() }

    /// Describes one more interface (a device); returns its index for `write`.
    /// Timestamps are in nanoseconds (if_tsresol 9).
    @discardableResult
    public func addInterface(name: String, linkType: PcapLinkType,
                             snapshotLength: UInt32 = UInt32(PcapWriter.defaultSnapshotLength)) throws(CaptureError) -> Int {
        var block = BlockBuilder()
        block.append16(linkType.fileLinkType)
        block.append16(0)                             // reserved
        block.append32(snapshotLength)
        block.option(Option.interfaceName, Array(name.utf8))
        block.option(Option.timeResolution, [9])
        block.endOptions()
        try emit(.interfaceDescription, block)
        interfaces.append(linkType)
        return interfaces.count - 1
    }

    /// Writes one packet seen on interface `interface`. A failed write (a full disk, a
    /// reader that went away) throws with the errno; the caller decides whether to go on.
    public func write(_ bytes: UnsafeRawBufferPointer, interface: Int, time: CaptureTime,
                      direction: PacketDirection? = nil, comment: String? = nil) throws(CaptureError) {
        precondition(interfaces.indices.contains(interface), "pcapng: no interface \(interface)")
        let nanoseconds = UInt64(max(0, time.nanoseconds))
        var block = BlockBuilder()
        block.append32(UInt32(interface))
        block.append32(UInt32(truncatingIfNeeded: nanoseconds >> 32))
        block.append32(UInt32(truncatingIfNeeded: nanoseconds))
        block.append32(UInt32(bytes.count))           // captured
        block.append32(UInt32(bytes.count))           // on the wire
        block.bytes.append(contentsOf: bytes)
        block.pad()
        if let direction {
            var flags: [UInt8] = []
            withUnsafeBytes(of: direction.rawValue) { flags.append(contentsOf: $0) }
            block.option(Option.packetFlags, flags)
        }
        if let comment { block.option(Option.comment, Array(comment.utf8)) }
        if direction != nil || comment != nil { block.endOptions() }
        try emit(.enhancedPacket, block)
    }

    public func write(_ bytes: [UInt8], interface: Int = 0, time: CaptureTime,
                      direction: PacketDirection? = nil, comment: String? = nil) throws(CaptureError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(CaptureError) in
                try write(raw, interface: interface, time: time, direction: direction, comment: comment)
            }
        }
        try result.get()
    }

    /// Closes the file; standard output is left open.
    public func close() throws(CaptureError) {
        guard descriptor >= 0 else { return }
        defer { descriptor = -1 }
        if ownsDescriptor, Glibc.close(descriptor) != 0 {
            throw .writeFailed(path: path, errno: Errno(rawValue: errno))
        }
    }

    /// Type, total length, body, total length again: the frame of every pcapng block.
    private func emit(_ type: BlockType, _ body: BlockBuilder) throws(CaptureError) {
        guard descriptor >= 0 else { throw .closed(path: path) }
        var block = BlockBuilder()
        let total = UInt32(12 + body.bytes.count)
        block.append32(type.rawValue)
        block.append32(total)
        block.bytes.append(contentsOf: body.bytes)
        block.append32(total)
        var failure: Errno?
        block.bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = Errno(rawValue: errno)
                    return
                }
                offset += written
            }
        }
        if let failure { throw .writeFailed(path: path, errno: failure) }
    }
}

/// The bytes of a block's body, little-endian as this host writes them (the byte-order
/// magic tells readers), options padded to 32 bits.
private struct BlockBuilder {
    var bytes: [UInt8] = []

    mutating func append16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func append32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func append64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }

    mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    mutating func option(_ code: UInt16, _ value: [UInt8]) {
        append16(code)
        append16(UInt16(value.count))
        bytes.append(contentsOf: value)
        pad()
    }

    mutating func endOptions() {
        append16(0)
        append16(0)
    }
}
