import Foundation
import XCTest
@testable import LuaHost

/// The console's show(pkt) past the native layers: what tapir.proto's modules read above
/// them (the TCP options, a DNS, DHCP or NTP message by its port, LLDP by its EtherType),
/// on frames built with tapir.build and the modules' own encoders.
final class ConsoleShowTests: XCTestCase {
    private var harness: PacketHarness!

    override func setUpWithError() throws {
        let lua = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("lua").path
        harness = try PacketHarness(options: .init(trusted: true, moduleDirectories: [lua]))
        try harness.state.load(chunk: "console = require('tapir.console')", name: "setup")
    }

    /// The frame `expression` (Lua) makes, as bytes (crossing as hex: a Swift String would
    /// not keep bytes that are not UTF-8).
    private func frame(_ expression: String) throws -> [UInt8] {
        let reference = try harness.state.evaluate(
            "return ((" + expression + "):gsub('.', function(c) return string.format('%02x', c:byte()) end))")
        defer { harness.state.release(reference) }
        let hex = Array(try harness.state.string(reference).utf8)
        return stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    private func applicationLayers(of bytes: [UInt8]) throws -> String {
        try harness.run("function(pkt) tapir.log.info(table.concat(console.applicationLayers(pkt), '\\n')) end",
                        on: bytes).joined(separator: "\n")
    }

    private let udp = """
        function(sport, dport, payload)
          return tapir.build.eth{src = "02:00:00:00:00:01", dst = "02:00:00:00:00:02", type = 0x0800}
            .. tapir.build.ip{src = "198.18.0.1", dst = "198.18.0.2", proto = 17,
                              payload = tapir.build.udp{sport = sport, dport = dport, payload = payload}}
        end
        """

    func testADNSQueryByItsPortIsShownDecoded() throws {
        let bytes = try frame("""
            (\(udp))(40000, 53, require("tapir.proto.dns").encode{id = 0x1234, rd = true,
              questions = {{name = "www.example.test", type = 1, class = 1}}})
            """)
        let shown = try applicationLayers(of: bytes)
        XCTAssertTrue(shown.hasPrefix("###[ dns ]###  (tapir.proto.dns)"), shown)
        XCTAssertTrue(shown.contains("id = 4660"), shown)
        XCTAssertTrue(shown.contains("name = \"www.example.test\""), shown)
    }

    func testAnNTPAnswerFromPort123IsShownAndGarbageSaysWhyNot() throws {
        let ntp = try frame("""
            (\(udp))(123, 40000, require("tapir.proto.ntp").encode{version = 4, mode = 4, stratum = 2,
              transmit = require("tapir.proto.ntp").timestamp(1.0e9)})
            """)
        let shown = try applicationLayers(of: ntp)
        XCTAssertTrue(shown.hasPrefix("###[ ntp ]###  (tapir.proto.ntp)"), shown)
        XCTAssertTrue(shown.contains("stratum = 2"), shown)
        let garbage = try frame("(\(udp))(40000, 123, 'xy')")
        let said = try applicationLayers(of: garbage)
        XCTAssertTrue(said.hasPrefix("###[ ntp ]###") && said.contains("not decoded:"), said)
    }

    func testTCPOptionsAndALengthPrefixedDNSMessageOverTCP() throws {
        let bytes = try frame("""
            tapir.build.eth{src = "02:00:00:00:00:01", dst = "02:00:00:00:00:02", type = 0x0800}
              .. tapir.build.ip{src = "198.18.0.1", dst = "198.18.0.2", proto = 6,
                 payload = tapir.build.tcp{sport = 40000, dport = 53, flags = 0x18, seq = 1, ack = 1,
                   options = require("tapir.proto.tcp_options").encode{mss = 1460},
                   payload = string.pack(">s2", require("tapir.proto.dns").encode{id = 7,
                     questions = {{name = "example.test", type = 6, class = 1}}})}}
            """)
        let shown = try applicationLayers(of: bytes)
        XCTAssertTrue(shown.contains("###[ tcp options ]###  (tapir.proto.tcp_options)"), shown)
        XCTAssertTrue(shown.contains("mss = 1460"), shown)
        XCTAssertTrue(shown.contains("###[ dns ]###"), shown)
        XCTAssertTrue(shown.contains("id = 7"), shown)
    }

    func testAFrameNoModuleReadsAddsNothing() throws {
        let bytes = try frame("(\(udp))(40000, 9, 'hello')")
        XCTAssertEqual(try applicationLayers(of: bytes), "")
    }
}
