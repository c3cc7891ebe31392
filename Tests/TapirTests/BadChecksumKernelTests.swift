import Devices
import Foundation
import Glibc
import XCTest

/// hping3 -b (bad checksums) at the packs that answer: Linux drops such packets, so do they.
final class BadChecksumKernelTests: XCTestCase {
    /// The "N packets received" hping3 counts for `arguments`, sent three times.
    func received(_ arguments: [String], in sandbox: Sandbox) throws -> Int {
        let output = try sandbox.run(["hping3", "-c", "3", "-i", "u200000"] + arguments + ["198.18.0.2"],
                                     timeout: .seconds(20))
        let text = output.stdout + output.stderr
        guard let range = text.range(of: #"(\d+) packets received"#, options: .regularExpression) else {
            XCTFail("no count in hping3's output: \(text)")
            return -1
        }
        return Int(text[range].split(separator: " ")[0]) ?? -1
    }

    func testNoPackAnswersAPacketWhoseChecksumFails() throws {
        try TapirCommand.requireRoot()
        guard ChildProcess.locate("hping3") != nil else { throw XCTSkip("hping3 is not installed") }
        for (index, pack) in ["packs/virtual-host", "packs/udp-echo", "packs/icmp-echo", "packs/tcp-echo"].enumerated() {
            let sandbox = try Sandbox(prefix: "tapir-test-chk")
            defer { sandbox.remove() }
            let tapir = try TapirCommand.start([TapirCommand.lua(pack)], device: "tapck\(index)", in: sandbox)
            // A good packet is answered (the control), the same with a bad checksum is not.
            let probe: [String]
            switch pack {
            case "packs/icmp-echo": probe = ["--icmp"]
            case "packs/tcp-echo": probe = ["-S", "-p", "7"]
            default: probe = ["--udp", "-p", "7", "-d", "8"]
            }
            XCTAssertEqual(try received(probe, in: sandbox), 3, "\(pack) answers good packets")
            XCTAssertEqual(try received(probe + ["-b"], in: sandbox), 0, "\(pack) answered a bad checksum")
            let output = TapirCommand.stop(tapir)
            XCTAssertEqual(output.status, 0, output.stderr)
        }
    }
}
