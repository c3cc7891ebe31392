-- The server's own address answers ARP (renewals come unicast, so the client's kernel
-- asks for our MAC) and ping (so a client can check the address it was given works).
local config = tapir.config

tapir.on("arp", {op = 1, tpa = config.ip}, function(pkt, dev)
  dev:write(pkt:reply{arp = {sha = config.mac}})
  return true
end)

tapir.on("icmp", {type = 8}, function(pkt, dev)
  local ip = pkt.ip
  if ip.dst ~= config.ip or ip.mf or ip.frag ~= 0 then return end
  dev:write(pkt:reply{icmp = {type = 0}})
  return true
end)
