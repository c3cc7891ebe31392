-- An NTP server (RFC 5905) on tapir.proto.ntp, answering with this machine's clock.
--   tapir run lua/examples/ntp-server.lua             (a sandbox; then, as it prints:
--   ip netns exec NS sntp 198.18.0.2                   or ntpdate -q 198.18.0.2)
local ntp = require "tapir.proto.ntp"

local IP, MAC = "198.18.0.2", "02:54:41:50:49:52"

tapir.on("arp", {op = 1, tpa = IP}, function(pkt, dev)
  dev:write(pkt:reply{arp = {op = 2, sha = MAC}, eth = {src = MAC}})
  return true
end)

tapir.on("udp", {dport = 123}, function(pkt, dev)
  local received = ntp.timestamp(tapir.time())
  local request = ntp.decode(pkt.payload)
  if not (pkt.ip and pkt.ip.dst == IP and request and request.mode == ntp.MODE.CLIENT) then return end
  local answer = ntp.encode{
    version = request.version, mode = ntp.MODE.SERVER, poll = request.poll,
    stratum = 1, ref_id = "LOCL", precision = -20,   -- a primary server: its clock is the reference
    reference = received, origin = request.transmit, receive = received,
    transmit = ntp.timestamp(tapir.time()),
  }
  dev:write(pkt:reply{payload = answer})
  return true
end)

tapir.log.info("NTP server on " .. IP .. ":123")
