-- Serves the file $TAPIR_SOURCE_FILE to whoever connects to TCP port 19 of 198.18.0.2,
-- then logs "source: BYTES bytes in WRITES writes, SUPER super-segments". With
-- $TAPIR_STATS_FILE set, the engine's loss-repair counters are written there every 200 ms
-- and when tapir stops.
local IP, MAC = "198.18.0.2", "02:54:41:50:49:52"
require("tapir.neighbours").new{mac = MAC, ipv4 = IP}:start()

tapir.tcp.listen({port = 19, ip = IP, mac = MAC}, function(conn)
  local input = assert(io.open(os.getenv("TAPIR_SOURCE_FILE"), "rb"))
  local total = 0
  while true do
    local data = input:read(65536)
    if not data then break end
    assert(conn:send(data))
    total = total + #data
  end
  input:close()
  conn:close()
  local writes = 0
  for _, device in pairs(tapir.stats().devices) do writes = writes + device.tx_packets end
  tapir.log.info(string.format("source: %d bytes in %d writes, %d super-segments",
                               total, writes, tapir.stats().tcp.super_segments_sent))
end)

local stats_file = os.getenv("TAPIR_STATS_FILE")
if stats_file then
  local function write_stats()
    local tcp = tapir.stats().tcp
    local out = assert(io.open(stats_file, "w"))
    out:write(string.format("fast_retransmits %d sack_recoveries %d tail_loss_probes %d timeouts %d super_segments_sent %d\n",
                            tcp.fast_retransmits, tcp.sack_recoveries, tcp.tail_loss_probes, tcp.timeouts,
                            tcp.super_segments_sent))
    out:close()
  end
  tapir.every(200, write_stats)
  tapir.on_stop(write_stats)
end
