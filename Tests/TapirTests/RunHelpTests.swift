import Devices
import XCTest

/// `tapir run --help` shows every limit and privilege setting with its default.
final class RunHelpTests: XCTestCase {
    func testRunHelpListsEveryLimitWithItsDefault() throws {
        let output = try ChildProcess.run([TapirCommand.path, "run", "--help"])
        XCTAssertEqual(output.status, 0, output.stderr)
        // Help lines wrap: compare with runs of white space made one space.
        let help = output.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let expected = [
            ("--budget", "(default: 10000000)"),
            ("--memory", "(default: 64)"),
            ("--read-budget", "(default: 262144)"),
            ("--max-packet", "(default: the device's MTU + 22 on a tap, its MTU on a tun)"),
            ("--user", "no capabilities"),
            ("--group", "(default: the user's own)"),
        ]
        for (option, text) in expected {
            guard let start = help.range(of: " \(option) ") else {
                XCTFail("\(option) is not in tapir run --help:\n\(output.stdout)")
                continue
            }
            // The option's entry runs to the next option.
            let rest = help[start.upperBound...]
            let entry = rest.range(of: " --").map { rest[..<$0.lowerBound] } ?? rest
            XCTAssertTrue(entry.contains(text), "\(option): \(entry)")
        }
    }
}
