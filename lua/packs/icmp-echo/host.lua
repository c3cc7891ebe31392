-- The host: ARP for the IPv4 address, neighbour solicitations for the IPv6 one (unless
-- `neighbours` is off, when another pack answers them), and echo requests to either
-- answered with echo replies (identifier, sequence and data kept by pkt:reply). Requests
-- in fragments (IPv4 or IPv6) arrive whole and are answered whole; a reply over the MTU
-- goes out in fragments. Frames to another unicast MAC are ignored, as a NIC does.
tapir.reassemble = true
tapir.verify_checksums = true  -- a datagram whose checksum fails is dropped, as Linux does
local config = tapir.config
local neighbours = require "tapir.neighbours"

neighbours.new{mac = config.mac, ipv4 = config.ip, ipv6 = config.ipv6, answer = config.neighbours, ping = true}:start()
