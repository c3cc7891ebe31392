import Capture

/// The file format of `--record`: pcapng (the default: one interface block per device,
/// each packet's direction, comments where scripts were reloaded) or classic pcap.
public enum RecordFormat: String, CaseIterable, Sendable {
    case pcapng
    case pcap
}

/// Where one device's frames are recorded: an interface of a pcapng file (shared with the
/// other devices of its link type), or a pcap file of its own.
public final class DeviceRecorder {
    enum Sink {
        case pcapng(PcapngWriter, interface: Int)
        case pcap(PcapWriter)
    }

    let sink: Sink
    /// Said on the next packet recorded (pcapng only): "reloaded NAME".
    var pendingComment: String?

    init(_ sink: Sink) {
        self.sink = sink
    }

    public var path: String {
        switch sink {
        case .pcapng(let writer, _): return writer.path
        case .pcap(let writer): return writer.path
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer, time: CaptureTime, direction: PacketDirection) throws(CaptureError) {
        switch sink {
        case .pcapng(let writer, let interface):
            let comment = pendingComment
            pendingComment = nil
            try writer.write(bytes, interface: interface, time: time, direction: direction, comment: comment)
        case .pcap(let writer):
            try writer.write(bytes, time: time)
        }
    }
}
