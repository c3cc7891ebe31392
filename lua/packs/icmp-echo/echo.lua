-- Echo request -> echo reply; identifier, sequence and data are kept by pkt:reply.
local config = tapir.config

tapir.on("icmp", {type = 8}, function(pkt, dev)
  if pkt.ip.dst ~= config.ip then return end
  dev:write(pkt:reply{icmp = {type = 0}})
  return true
end)

tapir.on("icmpv6", {type = 128}, function(pkt, dev)
  if pkt.ipv6.dst ~= config.ipv6 then return end
  dev:write(pkt:reply{icmpv6 = {type = 129}})
  return true
end)
