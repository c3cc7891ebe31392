import Devices
import Logging
import Packets

/// The write path, from dev:write (and pkt:reply to a device) to the device: an IPv4
/// datagram over the device's MTU goes out as fragments (or, with Don't Fragment, not at
/// all), an IPv6 one as fragments with a Fragment header, a packet over its maximum size is refused, each written packet is recorded and
/// shown to the observer, and during a device's read burst writes are queued and written
/// when it ends (WriteQueue). A failing write is counted on the device and said once per
/// burst of failures. Loop thread only.
final class Egress {
    private let devices: DeviceSet
    private let logger: Logger
    /// Frames written during a device's read burst, written when it ends.
    private let writeQueue = WriteQueue()
    /// True during a device's read burst (see TapirHost.readable).
    var isQueueing = false
    /// Where oversized IPv4 writes are cut into fragments, one at a time.
    private let fragmentBuffer = ReadBuffer(size: ReadBuffer.size + 64)
    /// Identification for fragmented datagrams that came with none (0).
    private var nextIdentification = UInt16.random(in: 1...UInt16.max)
    /// Identification of the next IPv6 datagram cut into fragments (RFC 8200: the source's).
    private var nextIdentification6 = UInt32.random(in: 1...UInt32.max)
    /// Sees every packet written (the console's sniff).
    var packetObserver: ((UnsafeRawBufferPointer, HostDevice, _ outgoing: Bool) -> Void)?
    /// Told of a device a write found gone.
    var deviceGone: (HostDevice, String) -> Void = { _, _ in }

    init(devices: DeviceSet, logger: Logger) {
        self.devices = devices
        self.logger = logger
    }

    /// Writes one packet to a device (dev:write). An IPv4 datagram longer than the
    /// device's MTU goes out as fragments, unless its Don't Fragment bit is set: then it
    /// is not written (counted as `too_big`). False when it was not written (counted on
    /// the device; a gone device is reported once). During a device's read burst the
    /// frame is queued (WriteQueue) and true returned; a refusal then is counted only.
    func write(_ bytes: UnsafeRawBufferPointer, to device: HostDevice) -> Bool {
        guard !device.goneReported else { return false }
        if let shortness = device.shortness(of: bytes) {
            device.shortWrites += 1
            if device.shortWrites == 1 {
                logger.warning("""
                    dev:write of \(bytes.count) bytes to \(device.name) (\(device.modeName)) refused: \(shortness); \
                    not written, and counted (tapir.stats write_errors); later ones are counted without a word
                    """)
            }
            return false
        }
        if let mtu = device.mtu, let networkOffset = device.linkType.ipv4Offset(in: bytes), bytes.count - networkOffset > mtu {
            let outcome = IPv4Fragmenter.fragment(bytes, networkOffset: networkOffset, mtu: mtu,
                                                  identification: nextIdentification,
                                                  scratch: fragmentBuffer.bytes) { fragment in
                writeOne(fragment, to: device)
            }
            switch outcome {
            case .fits:
                break
            case .fragmented:
                nextIdentification = nextIdentification == .max ? 1 : nextIdentification + 1
                return true
            case .stopped:
                return false
            case .tooBigDontFragment:
                device.tooBigWrites += 1
                if device.tooBigLog.admit(at: ContinuousClock.now).log {
                    logger.warning("\(device.name): a \(bytes.count - networkOffset)-byte IPv4 datagram with Don't Fragment set is over the MTU (\(mtu)): not written")
                }
                return false
            }
        }
        if let mtu = device.mtu, let networkOffset = device.linkType.ipv6Offset(in: bytes), bytes.count - networkOffset > mtu {
            return writeIPv6(bytes, networkOffset: networkOffset, mtu: mtu, to: device)
        }
        return writeOne(bytes, to: device)
    }

    /// An IPv6 datagram over the MTU: this host is its source, so it goes out in fragments
    /// (RFC 8200 section 4.5); one that is a fragment already, or that cannot be cut (an
    /// MTU under 1280, headers that do not fit one fragment), is counted too big.
    private func writeIPv6(_ bytes: UnsafeRawBufferPointer, networkOffset: Int, mtu: Int, to device: HostDevice) -> Bool {
        let outcome = IPv6Fragmenter.fragment(bytes, networkOffset: networkOffset, mtu: mtu,
                                              identification: nextIdentification6,
                                              scratch: fragmentBuffer.bytes) { fragment in
            writeOne(fragment, to: device)
        }
        switch outcome {
        case .fits:
            return writeOne(bytes, to: device)
        case .fragmented:
            nextIdentification6 = nextIdentification6 == .max ? 1 : nextIdentification6 + 1
            return true
        case .stopped:
            return false
        case .alreadyFragmented, .mtuBelowMinimum, .noRoom:
            device.tooBigWrites += 1
            if device.tooBigLog.admit(at: ContinuousClock.now).log {
                logger.warning("\(device.name): a \(bytes.count - networkOffset)-byte IPv6 datagram is over the MTU (\(mtu)) and cannot be cut (\(outcome)): not written")
            }
            return false
        }
    }

    /// Writes one packet to the device numbered `id` (dev:write): nil when there is none.
    @inline(__always)
    func write(_ bytes: UnsafeRawBufferPointer, toDeviceID id: Int64) -> Bool? {
        guard let device = devices.device(id: id) else { return nil }
        return write(bytes, to: device)
    }

    /// Writes what was queued during the read burst, in order, each device's run of frames
    /// in one batch (PacketDevice.write(batch:)); a device gone since is skipped.
    func flush() {
        guard !writeQueue.isEmpty else { return }
        writeQueue.flush { id, count, frame in
            guard let device = self.devices.device(id: id), !device.goneReported else { return }
            device.device.write(batch: count, frame: frame) { _, result in
                guard !device.goneReported else { return }
                _ = self.settle(result, on: device)
            }
        }
    }

    private func writeOne(_ bytes: UnsafeRawBufferPointer, to device: HostDevice) -> Bool {
        if let limit = device.maxPacketSize, bytes.count > limit {
            device.oversizedWrites += 1
            device.failedWritesInARow += 1
            if device.writeErrorLog.admit(at: .now).log {
                logger.warning("""
                    dev:write of \(bytes.count) bytes to \(device.name) refused: larger than its maximum packet size, \
                    \(limit) bytes (MTU and link headers; --max-packet); counted (tapir.stats write_errors)
                    """)
            }
            return false
        }
        devices.record(bytes, on: device, direction: .outbound)
        packetObserver?(bytes, device, true)
        if isQueueing {
            if writeQueue.append(bytes, deviceID: device.id) { return true }
            flush()  // full: make room, keeping the order
            if writeQueue.append(bytes, deviceID: device.id) { return true }
        }
        return deliver(bytes, to: device)
    }

    /// A TCP super-segment from the host's engine (TCPConfiguration.superSegmentBytes): its
    /// headers once, its checksum partial (the pseudo-header's sum), `segmentSize` bytes of
    /// payload per piece. A device whose kernel cuts it (a tap's offloads) gets it in one
    /// write with a virtio-net header saying so; any other gets the pieces. A recording and
    /// the observer see the pieces either way, as they go on the wire (checksums complete).
    func writeSuperSegment(_ bytes: UnsafeRawBufferPointer, segmentSize: Int, to device: HostDevice) -> Bool {
        guard !device.goneReported else { return false }
        let frame = FrameDecoder.decode(bytes, linkType: device.linkType)
        guard frame.has(.tcp) else { return false }
        let takesWhole = device.device.takesOffloadedWrites
        if !takesWhole || device.recorder != nil || packetObserver != nil {
            var written = true
            let cut = OffloadUndo.segmentTCP(bytes, frame, segmentSize: segmentSize, into: fragmentBuffer.bytes) { piece in
                if takesWhole {
                    devices.record(piece, on: device, direction: .outbound)
                    packetObserver?(piece, device, true)
                } else {
                    written = writeOne(piece, to: device) && written
                }
            }
            guard cut else { return false }
            if !takesWhole { return written }
        }
        let transport = frame.transportOffset
        let headersEnd = transport + Int(bytes[transport + TCPField.dataOffsetAndFlags] >> 4) * 4
        let offload = VirtioNetHeader(flags: VirtioNetHeader.needsChecksumFlag,
                                      gsoType: frame.has(.ipv6) ? VirtioNetHeader.gsoTCPv6 : VirtioNetHeader.gsoTCPv4,
                                      headerLength: UInt16(headersEnd), gsoSize: UInt16(segmentSize),
                                      checksumStart: UInt16(transport), checksumOffset: UInt16(TCPField.checksum))
        if isQueueing {
            if writeQueue.append(bytes, deviceID: device.id, offload: offload) { return true }
            flush()
            if writeQueue.append(bytes, deviceID: device.id, offload: offload) { return true }
        }
        return deliver(bytes, to: device, offload: offload)
    }

    /// The write system call, its failure counted and said.
    @inline(__always)
    private func deliver(_ bytes: UnsafeRawBufferPointer, to device: HostDevice, offload: VirtioNetHeader? = nil) -> Bool {
        let result = if let offload { device.device.write(bytes, offload: offload) } else { device.device.write(bytes) }
        return settle(result, on: device)
    }

    /// What a write's outcome means: true when written; a failure counted and said, a gone
    /// device reported.
    @inline(__always)
    private func settle(_ result: WriteResult, on device: HostDevice) -> Bool {
        switch result {
        case .written:
            if device.failedWritesInARow > 0 { writesResumed(on: device) }
            return true
        case .failed(let failure):
            writeFailed(on: device, failure)
            return false
        case .gone(let reason):
            deviceGone(device, reason)
            return false
        }
    }

    /// Says that writes fail (once per burst: the error log interval), and why.
    private func writeFailed(on device: HostDevice, _ failure: WriteFailure) {
        device.failedWritesInARow += 1
        let (log, suppressed) = device.writeErrorLog.admit(at: .now)
        guard log else { return }
        let earlier = suppressed > 0 ? " (\(suppressed) more failed since the last report)" : ""
        logger.warning("""
            write to \(device.name) failed: \(failure.explanation); the packet is dropped and counted \
            (tapir.stats write_errors), the host goes on\(earlier)
            """)
    }

    private func writesResumed(on device: HostDevice) {
        logger.info("writes to \(device.name) go out again, after \(device.failedWritesInARow) failed")
        device.failedWritesInARow = 0
    }
}
