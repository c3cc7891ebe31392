import Capture
import Devices
import Foundation
import XCTest

final class PcapDeviceTests: XCTestCase {
    var directory: String!
    // A property, not a local: a local could be freed right after `.bytes` is read.
    private let buffer = ReadBuffer()

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "tapir-pcapdevice-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func writeCapture(_ packets: [[UInt8]], linkType: PcapLinkType, name: String) throws -> String {
        let path = directory + "/" + name
        let writer = try PcapWriter(path: path, linkType: linkType)
        for (index, packet) in packets.enumerated() {
            try writer.write(packet, time: CaptureTime(seconds: 100 + Int64(index)))
        }
        try writer.close()
        return path
    }

    func testReadsEachPacketOnceThenWouldBlockAndFollowsTheCaptureClock() throws {
        let input = try writeCapture([[1, 2, 3], [4, 5]], linkType: .ethernet, name: "in.pcap")
        let device = try PcapDevice(input: input, output: nil)
        XCTAssertEqual(device.mode, .tap)
        XCTAssertEqual(device.time, CaptureTime(seconds: 100))
        var read: [[UInt8]] = []
        while case .packet(let bytes) = device.read(into: buffer.bytes) { read.append(Array(bytes)) }
        XCTAssertEqual(read, [[1, 2, 3], [4, 5]])
        XCTAssertTrue(device.isExhausted)
        XCTAssertEqual(device.time, CaptureTime(seconds: 101))
        XCTAssertEqual(device.counters.rxPackets, 2)
    }

    func testWritesGoToTheOutputFileStampedWithTheCaptureClock() throws {
        let input = try writeCapture([[0x45, 0, 0, 20]], linkType: .rawIP, name: "in.pcap")
        let output = directory + "/out.pcap"
        let device = try PcapDevice(input: input, output: output)
        XCTAssertEqual(device.mode, .tun)
        guard case .packet = device.read(into: buffer.bytes) else { return XCTFail("no packet") }
        XCTAssertEqual(device.write([9, 9, 9]), .written)
        XCTAssertEqual(device.write([8]), .written)
        device.close()
        let reader = try PcapReader(path: output)
        XCTAssertEqual(reader.linkType, .rawIP)
        let written = try reader.readAll()
        XCTAssertEqual(written.map(\.bytes), [[9, 9, 9], [8]])
        XCTAssertEqual(written.map(\.time), [CaptureTime(seconds: 100), CaptureTime(seconds: 100)])
    }

    func testACutOffInputEndsTheDeviceWithTheFileNamed() throws {
        let input = try writeCapture([[1, 2, 3, 4], [5, 6, 7, 8]], linkType: .ethernet, name: "cut.pcap")
        let whole = try Data(contentsOf: URL(fileURLWithPath: input))
        try whole.prefix(whole.count - 2).write(to: URL(fileURLWithPath: input))
        let device = try PcapDevice(input: input, output: nil)
        guard case .gone(let reason) = device.read(into: buffer.bytes) else {
            return XCTFail("the cut-off second record should end the device")
        }
        XCTAssertTrue(reason.contains("cut.pcap"), reason)
        XCTAssertTrue(device.isGone)
    }

    func testMissingInputIsAClearError() {
        XCTAssertThrowsError(try PcapDevice(input: directory + "/missing.pcap", output: nil)) { error in
            XCTAssertTrue("\(error)".contains("missing.pcap"), "\(error)")
        }
    }
}
