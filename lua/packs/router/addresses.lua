-- IPv4 addresses as integers (what the per-packet code compares, read straight from the
-- header with string.unpack) and MAC addresses as 48-bit integers, with the text forms
-- for settings and logs (require "addresses").
local addresses = {}

-- "198.18.1.254" -> 0xc61201fe, or nil.
function addresses.parse(text)
  local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return a << 24 | b << 16 | c << 8 | d
end

function addresses.text(address)
  return string.format("%d.%d.%d.%d", address >> 24, address >> 16 & 255, address >> 8 & 255, address & 255)
end

-- The netmask of a prefix length: 24 -> 0xffffff00.
function addresses.mask(length)
  return (0xffffffff << (32 - length)) & 0xffffffff
end

-- "198.18.1.254/24" -> address, length; or nil and why not. "default" is 0.0.0.0/0.
function addresses.parse_prefix(text)
  if text == "default" then return 0, 0 end
  local address_text, length_text = text:match("^([%d.]+)/(%d+)$")
  local address = address_text and addresses.parse(address_text)
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

-- "02:54:41:50:52:01" -> 0x025441505201.
function addresses.parse_mac(text)
  local value = 0
  for byte in text:gmatch("%x%x") do value = value << 8 | tonumber(byte, 16) end
  return value
end

function addresses.mac_text(mac)
  local bytes = {}
  for shift = 40, 0, -8 do bytes[#bytes + 1] = string.format("%02x", mac >> shift & 255) end
  return table.concat(bytes, ":")
end

return addresses
