-- ARP for the IPv4 address; neighbour solicitations for the IPv6 one get an advertisement
-- (solicited, override) from our address with hop limit 255, as RFC 4861 requires.
local config = tapir.config

tapir.on("arp", {op = 1, tpa = config.ip}, function(pkt, dev)
  dev:write(pkt:reply{arp = {sha = config.mac}})
  return true
end)

tapir.on("icmpv6", {type = 135, target = config.ipv6}, function(pkt, dev)
  if pkt.ipv6.src == "::" then return true end  -- a duplicate address probe: stay quiet
  dev:write(pkt:reply{ipv6 = {src = config.ipv6, hlim = 255},
                      icmpv6 = {type = 136, flags = 0x60, lladdr = config.mac}})
  return true
end)
