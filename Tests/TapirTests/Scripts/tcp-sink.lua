-- Writes what arrives on TCP port 9 of 198.18.0.2 to the file $TAPIR_SINK_FILE, then logs
-- "sink: BYTES bytes in SEGMENTS segments" (the segments the engine took).
local IP, MAC = "198.18.0.2", "02:54:41:50:49:52"
require("tapir.neighbours").new{mac = MAC, ipv4 = IP}:start()

tapir.tcp.listen({port = 9, ip = IP, mac = MAC}, function(conn)
  local out = assert(io.open(os.getenv("TAPIR_SINK_FILE"), "wb"))
  local total = 0
  while true do
    local data = conn:receiveany(65536)
    if not data then break end
    out:write(data)
    total = total + #data
  end
  out:close()
  tapir.log.info(string.format("sink: %d bytes in %d segments", total, tapir.stats().tcp.segments_claimed))
end)
