-- Echo request -> echo reply; identifier, sequence and data are kept by pkt:reply.
-- Requests in fragments (IPv4 or IPv6) arrive whole and are answered whole; a reply over
-- the MTU goes out in fragments.
tapir.reassemble = true
tapir.verify_checksums = true  -- a datagram whose checksum fails is dropped, as Linux does
local config = tapir.config
-- Made once, not per request; with the device, pkt:reply writes straight from the host's
-- buffer (no Lua string per reply).
local ECHO_REPLY = {icmp = {type = 0}}
local ECHO_REPLY_V6 = {icmpv6 = {type = 129}}

tapir.on("icmp", {type = 8}, function(pkt, dev)
  if pkt.ip.dst ~= config.ip then return end
  pkt:reply(ECHO_REPLY, dev)
  return true
end)

tapir.on("icmpv6", {type = 128}, function(pkt, dev)
  if pkt.ipv6.dst ~= config.ipv6 then return end
  pkt:reply(ECHO_REPLY_V6, dev)
  return true
end)
