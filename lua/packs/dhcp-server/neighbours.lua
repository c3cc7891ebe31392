-- The server's own address on the link (tapir.neighbours): it answers ARP (renewals come
-- unicast, so the client's kernel asks for our MAC) and ping (so a client can check the
-- address it was given works), and frames to another unicast MAC are ignored.
local config = tapir.config
local neighbours = require "tapir.neighbours"

neighbours.new{mac = config.mac, ipv4 = config.ip, ping = true}:start()
