-- Echo replies for both addresses; pkt:reply keeps identifier, sequence and data.
-- IPv4 fragments come reassembled (a reply over the MTU goes out as fragments); an IPv6
-- fragment is left alone: echoing part of a request would be a wrong reply.
tapir.reassemble = true
local config = tapir.config
local frames = require "frames"

tapir.on("icmp", {type = 8}, function(pkt, dev)
  local ip = pkt.ip
  if ip.dst ~= config.ip or frames.is_fragment(pkt) then return end
  dev:write(pkt:reply{icmp = {type = 0}})
  return true
end)

tapir.on("icmpv6", {type = 128}, function(pkt, dev)
  if pkt.ipv6.dst ~= config.ipv6 or frames.is_fragment(pkt) then return end
  dev:write(pkt:reply{icmpv6 = {type = 129}})
  return true
end)
