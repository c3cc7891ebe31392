-- IPv4 and MAC addresses as the DHCP server needs them: dotted text <-> integers for
-- subnet and pool arithmetic, and the 4- and 6-byte wire forms. Pure: no tapir calls.
local addresses = {}

-- "198.18.0.2" -> 0xc6120002, or nil when the text is not a dotted quad.
function addresses.to_integer(text)
  if type(text) ~= "string" then return nil end
  local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return (a << 24) | (b << 16) | (c << 8) | d
end

function addresses.to_text(number)
  return string.format("%d.%d.%d.%d", (number >> 24) & 0xff, (number >> 16) & 0xff, (number >> 8) & 0xff,
                       number & 0xff)
end

-- Four bytes in network order, for options and the fixed fields.
function addresses.to_bytes(text)
  return string.pack(">I4", addresses.to_integer(text))
end

-- The text form of four bytes of `bytes` starting at `at`.
function addresses.from_bytes(bytes, at)
  local a, b, c, d = bytes:byte(at, at + 3)
  return string.format("%d.%d.%d.%d", a, b, c, d)
end

-- The netmask of a prefix length: 24 -> 0xffffff00.
function addresses.mask(prefix)
  return (0xffffffff << (32 - prefix)) & 0xffffffff
end

-- "02:00:5E:00:00:01" or "02-00-5e-00-00-01" -> "02:00:5e:00:00:01"; nil if not a MAC.
function addresses.normal_mac(text)
  if type(text) ~= "string" then return nil end
  local parts = {}
  for part in text:gmatch("[^:%-]+") do
    if not part:match("^%x%x$") then return nil end
    parts[#parts + 1] = part:lower()
  end
  if #parts ~= 6 or #text ~= 17 then return nil end
  return table.concat(parts, ":")
end

-- Six bytes -> "02:00:5e:00:00:01".
function addresses.mac_text(bytes, at)
  return string.format("%02x:%02x:%02x:%02x:%02x:%02x", bytes:byte(at, at + 5))
end

function addresses.hex(bytes)
  return (bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

return addresses
