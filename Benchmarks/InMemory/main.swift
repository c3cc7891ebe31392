// Packets per second of one core through the host, in memory: no device reads, no
// syscalls. Each case hands the same frame to TapirHost.handle() in a loop; the figure is
// the median of several rounds. Prints one Markdown table row per case. With --leak-check
// it runs the leak check instead (LeakCheck.swift).
import CLua
import Devices
import Foundation
import MallocCounter
import Logging
import LuaHost
import Packets
import Reactor
import SystemPackage

/// A device that only counts what is written to it (the reply path without a syscall).
final class CountingDevice: PacketDevice {
    let name = "bench0"
    let mode = DeviceMode.tap
    let hasPacketInfo = false
    var fileDescriptor: FileDescriptor? { nil }
    var counters = DeviceCounters()
    var isGone: Bool { false }
    var written = 0
    func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult { .wouldBlock }
    func write(_ packet: UnsafeRawBufferPointer) -> WriteResult {
        written += 1
        return .written
    }
    func close() {}
}

let arguments = CommandLine.arguments
let quick = arguments.contains("--quick")
/// `--packets-per-round=N`: scripts/bench counts instructions per packet under callgrind
/// from two runs of different lengths (their difference: packets only, no start-up).
let packetsPerRound = arguments.first { $0.hasPrefix("--packets-per-round=") }.flatMap { Int($0.dropFirst(20)) }
    ?? (quick ? 200_000 : 1_000_000)
let rounds = quick ? 3 : 5
/// `--only=TEXT`: run only the cases whose name contains TEXT (for profiling one path);
/// `--only=none --script=FILE.lua`: a handler script of your own on the same frame.
let only = arguments.first { $0.hasPrefix("--only=") }.map { String($0.dropFirst(7)) }
let repository = URL(fileURLWithPath: arguments.first { $0.hasPrefix("--repo=") }?.dropFirst(7).description ?? ".")

// A UDP datagram 198.18.0.1:40000 -> 198.18.0.2:7, 16 bytes of payload, in an Ethernet frame.
let frame: [UInt8] = {
    let udp = UDPRepr(sport: 40000, dport: 7, payload: Array("tapir benchmark!".utf8))
    let ip = IPv4Repr(src: IPv4Address("198.18.0.1")!, dst: IPv4Address("198.18.0.2")!,
                      proto: IPProtocol.udp, payloadLength: udp.bufferLength)
    var bytes: [UInt8] = []
    EthernetRepr(src: MACAddress("02:00:00:00:00:01")!, dst: MACAddress("02:54:41:50:49:52")!,
                 type: EtherType.ipv4).emit(appendingTo: &bytes)
    ip.emit(appendingTo: &bytes)
    udp.emit(appendingTo: &bytes, pseudoHeader: ip.pseudoHeader)
    return bytes
}()

if arguments.contains("--leak-check") {
    let packets = arguments.first { $0.hasPrefix("--packets=") }.flatMap { Int($0.dropFirst(10)) } ?? 5_000_000
    do {
        exit(try LeakCheck.run(frame: frame, packets: packets) ? 0 : 1)
    } catch {
        print("leak check: \(error)")
        exit(1)
    }
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// The counter must see the Swift runtime's allocations (made from libswiftCore), or
/// every "0 allocations" below would mean nothing.
@inline(never) func allocateAnArray() -> [Int] { [Int](repeating: 7, count: 64) }
let countedBefore = malloc_counter_allocations()
let probe = allocateAnArray()
guard malloc_counter_allocations() > countedBefore, probe.count == 64 else {
    fatalError("MallocCounter does not see the Swift runtime's allocations: the counts would be wrong")
}

struct Measurement {
    /// Packets per second, the median of the rounds.
    var rate: Double
    /// Heap allocations per packet outside Lua's allocator (Swift and C: decode, dispatch,
    /// the packet object, reply building, the write), and Lua's own allocations and bytes.
    var nativeAllocations: Double
    var luaAllocations: Double
    var luaBytes: Double
    /// The longest single handler call seen (a garbage-collection step shows here).
    var longestCall: Duration
}

/// Runs `body` for packetsPerRound packets, `rounds` times, after a warm-up; counts the
/// heap allocations of the measured rounds (MallocCounter: the whole process; minus the
/// Lua states' own allocator calls, which it also sees).
func measure(_ host: TapirHost? = nil, _ body: (UnsafeRawBufferPointer) -> Void) -> Measurement {
    func luaAllocations() -> (count: UInt64, bytes: UInt64) {
        (host?.scripts ?? []).reduce((0, 0)) { sum, script in
            let counts = script.state.allocations
            return (sum.0 + counts.count, sum.1 + counts.bytes)
        }
    }
    return frame.withUnsafeBytes { bytes in
        for _ in 0..<packetsPerRound / 10 { body(bytes) }  // warm-up
        let mallocsBefore = malloc_counter_allocations()
        let luaBefore = luaAllocations()
        var rates: [Double] = []
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            for _ in 0..<packetsPerRound { body(bytes) }
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            rates.append(Double(packetsPerRound) / seconds)
        }
        let mallocs = malloc_counter_allocations() - mallocsBefore
        let lua = luaAllocations()
        let packets = Double(rounds * packetsPerRound)
        let luaCount = lua.count - luaBefore.count
        let longest = (host?.scripts ?? []).flatMap { $0.state.handlers }.map(\.longestCall).max() ?? .zero
        return Measurement(rate: median(rates), nativeAllocations: Double(mallocs - min(mallocs, luaCount)) / packets,
                           luaAllocations: Double(luaCount) / packets,
                           luaBytes: Double(lua.bytes - luaBefore.bytes) / packets, longestCall: longest)
    }
}

/// A host on a counting device with one script of `source` (or the pack at `pack`).
func host(script source: String? = nil, pack: String? = nil) throws -> (TapirHost, HostDevice, CountingDevice) {
    var options = TapirHost.Options()
    options.moduleDirectories = [repository.appendingPathComponent("lua").path]  // tapir.neighbours, for the packs
    let host = TapirHost(options: options, timers: TimerQueue(clock: ManualClock()),
                         logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() })
    let device = CountingDevice()
    let hostDevice = try host.add(device)
    if let source {
        let path = NSTemporaryDirectory() + "tapir-bench-\(getpid()).lua"
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try host.load(path: path)
    }
    if let pack {
        let loaded = try Pack(directory: pack)
        try host.load(pack: loaded, config: loaded.manifest.resolve([:]))
    }
    return (host, hostDevice, device)
}

func wanted(_ name: String) -> Bool { only.map { name.contains($0) } ?? true }

func row(_ name: String, _ measured: Measurement, _ note: String = "") {
    let longest = measured.longestCall == .zero ? "" : String(
        format: "%.3f", Double(measured.longestCall.components.attoseconds) / 1e15
            + Double(measured.longestCall.components.seconds) * 1e3)
    print("| \(name) | \(String(format: "%.2f", measured.rate / 1e6)) | \(String(format: "%.0f", 1e9 / measured.rate)) | "
          + "\(String(format: "%.3f", measured.nativeAllocations)) | \(String(format: "%.3f", measured.luaAllocations)) | "
          + "\(String(format: "%.1f", measured.luaBytes)) | \(longest) | \(note) |")
}

print("| case | million packets/s | ns/packet | native heap allocations/packet | Lua allocations/packet | Lua bytes/packet | longest handler call (ms) | note |")
print("|---|---:|---:|---:|---:|---:|---:|---|")

/// What the decode row reads of each result, so the decoding cannot be optimised away.
nonisolated(unsafe) var decodeSink = 0

if wanted("decode") {
    row("decode only (FrameDecoder)", measure { bytes in
        let frame = FrameDecoder.decode(bytes, linkType: .ethernet)
        decodeSink &+= frame.payloadOffset &+ Int(frame.layers.rawValue)
    })
    if decodeSink == 42 { print("") }  // read once: the sink is used
}

if wanted("native") {
    let (host, device, _) = try host(script: #"tapir.on("tcp", function() end)"#)
    row("native dispatch, no handler wants the frame", measure(host) { host.handle($0, from: device) })
    host.stop()
}
if wanted("trivial") {
    let (host, device, _) = try host(script: #"tapir.on("udp", function() end)"#)
    row("trivial Lua handler on udp", measure(host) { host.handle($0, from: device) })
    host.stop()
}
if wanted("five") {
    let (host, device, _) = try host(script: """
        tapir.on("udp", function(pkt)
          local a, b, c, d, e = pkt.ip.src, pkt.ip.dst, pkt.udp.sport, pkt.udp.dport, pkt.ip.ttl
        end)
        """)
    row("Lua handler reading five fields", measure(host) { host.handle($0, from: device) },
        "two address strings among them")
    host.stop()
}
if wanted("pcap") {
    let (host, device, _) = try host(script: #"tapir.on("udp dst port 7", function() end)"#)
    row("pcap-filter selector (BPF) + trivial handler", measure(host) { host.handle($0, from: device) })
    host.stop()
}
if wanted("keyed") {
    // The frame goes to port 7: the handler found by one lookup among 1,000, not 1,000 checks.
    let (host, device, _) = try host(script: """
        for port = 1, 1000 do
          tapir.on("udp", {dport = port}, function() return true end)
        end
        """)
    row("1,000 handlers keyed on udp.dport + trivial handler", measure { host.handle($0, from: device) },
        "dispatch is a lookup")
    host.stop()
}
var gcNote: String?
if wanted("udp-echo") {
    let (host, device, counting) = try host(pack: repository.appendingPathComponent("lua/packs/udp-echo").path)
    let rate = measure(host) { host.handle($0, from: device) }
    row("udp-echo pack's reply path (pkt:reply to the device)", rate, "\(counting.written) replies written")
    // The longest handler call above also holds any preemption. A bound on the collector
    // alone: a full, stop-the-world collection of the pack's state, which no incremental
    // step (what runs inside a handler) can exceed.
    if let state = host.scripts.first?.state {
        var pauses: [Double] = []
        for _ in 0..<21 {
            let start = ContinuousClock.now
            state.collectGarbage()
            let elapsed = ContinuousClock.now - start
            pauses.append(Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15)
        }
        gcNote = String(format: "A full garbage collection of the udp-echo pack's Lua state (%d KiB in use): "
                        + "median %.3f ms, longest %.3f ms of 21; an incremental step inside a handler does less.",
                        state.memoryUsed / 1024, median(pauses), pauses.max() ?? 0)
    }
    host.stop()
}
if wanted("virtual-host") {
    // Handlers as users write them: field reads compared with config, dev:write(pkt:reply{}).
    let (host, device, counting) = try host(pack: repository.appendingPathComponent("lua/packs/virtual-host").path)
    row("virtual-host pack's UDP echo (dev:write(pkt:reply{}))", measure(host) { host.handle($0, from: device) },
        "\(counting.written) replies written")
    host.stop()
}
if wanted("ladder") {
    // From udp-echo's handler to virtual-host's, one step at a time: where a handler
    // written as users write theirs spends its time (each row is the row above plus one
    // change; the same frame, keyed on udp.dport as virtual-host is).
    let isFragment = """
        local function is_fragment(pkt)
          local ip = pkt.ip
          if ip then return ip.mf or ip.frag ~= 0 end
          return false
        end
        """
    let mine = """
        local ip, ipv6 = pkt.ip, pkt.ipv6
        local mine = (ip and ip.dst == config.ip) or (ipv6 and ipv6.dst == config.ipv6)
        """
    let config = #"local config = {ip = "198.18.0.2", ipv6 = "2001:2::2"}"#
    let steps: [(String, String)] = [
        ("ladder 1: pkt:reply(t, dev), udp-echo's way", """
            local KEEP = {}
            tapir.on("udp", {dport = 7}, function(pkt, dev) pkt:reply(KEEP, dev) return true end)
            """),
        ("ladder 2: dev:write(pkt:reply{}) instead", """
            tapir.on("udp", {dport = 7}, function(pkt, dev) dev:write(pkt:reply{}) return true end)
            """),
        ("ladder 3: + pkt.ip, pkt.ipv6, ip.dst == config.ip", """
            \(config)
            tapir.on("udp", {dport = 7}, function(pkt, dev)
              \(mine)
              if mine then dev:write(pkt:reply{}) return true end
            end)
            """),
        ("ladder 4: + is_fragment(pkt): pkt.ip, ip.mf, ip.frag", """
            \(config)
            \(isFragment)
            tapir.on("udp", {dport = 7}, function(pkt, dev)
              \(mine)
              if mine and not is_fragment(pkt) then dev:write(pkt:reply{}) return true end
            end)
            """),
        ("ladder 5: + tapir.neighbours first (foreign frames, native)", """
            \(config)
            require("tapir.neighbours").new{mac = "02:54:41:50:49:52", ipv4 = config.ip, ipv6 = config.ipv6}:start()
            \(isFragment)
            tapir.on("udp", {dport = 7}, function(pkt, dev)
              \(mine)
              if mine and not is_fragment(pkt) then dev:write(pkt:reply{}) return true end
            end)
            """),
    ]
    for (name, source) in steps {
        let (host, device, counting) = try host(script: source)
        row(name, measure(host) { host.handle($0, from: device) }, "\(counting.written) replies written")
        host.stop()
    }
    // One kind of field read, ten times in a trivial handler: subtract the trivial row and
    // divide by ten (eleven for pkt.ip, read once more to get the layer) for one read.
    let reads: [(String, String)] = [("pkt.ip", "pkt.ip"), ("ip.ttl", "ip.ttl"), ("ip.dst", "ip.dst"),
                                     ("pkt.ipv6 (absent)", "pkt.ipv6")]
    for (name, expression) in reads {
        let body = Array(repeating: "x = \(expression)", count: 10).joined(separator: "; ")
        let (host, device, _) = try host(script: """
            tapir.on("udp", function(pkt) local ip = pkt.ip; local x; \(body) end)
            """)
        row("ten reads of \(name) in a trivial handler", measure(host) { host.handle($0, from: device) })
        host.stop()
    }
}
if let path = arguments.first(where: { $0.hasPrefix("--script=") }).map({ String($0.dropFirst(9)) }) {
    // Any handler script on the same frame, for profiling one path: --script=FILE.lua
    let (host, device, counting) = try host(script: try String(contentsOfFile: path, encoding: .utf8))
    row("script \(path)", measure(host) { host.handle($0, from: device) }, "\(counting.written) replies written")
    host.stop()
}
if let gcNote {
    print()
    print(gcNote)
}
