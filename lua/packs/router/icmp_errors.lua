-- ICMP errors about datagrams the router cannot forward (RFC 792), sent back out of the
-- port the datagram came in on, from that port's address, as Linux sends them: quoting as
-- much of the datagram as keeps the error within 576 bytes (RFC 1812 4.3.2.3), TOS
-- precedence "internetwork control" (0xc0) over the datagram's TOS bits. Never about an ICMP error, a broadcast or multicast, a
-- datagram from an address no host has, or a fragment other than the first (RFC 1812
-- 4.3.2.7); at most icmp_limit a second (4.3.2.8) (require "icmp_errors").
local addresses = require "addresses"
local counters = require "counters"
local ports = require "ports"

local unpack = string.unpack
local LIMIT = tapir.config.icmp_limit
-- Types that are not errors: echo, router advertisement/solicitation, timestamp,
-- information, address mask (requests and replies).
local QUERY_TYPES = {[0] = true, [8] = true, [9] = true, [10] = true, [13] = true, [14] = true,
                     [15] = true, [16] = true, [17] = true, [18] = true}

local icmp_errors = {}
-- 576 bytes at most for the error: its IP header (20) and ICMP header (8) leave 548.
local QUOTE_LIMIT = 576 - 20 - 8
local window_start, sent_in_window = -math.huge, 0

local function may_report(bytes, offset, header_length)
  local fragment_offset = unpack(">I2", bytes, offset + 7) & 0x1fff
  local protocol = bytes:byte(offset + 10)
  local source, destination = unpack(">I4I4", bytes, offset + 13)
  if fragment_offset ~= 0 then return false end
  if not addresses.is_unicast(source) or ports.broadcasts[source] then return false end
  if not addresses.is_unicast(destination) or ports.broadcasts[destination] then return false end
  if protocol == 1 then
    local type = bytes:byte(offset + header_length + 1)
    return type ~= nil and QUERY_TYPES[type] == true
  end
  return true
end

local function within_limit()
  if LIMIT <= 0 then return true end
  local now = tapir.now()
  if now - window_start >= 1000 then window_start, sent_in_window = now, 0 end
  if sent_in_window >= LIMIT then return false end
  sent_in_window = sent_in_window + 1
  return true
end

-- An ICMP error of `type`/`code` about the datagram at `offset` in `bytes`, which came in
-- on `port` from `link_source` (a MAC as an integer; nil on tun). `next_hop_mtu` goes in
-- a "fragmentation needed" error (RFC 1191).
function icmp_errors.send(port, link_source, bytes, offset, type, code, next_hop_mtu)
  local header_length = (bytes:byte(offset + 1) & 15) * 4
  if not may_report(bytes, offset, header_length) or not within_limit() then
    counters.icmp_suppressed = counters.icmp_suppressed + 1
    return
  end
  local total_length = unpack(">I2", bytes, offset + 3)
  local quote = bytes:sub(offset + 1, offset + math.min(QUOTE_LIMIT, total_length))
  local source = unpack(">I4", bytes, offset + 13)
  local tos = bytes:byte(offset + 2) & 0x1e | 0xc0
  local datagram = tapir.build.ip{src = port.address_text, dst = addresses.text(source), proto = 1, tos = tos,
                                  payload = tapir.build.icmp{type = type, code = code, seq = next_hop_mtu,
                                                             payload = quote}}
  local link = port.tap and string.pack(">I6I6I2", link_source, port.mac, 0x0800) or ""
  if port.dev:write(link .. datagram) then
    counters.icmp_errors = counters.icmp_errors + 1
  else
    counters.write_failed = counters.write_failed + 1
  end
end

return icmp_errors
