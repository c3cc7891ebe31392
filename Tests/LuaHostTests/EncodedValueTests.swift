import XCTest
@testable import LuaHost

/// Plain data crosses between the host and Lua in one encoded form, both ways.
final class EncodedValueTests: XCTestCase {
    private func makeState() throws -> LuaState {
        try LuaState(log: { _, _ in })
    }

    func testALuaTableComesOutAsItsValues() throws {
        let state = try makeState()
        let value = try state.evaluateEncoded("""
            return {1, "two", 3.5, true, nested = {name = "x\\0y"}, [false] = "no", f = print}
            """)
        guard case .table(let pairs) = value else { return XCTFail("\(value)") }
        let byKey = Dictionary(uniqueKeysWithValues: pairs.map { ("\($0.0)", $0.1) })
        XCTAssertEqual(byKey["integer(1)"], .integer(1))
        XCTAssertEqual(byKey["integer(2)"], .string("two"))
        XCTAssertEqual(byKey["integer(3)"], .number(3.5))
        XCTAssertEqual(byKey["integer(4)"], .boolean(true))
        XCTAssertEqual(byKey["string(\"nested\")"], .table([(.string("name"), .string("x\0y"))]))
        XCTAssertEqual(byKey["boolean(false)"], .string("no"))
        XCTAssertEqual(byKey["string(\"f\")"], .other(typeName: "function"))
        XCTAssertEqual(try state.evaluateEncoded("return nil"), .nil)
        XCTAssertEqual(try state.evaluateEncoded("return math.mininteger"), .integer(.min))
        XCTAssertEqual(try state.evaluateEncoded("return coroutine.create(print)"), .other(typeName: "thread"))
        XCTAssertEqual(state.stackDepth, 0)
    }

    func testHostDataGoesInAndComesBackTheSame() throws {
        let state = try makeState()
        let settings = EncodedValue.record(["ip": .string("198.18.0.2"), "ports": .array([.integer(7), .integer(9)]),
                                            "on": .boolean(false), "ratio": .number(0.25)])
        try state.setTapirField("config", to: settings)
        XCTAssertTrue(try state.isTrue("tapir.config.ports[2] == 9 and tapir.config.ip == '198.18.0.2'"))
        guard case .table(let back) = try state.evaluateEncoded("return tapir.config") else { return XCTFail() }
        XCTAssertEqual(EncodedValue.table(back.sorted { "\($0.0)" < "\($1.0)" }),
                       .record(["ip": .string("198.18.0.2"), "on": .boolean(false),
                                "ports": .array([.integer(7), .integer(9)]), "ratio": .number(0.25)]))
        let count = try state.function("function(t) return #t.list == 3 and t.list[3] == 'c' end")
        defer { state.release(count) }
        XCTAssertTrue(try state.call(count, with: [.encoded(.record(["list": .array([.string("a"), .string("b"), .string("c")])]))]))
    }

    func testATableHoldingItselfOrTooDeepIsAnError() throws {
        let state = try makeState()
        let message = "a table nested more than 32 deep (or holding itself) cannot be handed to the host"
        XCTAssertThrowsError(try state.evaluateEncoded("local t = {} t.t = t return t")) { error in
            XCTAssertEqual((error as? LuaError)?.message, message)
        }
        XCTAssertThrowsError(try state.evaluateEncoded("local t = {} for _ = 1, 33 do t = {t} end return t")) { error in
            XCTAssertEqual((error as? LuaError)?.message, message)
        }
        XCTAssertNoThrow(try state.evaluateEncoded("local t = {} for _ = 1, 31 do t = {t} end return t"))
        XCTAssertEqual(state.stackDepth, 0)
    }

    func testDecodingRefusesWhatIsNotExactlyOneValue() {
        let good = EncodedValue.array([.string("a"), .other(typeName: "userdata")]).encoded
        XCTAssertNotNil(good.withUnsafeBytes { EncodedValue(decoding: $0) })
        for bad in [Array(good.dropLast()), good + [UInt8(ascii: "n")], [UInt8(ascii: "?")], []] {
            XCTAssertNil(bad.withUnsafeBytes { EncodedValue(decoding: $0) }, "\(bad)")
        }
    }
}
