import Capture
@testable import LuaHost
import Packets
import XCTest

/// tapir.neighbours' selector of frames to another unicast MAC is checked natively: the
/// same answer as libpcap's compiled program for it, frame by frame.
final class ForeignFramesTests: XCTestCase {
    static let expression = "not ether dst 02:54:41:50:49:52 and not ether multicast"

    func testRecognisesOnlyTheNeighboursExpression() throws {
        XCTAssertEqual(ForeignFrames(expression: Self.expression)?.mac, MACAddress("02:54:41:50:49:52"))
        XCTAssertEqual(ForeignFrames(expression: "not ether dst 02:54:41:50:49:5A and not ether multicast")?.mac,
                       MACAddress("02:54:41:50:49:5a"))
        for other in ["not ether dst 02:54:41:50:49:52", "ether dst 02:54:41:50:49:52 and not ether multicast",
                      "not ether dst 02:54:41:50:49:52 and not ether multicast and udp",
                      "not ether dst 02:54:41:50:49:zz and not ether multicast",
                      "not ether dst 2:54:41:50:49:52 and not ether multicast", "udp"] {
            XCTAssertNil(ForeignFrames(expression: other), other)
        }
    }

    func testAgreesWithTheBPFProgram() throws {
        let native = try XCTUnwrap(ForeignFrames(expression: Self.expression))
        let bpf = try PcapFilter(Self.expression, linkType: .ethernet)
        let ours = TestFrames.udp(dport: 7)
        var frames: [[UInt8]] = [ours, [], Array(ours.prefix(5)), Array(ours.prefix(6)), Array(ours.prefix(14))]
        for destination in ["02:54:41:50:49:53", "03:54:41:50:49:52", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01",
                            "33:33:00:00:00:01", "00:00:00:00:00:00", "02:54:41:50:48:52", "12:54:41:50:49:52"] {
            var frame = ours
            frame.replaceSubrange(0..<6, with: MACAddress(destination)!.bytes)
            frames.append(frame)
            frames.append(Array(frame.prefix(6)))
        }
        var matched = 0
        for frame in frames {
            let (byNative, byBPF) = frame.withUnsafeBytes { (native.matches($0), bpf.matches($0)) }
            XCTAssertEqual(byNative, byBPF, "frame to \(frame.prefix(6).map { String($0, radix: 16) }), \(frame.count) bytes")
            if byBPF { matched += 1 }
        }
        XCTAssertEqual(matched, 8, "the four unicast destinations other than ours, whole and cut to 6 bytes")
    }
}
