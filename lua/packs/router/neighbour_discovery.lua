-- Neighbor Discovery on tap ports with an IPv6 prefix (RFC 4861): solicitations for the
-- port's addresses (its global and link-local ones) are answered with the router flag and
-- the port's MAC; what solicitations and advertisements say about a neighbour goes to the
-- cache (next_hops.lua); router solicitations get an advertisement (advertisements.lua).
-- Only messages with hop limit 255, a right checksum and no extension headers count.
local addresses6 = require "addresses6"
local advertisements = require "advertisements"
local counters = require "counters"
local ndp = require "tapir.proto.ndp"
local next_hops = require "next_hops"
local ports = require "ports"
local addresses = require "addresses"

local unpack, pack = string.unpack, string.pack
local learn = next_hops.ipv6.learn
local UNSPECIFIED = addresses6.UNSPECIFIED

local function is_ours(port, address)
  return address == port.address6 or address == port.link_local
end

-- The advertisement answering a duplicate address probe for `target` (from ::), to all
-- nodes (RFC 4861 7.2.4): the prober learns the address is taken. (Other solicitations
-- the port's tapir.neighbours instance answers.)
local function defend(port, target)
  local body = ndp.encode{type = ndp.NEIGHBOR_ADVERTISEMENT, router = true, override = true,
                          target = addresses6.text(target), target_lladdr = addresses.mac_text(port.mac)}
  return pack(">I6I6I2", addresses6.multicast_mac(addresses6.ALL_NODES), port.mac, 0x86dd)
      .. tapir.build.ipv6{src = addresses6.text(target), dst = addresses6.text(addresses6.ALL_NODES), nxt = 58,
                          hlim = 255, payload = body}
end

tapir.on("icmpv6", function(pkt, dev)
  local port = ports.by_device[dev.id]
  if not port or not port.tap or not port.address6 then return end
  local bytes = pkt:bytes()
  if #bytes < 58 or unpack(">I2", bytes, 13) ~= 0x86dd then return end
  local link_destination, link_source = unpack(">I6I6", bytes)
  if link_destination ~= port.mac and link_destination >> 40 & 1 == 0 then return end  -- another host's unicast
  if bytes:byte(21) ~= 58 then return end
  local kind = bytes:byte(55)
  if kind < 133 or kind > 136 or kind == 134 then return end
  if bytes:byte(22) ~= 255 or not pkt.icmpv6.chksum_ok then return true end
  local length = unpack(">I2", bytes, 19)
  local message = ndp.decode(bytes:sub(55, 54 + length))
  if not message or message.code ~= 0 then return true end
  local source = bytes:sub(23, 38)
  local lladdr = message.source_lladdr and addresses.parse_mac(message.source_lladdr)

  if kind == ndp.NEIGHBOR_SOLICITATION then
    local target = addresses6.parse(message.target)
    if not is_ours(port, target) then return end
    if source ~= UNSPECIFIED and lladdr then learn(port, source, lladdr, true) end
    local advertisement = source == UNSPECIFIED and defend(port, target) or port.host:advertisement(pkt)
    if advertisement and dev:write(advertisement) then counters.nd_replies = counters.nd_replies + 1
    elseif advertisement then counters.write_failed = counters.write_failed + 1 end
    return true
  elseif kind == ndp.NEIGHBOR_ADVERTISEMENT then
    local target = addresses6.parse(message.target)
    if is_ours(port, target) then return true end   -- someone else claims our address: not believed
    local mac = message.target_lladdr and addresses.parse_mac(message.target_lladdr) or link_source
    if addresses6.is_unicast(target) then learn(port, target, mac, false, message.override) end
    return true
  elseif kind == ndp.ROUTER_SOLICITATION then
    if source ~= UNSPECIFIED and lladdr then learn(port, source, lladdr, true) end
    counters.rs_received = counters.rs_received + 1
    if source ~= UNSPECIFIED then
      advertisements.send(port, source, lladdr or link_source)
    else
      advertisements.answer_to_all(port)
    end
    return true
  end
end)

advertisements.start()
