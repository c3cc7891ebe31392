-- RFC 862 echo on udp_echo_ports, over IPv4 and IPv6 (whole datagrams only).
local config = tapir.config
local frames = require "frames"

local function echo(pkt, dev)
  local ip, ipv6 = pkt.ip, pkt.ipv6
  local mine = (ip and ip.dst == config.ip) or (ipv6 and ipv6.dst == config.ipv6)
  if mine and not frames.is_fragment(pkt) then
    dev:write(pkt:reply{})
    return true
  end
end

for _, port in ipairs(config.udp_echo_ports) do
  tapir.on("udp", {dport = port}, echo)
end
