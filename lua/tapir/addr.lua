-- MAC, IPv4 and IPv6 addresses between their text, bytes and integer forms, prefixes, and
-- comparisons (require "tapir.addr"). Pure: no tapir calls, usable in a pack's sandbox.
--
-- Text is an address's usual form; the functions named after the form they return take
-- text, and `<family>_<from>_<to>` converts between the other two:
--
--   addr.ipv4_bytes("198.18.0.9") -> "\198\18\0\9"   addr.ipv4_text(bytes, [at]) -> "198.18.0.9"
--   addr.ipv4_int("198.18.0.9")   -> 0xc6120009      addr.ipv4_int_text(0xc6120009) -> "198.18.0.9"
--   addr.ipv4_bytes_int(bytes, [at]) -> 0xc6120009   addr.ipv4_int_bytes(0xc6120009) -> 4 bytes
--   the same for ipv6 (RFC 4291 text in, RFC 5952 text out; its integer form is a pair,
--   high and low 64 bits) and mac ("02:00:5e:00:00:01", "-" separators and capitals in).
-- Text that is not an address gives nil. Integers are Lua's 64-bit ones; the low half of an
-- IPv6 address and a high half of 2^63 or more read as negative, compare them with
-- addr.compare, not <.
local addr = {}

-- MAC ---------------------------------------------------------------------------------

function addr.mac_bytes(text)
  if type(text) ~= "string" or #text ~= 17 then return nil end
  local a, b, c, d, e, f = text:match("^(%x%x)[:%-](%x%x)[:%-](%x%x)[:%-](%x%x)[:%-](%x%x)[:%-](%x%x)$")
  if not a then return nil end
  return string.char(tonumber(a, 16), tonumber(b, 16), tonumber(c, 16), tonumber(d, 16), tonumber(e, 16),
                     tonumber(f, 16))
end

function addr.mac_text(bytes, at)
  at = at or 1
  if #bytes < at + 5 then return nil end
  return string.format("%02x:%02x:%02x:%02x:%02x:%02x", bytes:byte(at, at + 5))
end

function addr.mac_bytes_int(bytes, at)
  if #bytes < (at or 1) + 5 then return nil end
  return (string.unpack(">I6", bytes, at))
end

function addr.mac_int_bytes(number)
  return string.pack(">I6", number & 0xffffffffffff)
end

function addr.mac_int(text)
  local bytes = addr.mac_bytes(text)
  return bytes and string.unpack(">I6", bytes)
end

function addr.mac_int_text(number)
  return addr.mac_text(addr.mac_int_bytes(number))
end

-- IPv4 --------------------------------------------------------------------------------

function addr.ipv4_bytes(text)
  if type(text) ~= "string" then return nil end
  local a, b, c, d = text:match("^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return string.char(a, b, c, d)
end

function addr.ipv4_text(bytes, at)
  at = at or 1
  if #bytes < at + 3 then return nil end
  return string.format("%d.%d.%d.%d", bytes:byte(at, at + 3))
end

function addr.ipv4_bytes_int(bytes, at)
  if #bytes < (at or 1) + 3 then return nil end
  return (string.unpack(">I4", bytes, at))
end

function addr.ipv4_int_bytes(number)
  return string.pack(">I4", number & 0xffffffff)
end

function addr.ipv4_int(text)
  local bytes = addr.ipv4_bytes(text)
  return bytes and string.unpack(">I4", bytes)
end

function addr.ipv4_int_text(number)
  return string.format("%d.%d.%d.%d", number >> 24 & 255, number >> 16 & 255, number >> 8 & 255, number & 255)
end

-- The netmask of a prefix length as an integer: 24 -> 0xffffff00.
function addr.ipv4_mask(length)
  return (0xffffffff << (32 - length)) & 0xffffffff
end

-- IPv6 --------------------------------------------------------------------------------

local function groups(part)
  local list = {}
  if part == "" then return list end
  for group in (part .. ":"):gmatch("(.-):") do
    if not group:match("^%x%x?%x?%x?$") then return nil end
    list[#list + 1] = tonumber(group, 16)
  end
  return list
end

function addr.ipv6_bytes(text)
  if type(text) ~= "string" or not text:find(":", 1, true) then return nil end
  local tail = ""
  local last = text:match(":([%d%.]+)$")
  if last and last:find(".", 1, true) then
    tail = addr.ipv4_bytes(last)
    if not tail then return nil end
    text = text:sub(1, -#last - 1) .. "0:0"   -- two placeholder groups, replaced below
  end
  local head, rest = text:match("^(.-)::(.*)$")
  local words
  if head then
    if rest:find("::", 1, true) then return nil end
    local left, right = groups(head), groups(rest)
    if not left or not right or #left + #right > 7 then return nil end
    words = left
    for _ = 1, 8 - #left - #right do words[#words + 1] = 0 end
    for _, word in ipairs(right) do words[#words + 1] = word end
  else
    words = groups(text)
    if not words or #words ~= 8 then return nil end
  end
  local packed = string.pack(">I2I2I2I2I2I2I2I2", table.unpack(words, 1, 8))
  if tail ~= "" then packed = packed:sub(1, 12) .. tail end
  return packed
end

-- RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups (the
-- first of equal ones) as "::"; an IPv4-mapped address as ::ffff: and its IPv4 address
-- dotted (RFC 5952 5), as the host writes pkt.ipv6's addresses.
local MAPPED_PREFIX = string.rep("\0", 10) .. "\xff\xff"

function addr.ipv6_text(bytes, at)
  at = at or 1
  if #bytes < at + 15 then return nil end
  if bytes:sub(at, at + 11) == MAPPED_PREFIX then return "::ffff:" .. addr.ipv4_text(bytes, at + 12) end
  local words = {string.unpack(">I2I2I2I2I2I2I2I2", bytes, at)}
  words[9] = nil
  local best_at, best_length, run_at, run_length = 0, 0, 0, 0
  for i = 1, 8 do
    if words[i] == 0 then
      if run_length == 0 then run_at = i end
      run_length = run_length + 1
      if run_length > best_length then best_at, best_length = run_at, run_length end
    else
      run_length = 0
    end
  end
  local parts = {}
  for i = 1, 8 do parts[i] = string.format("%x", words[i]) end
  if best_length < 2 then return table.concat(parts, ":") end
  return table.concat(parts, ":", 1, best_at - 1) .. "::" .. table.concat(parts, ":", best_at + best_length, 8)
end

-- -> high, low (64 bits each), or nil.
function addr.ipv6_bytes_int(bytes, at)
  if #bytes < (at or 1) + 15 then return nil end
  local high, low = string.unpack(">i8i8", bytes, at)
  return high, low
end

function addr.ipv6_int_bytes(high, low)
  return string.pack(">i8i8", high, low)
end

function addr.ipv6_int(text)
  local bytes = addr.ipv6_bytes(text)
  if not bytes then return nil end
  return addr.ipv6_bytes_int(bytes)
end

function addr.ipv6_int_text(high, low)
  return addr.ipv6_text(addr.ipv6_int_bytes(high, low))
end

-- Any family ----------------------------------------------------------------------------

-- "mac", "ipv4" or "ipv6" for text in that family's form; nil for anything else.
function addr.family(text)
  if addr.ipv4_bytes(text) then return "ipv4" end
  if addr.mac_bytes(text) then return "mac" end
  if addr.ipv6_bytes(text) then return "ipv6" end
  return nil
end

local TO_BYTES = {mac = addr.mac_bytes, ipv4 = addr.ipv4_bytes, ipv6 = addr.ipv6_bytes}
local TO_TEXT = {mac = addr.mac_text, ipv4 = addr.ipv4_text, ipv6 = addr.ipv6_text}
local A_FAMILY = {mac = "a MAC", ipv4 = "an IPv4", ipv6 = "an IPv6"}

-- An address's one text form ("2001:0002:0::09" -> "2001:2::9", "02-00-5E-00-00-01" ->
-- "02:00:5e:00:00:01"), or nil when it is not an address.
function addr.normal(text)
  local family = addr.family(text)
  return family and TO_TEXT[family](TO_BYTES[family](text))
end

-- -1, 0 or 1 as `a` sorts before, equal to or after `b`, numerically (198.18.0.9 before
-- 198.18.0.10); nil and why when either is not an address or they are of two families.
function addr.compare(a, b)
  local family = addr.family(a)
  if not family then return nil, "'" .. tostring(a) .. "' is not an address" end
  if addr.family(b) ~= family then return nil, "'" .. tostring(b) .. "' is not " .. A_FAMILY[family] .. " address" end
  local left, right = TO_BYTES[family](a), TO_BYTES[family](b)
  for i = 1, #left do
    local x, y = left:byte(i), right:byte(i)
    if x ~= y then return x < y and -1 or 1 end
  end
  return 0
end

-- True when the two texts are the same address (in whatever form each is written).
function addr.equal(a, b)
  return addr.compare(a, b) == 0
end

-- "9.0.18.198.in-addr.arpa" for 4 bytes, the nibbles under ip6.arpa for 16.
function addr.reverse_name(bytes)
  local parts = {}
  if #bytes == 4 then
    for i = 4, 1, -1 do parts[#parts + 1] = tostring(bytes:byte(i)) end
    parts[#parts + 1] = "in-addr.arpa"
  else
    for i = 16, 1, -1 do
      local byte = bytes:byte(i)
      parts[#parts + 1] = string.format("%x.%x", byte % 16, byte // 16)
    end
    parts[#parts + 1] = "ip6.arpa"
  end
  return table.concat(parts, ".")
end

-- Prefixes -----------------------------------------------------------------------------
--
-- addr.prefix("198.18.1.254/24") -> a prefix, or nil and why. A prefix keeps the address
-- it was written with (`address`, "198.18.1.254") and its `length` (24), `family`; its
-- methods: contains(address), network(), broadcast(), mask(), host(n), hosts(), and
-- tostring() gives "198.18.1.0/24". An address with no length is a /32 (/128).
--
-- Both families share one arithmetic on (high, low) integer pairs: an IPv6 address's two
-- 64-bit halves, an IPv4 address as `low` with `high` 0.

local Prefix = {}
Prefix.__index = Prefix

-- The mask of `length` bits counted from the top of a `width`-bit field, as (high, low).
local function mask_halves(length, width)
  if width == 32 then return 0, addr.ipv4_mask(length) end
  local high = length >= 64 and -1 or (length == 0 and 0 or (-1 << (64 - length)))
  local low = length <= 64 and 0 or (length >= 128 and -1 or (-1 << (128 - length)))
  return high, low
end

function addr.prefix(text)
  if type(text) ~= "string" then return nil, "a prefix is text, like 198.18.0.0/24, not " .. type(text) end
  local address, length_text = text:match("^([^/]+)/(%d+)$")
  if not address then address = text end
  local family = addr.family(address)
  if family ~= "ipv4" and family ~= "ipv6" then
    return nil, "'" .. text .. "' is not ADDRESS/LENGTH (like 198.18.1.254/24 or 2001:2::/64)"
  end
  local width = family == "ipv4" and 32 or 128
  local length = length_text and tonumber(length_text) or width
  if length > width then
    return nil, "'" .. text .. "': " .. A_FAMILY[family] .. " prefix length is 0.." .. width
  end
  local self = setmetatable({family = family, length = length, width = width}, Prefix)
  self.address = addr.normal(address)
  if family == "ipv4" then
    self.high, self.low = 0, addr.ipv4_int(address)
  else
    self.high, self.low = addr.ipv6_int(address)
  end
  self.mask_high, self.mask_low = mask_halves(length, width)
  self.network_high, self.network_low = self.high & self.mask_high, self.low & self.mask_low
  return self
end

local function text_of(self, high, low)
  if self.family == "ipv4" then return addr.ipv4_int_text(low) end
  return addr.ipv6_int_text(high, low)
end

function Prefix:__tostring()
  return self:network() .. "/" .. self.length
end

function Prefix:network()
  return text_of(self, self.network_high, self.network_low)
end

-- The last address of the prefix (the broadcast address of an IPv4 subnet).
function Prefix:broadcast()
  local high = self.network_high | ~self.mask_high
  local low = self.network_low | (~self.mask_low & (self.family == "ipv4" and 0xffffffff or -1))
  if self.family == "ipv4" then high = 0 end
  return text_of(self, high, low)
end

-- The netmask as text ("255.255.255.0", "ffff:ffff:ffff:ffff::").
function Prefix:mask()
  return text_of(self, self.mask_high, self.mask_low)
end

-- True when the address (text, or an IPv4 integer) is inside the prefix.
function Prefix:contains(address)
  local high, low
  if math.type(address) == "integer" and self.family == "ipv4" then
    high, low = 0, address
  elseif self.family == "ipv4" then
    high, low = 0, addr.ipv4_int(address)
  else
    high, low = addr.ipv6_int(address)
  end
  if not low then return false end
  return high & self.mask_high == self.network_high and low & self.mask_low == self.network_low
end

-- The usable hosts, as Python's ipaddress counts them: an IPv4 subnet's without its network
-- and broadcast addresses, an IPv6 prefix's without the subnet-router anycast address
-- (RFC 4291 2.6.1); every address of a /31 or /32 (RFC 3021) and a /127 or /128 (RFC 6164).
local function host_range(self)
  local bits = self.width - self.length
  if bits <= 1 then return 0, 1 << bits end
  if bits >= 63 then return 1, math.maxinteger end
  return 1, (1 << bits) - (self.family == "ipv4" and 2 or 1)
end

-- The nth usable host (1 is the first), or nil past the last one.
function Prefix:host(n)
  if math.type(n) ~= "integer" or n < 1 then return nil end
  local first, count = host_range(self)
  if n > count then return nil end
  local offset = first + n - 1
  local low = self.network_low + offset
  local high = self.network_high
  if self.family == "ipv6" and math.ult(low, self.network_low) then high = high + 1 end
  return text_of(self, high, low)
end

-- for address in prefix:hosts() do ... end: the usable hosts in order, as text.
function Prefix:hosts()
  local n = 0
  return function()
    n = n + 1
    return self:host(n)
  end
end

return addr
