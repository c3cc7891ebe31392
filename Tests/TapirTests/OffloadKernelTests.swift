import Devices
import Foundation
import Glibc
import XCTest

/// Tap offloads (IFF_VNET_HDR) under `tapir run`, the kernel's TCP as the peer: the TCP
/// engine takes the kernel's super-segments whole and hands the tap its own, and a Lua
/// `tcp` handler and a recording still see ordinary segments with complete checksums.
final class OffloadKernelTests: XCTestCase {
    /// A 1 GiB upload into a Lua sink that writes it to a file: the same SHA-256 as what
    /// was sent, with offloads and without; with them, the engine takes far fewer segments
    /// than a 1460-byte MSS makes (super-segments), without them at least that many.
    func testA1GiBUploadToALuaSinkKeepsItsSHA256WithAndWithoutOffloads() throws {
        try TapirCommand.requireRoot()
        let directory = try TCPTransfer.makeDirectory("tapir-offload")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let size = 1 << 30
        let input = try TCPTransfer.randomFile(in: directory, size: size)
        let sent = try TCPTransfer.sha256(input)
        for offloads in [true, false] {
            let output = directory + "/out-\(offloads).bin"
            guard let outcome = try TCPTransfer.run([TCPTransfer.sink] + (offloads ? [] : ["--no-offloads"]),
                                                    device: "tapo0", environment: ["TAPIR_SINK_FILE=\(output)"],
                                                    client: "nc -N -w 30 198.18.0.2 9 < \(input)", lineMark: "sink: ",
                                                    prefix: "tapir-test-offload") else { continue }
            let line = outcome.line
            XCTAssertEqual(outcome.numbers.first, size, String(line))
            let segments = outcome.numbers.dropFirst().first ?? 0
            if offloads {
                XCTAssertLessThan(segments, size / 1460 / 4, "offloads on, yet segments came one by one: \(line)")
            } else {
                XCTAssertGreaterThanOrEqual(segments, size / 1460, String(line))
            }
            XCTAssertEqual(try TCPTransfer.sha256(output), sent, "the sink's bytes differ (offloads \(offloads))")
            try? FileManager.default.removeItem(atPath: output)
            print("offloads \(offloads): 1 GiB in \(outcome.elapsed), \(segments) segments taken by the engine")
        }
    }

    /// A `tcp` handler (no engine listener) acknowledging what the kernel sends: every
    /// segment it is given is at most the MSS it announced, with IPv4 and TCP checksums
    /// that verify, and all 4 MB arrive in order; fewer frames were read from the tap than
    /// segments reached the handler, so the kernel did send super-segments.
    func testATCPHandlerSeesOrdinarySegmentsWithCompleteChecksumsWhileOffloadsAreOn() throws {
        try TapirCommand.requireRoot()
        let directory = try TCPTransfer.makeDirectory("tapir-offload")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = directory + "/receiver.lua"
        try """
            local IP, MAC = "198.18.0.2", "02:54:41:50:49:52"
            local build = tapir.build
            require("tapir.neighbours").new{mac = MAC, ipv4 = IP}:start()
            local seen = {segments = 0, bytes = 0, largest = 0, bad = 0}
            local expected, mine = nil, 1000
            local function answer(pkt, dev, flags, options)
              local tcp = build.tcp{sport = 5001, dport = pkt.tcp.sport, seq = mine, ack = expected,
                                    flags = flags, window = 65535, options = options}
              dev:write(build.eth{src = MAC, dst = pkt.eth.src}
                        .. build.ip{src = IP, dst = pkt.ip.src, proto = 6, payload = tcp})
            end
            tapir.on("tcp", {dport = 5001}, function(pkt, dev)
              local t = pkt.tcp
              if not (t.chksum_ok and pkt.ip.chksum_ok) then seen.bad = seen.bad + 1 return true end
              if t.flags & 2 ~= 0 then
                expected = (t.seq + 1) & 0xffffffff
                answer(pkt, dev, "S.", "\\2\\4\\5\\180")  -- MSS 1460
                mine = mine + 1
                return true
              end
              local n = #pkt.payload
              seen.segments = seen.segments + 1
              if n > seen.largest then seen.largest = n end
              if n > 0 and t.seq == expected then
                expected = (expected + n) & 0xffffffff
                seen.bytes = seen.bytes + n
              end
              if t.flags & 1 ~= 0 and (t.seq + n) & 0xffffffff == expected then
                expected = (expected + 1) & 0xffffffff
                answer(pkt, dev, "F.")
                mine = mine + 1
              elseif n > 0 or t.flags & 1 ~= 0 then
                answer(pkt, dev, ".")
              end
              return true
            end)
            tapir.on_stop(function()
              local reads = 0
              for _, device in pairs(tapir.stats().devices) do reads = reads + device.rx_packets end
              tapir.log.info(string.format("receiver: bytes %d segments %d largest %d bad %d reads %d",
                                           seen.bytes, seen.segments, seen.largest, seen.bad, reads))
            end)
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let sandbox = try Sandbox(prefix: "tapir-test-offload")
        defer { sandbox.remove() }
        let tapir = try TapirCommand.start([script], device: "tapo1", in: sandbox)
        let size = 4_000_000
        let upload = try sandbox.run(["sh", "-c", "head -c \(size) /dev/urandom | nc -N -w 10 198.18.0.2 5001"],
                                     timeout: .seconds(60))
        XCTAssertEqual(upload.status, 0, upload.stderr)
        let result = TapirCommand.stop(tapir)
        XCTAssertEqual(result.status, 0, result.stderr)
        let log = result.stderr + result.stdout
        guard let line = log.split(separator: "\n").first(where: { $0.contains("receiver: ") }) else {
            return XCTFail("no receiver line: \(log)")
        }
        func value(_ name: String) -> Int? {
            let words = line.split(separator: " ")
            guard let at = words.firstIndex(of: Substring(name)), at + 1 < words.count else { return nil }
            return Int(words[at + 1])
        }
        XCTAssertEqual(value("bytes"), size, String(line))
        XCTAssertEqual(value("bad"), 0, String(line))
        XCTAssertLessThanOrEqual(value("largest") ?? .max, 1460, String(line))
        XCTAssertGreaterThan(value("largest") ?? 0, 0, String(line))
        // Each segment the handler saw was read from the tap, unless it came in a super-segment.
        XCTAssertLessThan(value("reads") ?? .max, (value("segments") ?? 0) * 3 / 4,
                          "as many reads as segments: the kernel sent no super-segments (\(line))")
        print("tcp handler: \(line)")
    }

    /// Downloads from Scripts/tcp-source.lua's port 19 under `tapir run ARGUMENTS` on
    /// `device` into `output` (nc giving up after `idle` seconds without data).
    private func sourceDownload(_ arguments: [String], device: String, input: String, output: String,
                                idle: Int = 10) throws -> TCPTransfer.Outcome? {
        try TCPTransfer.run([TCPTransfer.source] + arguments, device: device, environment: ["TAPIR_SOURCE_FILE=\(input)"],
                            client: "nc -d -w \(idle) 198.18.0.2 19 > \(output)", lineMark: "source: ",
                            prefix: "tapir-test-offload")
    }

    /// A 1 GiB download from a Lua source reading a file: the kernel's reader gets the same
    /// SHA-256, with offloads and without; with them (and nothing else asked: super-segment
    /// sending is the default) the tap took super-segments (far fewer writes than 1448-byte
    /// segments make), without them one write a segment at least.
    func testA1GiBDownloadFromALuaSourceKeepsItsSHA256WithAndWithoutOffloads() throws {
        try TapirCommand.requireRoot()
        let directory = try TCPTransfer.makeDirectory("tapir-offload")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let size = 1 << 30
        let input = try TCPTransfer.randomFile(in: directory, size: size)
        let sent = try TCPTransfer.sha256(input)
        for offloads in [true, false] {
            let output = directory + "/out-\(offloads).bin"
            guard let outcome = try sourceDownload(offloads ? [] : ["--no-offloads"], device: "tapo2",
                                                   input: input, output: output, idle: 30) else { continue }
            let (line, numbers) = (outcome.line, outcome.numbers)
            XCTAssertEqual(numbers.first, size, String(line))
            let writes = numbers.dropFirst().first ?? 0
            let superSegments = numbers.dropFirst(2).first ?? 0
            if offloads {
                XCTAssertLessThan(writes, size / 1448 / 4, "offloads on, yet segments went one by one: \(line)")
                XCTAssertGreaterThan(superSegments, size / 65000, String(line))
            } else {
                XCTAssertGreaterThanOrEqual(writes, size / 1448, String(line))
                XCTAssertEqual(superSegments, 0, String(line))
            }
            XCTAssertEqual(try TCPTransfer.sha256(output), sent, "the reader's bytes differ (offloads \(offloads))")
            try? FileManager.default.removeItem(atPath: output)
            print("offloads \(offloads): 1 GiB downloaded in \(outcome.elapsed); \(line)")
        }
    }

    /// `--no-tcp-super-segments` with offloads on: the engine sends ordinary segments, one
    /// write each (the kernel's super-segments still come in whole); the bytes all arrive.
    func testNoTCPSuperSegmentsSendsOrdinarySegmentsWithOffloadsOn() throws {
        try TapirCommand.requireRoot()
        let directory = try TCPTransfer.makeDirectory("tapir-offload")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let size = 4_000_000
        let input = try TCPTransfer.randomFile(in: directory, size: size)
        let output = directory + "/out.bin"
        guard let outcome = try sourceDownload(["--no-tcp-super-segments"], device: "tapo4",
                                               input: input, output: output) else { return }
        let (line, numbers) = (outcome.line, outcome.numbers)
        // The line is logged at conn:close, with up to the 1 MiB buffer limit still unsent.
        XCTAssertGreaterThanOrEqual(numbers.dropFirst().first ?? 0, (size - (1 << 20)) / 1448, String(line))
        XCTAssertEqual(numbers.dropFirst(2).first, 0, String(line))
        XCTAssertEqual(try TCPTransfer.sha256(output), try TCPTransfer.sha256(input), "the reader's bytes differ")
    }

    /// The engine's super-segments as a recording of the tap shows them: ordinary segments of
    /// at most the MSS, every checksum right (as tshark checks them), the bytes all there;
    /// yet the tap took fewer writes than the recording holds segments.
    func testARecordingShowsTheEnginesSuperSegmentsAsOrdinarySegments() throws {
        try TapirCommand.requireRoot()
        guard let tshark = ChildProcess.locate("tshark") else { throw XCTSkip("tshark is not installed") }
        let directory = try TCPTransfer.makeDirectory("tapir-offload")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let size = 4_000_000
        let input = try TCPTransfer.randomFile(in: directory, size: size)
        let recording = directory + "/tap.pcapng"
        guard let outcome = try sourceDownload(["--record", recording, "--tcp-super-segments"],
                                               device: "tapo3", input: input, output: "/dev/null") else { return }
        let line = outcome.line
        let writes = outcome.numbers.dropFirst().first ?? .max
        let fields = try ChildProcess.run([tshark, "-r", recording, "-o", "tcp.check_checksum:TRUE",
                                           "-o", "ip.check_checksum:TRUE", "-Y", "tcp.srcport == 19",
                                           "-T", "fields", "-e", "tcp.len", "-e", "tcp.checksum.status",
                                           "-e", "ip.checksum.status"], timeout: .seconds(60)).stdout
        let rows = fields.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        let lengths = rows.compactMap { $0.first.flatMap { Int($0) } }
        XCTAssertEqual(lengths.reduce(0, +), size, "the recording holds every byte sent")
        XCTAssertLessThanOrEqual(lengths.max() ?? .max, 1460, "a segment over the MSS in the recording")
        let bad = rows.filter { $0.dropFirst().contains { $0 != "1" } }  // 1: Good (0 bad, 2 unverified)
        XCTAssertTrue(bad.isEmpty, "checksums tshark finds wrong or unchecked: \(bad.prefix(3))")
        XCTAssertLessThan(writes, lengths.count / 4, "the tap took as many writes as segments: \(line)")
        print("recording: \(lengths.count) segments of at most \(lengths.max() ?? 0) bytes; \(line)")
    }
}
