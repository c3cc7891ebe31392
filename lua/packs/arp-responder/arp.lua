-- Answers "who has A?" for each configured address A with the configured MAC.
local MAC = tapir.config.mac
local mine = {}
for _, address in ipairs(tapir.config.addresses) do mine[address] = true end

tapir.on("arp", {op = 1}, function(pkt, dev)
  if not mine[pkt.arp.tpa] then return end
  dev:write(pkt:reply{arp = {sha = MAC}})
  return true
end)

-- A gratuitous ARP: a request for our own address, to everyone, so neighbours update.
local function announce()
  for _, dev in ipairs(tapir.devices()) do
    if dev.mode == "tap" then
      for _, address in ipairs(tapir.config.addresses) do
        dev:write(tapir.build.eth{src = MAC, dst = "ff:ff:ff:ff:ff:ff", type = 0x0806}
               .. tapir.build.arp{op = 1, sha = MAC, spa = address, tha = "00:00:00:00:00:00", tpa = address})
      end
    end
  end
end

if tapir.config.gratuitous then
  announce()
  tapir.after(1000, announce)
end
