import XCTest

/// The runner itself: a script that says the wrong thing must fail, and say why.
final class RunnerTests: XCTestCase {
    let handshake = """
        0.000 listen
        0.100 < S 0:0(0) win 65535 <mss 1460>
        0.100 > S. 0:0(0) ack 1 win 65535 <mss 1460>
        0.100 < . 1:1(0) ack 1 win 65535
        0.100 accept

        """

    func failure(_ text: String) -> String {
        do {
            try ScriptRunner(script: try Script(handshake + text), name: "test").run()
            return "passed"
        } catch {
            return "\(error)"
        }
    }

    func testRightScriptPasses() {
        XCTAssertEqual(failure("0.200 write 10\n0.200 > P. 1:11(10) ack 1 win 65535\n"), "passed")
    }

    func testWrongFieldsAreNamed() {
        let message = failure("0.200 write 10\n0.200 > P. 1:12(11) ack 2 win 100 <nop>\n")
        XCTAssertTrue(message.contains("line 7"), message)
        XCTAssertTrue(message.contains("seq 1:11, expected 1:12"), message)
        XCTAssertTrue(message.contains("ack 1, expected 2"), message)
        XCTAssertTrue(message.contains("win 65535, expected 100"), message)
        XCTAssertTrue(message.contains("options <>, expected <nop>"), message)
    }

    func testWrongTimeIsNamed() {
        let message = failure("0.200 write 10\n0.300 > P. 1:11(10) ack 1 win 65535\n")
        XCTAssertTrue(message.contains("time: sent at 0.200, expected 0.300"), message)
    }

    func testUnexpectedSegmentFails() {
        let message = failure("0.200 write 10\n0.300 tick\n")
        XCTAssertTrue(message.contains("unexpected segment sent at 0.200"), message)
    }

    func testMissingSegmentFails() {
        let message = failure("0.200 > P. 1:11(10) ack 1 win 65535\n")
        XCTAssertTrue(message.contains("nothing was sent"), message)
    }

    func testReadChecksTheBytes() {
        // The runner fills inbound payloads with the stream pattern; a read of data
        // that arrived at the wrong place would not match it.
        let message = failure("0.200 < P. 1:11(10) ack 1 win 65535\n0.210 read 20 = 10\n0.210 read 1 = 1\n")
        XCTAssertTrue(message.contains("read 1 returned 0, expected 1"), message)
    }
}
