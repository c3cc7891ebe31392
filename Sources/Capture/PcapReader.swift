import CPcap

/// One packet read from a capture file.
public struct CapturedPacket: Sendable, Equatable {
    public var time: CaptureTime
    public var bytes: [UInt8]
    /// The length on the wire; more than `bytes.count` when the capture was cut short.
    public var originalLength: Int
    /// Which way the packet went, when the file says (pcapng's epb_flags).
    public var direction: PacketDirection?

    public init(time: CaptureTime, bytes: [UInt8], originalLength: Int? = nil, direction: PacketDirection? = nil) {
        self.time = time
        self.bytes = bytes
        self.originalLength = originalLength ?? bytes.count
        self.direction = direction
    }
}

/// Reads a pcap (or pcapng) file through libpcap, packet by packet.
public final class PcapReader {
    public let path: String
    public let linkType: PcapLinkType
    private var handle: OpaquePointer?
    /// The packets' directions (a pcapng file read from a path), and the next one's index.
    private let directions: [PacketDirection?]?
    private var index = 0

    public init(path: String) throws(CaptureError) {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let pcap = pcap_open_offline_with_tstamp_precision(
            path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorBuffer)
        else {
            throw .cannotOpen(path: path, reason: errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        let dlt = pcap_datalink(pcap)
        guard let linkType = PcapLinkType(dataLinkType: dlt) else {
            let name = pcap_datalink_val_to_name(dlt).map { String(cString: $0) } ?? "unknown"
            pcap_close(pcap)
            throw .unsupportedLinkType(path: path, dataLinkType: dlt, name: name)
        }
        self.path = path
        self.linkType = linkType
        self.handle = pcap
        self.directions = path == "-" ? nil : PcapngDirections.read(path: path)
    }

    deinit { close() }

    public func close() {
        if let handle { pcap_close(handle) }
        handle = nil
    }

    /// The next packet, or nil at the end of the file. A file cut off in the middle of
    /// a record is an error, not a silent end.
    public func next() throws(CaptureError) -> CapturedPacket? {
        guard let handle else { return nil }
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        switch pcap_next_ex(handle, &header, &data) {
        case 1:
            guard let header, let data else { return nil }
            let caplen = Int(header.pointee.caplen)
            let time = CaptureTime(seconds: Int64(header.pointee.ts.tv_sec),
                                   nanoseconds: Int64(header.pointee.ts.tv_usec))
            let direction = directions.flatMap { index < $0.count ? $0[index] : nil }
            index += 1
            return CapturedPacket(time: time,
                                  bytes: Array(UnsafeBufferPointer(start: data, count: caplen)),
                                  originalLength: Int(header.pointee.len), direction: direction)
        case PCAP_ERROR_BREAK:
            return nil
        default:
            throw .readFailed(path: path, reason: String(cString: pcap_geterr(handle)))
        }
    }

    /// Every remaining packet.
    public func readAll() throws(CaptureError) -> [CapturedPacket] {
        var packets: [CapturedPacket] = []
        while let packet = try next() { packets.append(packet) }
        return packets
    }
}
