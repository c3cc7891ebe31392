-- Twisted's docs/pair/examples/pairudp.py, ported line by line: print every UDP
-- datagram sent to port 42 through tap0.
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

pair.TuntapPort("tap0", p_eth):startListening()
