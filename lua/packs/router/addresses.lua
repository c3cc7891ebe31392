-- IPv4 addresses as integers (what the per-packet code compares, read straight from the
-- header with string.unpack) and MAC addresses as 48-bit integers: tapir.addr's
-- conversions, and what only a router asks of an address (require "addresses").
local addr = require "tapir.addr"

local addresses = {
  parse = addr.ipv4_int,           -- "198.18.1.254" -> 0xc61201fe, or nil
  text = addr.ipv4_int_text,
  mask = addr.ipv4_mask,           -- 24 -> 0xffffff00
  parse_mac = addr.mac_int,        -- "02:54:41:50:52:01" -> 0x025441505201
  mac_text = addr.mac_int_text,
}

-- "198.18.1.254/24" -> address, length; or nil and why not. "default" is 0.0.0.0/0.
function addresses.parse_prefix(text)
  if text == "default" then return 0, 0 end
  local address_text, length_text = text:match("^([%d.]+)/(%d+)$")
  local address = address_text and addr.ipv4_int(address_text)
  local length = tonumber(length_text)
  if not address or not length or length > 32 then
    return nil, "'" .. text .. "' is not ADDRESS/LENGTH (like 198.18.1.254/24)"
  end
  return address, length
end

-- False for what is never a host's own address (RFC 1812 4.2.2.11, 5.3.7): 0.0.0.0/8,
-- loopback, multicast and the class E range up to the limited broadcast.
function addresses.is_unicast(address)
  local first = address >> 24
  return first ~= 0 and first ~= 127 and first < 224
end

return addresses
