-- IPv6 forwarding (RFC 8200, RFC 4443): a datagram to the router's MAC (tap) or from a tun
-- port is checked (its header read natively, pkt:ipv6_header), routed by longest prefix
-- (routes6.lua), its hop limit lowered (IPv6 has
-- no header checksum) and written out of the egress port by pkt:forward: straight on tun,
-- behind the next hop's MAC on tap (neighbor solicitation first, next_hops.lua). What
-- cannot go on gets an ICMPv6 error: time exceeded, no route, beyond the scope of a link-local source,
-- packet too big over the egress port's MTU (the router never fragments IPv6). Pings to
-- the router's addresses are answered; UDP to them gets port unreachable.
local addresses6 = require "addresses6"
local counters = require "counters"
local icmp_errors = require "icmp_errors"
local next_hops = require "next_hops"
local ports = require "ports"
local routes6 = require "routes6"

local pack, char = string.pack, string.char
local by_device, by_address6 = ports.by_device, ports.by_address6
local lookup, forward, enqueue = routes6.lookup_halves, next_hops.ipv6.forward, next_hops.ipv6.enqueue
local is_link_local, is_unicast = addresses6.is_link_local, addresses6.is_unicast
local ECHO_REPLY = {icmpv6 = {type = 129}}  -- reused: no table per ping

local function count(name)
  counters[name] = counters[name] + 1
end

-- A datagram to one of the router's own addresses on `port`: echo requests answered, UDP
-- told port unreachable (what ends a traceroute6 at the router), the rest dropped.
local function for_the_router(pkt, dev, port, bytes, offset, link_source)
  local next_header = bytes:byte(offset + 7)
  if next_header == 58 and bytes:byte(offset + 41) == 128 then
    if dev:write(pkt:reply(ECHO_REPLY)) then count("echo_replies") else count("write_failed") end
  elseif next_header == 17 then
    count("dropped")
    icmp_errors.send6(port, link_source, bytes, offset, 1, 4)
  else
    count("dropped")
  end
  return true
end

tapir.on("ipv6", function(pkt, dev)
  local port = by_device[dev.id]
  if not port or not port.address6 then return end
  local offset, link_source = 0, nil
  if port.tap then
    local link_destination, source_mac, type = pkt:ethernet_header()
    if link_destination ~= port.mac or type ~= 0x86dd then return end  -- not to us (groups are NDP's), or VLAN-tagged
    offset, link_source = 14, source_mac
  end

  local payload_length, _, hop_limit, source_high, source_low, destination_high, destination_low = pkt:ipv6_header(offset)
  if not payload_length then
    count("bad_header")
    return true
  end
  local source, destination = pack(">i8i8", source_high, source_low), pack(">i8i8", destination_high, destination_low)
  if not is_unicast(source) or by_address6[source] then  -- no host's source, or a loop of our own
    count("dropped")
    return true
  end
  if by_address6[destination] or destination == port.link_local then
    return for_the_router(pkt, dev, port, pkt:bytes(), offset, link_source)
  end
  -- never beyond the link; loopback and unspecified never leave a node (RFC 4291 2.5.2, 2.5.3)
  if not is_unicast(destination) or is_link_local(destination) then
    count("dropped")
    return true
  end
  if is_link_local(source) then  -- RFC 4443 3.1: beyond the scope of the source address
    count("dropped")
    icmp_errors.send6(port, link_source, pkt:bytes(), offset, 1, 2)
    return true
  end
  if hop_limit <= 1 then
    count("ttl_expired")
    icmp_errors.send6(port, link_source, pkt:bytes(), offset, 3, 0)
    return true
  end
  local route = lookup(destination_high, destination_low)
  if not route then
    count("no_route")
    icmp_errors.send6(port, link_source, pkt:bytes(), offset, 1, 0)
    return true
  end
  local egress = route.port
  local mtu = ports.mtu(egress)
  if mtu and 40 + payload_length > mtu then
    count("too_big")
    icmp_errors.send6(port, link_source, pkt:bytes(), offset, 2, 0, mtu)
    return true
  end

  local next_hop = route.gateway or destination
  if not forward(pkt, egress, next_hop, offset) then
    -- kept until a neighbor advertisement comes: the datagram as a string, its hop limit lowered here
    local bytes = pkt:bytes()
    enqueue(egress, next_hop, bytes:sub(offset + 1, offset + 7) .. char(hop_limit - 1)
            .. bytes:sub(offset + 9, offset + 40 + payload_length), port, link_source)
  end
  return true
end)
