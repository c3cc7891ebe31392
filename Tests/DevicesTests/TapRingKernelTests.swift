import Devices
import Glibc
import XCTest

/// A tap's reads and writes in io_uring batches (TunTapDevice.Configuration.batchedIO,
/// TapRing), against the kernel in a namespace the test makes: frames come in the order
/// the kernel sent them, a batch of writes reaches it, and one frame the kernel refuses
/// in a batch fails alone.
final class TapRingKernelTests: XCTestCase {
    func testAFloodOfPingsIsReadInOrderAndAnsweredInBatches() throws {
        let (sandbox, device) = try batchedTap(named: "tpr%d")

        // A flood with 32 requests outstanding: the next goes as soon as a reply comes, so
        // bursts of many frames, which go through the ring.
        let ping = try sandbox.start(["ping", "-f", "-l", "32", "-c", "2000", "-W", "2", "198.18.0.2"])
        let responder = PingResponder(mode: .tap)
        var pending: [[UInt8]] = []
        var sequences: [UInt16] = []
        var outcomes: [WriteResult] = []
        var batches = 0
        func flush() {
            guard !pending.isEmpty else { return }
            batches += 1
            withCopies(of: pending) { frames in
                device.write(batch: frames.count, frame: { (frames[$0], nil) }) { _, result in outcomes.append(result) }
            }
            pending.removeAll()
        }
        let gone = serve([device], for: .seconds(60), until: { flush(); return ping.hasExited }) { _, packet in
            if let sequence = echoSequence(packet) { sequences.append(sequence) }
            if let reply = responder.reply(to: packet) { pending.append(reply) }
        }
        flush()
        let output = ping.wait(timeout: .seconds(5))
        XCTAssertTrue(gone.isEmpty, "\(gone)")
        XCTAssertTrue(output.stdout.contains("2000 received"), output.stdout + output.stderr)
        XCTAssertEqual(outcomes.filter { $0 != .written }, [])
        XCTAssertEqual(outcomes.count, responder.echoReplies + responder.arpReplies)
        XCTAssertEqual(sequences.count, 2000)
        XCTAssertEqual(sequences, (1...2000).map { UInt16($0) }, "read in the order sent")
        XCTAssertTrue(device.usesBatchedIO, "still batched at the end")
        // How many bursts reach the ring's threshold depends on scheduling; some do.
        XCTAssertGreaterThan(device.framesReadInBatches, 0)
        XCTAssertGreaterThan(device.framesWrittenInBatches, 0)
        XCTAssertGreaterThanOrEqual(device.counters.txPackets, 2000)
        XCTAssertGreaterThanOrEqual(device.counters.rxPackets, 2000)
    }

    func testAFrameTheKernelRefusesFailsAloneInItsBatch() throws {
        let (sandbox, device) = try batchedTap(named: "tps%d")

        let ping = try sandbox.start(["ping", "-c", "3", "-W", "2", "-i", "0.2", "198.18.0.2"])
        let responder = PingResponder(mode: .tap)
        var outcomes: [[WriteResult]] = []
        let junk: [UInt8] = [1, 2, 3, 4, 5]  // shorter than an Ethernet header: EINVAL
        // Six frames: a batch large enough for the ring (TunTapDevice.ringBurstThreshold).
        serve([device], for: .seconds(15), until: { ping.hasExited }) { _, packet in
            guard let reply = responder.reply(to: packet) else { return }
            var results: [WriteResult] = []
            withCopies(of: [junk, reply, junk, junk, junk, junk]) { frames in
                device.write(batch: 6, frame: { (frames[$0], nil) }) { index, result in
                    XCTAssertEqual(index, results.count, "outcomes in order")
                    results.append(result)
                }
            }
            outcomes.append(results)
        }
        let output = ping.wait(timeout: .seconds(5))
        XCTAssertTrue(output.stdout.contains("3 received"), output.stdout + output.stderr)
        XCTAssertGreaterThanOrEqual(outcomes.count, 3)
        for results in outcomes {
            XCTAssertEqual(results, [.failed(.rejected), .written] + Array(repeating: .failed(.rejected), count: 4))
        }
        XCTAssertEqual(device.counters.writeRejected, 5 * outcomes.count)
        XCTAssertEqual(device.framesWrittenInBatches, outcomes.count, "one frame of each batch written, through the ring")
    }

    /// A drain stopped by its byte budget still hands out every frame the batch took from
    /// the kernel: the tap's queue may be empty, and nothing would wake the loop for them.
    func testADrainOverItsBudgetLeavesNoFrameInTheBatch() throws {
        let (sandbox, device) = try batchedTap(named: "tpb%d")
        // No responder: the kernel is told the peer's link address, then sends 40 datagrams.
        _ = try sandbox.ip(["neigh", "replace", "198.18.0.2", "lladdr", "02:00:00:00:00:02", "dev", device.name,
                            "nud", "permanent"])
        let send = ["python3", "-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(40):
                s.sendto(bytes([i]) * 200, ("198.18.0.2", 9))
            """]
        let buffer = ReadBuffer()
        defer { withExtendedLifetime(buffer) {} }
        // A first burst of 40, read without the ring, makes the next go through it.
        XCTAssertEqual(try sandbox.run(send).status, 0)
        var first = 0
        let firstDeadline = ContinuousClock.now + .seconds(10)
        while first < 40, ContinuousClock.now < firstDeadline {
            let report = DeviceDrain().drain(device, into: buffer.bytes) { frame in
                if frame.count == 14 + 20 + 8 + 200 { first += 1 }
            }
            if report.packets == 0 { usleep(10_000) }
        }
        XCTAssertEqual(first, 40)
        let sent = try sandbox.run(send)
        XCTAssertEqual(sent.status, 0, sent.stderr)
        var marks: [UInt8] = []
        func mark(_ frame: UnsafeRawBufferPointer) {
            // A UDP datagram to port 9 (IPv4, no options): its first payload byte.
            if frame.count == 14 + 20 + 8 + 200, frame[12] == 0x08, frame[14 + 9] == 17, frame[14 + 23] == 9 {
                marks.append(frame[14 + 28])
            }
        }
        // One frame of the batch read, then a batch of writes (a full write queue flushed in
        // the middle of a burst), then the rest of the batch: it must come out whole.
        let firstDeadline2 = ContinuousClock.now + .seconds(10)
        while marks.isEmpty, ContinuousClock.now < firstDeadline2 {
            if case .packet(let frame) = device.read(into: buffer.bytes) { mark(frame) } else { usleep(10_000) }
        }
        XCTAssertTrue(device.holdsReadFrames, "the rest of the batch is held")
        var writes: [WriteResult] = []
        withCopies(of: Array(repeating: [1, 2, 3, 4, 5], count: 6)) { frames in
            device.write(batch: 6, frame: { (frames[$0], nil) }) { _, result in writes.append(result) }
        }
        XCTAssertEqual(writes, Array(repeating: .failed(.rejected), count: 6))
        let drain = DeviceDrain(byteBudget: 1)
        var drains = 0
        let deadline = ContinuousClock.now + .seconds(10)
        while marks.count < 40, ContinuousClock.now < deadline {
            let report = drain.drain(device, into: buffer.bytes) { mark($0) }
            drains += 1
            XCTAssertFalse(device.holdsReadFrames, "drain \(drains) stopped with frames left in the batch")
            if report.packets == 0 { usleep(10_000) }
        }
        XCTAssertEqual(marks, (0..<40).map { UInt8($0) })
        XCTAssertGreaterThanOrEqual(device.framesReadInBatches, 39, "the second burst went through the ring")
    }

    /// A run of writes longer than one batch to a device an outcome closes (as the host
    /// closes a device a write finds gone): the rest is not written, and nothing traps on
    /// the closed descriptor.
    func testARunOfWritesStopsWhereTheDeviceIsClosed() throws {
        let (_, device) = try batchedTap(named: "tpc%d")  // the sandbox lives until the test ends
        // Broadcast frames of a local experimental EtherType: the kernel takes and drops them.
        let frame: [UInt8] = Array(repeating: 0xff, count: 6) + [0x02, 0, 0, 0, 0, 2, 0x88, 0xb5]
            + Array(repeating: 0, count: 46)
        var told: [Int] = []
        withCopies(of: Array(repeating: frame, count: 40)) { frames in
            device.write(batch: 40, frame: { (frames[$0], nil) }) { index, result in
                XCTAssertEqual(result, .written)
                told.append(index)
                if index == 0 { device.close() }
            }
        }
        XCTAssertEqual(told, Array(0..<32), "the first batch of 32 was written; none after the close")
        XCTAssertNil(device.fileDescriptor)
    }

    /// `frames` copied into buffers of their own, valid during `body`.
    private func withCopies(of frames: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) -> Void) {
        let copies = frames.map { frame in
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.count, alignment: 1)
            copy.copyBytes(from: frame)
            return copy
        }
        defer { copies.forEach { $0.deallocate() } }
        body(copies.map { UnsafeRawBufferPointer($0) })
    }

    /// A tap with batched I/O in a namespace of the test's own (skipped without root or
    /// without an io_uring).
    private func batchedTap(named name: String) throws -> (Sandbox, TunTapDevice) {
        try requireRoot()
        let sandbox = try makeTestSandbox(self)
        let device = try TunTapDevice.open(.init(name: name, mode: .tap, batchedIO: true))
        try requireRing(device)
        try sandbox.adopt(device)
        return (sandbox, device)
    }

    /// The kernel may refuse io_uring (kernel.io_uring_disabled, a kernel without it): then
    /// the device reads and writes without it, and there is nothing here to test.
    private func requireRing(_ device: TunTapDevice) throws {
        guard device.usesBatchedIO else {
            let disabled = (try? String(contentsOfFile: "/proc/sys/kernel/io_uring_disabled", encoding: .utf8)) ?? "absent"
            throw XCTSkip("this kernel gives no io_uring (kernel.io_uring_disabled: \(disabled.trimmingCharacters(in: .whitespacesAndNewlines)))")
        }
    }

    /// The ICMP echo request's sequence number, for a tap frame holding one.
    private func echoSequence(_ frame: UnsafeRawBufferPointer) -> UInt16? {
        guard frame.count >= 14 + 20 + 8, frame[12] == 0x08, frame[13] == 0x00, frame[14 + 9] == 1 else { return nil }
        let headerLength = Int(frame[14] & 0x0f) * 4
        guard frame.count >= 14 + headerLength + 8, frame[14 + headerLength] == 8 else { return nil }
        return UInt16(frame[14 + headerLength + 6]) << 8 | UInt16(frame[14 + headerLength + 7])
    }
}
