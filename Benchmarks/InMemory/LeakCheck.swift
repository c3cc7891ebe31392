// `tapir-bench-memory --leak-check [--packets N]`: N (5 million) UDP datagrams through a
// Lua handler on a memory device, the way a long run sees them: each read, decoded,
// dispatched, read from Lua and answered with pkt:reply + dev:write; every thousandth one
// also adds and removes a handler, schedules a timer that fires and one that is cancelled,
// and keeps a pkt:copy(). After a warm-up, the process's resident memory must stay within
// 2 MiB, the Lua heap (after a full collection) within 64 KiB, and the Lua registry must
// hold as many live values at the end as at the start: handlers, timers and packet
// objects are released. Exit status 1 when not.
import Devices
import Foundation
import Logging
import LuaHost
import Reactor

enum LeakCheck {
    static let script = #"""
        local seen = 0
        local KEEP = {}
        local kept
        tapir.on("udp", function(pkt, dev)
          seen = seen + 1
          local _ = pkt.ip.src, pkt.ip.ttl, pkt.udp.dport, pkt.payload, tostring(pkt)
          dev:write(pkt:reply(KEEP))
          if seen % 1000 == 0 then
            kept = pkt:copy()
            tapir.on("tcp", {dport = seen % 65536}, function() end):off()
            tapir.after(1, function() kept = nil end)
            tapir.every(1, function() end):cancel()
          end
          return true
        end)

        -- Values in the registry that are not free-list links (integers): references in use.
        function registry_live()
          local live = 0
          for _, value in pairs(debug.getregistry()) do
            if math.type(value) ~= "integer" then live = live + 1 end
          end
          return live
        end
        """#

    static let rssLimit = 2 << 20
    static let luaHeapLimit = 64 << 10

    static func residentBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func registryLive(_ state: LuaState) throws -> Int {
        let reference = try state.evaluate("return registry_live()")
        defer { state.release(reference) }
        return Int(try state.string(reference)) ?? -1
    }

    static func run(frame: [UInt8], packets: Int) throws -> Bool {
        let timers = TimerQueue(clock: ManualClock())
        let host = TapirHost(timers: timers, logger: Logger(label: "leak-check") { StreamLogHandler.standardError(label: $0) })
        let memory = MemoryDevice(name: "mem0", mode: .tap)
        let device = try host.add(memory)
        let path = NSTemporaryDirectory() + "tapir-leak-check-\(getpid()).lua"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let state = try host.load(path: path).state
        defer { host.stop() }

        let batch = 1000
        var written = 0
        func send(_ count: Int) {
            var sent = 0
            while sent < count {
                for _ in 0..<batch { memory.inject(frame) }
                while memory.pendingCount > 0 { host.pump(device) }
                written += memory.takeWritten().count
                _ = timers.advance(by: .milliseconds(2))
                sent += batch
            }
        }

        send(max(packets / 10, batch))  // warm-up: buffers and tables reach their size
        state.collectGarbage()
        let rssBefore = residentBytes()
        let heapBefore = state.memoryUsed
        let registryBefore = try registryLive(state)
        let handlersBefore = state.handlers.count
        written = 0

        let start = ContinuousClock.now
        send(packets)
        let elapsed = ContinuousClock.now - start
        state.collectGarbage()
        let rssAfter = residentBytes()
        let rssGrowth = rssAfter - rssBefore
        let heapGrowth = state.memoryUsed - heapBefore
        let registryAfter = try registryLive(state)
        let errors = state.handlers.reduce(0) { $0 + $1.errors }

        print("leak check: \(packets) packets in \(elapsed), \(written) replies; "
            + "RSS \(rssAfter / 1024) KiB at the end, \(rssGrowth >= 0 ? "+" : "")\(rssGrowth / 1024) KiB after warm-up (limit \(rssLimit / 1024)), "
            + "Lua heap \(heapGrowth >= 0 ? "+" : "")\(heapGrowth) bytes (limit \(luaHeapLimit)), "
            + "registry \(registryBefore) -> \(registryAfter) live values, "
            + "handlers \(handlersBefore) -> \(state.handlers.count), \(errors) handler errors")
        var passed = true
        func expect(_ condition: Bool, _ problem: String) {
            if !condition {
                print("leak check FAILED: \(problem)")
                passed = false
            }
        }
        expect(written == packets, "\(packets - written) datagrams were not answered")
        expect(errors == 0, "the handler raised \(errors) times")
        expect(rssGrowth < rssLimit, "resident memory grew by \(rssGrowth / 1024) KiB")
        expect(heapGrowth < luaHeapLimit, "the Lua heap grew by \(heapGrowth) bytes")
        expect(registryAfter == registryBefore, "the Lua registry went from \(registryBefore) to \(registryAfter) live values")
        expect(state.handlers.count == handlersBefore, "handlers went from \(handlersBefore) to \(state.handlers.count)")
        return passed
    }
}
