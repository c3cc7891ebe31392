-- Neighbor Discovery messages (RFC 4861): router solicitation (133) and advertisement
-- (134), neighbor solicitation (135) and advertisement (136), redirect (137), the ICMPv6
-- message from its type byte on. decode(bytes) -> message | nil, why; encode(message) ->
-- bytes | nil, why. Pure: no tapir calls (require "tapir.proto.ndp").
--
-- A message: {type =, code = 0, checksum = (decode only),
--   RA: hop_limit, managed, other (M and O flags), preference ("high" | "medium" | "low" |
--       "reserved", RFC 4191), router_lifetime (s), reachable_time, retrans_timer (ms)
--   NS: target;  NA: target, router, solicited, override;  redirect: target, destination
--   options = {option, ...} in wire order, each {type =, ...}:
--     1 source / 2 target link-layer address: lladdr = "02:00:..."
--     3 prefix information: prefix = "2001:2:0:1::", length, on_link, autonomous, valid, preferred
--     5 MTU: mtu;  25 RDNSS (RFC 8106): lifetime, servers = {...};  31 DNSSL: lifetime, domains = {...}
--     anything else: data = its bytes after type and length}
-- decode also sets shortcuts from the options: source_lladdr, target_lladdr, mtu,
-- prefixes = {prefix option, ...}, servers and domains (all RDNSS/DNSSL entries).
-- encode writes `options` when given, else the shortcuts' options in that order (an RDNSS
-- from servers with `dns_lifetime`, a DNSSL from domains likewise). With `src` and `dst`
-- (text) it fills the checksum; without, it leaves 0 for tapir.build.ipv6 to fill.
-- ndp.link_local(mac), ndp.solicited_node(address) and ndp.multicast_mac(group) give the
-- addresses Neighbor Discovery derives from others.
local address = require "tapir.addr"
local checksum = require "tapir.checksum"
local domain_list = require "tapir.domain_list"

local ndp = {}
local pack, unpack = string.pack, string.unpack

ndp.ROUTER_SOLICITATION, ndp.ROUTER_ADVERTISEMENT = 133, 134
ndp.NEIGHBOR_SOLICITATION, ndp.NEIGHBOR_ADVERTISEMENT, ndp.REDIRECT = 135, 136, 137
ndp.OPTION = {SOURCE_LLADDR = 1, TARGET_LLADDR = 2, PREFIX = 3, REDIRECTED = 4, MTU = 5, RDNSS = 25, DNSSL = 31}
local O = ndp.OPTION
-- What decode says of the bytes that encode does not write: the checksum (encode fills it
-- only given src and dst).
ndp.DECODE_ONLY = {checksum = true}
-- Where the options start (1-based): after type, code, checksum and the fixed body.
local OPTIONS_AT = {[133] = 9, [134] = 17, [135] = 25, [136] = 25, [137] = 41}
local PREFERENCES = {[0] = "medium", [1] = "high", [2] = "reserved", [3] = "low"}
local PREFERENCE_BITS = {medium = 0, high = 1, reserved = 2, low = 3}

local mac_text, mac_bytes = address.mac_text, address.mac_bytes

-- Addresses Neighbor Discovery derives ------------------------------------------------

-- fe80:: with the modified EUI-64 interface identifier of a MAC (RFC 4291 2.5.1 and
-- appendix A: the universal/local bit flipped, ff:fe in the middle), or nil.
function ndp.link_local(mac)
  local bytes = mac_bytes(mac)
  if not bytes then return nil end
  local a, b, c, d, e, f = bytes:byte(1, 6)
  return address.ipv6_text(string.pack(">I8BBBBBBBB", 0xfe80000000000000, a ~ 2, b, c, 0xff, 0xfe, d, e, f))
end

-- The solicited-node group of an address, ff02::1:ffXX:XXXX (RFC 4291 2.7.1), or nil.
function ndp.solicited_node(text)
  local bytes = address.ipv6_bytes(text)
  if not bytes then return nil end
  return address.ipv6_text(address.ipv6_bytes("ff02::1:ff00:0"):sub(1, 13) .. bytes:sub(14, 16))
end

-- The Ethernet group of an IPv6 group address, 33:33 and its last 32 bits (RFC 2464 7), or nil.
function ndp.multicast_mac(text)
  local bytes = address.ipv6_bytes(text)
  if not bytes then return nil end
  return mac_text("\51\51" .. bytes:sub(13, 16))
end

-- One option's fields from its body (the bytes after type and length), or nil and why.
local function decode_option(kind, body)
  local option = {type = kind}
  if kind == O.SOURCE_LLADDR or kind == O.TARGET_LLADDR then
    if #body < 6 then return nil, "a link-layer address option of " .. #body .. " bytes" end
    option.lladdr = mac_text(body, 1)
    if #body > 6 then option.data = body end   -- another link type's address: the bytes
  elseif kind == O.PREFIX then
    if #body ~= 30 then return nil, "a prefix information option of " .. (#body + 2) .. " bytes, not 32" end
    local length, flags, valid, preferred = unpack(">BBI4I4", body)
    option.length, option.valid, option.preferred = length, valid, preferred
    option.on_link, option.autonomous = flags & 0x80 ~= 0, flags & 0x40 ~= 0
    option.router_address = flags & 0x20 ~= 0 or nil   -- RFC 6275 7.2
    if length > 128 then return nil, "a prefix length of " .. length end
    option.prefix = address.ipv6_text(body, 15)
  elseif kind == O.MTU then
    if #body ~= 6 then return nil, "an MTU option of " .. (#body + 2) .. " bytes, not 8" end
    option.mtu = unpack(">I4", body, 3)
  elseif kind == O.RDNSS then
    if #body < 22 or (#body - 6) % 16 ~= 0 then
      return nil, "an RDNSS option of " .. (#body + 2) .. " bytes (8 and 16 per server)"
    end
    option.lifetime = unpack(">I4", body, 3)
    option.servers = {}
    for at = 7, #body, 16 do option.servers[#option.servers + 1] = address.ipv6_text(body, at) end
  elseif kind == O.DNSSL then
    if #body < 14 then return nil, "a DNSSL option of " .. (#body + 2) .. " bytes, under 16" end
    option.lifetime = unpack(">I4", body, 3)
    local domains, why = domain_list.decode(body:sub(7))
    if not domains then return nil, "DNSSL: " .. why end
    option.domains = domains
  else
    option.data = body
  end
  return option
end

local function decode(bytes)
  local kind, code, sum = unpack(">BBI2", bytes)
  local options_at = OPTIONS_AT[kind]
  if not options_at then return nil, "type " .. kind .. " is not a Neighbor Discovery message (133 to 137)" end
  if #bytes < options_at - 1 then
    return nil, string.format("%d bytes, shorter than a type %d message (%d)", #bytes, kind, options_at - 1)
  end
  local message = {type = kind, code = code, checksum = sum}
  if kind == 134 then
    local hop_limit, flags, lifetime, reachable, retrans = unpack(">BBI2I4I4", bytes, 5)
    message.hop_limit, message.router_lifetime = hop_limit, lifetime
    message.reachable_time, message.retrans_timer = reachable, retrans
    message.managed, message.other = flags & 0x80 ~= 0, flags & 0x40 ~= 0
    message.home_agent = flags & 0x20 ~= 0 or nil
    message.preference = PREFERENCES[flags >> 3 & 3]
  elseif kind == 135 or kind == 136 then
    message.target = address.ipv6_text(bytes, 9)
    if kind == 136 then
      local flags = bytes:byte(5)
      message.router, message.solicited, message.override = flags & 0x80 ~= 0, flags & 0x40 ~= 0, flags & 0x20 ~= 0
    end
  elseif kind == 137 then
    message.target, message.destination = address.ipv6_text(bytes, 9), address.ipv6_text(bytes, 25)
  end
  local options, at = {}, options_at
  message.options, message.prefixes = options, {}
  while at <= #bytes do
    if at + 1 > #bytes then return nil, "an option header cut short at byte " .. at end
    local option_type, units = bytes:byte(at), bytes:byte(at + 1)
    if units == 0 then return nil, "an option of length 0 at byte " .. at .. " (RFC 4861 4.6)" end
    if at + units * 8 - 1 > #bytes then return nil, "option " .. option_type .. " runs past the end" end
    local option, why = decode_option(option_type, bytes:sub(at + 2, at + units * 8 - 1))
    if not option then return nil, why end
    options[#options + 1] = option
    at = at + units * 8
  end
  for _, option in ipairs(options) do
    if option.type == O.SOURCE_LLADDR then message.source_lladdr = message.source_lladdr or option.lladdr
    elseif option.type == O.TARGET_LLADDR then message.target_lladdr = message.target_lladdr or option.lladdr
    elseif option.type == O.MTU then message.mtu = message.mtu or option.mtu
    elseif option.type == O.PREFIX then message.prefixes[#message.prefixes + 1] = option
    elseif option.type == O.RDNSS then
      message.servers = message.servers or {}
      for _, server in ipairs(option.servers) do message.servers[#message.servers + 1] = server end
    elseif option.type == O.DNSSL then
      message.domains = message.domains or {}
      for _, domain in ipairs(option.domains) do message.domains[#message.domains + 1] = domain end
    end
  end
  return message
end

function ndp.decode(bytes)
  if type(bytes) ~= "string" then return nil, "bytes expected, got " .. type(bytes) end
  if #bytes < 4 then return nil, #bytes .. " bytes, shorter than an ICMPv6 header (4)" end
  return decode(bytes)
end

-- Encoding ----------------------------------------------------------------------------
-- Helpers raise a plain message; ndp.encode turns it into nil, why.

local function need_ipv6(text, what)
  local bytes = address.ipv6_bytes(text)
  if not bytes then error(what .. ": '" .. tostring(text) .. "' is not an IPv6 address", 0) end
  return bytes
end

local function need_integer(value, what, maximum)
  if math.type(value) ~= "integer" or value < 0 or value > maximum then
    error(what .. ": " .. tostring(value) .. " is not an integer 0 to " .. maximum, 0)
  end
  return value
end

-- Type, length in 8-byte units, the body, zero padding to a multiple of 8.
local function option_bytes(kind, body)
  local padding = (8 - (#body + 2) % 8) % 8
  local units = (#body + 2 + padding) // 8
  if units > 255 then error("option " .. kind .. " is over 2040 bytes", 0) end
  return string.char(kind, units) .. body .. string.rep("\0", padding)
end

local function encode_option(option)
  if type(option) ~= "table" then error("an option is a " .. type(option) .. ", not a table", 0) end
  local kind = need_integer(option.type, "option type", 255)
  if option.data ~= nil then   -- unknown options, and a link-layer address longer than Ethernet's
    if type(option.data) ~= "string" then error("option " .. kind .. ": data is not bytes", 0) end
    return option_bytes(kind, option.data)
  end
  if kind == O.SOURCE_LLADDR or kind == O.TARGET_LLADDR then
    local mac = mac_bytes(option.lladdr)
    if not mac then error("option " .. kind .. ": '" .. tostring(option.lladdr) .. "' is not a MAC address", 0) end
    return option_bytes(kind, mac)
  elseif kind == O.PREFIX then
    local prefix = need_ipv6(option.prefix, "prefix information")
    local flags = (option.on_link ~= false and 0x80 or 0) | (option.autonomous ~= false and 0x40 or 0)
                  | (option.router_address and 0x20 or 0)
    return option_bytes(kind, pack(">BBI4I4I4", need_integer(option.length or 64, "prefix length", 128), flags,
                                   need_integer(option.valid or 2592000, "valid lifetime", 0xffffffff),
                                   need_integer(option.preferred or 604800, "preferred lifetime", 0xffffffff), 0)
                              .. prefix)
  elseif kind == O.MTU then
    return option_bytes(kind, pack(">I2I4", 0, need_integer(option.mtu, "MTU option", 0xffffffff)))
  elseif kind == O.RDNSS then
    if type(option.servers) ~= "table" or #option.servers == 0 then error("RDNSS: servers is not a non-empty list", 0) end
    local parts = {pack(">I2I4", 0, need_integer(option.lifetime or 0xffffffff, "RDNSS lifetime", 0xffffffff))}
    for _, server in ipairs(option.servers) do parts[#parts + 1] = need_ipv6(server, "RDNSS") end
    return option_bytes(kind, table.concat(parts))
  elseif kind == O.DNSSL then
    local names, why = domain_list.encode(option.domains)
    if not names or names == "" then error("DNSSL: " .. (why or "domains is empty"), 0) end
    return option_bytes(kind, pack(">I2I4", 0, need_integer(option.lifetime or 0xffffffff, "DNSSL lifetime", 0xffffffff))
                              .. names)
  end
  error("option " .. kind .. " has no data (its bytes) and is no type this module knows", 0)
end

-- The options a message without `options` gets from its shortcuts.
local function options_from_shortcuts(message)
  local list = {}
  if message.source_lladdr then list[#list + 1] = {type = O.SOURCE_LLADDR, lladdr = message.source_lladdr} end
  if message.target_lladdr then list[#list + 1] = {type = O.TARGET_LLADDR, lladdr = message.target_lladdr} end
  if message.mtu then list[#list + 1] = {type = O.MTU, mtu = message.mtu} end
  for _, prefix in ipairs(message.prefixes or {}) do
    local option = {type = O.PREFIX}
    for key, value in pairs(prefix) do if key ~= "type" then option[key] = value end end
    list[#list + 1] = option
  end
  if message.servers and #message.servers > 0 then
    list[#list + 1] = {type = O.RDNSS, servers = message.servers, lifetime = message.dns_lifetime}
  end
  if message.domains and #message.domains > 0 then
    list[#list + 1] = {type = O.DNSSL, domains = message.domains, lifetime = message.dns_lifetime}
  end
  return list
end

local function encode(message)
  local kind = message.type
  if not OPTIONS_AT[kind] then error("type " .. tostring(kind) .. " is not a Neighbor Discovery message (133 to 137)", 0) end
  local code = need_integer(message.code or 0, "code", 255)
  local body
  if kind == 133 then
    body = pack(">I4", 0)
  elseif kind == 134 then
    local preference = PREFERENCE_BITS[message.preference or "medium"]
    if not preference then error("preference: '" .. tostring(message.preference) .. "' is not high, medium or low", 0) end
    local flags = (message.managed and 0x80 or 0) | (message.other and 0x40 or 0) | (message.home_agent and 0x20 or 0)
                  | preference << 3
    body = pack(">BBI2I4I4", need_integer(message.hop_limit or 64, "hop_limit", 255), flags,
                need_integer(message.router_lifetime or 1800, "router_lifetime", 0xffff),
                need_integer(message.reachable_time or 0, "reachable_time", 0xffffffff),
                need_integer(message.retrans_timer or 0, "retrans_timer", 0xffffffff))
  elseif kind == 135 then
    body = pack(">I4", 0) .. need_ipv6(message.target, "target")
  elseif kind == 136 then
    local flags = (message.router and 0x80 or 0) | (message.solicited and 0x40 or 0) | (message.override and 0x20 or 0)
    body = pack(">BI3", flags, 0) .. need_ipv6(message.target, "target")
  else
    body = pack(">I4", 0) .. need_ipv6(message.target, "target") .. need_ipv6(message.destination, "destination")
  end
  local options = message.options or options_from_shortcuts(message)
  if type(options) ~= "table" then error("options is a " .. type(options) .. ", not a list", 0) end
  local parts = {}
  for i, option in ipairs(options) do parts[i] = encode_option(option) end
  local bytes = pack(">BBI2", kind, code, 0) .. body .. table.concat(parts)
  if message.src ~= nil or message.dst ~= nil then
    local sum = checksum.ipv6(need_ipv6(message.src, "src"), need_ipv6(message.dst, "dst"), 58, bytes)
    bytes = bytes:sub(1, 2) .. pack(">I2", sum) .. bytes:sub(5)
  end
  return bytes
end

function ndp.encode(message)
  if type(message) ~= "table" then return nil, "a message table expected, got " .. type(message) end
  local ok, result = pcall(encode, message)
  if not ok then return nil, result end
  return result
end

return ndp
