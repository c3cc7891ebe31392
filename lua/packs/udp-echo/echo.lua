-- RFC 862: every datagram to one of the ports goes back to its sender, data unchanged,
-- over IPv4 and IPv6. Which datagrams is decided natively, by one pcap filter on the
-- addresses and the ports,
-- so the handler only answers: pkt:reply keeps the payload and, given the device, writes
-- the reply from the host's buffer (no Lua string, no field read in Lua).
local config = tapir.config
local KEEP_EVERYTHING = {}  -- reused: no table per datagram

local ports = {}
for _, port in ipairs(config.ports) do ports[#ports + 1] = "dst port " .. port end

if #ports > 0 then
  tapir.on(string.format("udp and (dst host %s or dst host %s) and (%s)", config.ip, config.ipv6,
                         table.concat(ports, " or ")),
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
  -- Neighbour solicitation -> advertisement (solicited, override), hop limit 255 (RFC 4861);
  -- a duplicate address probe (from ::) is left alone.
  tapir.on("icmpv6", {type = 135, target = config.ipv6}, function(pkt, dev)
    if pkt.ipv6.src == "::" then return end
    dev:write(pkt:reply{ipv6 = {src = config.ipv6, hlim = 255},
                        icmpv6 = {type = 136, flags = 0x60, lladdr = config.mac}})
    return true
  end)
end
