// Fuzz target: the Lua packet object. Each input goes through a TapirHost on two memory
// devices, as a tap frame and as a tun datagram, to a script that reads every field of
// every layer in PacketFields.swift (the table itself, so a new field is fuzzed at once),
// on the packet and on pkt:copy(), and asks pkt:reply for a few answers. Native key and
// pcap-filter dispatch run on the way. Reading a field never raises, so any handler error
// is a finding; so is a trap or a memory error.
import Devices
import Foundation
import FuzzDriver
import Logging
import LuaHost
import Reactor

/// Lua: `FIELDS = {eth = {"src", "dst", "type"}, ...}` from the field table.
func fieldTable() -> String {
    var layers: [String: [String]] = [:]
    for field in PacketField.allCases where field.layer != .frame {
        layers[field.layer.rawValue, default: []].append(field.name)
    }
    let entries = layers.keys.sorted().map { layer in
        "\(layer) = {" + layers[layer]!.map { "\"\($0)\"" }.joined(separator: ", ") + "}"
    }
    let frameFields = PacketField.fields(of: .frame).map { "\"\($0.name)\"" }.joined(separator: ", ")
    return "FIELDS = {" + entries.joined(separator: ", ") + "}\nFRAME_FIELDS = {" + frameFields + "}\n"
}

let script = fieldTable() + #"""
local KEEP = {}
local ANSWERS = {KEEP, {payload = "fuzz"}, {icmp = {type = 0}}, {icmpv6 = {type = 129}},
                 {arp = {op = 2, sha = "02:54:41:50:49:52"}}, {ip = {ttl = 1}, udp = {dport = 7}}}
local previous  -- the last packet's copy: it must stay readable after its handler returned

local function read(pkt)
  local n = #pkt + #tostring(pkt) + #pkt.layers + #pkt:bytes()
  for _, name in ipairs(FRAME_FIELDS) do local _ = pkt[name] end
  for layer, names in pairs(FIELDS) do
    local fields = pkt[layer]
    if fields then
      for _, name in ipairs(names) do local _ = fields[name] end
    end
  end
  return n
end

tapir.on("frame", function(pkt, dev)
  read(pkt)
  if previous then read(previous) end
  previous = pkt:copy()
  read(previous)
  for _, answer in ipairs(ANSWERS) do
    -- A reply may be refused (no addresses to swap, a field of a layer not there): that
    -- raises, and is not what this target looks for.
    local ok, bytes = pcall(pkt.reply, pkt, answer)
    if ok then dev:write(bytes) end
  end
end)
tapir.on("udp", {dport = 53}, read)
tapir.on("arp", {op = 1, tpa = "198.18.0.2"}, read)
tapir.on("ipv6", {dst = "2001:2::2"}, read)
tapir.on("icmp[icmptype] == 8 or udp port 67", read)
tapir.on("unclaimed", read)
"""#

let timers = TimerQueue(clock: ManualClock())
let host = TapirHost(timers: timers, logger: Logger(label: "fuzz") { StreamLogHandler.standardError(label: $0) })
let tap = MemoryDevice(name: "tap0", mode: .tap)
let tun = MemoryDevice(name: "tun0", mode: .tun)
let devices: [(MemoryDevice, HostDevice)]
let loaded: Script
do {
    devices = [(tap, try host.add(tap)), (tun, try host.add(tun))]
    let path = NSTemporaryDirectory() + "tapir-fuzz-lua-packet-\(getpid()).lua"
    try script.write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    loaded = try host.load(path: path)
} catch {
    fatalError("could not set up the host: \(error)")
}

FuzzDriver.run { input in
    for (memory, device) in devices {
        host.handle(input, from: device)
        _ = memory.takeWritten()
    }
    if let failed = loaded.state.handlers.first(where: { $0.errors > 0 }) {
        fatalError("the handler for \(failed.selector) raised (its error is logged above)")
    }
}
