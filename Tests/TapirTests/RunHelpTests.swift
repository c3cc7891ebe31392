import Devices
import XCTest

/// `tapir run --help` shows every limit and privilege setting with its default.
final class RunHelpTests: XCTestCase {
    func testRunHelpListsEveryLimitWithItsDefault() throws {
        let output = try ChildProcess.run([TapirCommand.path, "run", "--help"])
        XCTAssertEqual(output.status, 0, output.stderr)
        // An option's entry is its line and the indented lines after it, up to the next
        // option; lines wrap, so runs of white space are compared as one space.
        var entries: [String: String] = [:]
        var current: String?
        for line in output.stdout.split(separator: "\n") {
            let trimmed = line.drop { $0 == " " }
            if line.hasPrefix("  -"), let option = trimmed.split(separator: " ").first {
                current = option.split(separator: "/").first.map(String.init)
                entries[current!] = ""
            } else if !line.hasPrefix("      ") {
                current = nil
            }
            if let current { entries[current, default: ""] += " " + trimmed }
        }
        let expected = [
            ("--budget", "(default: 10000000)"),
            ("--memory", "(default: 64)"),
            ("--read-budget", "(default: 262144)"),
            ("--max-packet", "(default: the device's MTU + 22 on a tap, its MTU on a tun)"),
            ("--user", "no capabilities"),
            ("--group", "(default: the user's own)"),
            ("--record", "pcap writes each device after the first to FILE-DEVICE.pcap"),
            ("--record-format", "(values: pcapng, pcap; default: pcapng)"),
        ]
        for (option, text) in expected {
            guard let entry = entries[option] else {
                XCTFail("\(option) is not in tapir run --help:\n\(output.stdout)")
                continue
            }
            let flat = entry.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            XCTAssertTrue(flat.contains(text), "\(option): \(flat)")
        }
    }
}
