import Devices
import Foundation
import Glibc
import XCTest

/// lua/examples/ntp-server.lua, an NTP server on tapir.proto.ntp, under `tapir run` on a tap
/// in a namespace the test makes: the kernel-side `sntp` (ntpsec's) sets its offset from the
/// answer, and with both ends on this machine's clock the offset must be near zero.
final class NTPKernelTests: XCTestCase {
    func testSNTPGetsThisMachinesTimeFromTheExample() throws {
        try TapirCommand.requireRoot()
        guard ChildProcess.locate("sntp") != nil else {
            throw XCTSkip("needs sntp (apt-get install sntp; scripts/setup)")
        }
        let sandbox = try Sandbox(prefix: "tapir-test-ntp")
        defer { sandbox.remove() }
        let tapir = try TapirCommand.start([TapirCommand.lua("examples/ntp-server.lua")], device: "tapntp",
                                           in: sandbox)
        // sntp prints "DATE TIME (+0000) +0.000058 +/- 0.000155 198.18.0.2 s1 no-leap".
        let result = try sandbox.run(["sntp", "-t", "5", "198.18.0.2"], timeout: .seconds(20))
        let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let fields = line.split(separator: " ").map(String.init)
        let offset = fields.firstIndex(of: "+/-").flatMap { $0 > 0 ? Double(fields[$0 - 1]) : nil }
        XCTAssertNotNil(offset, "sntp's answer: \(result.stdout)\(result.stderr)")
        if let offset { XCTAssertLessThan(abs(offset), 0.010, line) }
        XCTAssertTrue(line.contains("198.18.0.2 s1 no-leap"), "a stratum 1 server, no leap second: \(line)")
        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
    }
}
