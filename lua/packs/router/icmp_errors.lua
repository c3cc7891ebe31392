-- ICMP (RFC 792) and ICMPv6 (RFC 4443) errors about datagrams the router cannot forward,
-- built by tapir.proto.icmp_error and sent back out of the port the datagram came in on,
-- as Linux sends them. IPv4: from that port's address, quoting as much of the datagram as
-- keeps the error within 576 bytes (RFC 1812 4.3.2.3), TOS precedence "internetwork
-- control" (0xc0) over the datagram's TOS bits. IPv6: from the port's global address (its
-- link-local one when the datagram came from a link-local address), within 1280 bytes.
-- Never about an ICMP error, a broadcast or multicast, a datagram from an address no host
-- has, or an IPv4 fragment other than the first (RFC 1812 4.3.2.7, RFC 4443 2.4 (e)); at
-- most icmp_limit a second, both families together (RFC 1812 4.3.2.8, RFC 4443 2.4 (f))
-- (require "icmp_errors").
local addresses6 = require "addresses6"
local counters = require "counters"
local icmp_error = require "tapir.proto.icmp_error"
local ports = require "ports"

local unpack, pack = string.unpack, string.pack
local LIMIT = tapir.config.icmp_limit

local icmp_errors = {}
local window_start, sent_in_window = -math.huge, 0

local function within_limit()
  if LIMIT <= 0 then return true end
  local now = tapir.now()
  if now - window_start >= 1000 then window_start, sent_in_window = now, 0 end
  if sent_in_window >= LIMIT then return false end
  sent_in_window = sent_in_window + 1
  return true
end

local function suppressed()
  counters.icmp_suppressed = counters.icmp_suppressed + 1
end

local function write(port, link_source, ethertype, datagram)
  local link = port.tap and pack(">I6I6I2", link_source, port.mac, ethertype) or ""
  if port.dev:write(link .. datagram) then
    counters.icmp_errors = counters.icmp_errors + 1
  else
    counters.write_failed = counters.write_failed + 1
  end
end

-- An ICMP error of `type`/`code` about the IPv4 datagram at `offset` in `bytes`, which
-- came in on `port` from `link_source` (a MAC as an integer; nil on tun). `next_hop_mtu`
-- goes in a "fragmentation needed" error (RFC 1191).
function icmp_errors.send(port, link_source, bytes, offset, type, code, next_hop_mtu)
  local datagram = bytes:sub(offset + 1, offset + unpack(">I2", bytes, offset + 3))   -- no link padding
  local source, destination = unpack(">I4I4", datagram, 13)
  if not icmp_error.reportable(datagram, type, code) or ports.broadcasts[source] or ports.broadcasts[destination]
     or not within_limit() then
    return suppressed()
  end
  local error_datagram = icmp_error.encode{datagram = datagram, src = port.address_text, type = type, code = code,
                                           mtu = next_hop_mtu, tos = datagram:byte(2) & 0x1e | 0xc0}
  write(port, link_source, 0x0800, error_datagram)
end

-- An ICMPv6 error about the IPv6 datagram at `offset` in `bytes` (`value`: the MTU of
-- packet too big, the pointer of parameter problem).
function icmp_errors.send6(port, link_source, bytes, offset, type, code, value)
  local datagram = bytes:sub(offset + 1, offset + 40 + unpack(">I2", bytes, offset + 5))   -- no link padding
  if not port.address6 or not icmp_error.reportable(datagram, type, code) or not within_limit() then
    return suppressed()
  end
  local source = addresses6.is_link_local(datagram:sub(9, 24)) and port.link_local or port.address6
  local error_datagram = icmp_error.encode{datagram = datagram, src = addresses6.text(source), type = type,
                                           code = code, mtu = value, pointer = value}
  write(port, link_source, 0x86dd, error_datagram)
end

return icmp_errors
