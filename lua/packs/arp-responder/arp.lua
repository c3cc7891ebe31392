-- Answers "who has A?" for each configured address A with the configured MAC
-- (tapir.neighbours), and announces each address with a gratuitous ARP at start and 1 s
-- later when `gratuitous` is set.
local neighbours = require "tapir.neighbours"

local host = neighbours.new{mac = tapir.config.mac, ipv4 = tapir.config.addresses}:start()

if tapir.config.gratuitous then
  host:announce()
  tapir.after(1000, function() host:announce() end)
end
