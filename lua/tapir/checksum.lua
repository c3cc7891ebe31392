-- The Internet checksum (RFC 1071) over bytes, and over an IPv4 or IPv6 pseudo-header
-- with them, for the protocol modules that build whole datagrams. Pure: no tapir calls
-- (require "tapir.checksum").
--
--   checksum.of(bytes)                                -> the 16-bit checksum to write
--   checksum.ipv6(src16, dst16, next_header, bytes)   -> the same over RFC 8200 8.1's pseudo-header
--   checksum.ipv4(src4, dst4, protocol, bytes)        -> the same over RFC 768's pseudo-header
local checksum = {}

local unpack = string.unpack

-- The one's complement sum of 16-bit words (a last odd byte padded with zero), not folded.
local function sum(bytes, total)
  local length = #bytes
  local at = 1
  while at + 15 <= length do
    local a, b, c, d, e, f, g, h = unpack(">I2I2I2I2I2I2I2I2", bytes, at)
    total = total + a + b + c + d + e + f + g + h
    at = at + 16
  end
  while at + 1 <= length do
    total = total + unpack(">I2", bytes, at)
    at = at + 2
  end
  if at == length then total = total + (bytes:byte(at) << 8) end
  return total
end

local function fold(total)
  while total > 0xffff do total = (total & 0xffff) + (total >> 16) end
  return ~total & 0xffff
end

function checksum.of(bytes)
  return fold(sum(bytes, 0))
end

function checksum.ipv6(source, destination, next_header, bytes)
  local pseudo = source .. destination .. string.pack(">I4I4", #bytes, next_header)
  return fold(sum(bytes, sum(pseudo, 0)))
end

function checksum.ipv4(source, destination, protocol, bytes)
  local pseudo = source .. destination .. string.pack(">BBI2", 0, protocol, #bytes)
  return fold(sum(bytes, sum(pseudo, 0)))
end

return checksum
