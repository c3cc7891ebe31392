import Devices
import Glibc
import Kernel
import SystemPackage
import XCTest

/// TunTapDevice over a scripted kernel: errno handling, the packet-information header,
/// and the errors a user sees when opening fails.
final class TunTapDeviceTests: XCTestCase {
    private let buffer = ReadBuffer()

    private func makeDevice(mode: DeviceMode = .tap, packetInfo: Bool = false,
                            io: ScriptedDeviceIO) throws -> TunTapDevice {
        try TunTapDevice.open(.init(name: "scripted0", mode: mode, packetInfo: packetInfo), io: io)
    }

    private func bytes(of result: ReadResult) -> [UInt8]? {
        if case .packet(let packet) = result { return Array(packet) }
        return nil
    }

    func testOpenReportsKernelNameMTUAndMAC() throws {
        let io = ScriptedDeviceIO()
        io.openOutcome = .opened(fd: 42, name: "tap3")
        io.mtu = 9000
        let device = try TunTapDevice.open(.init(name: "tap%d", mode: .tap), io: io)
        XCTAssertEqual(device.name, "tap3")
        XCTAssertEqual(device.mtu, 9000)
        XCTAssertEqual(device.macAddress, [0x02, 0, 0, 0, 0, 0x01])
        XCTAssertEqual(device.interfaceIndex, 7)
        XCTAssertEqual(device.fileDescriptor?.rawValue, 42)
        XCTAssertEqual(io.openRequests, [TunTapOpenRequest(name: "tap%d", mode: .tap, packetInfo: false, multiQueue: false)])
        device.close()
        device.close()
        XCTAssertEqual(io.closed, [42], "close is idempotent")
        XCTAssertNil(device.fileDescriptor)
    }

    func testReadRetriesEINTR() throws {
        let io = ScriptedDeviceIO()
        io.readSteps = [.errno(EINTR), .errno(EINTR), .bytes([1, 2, 3])]
        let device = try makeDevice(io: io)
        XCTAssertEqual(bytes(of: device.read(into: buffer.bytes)), [1, 2, 3])
        XCTAssertEqual(io.readCalls, 3)
        XCTAssertEqual(device.counters.readErrors, 0)
        XCTAssertEqual(device.counters.rxPackets, 1)
        XCTAssertEqual(device.counters.rxBytes, 3)
    }

    func testEAGAINEndsDrainAndLeavesTheRest() throws {
        let io = ScriptedDeviceIO()
        io.readSteps = [.bytes([1]), .errno(EINTR), .bytes([2, 2]), .errno(EAGAIN), .bytes([3, 3, 3])]
        let device = try makeDevice(io: io)
        var seen: [[UInt8]] = []
        let report = DeviceDrain().drain(device, into: buffer.bytes) { seen.append(Array($0)) }
        XCTAssertEqual(seen, [[1], [2, 2]])
        XCTAssertEqual(report.stop, .wouldBlock)
        XCTAssertFalse(report.morePending)
        XCTAssertEqual(report.bytes, 3)
        XCTAssertEqual(io.readSteps.count, 1, "the packet after EAGAIN waits for the next wakeup")
    }

    func testWriteErrorsAreCountedNotFatal() throws {
        let io = ScriptedDeviceIO()
        io.writeResults = [-Int(ENOBUFS), -Int(EAGAIN), -Int(EIO), -Int(EINTR), 0, -Int(EMSGSIZE)]
        let device = try makeDevice(io: io)
        let packet: [UInt8] = [9, 9, 9, 9]
        XCTAssertEqual(device.write(packet), .failed(.noBuffers))
        XCTAssertEqual(device.write(packet), .failed(.wouldBlock))
        XCTAssertEqual(device.write(packet), .failed(.io))
        XCTAssertEqual(device.write(packet), .written, "EINTR is retried")
        XCTAssertEqual(device.write(packet), .failed(.rejected))
        XCTAssertEqual(device.write(packet), .written)
        XCTAssertEqual(io.writeCalls, 7)
        XCTAssertEqual(device.counters.writeNoBuffers, 1)
        XCTAssertEqual(device.counters.writeWouldBlock, 1)
        XCTAssertEqual(device.counters.writeIO, 1)
        XCTAssertEqual(device.counters.writeRejected, 1)
        XCTAssertEqual(device.counters.writeErrors, 4)
        XCTAssertEqual(device.counters.txPackets, 2)
        XCTAssertEqual(device.counters.txBytes, 8)
        XCTAssertFalse(device.isGone)
    }

    func testOnePacketPerWriteCall() throws {
        let io = ScriptedDeviceIO()
        let device = try makeDevice(io: io)
        for size in [60, 1514, 42] {
            XCTAssertEqual(device.write([UInt8](repeating: UInt8(size & 0xff), count: size)), .written)
        }
        XCTAssertEqual(io.writeCalls, 3)
        XCTAssertEqual(io.writes.map(\.count), [60, 1514, 42])
    }

    func testPacketInfoReadStripsHeader() throws {
        let io = ScriptedDeviceIO()
        let datagram: [UInt8] = [0x45, 0, 0, 20] + [UInt8](repeating: 7, count: 16)
        io.readSteps = [.bytes([0, 0, 0x08, 0x00] + datagram)]
        let device = try makeDevice(mode: .tun, packetInfo: true, io: io)
        let result = device.read(into: buffer.bytes)
        guard case .packet(let packet) = result else { return XCTFail("expected a packet, got \(result)") }
        XCTAssertEqual(Array(packet), datagram)
        XCTAssertEqual(packet.baseAddress, UnsafeRawPointer(buffer.bytes.baseAddress), "the packet starts the caller's buffer")
        XCTAssertEqual(device.counters.rxBytes, datagram.count)
    }

    func testPacketInfoTruncationFlagIsCounted() throws {
        let io = ScriptedDeviceIO()
        io.readSteps = [.bytes([0, 1, 0x08, 0x00, 0x45, 0, 0, 20])]
        let device = try makeDevice(mode: .tun, packetInfo: true, io: io)
        XCTAssertNotNil(bytes(of: device.read(into: buffer.bytes)))
        XCTAssertEqual(device.counters.truncatedReads, 1)
    }

    func testPacketInfoWritePrependsHeaderWithoutCopy() throws {
        let io = ScriptedDeviceIO()
        let device = try makeDevice(mode: .tun, packetInfo: true, io: io)
        let v6: [UInt8] = [0x60, 0, 0, 0] + [UInt8](repeating: 0, count: 36)
        v6.withUnsafeBytes { packet in
            XCTAssertEqual(device.write(packet), .written)
            XCTAssertEqual(io.lastWriteVectors.count, 2)
            XCTAssertEqual(io.lastWriteVectors.last?.base, UnsafeMutableRawPointer(mutating: packet.baseAddress),
                           "the packet is handed to writev in place")
        }
        XCTAssertEqual(io.writes, [[0, 0, 0x86, 0xDD] + v6])
        XCTAssertEqual(device.counters.txBytes, v6.count, "counters count the packet, not the header")

        let tap = try makeDevice(mode: .tap, packetInfo: true, io: io)
        let frame: [UInt8] = [UInt8](repeating: 0xff, count: 12) + [0x08, 0x06] + [UInt8](repeating: 0, count: 28)
        XCTAssertEqual(tap.write(frame), .written)
        XCTAssertEqual(io.writes.last, [0, 0, 0x08, 0x06] + frame)
    }

    func testGoneIsReportedOnceThenTheDeviceStops() throws {
        let io = ScriptedDeviceIO()
        io.readSteps = [.bytes([1]), .errno(EBADFD), .bytes([2])]
        let device = try makeDevice(io: io)
        var seen = 0
        let report = DeviceDrain().drain(device, into: buffer.bytes) { _ in seen += 1 }
        XCTAssertEqual(seen, 1)
        guard case .gone(let reason) = report.stop else { return XCTFail("expected gone, got \(report.stop)") }
        XCTAssertTrue(reason.contains("scripted0"), reason)
        XCTAssertTrue(reason.contains("errno \(EBADFD)"), reason)
        XCTAssertTrue(device.isGone)
        let callsBefore = io.readCalls
        guard case .wouldBlock = device.read(into: buffer.bytes) else { return XCTFail("gone is said once") }
        XCTAssertEqual(io.readCalls, callsBefore, "a gone device does not touch the kernel again")
        XCTAssertEqual(device.write([1, 2]), .failed(.closed))
        XCTAssertEqual(device.counters.writeClosed, 1)
        XCTAssertEqual(device.goneReason, reason)
        XCTAssertThrowsError(try device.openAnotherQueue()) { error in
            XCTAssertEqual(error as? DeviceError, .deviceGone(name: "scripted0", reason: reason))
            XCTAssertTrue("\(error)".contains("was deleted while open"), "\(error)")
        }
    }

    func testWriteGoneIsReportedOnce() throws {
        let io = ScriptedDeviceIO()
        io.writeResults = [-Int(ENODEV)]
        let device = try makeDevice(io: io)
        guard case .gone = device.write([1]) else { return XCTFail("expected gone") }
        XCTAssertEqual(device.write([1]), .failed(.closed))
        XCTAssertEqual(io.writeCalls, 1)
    }

    func testTransientReadErrorIsCountedAndEndsDrain() throws {
        let io = ScriptedDeviceIO()
        io.readSteps = [.errno(ENOMEM), .bytes([1])]
        let device = try makeDevice(io: io)
        guard case .wouldBlock = device.read(into: buffer.bytes) else { return XCTFail("expected wouldBlock") }
        XCTAssertEqual(device.counters.readErrors, 1)
        XCTAssertFalse(device.isGone)
        XCTAssertEqual(bytes(of: device.read(into: buffer.bytes)), [1])
    }

    // MARK: - Opening errors

    private func openError(_ outcome: TunTapOpenOutcome, name: String = "tap9") -> DeviceError? {
        let io = ScriptedDeviceIO()
        io.openOutcome = outcome
        do {
            _ = try TunTapDevice.open(.init(name: name, mode: .tap), io: io)
            return nil
        } catch {
            return error
        }
    }

    func testNameLongerThan15BytesIsRefusedBeforeAnySyscall() {
        let io = ScriptedDeviceIO()
        XCTAssertThrowsError(try TunTapDevice.open(.init(name: "a-sixteen-bytes!", mode: .tap), io: io)) { error in
            XCTAssertEqual(error as? DeviceError, .nameTooLong("a-sixteen-bytes!"))
            XCTAssertTrue("\(error)".contains("at most 15 bytes"), "\(error)")
        }
        XCTAssertTrue(io.openRequests.isEmpty)
        XCTAssertNoThrow(try TunTapDevice.open(.init(name: "fifteen-bytes-x", mode: .tap), io: io))
    }

    func testMissingTunDeviceSaysLoadTheModule() {
        let error = openError(.failed(errno: ENOENT, step: .openControlDevice))
        XCTAssertEqual(error, .tunMissing(errno: Errno(rawValue: ENOENT)))
        XCTAssertTrue("\(error!)".contains("modprobe tun"), "\(error!)")
    }

    func testPermissionDeniedSaysWhatToDo() {
        for outcome in [TunTapOpenOutcome.failed(errno: EPERM, step: .attach),
                        .failed(errno: EACCES, step: .attach),
                        .failed(errno: EPERM, step: .openControlDevice)] {
            let error = openError(outcome)
            let message = error.map { "\($0)" } ?? ""
            XCTAssertTrue(message.contains("CAP_NET_ADMIN"), message)
            XCTAssertTrue(message.contains("ip tuntap add dev tap9 mode tap user $USER"), message)
        }
    }

    /// EACCES opening /dev/net/tun comes from the node's mode (0600 in some containers),
    /// which no capability changes: the advice names the node, not CAP_NET_ADMIN.
    func testAnUnreadableTunNodeIsBlamedNotACapability() {
        let error = openError(.failed(errno: EACCES, step: .openControlDevice))
        XCTAssertEqual(error, .controlDeviceDenied(errno: Errno(rawValue: EACCES)))
        let message = error.map { "\($0)" } ?? ""
        XCTAssertTrue(message.hasPrefix("cannot open /dev/net/tun (\(Errno(rawValue: EACCES).explained)): "), message)
        XCTAssertTrue(message.contains("the device node's permissions refuse this user"), message)
        XCTAssertTrue(message.contains("chmod 0666 /dev/net/tun"), message)
        XCTAssertFalse(message.contains("CAP_NET_ADMIN"), message)
    }

    /// A name template's "%d" (the kernel picks the number) never reaches advice to type.
    func testATemplateNameNeverAppearsInAdvice() {
        let io = ScriptedDeviceIO()
        for outcome in [TunTapOpenOutcome.failed(errno: EPERM, step: .attach),
                        .failed(errno: EPERM, step: .openControlDevice)] {
            io.openOutcome = outcome
            XCTAssertThrowsError(try TunTapDevice.open(.init(name: "tapir%d", mode: .tap), io: io)) { error in
                let message = "\(error)"
                XCTAssertFalse(message.contains("%d"), message)
                XCTAssertTrue(message.contains("ip tuntap add dev tapir0 mode tap user $USER` and given with --dev tapir0"),
                              message)
            }
        }
        io.openOutcome = .opened(fd: 57, name: "tapir3")
        io.interfaceUp = -Int32(EPERM)
        XCTAssertThrowsError(try TunTapDevice.open(.init(name: "tapir%d", mode: .tap, bringUp: true), io: io)) { error in
            XCTAssertFalse("\(error)".contains("%d"), "\(error)")
        }
    }

    func testBusyAndKindMismatch() {
        let busy = openError(.failed(errno: EBUSY, step: .attach))
        XCTAssertEqual(busy, .busy("tap9"))
        XCTAssertTrue("\(busy!)".contains("in use"))
        XCTAssertEqual(openError(.failed(errno: EINVAL, step: .attach)), .kindMismatch("tap9"))
    }

    func testFailureAfterAttachClosesTheDescriptor() {
        let io = ScriptedDeviceIO()
        io.openOutcome = .opened(fd: 55, name: "tap9")
        io.mtu = -Int(ENODEV)
        XCTAssertThrowsError(try TunTapDevice.open(.init(name: "tap9", mode: .tap), io: io)) { error in
            // The call's SystemError, wrapped; the message as it was.
            XCTAssertEqual(error as? DeviceError,
                           .system(SystemError(operation: "SIOCGIFMTU tap9", errno: Errno(rawValue: ENODEV))))
            XCTAssertEqual("\(error)", "SIOCGIFMTU tap9 failed: No such device (errno \(ENODEV))")
        }
        XCTAssertEqual(io.closed, [55])
    }

    func testQueuesOfAMultiQueueDevice() throws {
        let io = ScriptedDeviceIO()
        io.openOutcome = .opened(fd: 60, name: "mq0")
        let queues = try TunTapDevice.openQueues(.init(name: "mq%d", mode: .tap), count: 3, io: io)
        XCTAssertEqual(queues.map(\.queueIndex), [0, 1, 2])
        XCTAssertEqual(io.openRequests.map(\.name), ["mq%d", "mq0", "mq0"], "later queues attach to the kernel's name")
        XCTAssertTrue(io.openRequests.allSatisfy(\.multiQueue))
        let single = try makeDevice(io: io)
        XCTAssertThrowsError(try single.openAnotherQueue()) { XCTAssertEqual($0 as? DeviceError, .busy("mq0")) }
    }

    // MARK: offloads (IFF_VNET_HDR)

    func testOffloadsAskForTheVnetHeaderAndTCPSegmentationOnATapOnly() throws {
        let io = ScriptedDeviceIO()
        let device = try TunTapDevice.open(.init(name: "tap0", mode: .tap, offloads: true), io: io)
        XCTAssertTrue(device.hasOffloads)
        XCTAssertEqual(io.openRequests.last?.vnetHeader, true)
        XCTAssertEqual(io.offloadRequests, [0x0f], "checksum, TSO4, TSO6 and TSO with ECN")
        let tun = try TunTapDevice.open(.init(name: "tun0", mode: .tun, offloads: true), io: io)
        XCTAssertFalse(tun.hasOffloads, "a tun is served without")
        XCTAssertNil(tun.offloadHeader)
        XCTAssertEqual(io.openRequests.last?.vnetHeader, false)
        XCTAssertEqual(io.offloadRequests.count, 1)
    }

    func testWithOffloadsAReadSplitsOffTheVirtioHeaderAndAWriteSendsAZeroOne() throws {
        let io = ScriptedDeviceIO()
        let device = try TunTapDevice.open(.init(name: "tap0", mode: .tap, offloads: true), io: io)
        // flags NEEDS_CSUM, gso TCPv4, hdr_len 66, gso_size 1448, csum_start 34, csum_offset 16 (little-endian)
        let header: [UInt8] = [1, 1, 66, 0, 0xa8, 0x05, 34, 0, 16, 0]
        io.readSteps = [.bytes(header + [0xaa, 0xbb, 0xcc])]
        XCTAssertEqual(bytes(of: device.read(into: buffer.bytes)), [0xaa, 0xbb, 0xcc])
        XCTAssertEqual(device.offloadHeader, VirtioNetHeader(flags: 1, gsoType: 1, headerLength: 66, gsoSize: 1448,
                                                             checksumStart: 34, checksumOffset: 16))
        XCTAssertEqual(device.offloadHeader?.needsWork, true)
        XCTAssertEqual(device.write([1, 2, 3]), .written)
        XCTAssertEqual(io.writes.last, [UInt8](repeating: 0, count: 10) + [1, 2, 3])
        let asked = VirtioNetHeader(flags: 1, gsoType: 4, headerLength: 74, gsoSize: 1428, checksumStart: 54,
                                    checksumOffset: 16)
        XCTAssertEqual([UInt8]([4, 5]).withUnsafeBytes { device.write($0, offload: asked) }, .written)
        XCTAssertEqual(io.writes.last, [1, 4, 74, 0, 0x94, 0x05, 54, 0, 16, 0, 4, 5])
        XCTAssertEqual(device.counters.txBytes, 5, "counters count the frames, not the headers")
    }
}
