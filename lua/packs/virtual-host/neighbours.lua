-- The host on the link (tapir.neighbours): ARP for the IPv4 address, neighbour
-- advertisements for the IPv6 one, and frames to another unicast MAC ignored, as a NIC
-- does. Loaded first, so the other handlers never see such frames.
local config = tapir.config
local neighbours = require "tapir.neighbours"

neighbours.new{mac = config.mac, ipv4 = config.ip, ipv6 = config.ipv6}:start()
