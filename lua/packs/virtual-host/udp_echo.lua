-- RFC 862 echo on udp_echo_ports, over IPv4 and IPv6.
local config = tapir.config

local function echo(pkt, dev)
  local ip, ipv6 = pkt.ip, pkt.ipv6
  if (ip and ip.dst == config.ip) or (ipv6 and ipv6.dst == config.ipv6) then
    dev:write(pkt:reply{})
    return true
  end
end

for _, port in ipairs(config.udp_echo_ports) do
  tapir.on("udp", {dport = port}, echo)
end
