import CPcap
import Glibc
import SystemPackage

/// Writes a classic pcap file (microsecond timestamps, the format every tool opens)
/// through libpcap. `path` "-" writes to standard output (see `CaptureOutput`), for
/// `| wireshark -k -i -`.
public final class PcapWriter {
    public let path: String
    public let linkType: PcapLinkType
    /// Flush after every packet, so a reader of the file (or pipe) sees each at once.
    public let flushEachPacket: Bool
    private var pcap: OpaquePointer?
    private var dumper: OpaquePointer?

    public static let defaultSnapshotLength: Int32 = 262_144

    public init(path: String, linkType: PcapLinkType, flushEachPacket: Bool = true,
                snapshotLength: Int32 = PcapWriter.defaultSnapshotLength) throws(CaptureError) {
        guard let pcap = pcap_open_dead_with_tstamp_precision(
            linkType.dataLinkType, snapshotLength, UInt32(PCAP_TSTAMP_PRECISION_MICRO))
        else {
            throw .cannotOpen(path: path, reason: "libpcap could not make a capture handle")
        }
        let dumper = path == "-" ? tapir_pcap_dump_descriptor(pcap, CaptureOutput.descriptor) : pcap_dump_open(pcap, path)
        guard let dumper else {
            let reason = String(cString: pcap_geterr(pcap))
            pcap_close(pcap)
            throw .cannotOpen(path: path, reason: reason)
        }
        self.path = path
        self.linkType = linkType
        self.flushEachPacket = flushEachPacket
        self.pcap = pcap
        self.dumper = dumper
        if flushEachPacket, pcap_dump_flush(dumper) != 0 {
            throw .writeFailed(path: path, errno: Self.lastErrno())
        }
    }

    deinit { try? close() }

    /// Writes one packet. A failed write (a full disk, a reader that went away) throws
    /// with the errno; the caller decides whether to go on.
    public func write(_ bytes: UnsafeRawBufferPointer, time: CaptureTime,
                      originalLength: Int? = nil) throws(CaptureError) {
        guard let dumper else { throw .closed(path: path) }
        let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let status = tapir_pcap_dump(dumper, time.seconds, time.microsecondsOfSecond, base,
                                     UInt32(bytes.count), UInt32(originalLength ?? bytes.count),
                                     flushEachPacket ? 1 : 0)
        if status != 0 { throw .writeFailed(path: path, errno: Errno(rawValue: status)) }
    }

    public func write(_ bytes: [UInt8], time: CaptureTime) throws(CaptureError) {
        // withUnsafeBytes rethrows untyped errors; carry the typed one out in a Result.
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(CaptureError) in try write(raw, time: time) }
        }
        try result.get()
    }

    public func flush() throws(CaptureError) {
        guard let dumper else { return }
        errno = 0
        if pcap_dump_flush(dumper) != 0 {
            throw .writeFailed(path: path, errno: Self.lastErrno())
        }
    }

    /// Flushes and closes; standard output is flushed but left open (the dumper has a copy).
    public func close() throws(CaptureError) {
        guard let dumper, let pcap else { return }
        defer {
            self.dumper = nil
            self.pcap = nil
            pcap_close(pcap)
        }
        let flushFailure: Errno? = pcap_dump_flush(dumper) != 0 ? Self.lastErrno() : nil
        pcap_dump_close(dumper)
        if let flushFailure { throw .writeFailed(path: path, errno: flushFailure) }
    }

    /// The errno libpcap's stdio left after a failed flush: EIO when it left none.
    private static func lastErrno() -> Errno {
        errno != 0 ? Errno(rawValue: errno) : .ioError
    }
}
