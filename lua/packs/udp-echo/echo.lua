-- RFC 862: every datagram to one of the ports goes back to its sender, data unchanged,
-- over IPv4 and IPv6. Which datagrams is decided natively, by one pcap filter on the
-- addresses and the ports,
-- so the handler only answers: pkt:reply keeps the payload and, given the device, writes
-- the reply from the host's buffer (no Lua string, no field read in Lua).
-- Datagrams in fragments (IPv4 or IPv6) arrive whole and are echoed whole; a reply over the
-- MTU goes out in fragments.
tapir.reassemble = true
tapir.verify_checksums = true  -- a datagram whose checksum fails is dropped, as Linux does
local config = tapir.config
local neighbours = require "tapir.neighbours"
local KEEP_EVERYTHING = {}  -- reused: no table per datagram

-- First, so frames to another unicast MAC reach no later handler; ARP and neighbour
-- solicitations answered unless `arp` is off (another pack answers them).
neighbours.new{mac = config.mac, ipv4 = config.ip, ipv6 = config.ipv6, answer = config.arp}:start()

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
