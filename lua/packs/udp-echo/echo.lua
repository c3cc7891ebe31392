-- RFC 862: every datagram to one of the ports goes back to its sender, data unchanged.
-- Which datagrams is decided natively, by one pcap filter on the address and the ports,
-- so the handler only answers: pkt:reply keeps the payload and, given the device, writes
-- the reply from the host's buffer (no Lua string, no field read in Lua).
local config = tapir.config
local KEEP_EVERYTHING = {}  -- reused: no table per datagram

local ports = {}
for _, port in ipairs(config.ports) do ports[#ports + 1] = "dst port " .. port end

if #ports > 0 then
  tapir.on(string.format("udp and dst host %s and (%s)", config.ip, table.concat(ports, " or ")),
           function(pkt, dev)
    pkt:reply(KEEP_EVERYTHING, dev)
    return true
  end)
end

if config.arp then
  tapir.on("arp", {op = 1, tpa = config.ip}, function(pkt, dev)
    dev:write(pkt:reply{arp = {sha = config.mac}})
    return true
  end)
end
