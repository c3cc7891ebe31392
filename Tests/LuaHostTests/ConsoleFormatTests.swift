import Foundation
import XCTest
@testable import LuaHost

/// The console prelude's value printer and its test for incomplete chunks
/// (lua/tapir/console.lua), in a plain Lua state.
final class ConsoleFormatTests: XCTestCase {
    private var state: LuaState!

    override func setUpWithError() throws {
        let lua = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("lua").path
        state = try LuaState(options: .init(trusted: true, moduleDirectories: [lua])) { _, _ in }
        try state.load(chunk: "console = require('tapir.console')", name: "setup")
    }

    private func text(_ expression: String) throws -> String {
        let reference = try state.evaluate("return " + expression)
        defer { state.release(reference) }
        return try state.string(reference)
    }

    func testScalarsAreShownAsLuaWritesThem() throws {
        XCTAssertEqual(try text(#"console.format("a\"b\n")"#), #""a\"b\n""#)
        XCTAssertEqual(try text("console.format(42)"), "42")
        XCTAssertEqual(try text("console.format(2.0)"), "2.0")
        XCTAssertEqual(try text("console.format(0.5)"), "0.5")
        XCTAssertEqual(try text("console.format(nil)"), "nil")
        XCTAssertEqual(try text("console.format(true)"), "true")
    }

    func testTableKeysAreSortedArraysFirst() throws {
        XCTAssertEqual(try text("console.format({3, 4, zeta = 1, alpha = 'x', [10] = true})"),
                       #"{ 3, 4, [10] = true, alpha = "x", zeta = 1 }"#)
        XCTAssertEqual(try text("console.format({['with space'] = 1})"), #"{ ["with space"] = 1 }"#)
        XCTAssertEqual(try text("console.format({})"), "{}")
    }

    func testNestedTablesAreIndentedWhenTheyDoNotFitOnALine() throws {
        let shown = try text("""
            console.format({ devices = { tap0 = { rx_packets = 12345, tx_packets = 678, rx_bytes = 99999 } },
                             handlers = { { selector = "icmp", calls = 3 } } })
            """)
        XCTAssertEqual(shown, """
            {
              devices = { tap0 = { rx_bytes = 99999, rx_packets = 12345, tx_packets = 678 } },
              handlers = { { calls = 3, selector = "icmp" } },
            }
            """)
    }

    func testDepthIsLimitedAndCyclesAreNamed() throws {
        XCTAssertEqual(try text("console.format({ a = { b = { c = { d = { e = 1 } } } } })"),
                       "{ a = { b = { c = { d = {...} } } } }")
        let cyclic = try text("(function() local t = {} t.self = t return console.format(t) end)()")
        XCTAssertTrue(cyclic.hasPrefix("{ self = <cycle: table: "), cyclic)
    }

    func testPromptShowsStringsBare() throws {
        XCTAssertEqual(try text("console.show('plain')"), "plain")
        XCTAssertEqual(try text("console.show({'x'})"), #"{ "x" }"#)
    }

    func testIncompleteChunksAreToldFromErrors() throws {
        XCTAssertEqual(try text("select(2, console.compile('function f()'))"), "incomplete")
        XCTAssertEqual(try text("select(2, console.compile('for i = 1, 3 do'))"), "incomplete")
        XCTAssertEqual(try text("select(2, console.compile('x = {'))"), "incomplete")
        XCTAssertEqual(try text("select(2, console.compile('s = [[open'))"), "incomplete")
        XCTAssertEqual(try text("select(2, console.compile('x = = 1'))"),
                       "stdin:1: unexpected symbol near '='")
        XCTAssertEqual(try text("select(2, console.compile('end'))"), "stdin:1: <eof> expected near 'end'")
        XCTAssertEqual(try text("type(console.compile('function f()\\nreturn 1 end'))"), "function")
    }

    func testExpressionsReturnTheirValues() throws {
        XCTAssertEqual(try text("console.compile('1 + 2')()"), "3")
        XCTAssertEqual(try text("console.compile('=2 * 5')()"), "10")
        XCTAssertEqual(try text("select('#', console.compile('x = 7')())"), "0")
    }

    func testHexdumpShowsOffsetHexAndText() throws {
        XCTAssertEqual(try text(#"console.hexdump("ABCDEFGHIJKLMNOPQ\0")"#), """
            0000  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|
            0010  51 00                                             |Q.|
            """)
    }
}
