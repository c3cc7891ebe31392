-- IPv4 forwarding (RFC 1812): a datagram to the router's MAC (tap) or from a tun port is
-- checked, routed by longest prefix, its TTL lowered with the header checksum updated
-- incrementally (RFC 1624) and written out of the egress port: straight on tun, behind
-- the next hop's MAC on tap (ARP first, next_hops.lua). The header is read and the
-- datagram forwarded natively (pkt:ethernet_header, pkt:ipv4_header, pkt:forward): no
-- Lua string of the frame unless an ICMP error or the ARP queue needs one. What cannot go on gets an ICMP
-- error (icmp_errors.lua). Pings to the router's addresses are answered, UDP to them gets
-- port unreachable (what ends a traceroute to the router), TCP a reset.
local addresses = require "addresses"
local counters = require "counters"
local icmp_errors = require "icmp_errors"
local next_hops = require "next_hops"
local ports = require "ports"
local routes = require "routes"

local unpack, pack = string.unpack, string.pack
local by_device, by_address, broadcasts = ports.by_device, ports.by_address, ports.broadcasts
local is_unicast, lookup, forward, enqueue = addresses.is_unicast, routes.lookup, next_hops.ipv4.forward, next_hops.ipv4.enqueue
local ECHO_REPLY = {icmp = {type = 0}}  -- reused: no table per ping
local DONT_FRAGMENT, MORE_FRAGMENTS, OFFSET_BITS = 0x4000, 0x2000, 0x1fff

-- RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), in one's complement arithmetic, for one
-- 16-bit word m of the header changed to m'.
local function updated_checksum(checksum, old_word, new_word)
  local sum = (~checksum & 0xffff) + (~old_word & 0xffff) + new_word
  sum = (sum & 0xffff) + (sum >> 16)
  sum = (sum & 0xffff) + (sum >> 16)
  return ~sum & 0xffff
end

local function count(name)
  counters[name] = counters[name] + 1
end

-- A TCP segment to one of the router's addresses: no port is open, so a reset (RFC 793
-- 3.4, as Linux sends it): to a segment with ACK, seq = its ack; else RST+ACK with ack =
-- its seq + its length (SYN and FIN count one each). Window 0, from the address it was
-- sent to. Never about a reset.
local function reset(port, link_source, bytes, offset, header_length)
  local total_length = unpack(">I2", bytes, offset + 3)
  local at = offset + header_length
  if total_length - header_length < 20 then return end
  local sport, dport, seq, ack, offset_byte, flags = unpack(">I2I2I4I4BB", bytes, at + 1)
  if flags & 0x04 ~= 0 then return end
  local data_length = total_length - header_length - (offset_byte >> 4) * 4
  if data_length < 0 then return end
  local source, destination = unpack(">I4I4", bytes, offset + 13)
  local segment
  if flags & 0x10 ~= 0 then
    segment = {sport = dport, dport = sport, seq = ack, ack = 0, flags = 0x04, window = 0}
  else
    local length = data_length + (flags & 0x02 ~= 0 and 1 or 0) + (flags & 0x01 ~= 0 and 1 or 0)
    segment = {sport = dport, dport = sport, seq = 0, ack = (seq + length) & 0xffffffff, flags = 0x14, window = 0}
  end
  local datagram = tapir.build.ip{src = addresses.text(destination), dst = addresses.text(source), proto = 6,
                                  df = true, payload = tapir.build.tcp(segment)}
  local link = port.tap and pack(">I6I6I2", link_source, port.mac, 0x0800) or ""
  if port.dev:write(link .. datagram) then count("tcp_resets") else count("write_failed") end
end

local function for_the_router(pkt, dev, port, bytes, offset, header_length, protocol, fragment_field, link_source)
  local whole = fragment_field & (MORE_FRAGMENTS | OFFSET_BITS) == 0
  if protocol == 1 and whole and bytes:byte(offset + header_length + 1) == 8 then
    if dev:write(pkt:reply(ECHO_REPLY)) then count("echo_replies") else count("write_failed") end
  elseif protocol == 17 and whole then
    count("dropped")
    icmp_errors.send(port, link_source, bytes, offset, 3, 3)
  elseif protocol == 6 and whole then
    count("dropped")
    reset(port, link_source, bytes, offset, header_length)
  else
    count("dropped")
  end
  return true
end

tapir.on("ip", function(pkt, dev)
  local port = by_device[dev.id]
  if not port then return end
  local offset, link_source = 0, nil
  if port.tap then
    local link_destination, source_mac, type = pkt:ethernet_header()
    if link_destination ~= port.mac or type ~= 0x0800 then return end  -- not to us, or VLAN-tagged
    offset, link_source = 14, source_mac
  end

  local header_length, total_length, fragment_field, ttl, protocol, source, destination, checksum_ok =
    pkt:ipv4_header(offset)
  if not header_length or not checksum_ok then
    count("bad_header")
    return true
  end

  if not is_unicast(source) or broadcasts[source] or by_address[source] then  -- martians (RFC 1812 5.3.7)
    count("dropped")
    return true
  end
  if by_address[destination] then
    return for_the_router(pkt, dev, port, pkt:bytes(), offset, header_length, protocol, fragment_field, link_source)
  end
  if not is_unicast(destination) or broadcasts[destination] then  -- not forwarded (RFC 1812 5.3.5)
    count("dropped")
    return true
  end
  if ttl <= 1 then
    count("ttl_expired")
    icmp_errors.send(port, link_source, pkt:bytes(), offset, 11, 0)
    return true
  end
  local route = lookup(destination)
  if not route then
    count("no_route")
    icmp_errors.send(port, link_source, pkt:bytes(), offset, 3, 0)
    return true
  end
  local egress = route.port
  local mtu = ports.mtu(egress)
  if mtu and total_length > mtu and fragment_field & DONT_FRAGMENT ~= 0 then
    count("too_big")
    icmp_errors.send(port, link_source, pkt:bytes(), offset, 3, 4, mtu)
    return true
  end

  local next_hop = route.gateway or destination
  if not forward(pkt, egress, next_hop, offset) then
    -- kept until ARP answers: the datagram as a string, its TTL lowered here
    local bytes = pkt:bytes()
    local checksum = unpack(">I2", bytes, offset + 11)
    local lowered = pack(">BBI2", ttl - 1, protocol,
                         updated_checksum(checksum, ttl << 8 | protocol, (ttl - 1) << 8 | protocol))
    enqueue(egress, next_hop, bytes:sub(offset + 1, offset + 8) .. lowered .. bytes:sub(offset + 13, offset + total_length),
            port, link_source)
  end
  return true
end)
