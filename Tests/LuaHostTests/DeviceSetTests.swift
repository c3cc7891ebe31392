import Capture
import Devices
import Foundation
import Logging
@testable import LuaHost
import XCTest

/// The host's devices: numbered in the order added, their limits, and their recordings.
final class DeviceSetTests: XCTestCase {
    private func add(_ set: DeviceSet, _ name: String, _ mode: DeviceMode, mtu: Int? = nil,
                     maxPacketSize: Int? = nil) throws -> HostDevice {
        try set.add(MemoryDevice(name: name, mode: mode), mtu: mtu, maxPacketSize: maxPacketSize,
                    errorLogInterval: .seconds(10))
    }

    func testDevicesAreNumberedFromOneFoundByIDAndNameAndGetTheirLimits() throws {
        let set = DeviceSet(logger: Logger(label: "test"))
        let plain = try add(set, "mem0", .tap)
        let tun = try add(set, "mem1", .tun, mtu: 1500)
        let tap = try add(set, "mem2", .tap, mtu: 1500)
        let given = try add(set, "mem3", .tap, mtu: 1500, maxPacketSize: 9000)
        XCTAssertEqual([plain, tun, tap, given].map(\.id), [1, 2, 3, 4])
        XCTAssertTrue(set.device(id: 2) === tun)
        XCTAssertNil(set.device(id: 0))
        XCTAssertNil(set.device(id: 5))
        XCTAssertTrue(set.device(named: "mem2") === tap)
        XCTAssertNil(set.device(named: "mem9"))
        XCTAssertEqual([plain, tun, tap, given].map(\.maxPacketSize), [nil, 1500, 1500 + HostDevice.linkHeaderAllowance, 9000])
        XCTAssertEqual(set.linkTypes, [.ethernet, .rawIP])
        XCTAssertFalse(set.allGone)
        for device in set.devices { device.goneReported = true }
        XCTAssertTrue(set.allGone)
    }

    func testInPcapEveryDeviceIsRecordedTheFirstAtThePathTheOthersBesideIt() throws {
        let directory = NSTemporaryDirectory() + "tapir-devices-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let set = DeviceSet(logger: Logger(label: "test"))
        set.recordPath = directory + "/run.pcap"
        set.recordFormat = .pcap
        set.recordingClock = { CaptureTime(seconds: 5) }
        let tap = try add(set, "mem0", .tap)
        let tun = try add(set, "mem1", .tun)
        let frame = TestFrames.udp(dport: 7)
        let datagram = TestFrames.rawUDP(dport: 7)
        frame.withUnsafeBytes { set.record($0, on: tap, direction: .inbound) }
        datagram.withUnsafeBytes { set.record($0, on: tun, direction: .outbound) }
        set.closeRecordings()
        XCTAssertNil(tap.recorder)
        for (path, linkType, bytes) in [("run.pcap", PcapLinkType.ethernet, frame), ("run-mem1.pcap", .rawIP, datagram)] {
            let reader = try PcapReader(path: directory + "/" + path)
            defer { reader.close() }
            XCTAssertEqual(reader.linkType, linkType, path)
            XCTAssertEqual(try reader.next(), CapturedPacket(time: CaptureTime(seconds: 5), bytes: bytes), path)
            XCTAssertNil(try reader.next(), path)
        }
    }

    func testInPcapngDevicesShareTheFileAnInterfaceEachWithDirectionsAndReloadComments() throws {
        let directory = NSTemporaryDirectory() + "tapir-devices-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let set = DeviceSet(logger: Logger(label: "test"))
        set.recordPath = directory + "/lab.pcapng"
        set.recordingClock = { CaptureTime(seconds: 7) }
        let first = try add(set, "mem0", .tap)
        let tun = try add(set, "mem1", .tun)
        let second = try add(set, "mem2", .tap)
        let frame = TestFrames.udp(dport: 7)
        let datagram = TestFrames.rawUDP(dport: 7)
        frame.withUnsafeBytes { set.record($0, on: first, direction: .inbound) }
        set.commentRecordings("reloaded echo.lua")
        frame.withUnsafeBytes { set.record($0, on: second, direction: .outbound) }
        frame.withUnsafeBytes { set.record($0, on: first, direction: .outbound) }
        datagram.withUnsafeBytes { set.record($0, on: tun, direction: .inbound) }
        set.closeRecordings()

        let time = CaptureTime(seconds: 7)
        XCTAssertEqual(try PcapReader(path: directory + "/lab.pcapng").readAll(), [
            CapturedPacket(time: time, bytes: frame, direction: .inbound),
            CapturedPacket(time: time, bytes: frame, direction: .outbound),
            CapturedPacket(time: time, bytes: frame, direction: .outbound),
        ])
        // The tun's raw IP cannot share an Ethernet file: tcpdump reads one link type a file.
        let beside = try PcapReader(path: directory + "/lab-mem1.pcapng")
        XCTAssertEqual(beside.linkType, .rawIP)
        XCTAssertEqual(try beside.readAll(), [CapturedPacket(time: time, bytes: datagram, direction: .inbound)])

        guard let tshark = ChildProcess.locate("tshark") else { return }
        let fields = try ChildProcess.run([tshark, "-r", directory + "/lab.pcapng", "-T", "fields", "-E", "separator=|",
                                           "-e", "frame.interface_name", "-e", "frame.packet_flags_direction",
                                           "-e", "frame.comment"])
        XCTAssertEqual(fields.stdout.split(separator: "\n").map(String.init), [
            "mem0|0x00000001|", "mem2|0x00000002|reloaded echo.lua", "mem0|0x00000002|reloaded echo.lua",
        ], fields.stderr)
    }
}
