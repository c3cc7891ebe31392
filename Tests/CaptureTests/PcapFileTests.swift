import Capture
import Foundation
import SystemPackage
import XCTest

final class PcapFileTests: XCTestCase {
    // An ARP request from 198.18.0.1 for 198.18.0.2, as the kernel sends it.
    let arpRequest: [UInt8] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
        0xc6, 0x12, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x12, 0x00, 0x02,
    ]

    func temporaryPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tapir-capture-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    func testWriteThenReadKeepsBytesTimesAndLinkType() throws {
        let path = temporaryPath("roundtrip.pcap")
        let writer = try PcapWriter(path: path, linkType: .ethernet)
        try writer.write(arpRequest, time: CaptureTime(seconds: 1_700_000_000, nanoseconds: 123_456_000))
        try writer.write(Array(arpRequest.prefix(20)), time: CaptureTime(seconds: 1_700_000_001))
        try writer.close()

        let reader = try PcapReader(path: path)
        XCTAssertEqual(reader.linkType, .ethernet)
        let packets = try reader.readAll()
        XCTAssertEqual(packets.count, 2)
        XCTAssertEqual(packets[0].bytes, arpRequest)
        XCTAssertEqual(packets[0].time, CaptureTime(seconds: 1_700_000_000, nanoseconds: 123_456_000))
        XCTAssertEqual(packets[1].bytes, Array(arpRequest.prefix(20)))
    }

    func testRawIPFilesKeepTheirLinkType() throws {
        let path = temporaryPath("raw.pcap")
        let writer = try PcapWriter(path: path, linkType: .rawIP)
        try writer.write([0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2],
                         time: CaptureTime(seconds: 1))
        try writer.close()
        XCTAssertEqual(try PcapReader(path: path).linkType, .rawIP)
    }

    func testFlushedPerPacketIsReadableBeforeClose() throws {
        let path = temporaryPath("live.pcap")
        let writer = try PcapWriter(path: path, linkType: .ethernet, flushEachPacket: true)
        try writer.write(arpRequest, time: CaptureTime(seconds: 5))
        // Another reader sees the packet while the writer is still open.
        XCTAssertEqual(try PcapReader(path: path).readAll().map(\.bytes), [arpRequest])
        try writer.close()
    }

    func testTsharkReadsWhatWeWrite() throws {
        let tshark = try Tool.find("tshark")
        let path = temporaryPath("tshark.pcap")
        let writer = try PcapWriter(path: path, linkType: .ethernet)
        try writer.write(arpRequest, time: CaptureTime(seconds: 1_700_000_000))
        try writer.close()
        let fields = try Tool.run(tshark, ["-r", path, "-T", "fields", "-e", "arp.opcode",
                                           "-e", "arp.src.proto_ipv4", "-e", "arp.dst.proto_ipv4"])
        XCTAssertEqual(fields.trimmingCharacters(in: .whitespacesAndNewlines), "1\t198.18.0.1\t198.18.0.2")
    }

    func testMissingFileSaysSo() {
        XCTAssertThrowsError(try PcapReader(path: "/nonexistent/in.pcap")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/in.pcap"), "\(error)")
            XCTAssertTrue("\(error)".contains("No such file"), "\(error)")
        }
        XCTAssertThrowsError(try PcapWriter(path: "/nonexistent/out.pcap", linkType: .ethernet))
    }

    func testCutOffFileIsAnErrorNotASilentEnd() throws {
        let path = temporaryPath("cut.pcap")
        let writer = try PcapWriter(path: path, linkType: .ethernet)
        try writer.write(arpRequest, time: CaptureTime(seconds: 1))
        try writer.write(arpRequest, time: CaptureTime(seconds: 2))
        try writer.close()
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        try whole.prefix(whole.count - 10).write(to: URL(fileURLWithPath: path))
        let reader = try PcapReader(path: path)
        XCTAssertNotNil(try reader.next())
        XCTAssertThrowsError(try reader.next()) { error in
            XCTAssertTrue("\(error)".contains(path), "\(error)")
        }
    }

    func testNotAPcapFileIsRefusedClearly() throws {
        let path = temporaryPath("text.pcap")
        try "hello, not a capture\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try PcapReader(path: path)) { error in
            XCTAssertTrue("\(error)".hasPrefix("cannot open pcap file \(path)"), "\(error)")
        }
    }

    /// A write after close says so (it was a made-up EBADF: "writing pcap PATH failed:
    /// Bad file descriptor").
    func testWriteAfterCloseSaysTheWriterIsClosed() throws {
        let path = temporaryPath("closed.pcap")
        let writer = try PcapWriter(path: path, linkType: .ethernet)
        try writer.close()
        XCTAssertThrowsError(try writer.write(arpRequest, time: CaptureTime(seconds: 1))) { error in
            XCTAssertEqual(error as? CaptureError, .closed(path: path))
            XCTAssertEqual("\(error)", "pcap \(path) is closed: nothing more can be written to it")
        }
    }

    func testFullDiskIsDetected() throws {
        guard getuid() == 0 else { throw XCTSkip("mounting a small tmpfs to fill needs root") }
        let mountPoint = temporaryPath("full-disk")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        _ = try Tool.run(try Tool.find("mount"), ["-t", "tmpfs", "-o", "size=64k", "tapir-test", mountPoint])
        defer { _ = try? Tool.run("/bin/umount", [mountPoint]) }

        let writer = try PcapWriter(path: mountPoint + "/out.pcap", linkType: .ethernet, flushEachPacket: true)
        var failure: CaptureError?
        for second in 0..<10_000 {
            do { try writer.write(arpRequest, time: CaptureTime(seconds: Int64(second))) } catch {
                failure = error
                break
            }
        }
        XCTAssertEqual(failure, .writeFailed(path: mountPoint + "/out.pcap", errno: .noSpace))
        XCTAssertTrue("\(failure!)".contains("disk is full"))
        _ = try? writer.close()
    }
}
