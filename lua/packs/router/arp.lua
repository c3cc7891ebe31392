-- ARP on tap ports: requests for a port's address are answered with the port's MAC (by
-- the port's tapir.neighbours instance, ports.lua), and what any ARP packet says about a
-- neighbour goes to the cache (next_hops.lua).
local addresses = require "addresses"
local counters = require "counters"
local next_hops = require "next_hops"
local ports = require "ports"

local unpack = string.unpack

tapir.on("arp", function(pkt, dev)
  local port = ports.by_device[dev.id]
  if not port or not port.tap then return end
  local bytes = pkt:bytes()
  if #bytes < 42 or unpack(">I2", bytes, 13) ~= 0x0806 then return end  -- too short, or VLAN-tagged
  local hardware, protocol, hardware_length, protocol_length, op, sha, spa, _, tpa =
    unpack(">I2I2BBI2I6I4I6I4", bytes, 15)
  if hardware ~= 1 or protocol ~= 0x0800 or hardware_length ~= 6 or protocol_length ~= 4 then return end
  local for_us = tpa == port.address
  if addresses.is_unicast(spa) and spa ~= port.address then next_hops.ipv4.learn(port, spa, sha, for_us) end
  if op == 1 and for_us then
    if dev:write(port.host:arp_reply(pkt)) then
      counters.arp_replies = counters.arp_replies + 1
    else
      counters.write_failed = counters.write_failed + 1
    end
  end
  return for_us
end)
