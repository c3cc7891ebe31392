import Foundation
@testable import LuaHost
import XCTest

/// tapir.proto.dns's C core (Sources/CLua/clua_dns.c) against its Lua code over the fuzz
/// corpus (Fuzz/corpus/proto-dns): for every seed, every truncation and byte change of it,
/// and message tables with fields changed from what it decodes to, both give the same
/// tables, bytes and reasons (tapir.testing.dns_paths compares them).
/// lua/tapir/tests/proto_dns_native_test.lua does the same for the captures of real tools,
/// and the proto-dns fuzz target for whatever it finds.
final class DNSNativeCodecTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func testBothPathsAgreeOnEveryCorpusSeed() throws {
        let state = try LuaState(options: .init(memoryCap: 256 << 20, instructionBudget: 0, trusted: false,
                                                moduleDirectories: [Self.repository.appendingPathComponent("lua").path]),
                                 log: { _, _ in })
        let check = try state.evaluate("""
            local dns = require "tapir.proto.dns"
            assert(dns.NATIVE, "tapir.proto.dns has no C core here")
            local paths = require "tapir.testing.dns_paths"
            local pure = paths.pure()
            local unhex = require("tapir.testing.hex").unhex
            return function(name, text)
              local bytes = unhex(text)
              local function agree(input, changes, what)
                local found = paths.differ(dns, pure, input, changes)
                if found then error(name .. ", " .. what .. ": " .. found, 0) end
              end
              agree(bytes, 2000, "as it is")
              for length = 0, #bytes - 1 do agree(bytes:sub(1, length), 0, "cut to " .. length) end
              for at = 1, #bytes do
                local old = bytes:byte(at)
                for _, new in ipairs{0, 1, 0x3F, 0x40, 0xC0, 0xFF, (old + 1) & 0xFF, old ~ 0x20} do
                  agree(bytes:sub(1, at - 1) .. string.char(new) .. bytes:sub(at + 1), 3, "byte " .. at .. " = " .. new)
                end
              end
            end
            """, name: "dns-paths")
        let corpus = Self.repository.appendingPathComponent("Fuzz/corpus/proto-dns")
        let seeds = try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted()
        XCTAssertGreaterThan(seeds.count, 10, "the corpus is there")
        for seed in seeds {
            let bytes = try Data(contentsOf: corpus.appendingPathComponent(seed))
            let hex = bytes.map { String(format: "%02x", $0) }.joined()
            XCTAssertNoThrow(try state.call(check, with: [.string(seed), .string(hex)]), seed)
        }
    }
}
