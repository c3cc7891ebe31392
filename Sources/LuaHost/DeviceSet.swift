import Capture
import Devices
import Logging
import Packets

/// The host's devices, numbered from 1 in the order they were added (dev.id), and their
/// recordings: when the host records (`--record`), every device is recorded. In pcapng
/// (the default) the devices share the file at the record path, an interface each, but
/// for a device whose link type differs from the first one's (tcpdump reads one link type
/// a file), which goes beside it as NAME-DEVICE.pcapng. In pcap every device after the
/// first goes beside it as NAME-DEVICE.pcap. Loop thread only.
final class DeviceSet {
    private(set) var devices: [HostDevice] = []
    /// Where recordings go; nil: nothing is recorded.
    var recordPath: String?
    var recordFormat: RecordFormat = .pcapng
    /// The pcapng files being written, the one at the record path first.
    private var pcapngFiles: [PcapngWriter] = []
    /// The time stamped on recorded packets.
    var recordingClock: () -> CaptureTime = { CaptureTime.now }
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// Adds a device, with its MTU (a kernel interface's own, else `mtu`) and the largest packet
    /// written to it (`maxPacketSize`, else the MTU and a tap's link headers), and starts
    /// its recording when the set records.
    func add(_ device: any PacketDevice, mtu givenMTU: Int?, maxPacketSize: Int?,
             errorLogInterval: Duration) throws -> HostDevice {
        var mac: MACAddress?
        var mtu = givenMTU
        if let interface = device as? any KernelInterfaceDevice {
            mac = interface.macAddress.flatMap { MACAddress(bytes: $0) }
            mtu = interface.mtu
        }
        let hostDevice = HostDevice(id: Int64(devices.count + 1), device: device, macAddress: mac, mtu: mtu,
                                    maxPacketSize: maxPacketSize, errorLogInterval: errorLogInterval)
        devices.append(hostDevice)
        if let recordPath { try startRecording(hostDevice, base: recordPath) }
        return hostDevice
    }

    /// The first device records to `base`; a device that cannot share its file to `base`
    /// with `-DEVICE` before its extension ("-" is standard output for the first file only).
    private func startRecording(_ device: HostDevice, base: String) throws {
        let linkType: PcapLinkType = device.linkType == .ethernet ? .ethernet : .rawIP
        switch recordFormat {
        case .pcapng:
            let writer: PcapngWriter
            if let shared = pcapngFiles.first(where: { $0.interfaces.first == linkType }) {
                writer = shared
            } else {
                writer = try PcapngWriter(path: pcapngFiles.isEmpty ? base : Self.besidePath(base, device, "pcapng"))
                pcapngFiles.append(writer)
            }
            let interface = try writer.addInterface(name: device.name, linkType: linkType)
            device.recorder = DeviceRecorder(.pcapng(writer, interface: interface))
        case .pcap:
            let path = devices.count > 1 ? Self.besidePath(base, device, "pcap") : base
            device.recorder = DeviceRecorder(.pcap(try PcapWriter(path: path, linkType: linkType, flushEachPacket: true)))
        }
    }

    /// `base` with `-DEVICE` before its extension: lab.pcap and sw1 make lab-sw1.pcap.
    private static func besidePath(_ base: String, _ device: HostDevice, _ fileExtension: String) -> String {
        var stem = base == "-" ? "tapir-record" : base
        for known in [".pcapng", ".pcap"] where stem.hasSuffix(known) {
            stem = String(stem.dropLast(known.count))
            break
        }
        return "\(stem)-\(device.name).\(fileExtension)"
    }

    func device(named name: String) -> HostDevice? {
        devices.first { $0.name == name }
    }

    @inline(__always)
    func device(id: Int64) -> HostDevice? {
        guard id >= 1, id <= devices.count else { return nil }
        return devices[Int(id - 1)]
    }

    /// Every device went away.
    var allGone: Bool { devices.allSatisfy(\.goneReported) }

    /// The link types of the devices there are.
    var linkTypes: Set<LinkType> { Set(devices.map(\.linkType)) }

    /// Records a packet read from (inbound) or written to (outbound) `device`, if it is
    /// recorded. A recording that fails is stopped, and that is said.
    @inline(__always)
    func record(_ bytes: UnsafeRawBufferPointer, on device: HostDevice, direction: PacketDirection) {
        guard let recorder = device.recorder else { return }
        do {
            try recorder.write(bytes, time: recordingClock(), direction: direction)
        } catch {
            logger.error("\(error); recording of \(device.name) stopped")
            device.recorder = nil
        }
    }

    /// Puts `comment` on the next packet each recording gets (pcapng): where a reload was.
    func commentRecordings(_ comment: String) {
        for device in devices { device.recorder?.pendingComment = comment }
    }

    /// Flushes and closes every recording (at stop).
    func closeRecordings() {
        for device in devices {
            guard let recorder = device.recorder else { continue }
            if case .pcap(let writer) = recorder.sink {
                do { try writer.close() } catch { logger.error("\(error)") }
            }
            device.recorder = nil
        }
        for writer in pcapngFiles {
            do { try writer.close() } catch { logger.error("\(error)") }
        }
        pcapngFiles.removeAll()
    }
}
