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

    func testEveryDeviceIsRecordedTheFirstAtThePathTheOthersBesideIt() throws {
        let directory = NSTemporaryDirectory() + "tapir-devices-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let set = DeviceSet(logger: Logger(label: "test"))
        set.recordPath = directory + "/run.pcap"
        set.recordingClock = { CaptureTime(seconds: 5) }
        let tap = try add(set, "mem0", .tap)
        let tun = try add(set, "mem1", .tun)
        let frame = TestFrames.udp(dport: 7)
        let datagram = TestFrames.rawUDP(dport: 7)
        frame.withUnsafeBytes { set.record($0, on: tap) }
        datagram.withUnsafeBytes { set.record($0, on: tun) }
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
}
