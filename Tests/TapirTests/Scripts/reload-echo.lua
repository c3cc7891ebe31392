-- The echo of ReloadKernelTests: answers ARP for 198.18.0.2 and each UDP datagram to
-- port 7 with "FORM:<payload>:<count>", where count is kept in tapir.state (it must
-- carry over a reload). The test writes versions of this file with FORM changed.
local FORM = "v1"
local IP, MAC = "198.18.0.2", "02:54:41:50:49:52"

tapir.on("arp", {op = 1}, function(pkt, dev)
  if pkt.arp.tpa ~= IP then return end
  dev:write(tapir.build.eth{src = MAC, dst = pkt.eth.src, type = 0x0806}
         .. tapir.build.arp{op = 2, sha = MAC, spa = IP, tha = pkt.arp.sha, tpa = pkt.arp.spa})
  return true
end)

tapir.on("udp", {dport = 7}, function(pkt, dev)
  if pkt.ip.dst ~= IP then return end
  tapir.state.count = (tapir.state.count or 0) + 1
  dev:write(pkt:reply{payload = FORM .. ":" .. pkt.payload .. ":" .. tapir.state.count})
  return true
end)
