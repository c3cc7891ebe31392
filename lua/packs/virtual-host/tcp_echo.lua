-- RFC 862 echo over TCP on tcp_echo_ports, IPv4 and IPv6, on the host's TCP engine: each
-- connection is a task sending back what it reads until the client closes. The engine
-- claims the segments of these ports before any handler, so closed_ports.lua never
-- resets them; every other port stays closed.
local config = tapir.config
local CHUNK = 65536

local function echo(conn)
  if config.tcp_idle > 0 then conn:settimeout(config.tcp_idle) end
  while true do
    local data = conn:receiveany(CHUNK)
    if not data or not conn:send(data) then return end
  end
end

for _, port in ipairs(config.tcp_echo_ports) do
  tapir.tcp.listen({port = port, ip = config.ip, mac = config.mac}, echo)
  tapir.tcp.listen({port = port, ipv6 = config.ipv6, mac = config.mac}, echo)
end
