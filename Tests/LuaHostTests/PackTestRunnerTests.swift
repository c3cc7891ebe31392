import Foundation
import Logging
@testable import LuaHost
import XCTest

/// The pack test runner: inject, written, advance, decode, pcap, and what counts as a failure.
final class PackTestRunnerTests: XCTestCase {
    var packs: PackFixture!

    override func setUpWithError() throws {
        packs = try PackFixture()
    }

    override func tearDown() {
        packs = nil
    }

    func run(handler: String, tests: String) throws -> [String: String?] {
        let directory = try packs.write("subject", handler: handler,
                                        config: "period = {type = 'integer', default = 100, help = 'h'},")
        try FileManager.default.createDirectory(atPath: directory + "/tests", withIntermediateDirectories: true)
        try tests.write(toFile: directory + "/tests/subject_test.lua", atomically: true, encoding: .utf8)
        let pack = try Pack(directory: directory)
        let runner = PackTestRunner(logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let results = runner.run(pack, config: try pack.manifest.resolve([:]))
        return Dictionary(uniqueKeysWithValues: results.map { ($0.test, $0.failure) })
    }

    func testInjectWrittenDecodeAndAdvance() throws {
        let results = try run(handler: """
            tapir.on("udp", function(pkt, dev) dev:write(pkt:reply{payload = "re:" .. pkt.payload}) return true end)
            tapir.every(tapir.config.period, function()
              for _, dev in ipairs(tapir.devices()) do dev:write("tick") end
            end)
            """, tests: """
            local function udp(data)
              return tapir.build.eth{src = "02:00:00:00:00:01", dst = "02:00:00:00:00:02", type = 0x0800}
                  .. tapir.build.ip{src = "198.18.0.1", dst = "198.18.0.2", proto = 17,
                                    payload = tapir.build.udp{sport = 1, dport = 2, payload = data}}
            end
            function test_reply()
              test.inject(udp("x"))
              local out = test.written()
              test.equal(#out, 1)
              test.equal(test.decode(out[1]).payload, "re:x")
              test.equal(test.decode(out[1]).udp.dport, 1)
            end
            function test_clock()
              test.equal(#test.written(), 0, "nothing before the first period")
              test.advance(test.config.period * 3)
              test.equal(#test.written(), 3)
            end
            function test_fails_with_its_line()
              test.equal(1, 2, "one is two")
            end
            function test_asserts_nothing()
              test.inject(udp("y"))
            end
            function test_raises()
              local t = nil
              return t.field
            end
            function test_missing_capture()
              test.pcap("nowhere.pcap")
              test.expect(true)
            end
            """)
        XCTAssertEqual(results.count, 6)
        XCTAssertEqual(results["test_reply"], .some(nil))
        XCTAssertEqual(results["test_clock"], .some(nil))
        let line = try XCTUnwrap(results["test_fails_with_its_line"] ?? nil)
        XCTAssertTrue(line.contains("subject_test.lua:19: one is two: expected 2, got 1"), line)
        XCTAssertEqual(results["test_asserts_nothing"], "asserted nothing (use test.expect or test.equal)")
        let raised = try XCTUnwrap(results["test_raises"] ?? nil)
        XCTAssertTrue(raised.contains("attempt to index a nil value"), raised)
        let capture = try XCTUnwrap(results["test_missing_capture"] ?? nil)
        XCTAssertTrue(capture.contains("test.pcap") && capture.contains("nowhere.pcap"), capture)
    }

    func testEachTestGetsAFreshPack() throws {
        let results = try run(handler: """
            count = (count or 0)
            tapir.on("frame", function(pkt, dev) count = count + 1 dev:write(tostring(count)) return true end)
            """, tests: """
            function test_a() test.inject("\\1\\2\\3") test.equal(test.written()[1], "1") end
            function test_b() test.inject("\\1\\2\\3") test.equal(test.written()[1], "1") end
            """)
        XCTAssertEqual(results["test_a"], .some(nil))
        XCTAssertEqual(results["test_b"], .some(nil))
    }

    /// A pack that sends each frame to every other device, saying where it came from.
    let flooder = """
        tapir.on("frame", function(pkt, dev)
          for _, other in ipairs(tapir.devices()) do
            if other ~= dev then other:write(dev.name .. ">" .. other.name .. ":" .. other.id .. ":" .. pkt:bytes()) end
          end
          return true
        end)
        """

    func testSeveralDevicesNamedByTheirId() throws {
        let results = try run(handler: flooder, tests: """
            test.devices(3)
            function test_inject_on_a_device_and_read_each()
              test.inject("abc", 2)
              test.equal(#test.written(2), 0, "nothing back out of the ingress")
              test.equal(test.written(1)[1], "mem1>mem0:1:abc")
              test.equal(test.written(3)[1], "mem1>mem2:3:abc")
              test.equal(#test.written(1), 0, "taken by the last call")
            end
            function test_the_first_device_by_default()
              test.inject("x")
              test.equal(#test.written(), 0)
              test.equal(test.written(2)[1], "mem0>mem1:2:x")
              test.equal(test.written(3)[1], "mem0>mem2:3:x")
            end
            function test_a_device_out_of_range()
              test.inject("x", 4)
            end
            function test_devices_inside_a_test()
              test.devices(2)
            end
            """)
        XCTAssertEqual(results["test_inject_on_a_device_and_read_each"], .some(nil))
        XCTAssertEqual(results["test_the_first_device_by_default"], .some(nil))
        let range = try XCTUnwrap(results["test_a_device_out_of_range"] ?? nil)
        XCTAssertTrue(range.contains("subject_test.lua:16: test.inject: device 4 is not one of 1..3"), range)
        let inside = try XCTUnwrap(results["test_devices_inside_a_test"] ?? nil)
        XCTAssertTrue(inside.contains("test.devices: call it at the top of the test file"), inside)
    }

    func testOneDeviceUnlessAsked() throws {
        let results = try run(handler: flooder, tests: """
            function test_alone()
              test.inject("x")
              test.equal(#test.written(), 0)
            end
            function test_a_second_device()
              test.written(2)
            end
            """)
        XCTAssertEqual(results["test_alone"], .some(nil))
        let second = try XCTUnwrap(results["test_a_second_device"] ?? nil)
        XCTAssertTrue(second.contains("test.written: device 2 is not one of 1..1 (ask for more with test.devices(N)"),
                      second)
        let refused = try run(handler: flooder, tests: "test.devices(0)\nfunction test_x() test.expect(true) end\n")
        let message = try XCTUnwrap(refused["(file)"] ?? nil)
        XCTAssertTrue(message.contains("test.devices: a number of devices from 1 to 64 expected"), message)
    }

    func testAFileSetsTheSettingsItsTestsNeed() throws {
        let handler = """
            tapir.every(tapir.config.period, function()
              for _, dev in ipairs(tapir.devices()) do dev:write("tick") end
            end)
            """
        let results = try run(handler: handler, tests: """
            local config = test.config
            test.settings{period = 250}
            function test_the_pack_runs_with_them()
              test.equal(test.config.period, 250)
              test.equal(config.period, 250, "the same table")
              test.advance(249)
              test.equal(#test.written(), 0)
              test.advance(1)
              test.equal(#test.written(), 1)
            end
            """)
        XCTAssertEqual(results["test_the_pack_runs_with_them"], .some(nil))
        let unknown = try run(handler: handler, tests: "test.settings{speed = 3}\nfunction test_x() test.expect(true) end\n")
        let message = try XCTUnwrap(unknown["(file)"] ?? nil)
        XCTAssertTrue(message.contains("test.settings: pack 'subject' has no setting 'speed' (its settings: period)"), message)
        let wrong = try run(handler: handler, tests: "test.settings{period = 'soon'}\nfunction test_x() test.expect(true) end\n")
        let refused = try XCTUnwrap(wrong["(file)"] ?? nil)
        XCTAssertTrue(refused.contains("setting 'period' = 'soon' is not"), refused)
    }

    func testAFileWithoutTestsFails() throws {
        let results = try run(handler: "", tests: "local x = 1\n")
        XCTAssertEqual(results["(file)"], "no test_ functions in the file")
    }
}
