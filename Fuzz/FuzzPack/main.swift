// Fuzz target: a pack's own parser (the DNS responder's query reader, the DHCP server's
// message reader). The pack (TAPIR_FUZZ_PACK, a directory) runs with its default settings
// in a TapirHost on a memory tap device; each input becomes the payload of one UDP
// datagram to TAPIR_FUZZ_TO (ADDR:PORT) from TAPIR_FUZZ_FROM (default 198.18.0.1:40000).
//
// A Lua error in a handler is the pack refusing a bad message: counted (printed at exit),
// not a finding. A handler stopped by its instruction budget or the memory cap is one (a
// query that makes the parser loop or grow), and so is a trap, a memory error, a hang
// (libFuzzer's -timeout) or memory growth (-rss_limit_mb). Timers run: the host's clock
// moves one second per input.
//
// libFuzzer sees the pack's Lua code too: every pair of consecutive Lua lines run counts as
// an edge (LuaCoverage), so inputs reaching new branches of the parser are kept.
// TAPIR_FUZZ_LUA_COVERAGE=0 turns that feedback off (to compare). At exit it prints how
// many lines of the pack's Lua ran; TAPIR_FUZZ_LUA_LINES=FILE writes them (FILE:LINE), so
// what the inputs never reached can be read off against the source.
import CLua
import Devices
import Foundation
import FuzzDriver
import Logging
import LuaCoverage
import LuaHost
import Packets
import Reactor

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fuzz-pack: \(message)\n".utf8))
    exit(2)
}

func endpoint(_ variable: String, default fallback: String? = nil) -> (IPv4Address, UInt16) {
    guard let text = ProcessInfo.processInfo.environment[variable] ?? fallback else {
        fail("set \(variable)=ADDR:PORT (where the datagrams go: 198.18.0.2:53, 255.255.255.255:67)")
    }
    let parts = text.split(separator: ":")
    guard parts.count == 2, let address = IPv4Address(String(parts[0])), let port = UInt16(parts[1]) else {
        fail("\(variable)=\(text) is not ADDR:PORT")
    }
    return (address, port)
}

/// What the run saw, printed at exit. One thread.
enum Tally {
    nonisolated(unsafe) static var handlerErrors = 0
    nonisolated(unsafe) static var framesWritten = 0
}

/// Counts handler errors, and stops the run on a budget or memory-cap stop.
struct FindingLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let text = event.message.description
        guard event.level >= .error else { return }
        if text.contains("instruction budget exceeded") || text.contains("memory cap") {
            fatalError("the pack's handler was stopped: \(text)")
        }
        Tally.handlerErrors += 1
    }
}

guard let packPath = ProcessInfo.processInfo.environment["TAPIR_FUZZ_PACK"] else {
    fail("set TAPIR_FUZZ_PACK to a pack's directory (lua/packs/dns-responder)")
}
let (destination, port) = endpoint("TAPIR_FUZZ_TO")
let (source, sourcePort) = endpoint("TAPIR_FUZZ_FROM", default: "198.18.0.1:40000")

clua_set_line_observer(lua_coverage_line)  // before the pack's state is made
let luaFeedback = ProcessInfo.processInfo.environment["TAPIR_FUZZ_LUA_COVERAGE"] != "0"
lua_coverage_set_feedback(luaFeedback ? 1 : 0)

var options = TapirHost.Options()
options.errorLogInterval = .zero  // every failure reaches the log handler
// What the pack may require besides its own folder (tapir.proto.dns, tapir.addr): the
// prelude, $TAPIR_LUA_DIR or the folder two above the pack's (lua/packs/NAME -> lua).
options.moduleDirectories = [ProcessInfo.processInfo.environment["TAPIR_LUA_DIR"]
    ?? URL(fileURLWithPath: packPath).standardizedFileURL.deletingLastPathComponent().deletingLastPathComponent().path]
let timers = TimerQueue(clock: ManualClock())
let host = TapirHost(options: options, timers: timers, logger: Logger(label: "fuzz") { _ in FindingLogHandler() })
let memory = MemoryDevice(name: "tap0", mode: .tap)
let device: HostDevice
var packFiles = ""  // the prefix of the pack's own Lua files, for the lines-reached count
do {
    device = try host.add(memory)
    let pack = try Pack(directory: packPath)
    packFiles = pack.directory.hasSuffix("/") ? pack.directory : pack.directory + "/"
    try host.load(pack: pack, config: try pack.manifest.resolve([:]))
} catch {
    fail("could not load \(packPath): \(error)")
}
atexit {
    print("fuzz-pack: \(Tally.framesWritten) frames written, "
        + "\(Tally.handlerErrors) handler errors (the pack refusing input; not findings), "
        + "\(lua_coverage_lines_reached_in(packFiles)) lines of the pack's Lua run")
    if let path = ProcessInfo.processInfo.environment["TAPIR_FUZZ_LUA_LINES"], lua_coverage_write_lines(path) != 0 {
        print("fuzz-pack: cannot write the Lua lines reached to \(path)")
    }
}

let client = MACAddress(0x02, 0, 0, 0, 0, 0x01)
let server = destination == IPv4Address(255, 255, 255, 255) ? MACAddress(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
    : MACAddress(0x02, 0x54, 0x41, 0x50, 0x49, 0x52)
var frame: [UInt8] = []

FuzzDriver.run { input in
    lua_coverage_begin_input()
    let udp = UDPRepr(sport: sourcePort, dport: port, payload: Array(input.prefix(65_000)))
    let ip = IPv4Repr(src: source, dst: destination, proto: IPProtocol.udp, payloadLength: udp.bufferLength)
    frame.removeAll(keepingCapacity: true)
    EthernetRepr(src: client, dst: server, type: EtherType.ipv4).emit(appendingTo: &frame)
    ip.emit(appendingTo: &frame)
    udp.emit(appendingTo: &frame, pseudoHeader: ip.pseudoHeader)
    frame.withUnsafeBytes { host.handle($0, from: device) }
    Tally.framesWritten += memory.takeWritten().count
    _ = timers.advance(by: .seconds(1))
}
