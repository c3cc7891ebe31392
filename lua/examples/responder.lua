-- A tiny virtual host: answers ARP for its address, echo requests, and echoes UDP.
--   tapir run lua/examples/responder.lua            (a sandbox; 198.18.0.2 answers)
local IP, MAC = "198.18.0.2", "02:54:41:50:49:52"

tapir.on("arp", {op = 1}, function(pkt, dev)
  if pkt.arp.tpa ~= IP then return end
  dev:write(tapir.build.eth{src = MAC, dst = pkt.eth.src, type = 0x0806}
         .. tapir.build.arp{op = 2, sha = MAC, spa = IP, tha = pkt.arp.sha, tpa = pkt.arp.spa})
  return true
end)

tapir.on("icmp", {type = 8}, function(pkt, dev)
  if pkt.ip.dst ~= IP then return end
  dev:write(pkt:reply{icmp = {type = 0}})
  return true
end)

tapir.on("udp", function(pkt, dev)
  if pkt.ip and pkt.ip.dst == IP then
    dev:write(pkt:reply{payload = pkt.payload})
    return true
  end
end)
