-- Twisted's docs/pair/examples/pairudp.py, ported line by line: print every UDP
-- datagram sent to port 42 through tap0. Two lines more than Twisted's: an ARPProtocol
-- answering for 198.18.0.2, so the kernel finds the host with no static neighbour entry.
-- How to run it and reach it: README.md, "Coming from Twisted Pair".
local pair = require "tapir.pair"

local MyProto = pair.DatagramProtocol.subclass("MyProto")
function MyProto:datagramReceived(data, addr)
  print(string.format("%q from %s:%d", data, addr[1], addr[2]))
end

local p_udp = pair.RawUDPProtocol()
p_udp:addProto(42, MyProto())
local p_ip = pair.IPProtocol()
p_ip:addProto(17, p_udp)
local p_eth = pair.EthernetProtocol()
p_eth:addProto(0x800, p_ip)
local p_arp = pair.ARPProtocol(); p_arp:answer("198.18.0.2", "02:00:00:00:00:02")
p_eth:addProto(0x806, p_arp)

pair.TuntapPort("tap0", p_eth):startListening()
