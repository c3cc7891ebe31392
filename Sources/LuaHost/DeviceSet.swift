import Capture
import Devices
import Logging
import Packets

/// The host's devices, numbered from 1 in the order they were added (dev.id), and their
/// recordings: when the host records (`--record`), every device gets a pcap recorder, the
/// first at the record path, later ones (opened with tapir.open) beside it as
/// NAME-DEVICE.pcap. Loop thread only.
final class DeviceSet {
    private(set) var devices: [HostDevice] = []
    /// Where recordings go; nil: nothing is recorded.
    var recordPath: String?
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

    /// The first device records to `base`; later ones to `base` with `-DEVICE` before
    /// its extension ("-" stays standard output only for the first).
    private func startRecording(_ device: HostDevice, base: String) throws {
        var path = base
        if devices.count > 1 {
            let stem = base == "-" ? "tapir-record" : (base.hasSuffix(".pcap") ? String(base.dropLast(5)) : base)
            path = "\(stem)-\(device.name).pcap"
        }
        device.recorder = try PcapWriter(path: path, linkType: device.linkType == .ethernet ? .ethernet : .rawIP,
                                         flushEachPacket: true)
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

    /// Records a packet read from or written to `device`, if it is recorded. A recording
    /// that fails is stopped, and that is said.
    @inline(__always)
    func record(_ bytes: UnsafeRawBufferPointer, on device: HostDevice) {
        guard let recorder = device.recorder else { return }
        do {
            try recorder.write(bytes, time: recordingClock())
        } catch {
            logger.error("\(error); recording of \(device.name) stopped")
            device.recorder = nil
        }
    }

    /// Flushes and closes every recording (at stop).
    func closeRecordings() {
        for device in devices {
            guard let recorder = device.recorder else { continue }
            do { try recorder.close() } catch { logger.error("\(error)") }
            device.recorder = nil
        }
    }
}
