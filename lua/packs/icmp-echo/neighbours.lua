-- ARP for the IPv4 address, neighbour solicitations for the IPv6 one.
local config = tapir.config
if not config.neighbours then return end

tapir.on("arp", {op = 1, tpa = config.ip}, function(pkt, dev)
  dev:write(pkt:reply{arp = {sha = config.mac}})
  return true
end)

-- NS -> NA (solicited, override), from our address, hop limit 255 as RFC 4861 requires.
-- A duplicate address probe (from ::) is left alone.
tapir.on("icmpv6", {type = 135, target = config.ipv6}, function(pkt, dev)
  if pkt.ipv6.src == "::" then return end
  dev:write(pkt:reply{ipv6 = {src = config.ipv6, hlim = 255},
                      icmpv6 = {type = 136, flags = 0x60, lladdr = config.mac}})
  return true
end)
