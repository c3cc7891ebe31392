-- IPv6 addresses as 16-byte strings (what the per-packet code compares, cut straight from
-- the header), with the text forms for settings and logs and the addresses Neighbor
-- Discovery derives from others (require "addresses6").
local address = require "tapir.addr"
local ndp = require "tapir.proto.ndp"

local addresses6 = {}
local ZEROS = string.rep("\0", 16)
addresses6.ALL_NODES = address.ipv6_bytes("ff02::1")
addresses6.ALL_ROUTERS = address.ipv6_bytes("ff02::2")
addresses6.UNSPECIFIED = ZEROS

addresses6.parse = address.ipv6_bytes
addresses6.text = address.ipv6_text

-- The first `length` bits of an address, the rest zero.
function addresses6.network(bytes, length)
  local whole, bits = length // 8, length % 8
  if bits == 0 then return bytes:sub(1, whole) .. ZEROS:sub(whole + 1) end
  return bytes:sub(1, whole) .. string.char(bytes:byte(whole + 1) & (0xff << (8 - bits)) & 0xff) .. ZEROS:sub(whole + 2)
end

-- "2001:2:0:1::1/64" -> 16 bytes, 64; or nil and why not. "default" is ::/0.
function addresses6.parse_prefix(text)
  if text == "default" or text == "default6" then return ZEROS, 0 end
  local address_text, length_text = text:match("^([%x:.]+)/(%d+)$")
  local bytes = address_text and address.ipv6_bytes(address_text)
  local length = tonumber(length_text)
  if not bytes or not length or length > 128 then
    return nil, "'" .. text .. "' is not ADDRESS/LENGTH (like 2001:2:0:1::1/64)"
  end
  return bytes, length
end

function addresses6.is_multicast(bytes) return bytes:byte(1) == 0xff end
function addresses6.is_link_local(bytes) return bytes:byte(1) == 0xfe and bytes:byte(2) & 0xc0 == 0x80 end

-- False for what is never a host's own source: unspecified, loopback, multicast.
function addresses6.is_unicast(bytes)
  return bytes:byte(1) ~= 0xff and bytes ~= ZEROS and bytes ~= ZEROS:sub(2) .. "\1"
end

-- The port's link-local address from its MAC (an integer), by tapir.proto.ndp.
function addresses6.link_local(mac)
  return address.ipv6_bytes(ndp.link_local(address.mac_int_text(mac)))
end

-- The solicited-node group of an address (RFC 4291 2.7.1).
function addresses6.solicited_node(bytes)
  return address.ipv6_bytes(ndp.solicited_node(address.ipv6_text(bytes)))
end

-- The Ethernet group of an IPv6 group (RFC 2464 7), as an integer.
function addresses6.multicast_mac(bytes)
  return 0x333300000000 | string.unpack(">I4", bytes, 13)
end

return addresses6
