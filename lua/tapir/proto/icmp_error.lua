-- ICMP (RFC 792) and ICMPv6 (RFC 4443) errors as whole IP datagrams, quoting the
-- datagram they are about. Pure: no tapir calls (require "tapir.proto.icmp_error").
--
--   icmp_error.encode{datagram =, src =, type =, code =, ...} -> bytes | nil, why
--     datagram: the offending IPv4 or IPv6 datagram from its IP header on (its version
--       decides the error's); src: the error's source address (text); dst: default the
--       datagram's source; mtu: next-hop MTU of "fragmentation needed" (3/4) or "packet too
--       big" (ICMPv6 2); pointer: of "parameter problem" (12, ICMPv6 4); gateway: of a
--       redirect (5); ttl (IPv4, default 64) or hop_limit (IPv6, default 64); tos (IPv4,
--       default 0xc0, RFC 1812 4.3.2.5); limit: the error's whole size at most (default 576
--       for IPv4, RFC 1812 4.3.2.3; 1280 for IPv6, RFC 4443 2.4 (c)).
--     The datagram is quoted as given (leave link padding out), cut to fit; `version` says
--     the family when the datagram cannot (a quote already cut, as decode may give one),
--     and then `dst` is needed.
--   icmp_error.decode(bytes) -> error | nil, why: the same fields from an IPv4 or IPv6
--     datagram carrying an ICMP(v6) error, with version, checksum, checksum_ok, datagram
--     (the quoted bytes) and quoted = {version, src, dst, protocol, sport, dport} (what of
--     it the quote holds); limit when the error is longer than 576 / 1280 bytes.
--   icmp_error.reportable(datagram, type, code) -> true | false, why: whether an error may be
--     sent about it at all (RFC 1812 4.3.2.7, RFC 4443 2.4 (e)): never about an ICMP error,
--     a datagram to or from a multicast (IPv6: except packet too big and parameter problem
--     code 2) or limited broadcast address, from an unspecified or loopback address, or an
--     IPv4 fragment other than the first. (A directed broadcast only the router knows.)
local address = require "tapir.addr"
local checksum = require "tapir.checksum"

local icmp_error = {}
local pack, unpack = string.pack, string.unpack

icmp_error.IPV4_TYPES = {[3] = "destination unreachable", [4] = "source quench", [5] = "redirect",
                         [11] = "time exceeded", [12] = "parameter problem"}
-- What decode says of the bytes that encode does not write (it computes the checksum).
icmp_error.DECODE_ONLY = {checksum = true, checksum_ok = true}
icmp_error.IPV6_TYPES = {[1] = "destination unreachable", [2] = "packet too big", [3] = "time exceeded",
                         [4] = "parameter problem"}
local DEFAULT_LIMIT = {[4] = 576, [6] = 1280}
local HEADER = {[4] = 20, [6] = 40}

-- The datagram's version and its length by its own header (at most #bytes), or nil and why.
local function datagram_length(bytes)
  local version = bytes:byte(1) and bytes:byte(1) >> 4
  if version == 4 then
    if #bytes < 20 then return nil, "an IPv4 datagram of " .. #bytes .. " bytes, under a header (20)" end
    return 4, math.min(unpack(">I2", bytes, 3), #bytes)
  elseif version == 6 then
    if #bytes < 40 then return nil, "an IPv6 datagram of " .. #bytes .. " bytes, under a header (40)" end
    return 6, math.min(40 + unpack(">I2", bytes, 5), #bytes)
  end
  return nil, "not an IPv4 or IPv6 datagram (version " .. tostring(version) .. ")"
end

-- The upper-layer protocol of an IPv6 datagram and where its header starts, past the
-- extension headers the quote holds (hop-by-hop, routing, fragment, destination options).
local function ipv6_upper_layer(bytes)
  local next_header, at = bytes:byte(7), 41
  while next_header == 0 or next_header == 43 or next_header == 44 or next_header == 60 do
    if at + 1 > #bytes then return next_header, nil end
    local following = bytes:byte(at)
    if next_header == 44 then
      at = at + 8
    else
      at = at + (bytes:byte(at + 1) + 1) * 8
    end
    next_header = following
  end
  return next_header, at
end

local function is_multicast_or_unspecified_v6(raw)
  return raw:byte(1) == 0xff or raw == string.rep("\0", 16) or raw == string.rep("\0", 15) .. "\1"
end

function icmp_error.reportable(bytes, kind, code)
  if type(bytes) ~= "string" then return false, "no datagram" end
  local version, why = datagram_length(bytes)
  if not version then return false, why end
  if version == 4 then
    local first = bytes:byte(13)
    local destination = bytes:byte(17)
    if unpack(">I2", bytes, 7) & 0x1fff ~= 0 then return false, "a fragment other than the first" end
    if first == 0 or first == 127 or first >= 224 then return false, "from an address no host has" end
    if destination >= 224 then return false, "to a multicast or broadcast address" end
    if bytes:byte(10) == 1 then
      local header_length = (bytes:byte(1) & 15) * 4
      local icmp_type = bytes:byte(header_length + 1)
      if icmp_type and icmp_error.IPV4_TYPES[icmp_type] then return false, "about an ICMP error" end
    end
    return true
  end
  if is_multicast_or_unspecified_v6(bytes:sub(9, 24)) then return false, "from an address no host has" end
  if bytes:byte(25) == 0xff and kind ~= 2 and not (kind == 4 and code == 2) then
    return false, "to a multicast address"
  end
  local next_header, at = ipv6_upper_layer(bytes)
  if next_header == 58 and at then
    local icmp_type = bytes:byte(at)
    if icmp_type and icmp_type < 128 then return false, "about an ICMPv6 error" end
  end
  return true
end

-- Raises a plain message; icmp_error.encode turns it into nil, why.
local function encode(fields)
  local datagram = fields.datagram
  if type(datagram) ~= "string" then error("datagram: the offending datagram's bytes are needed", 0) end
  -- The error's family: `version`, else the datagram's own.
  local own = datagram:byte(1) and datagram:byte(1) >> 4
  local version = fields.version or own
  if version ~= 4 and version ~= 6 then
    error("datagram: not an IPv4 or IPv6 datagram (version " .. tostring(own) .. "); say which with version", 0)
  end
  local whole_header = own == version and #datagram >= HEADER[version]
  local kind, code = fields.type, fields.code or 0
  if math.type(kind) ~= "integer" or kind < 0 or kind > 255 then error("type: " .. tostring(kind) .. " is not 0 to 255", 0) end
  if math.type(code) ~= "integer" or code < 0 or code > 255 then error("code: " .. tostring(code) .. " is not 0 to 255", 0) end
  local to_bytes = version == 4 and address.ipv4_bytes or address.ipv6_bytes
  local family = version == 4 and "IPv4" or "IPv6"
  local source = to_bytes(fields.src)
  if not source then error("src: '" .. tostring(fields.src) .. "' is not an " .. family .. " address (as the datagram is)", 0) end
  local destination
  if fields.dst then
    destination = to_bytes(fields.dst)
    if not destination then error("dst: '" .. tostring(fields.dst) .. "' is not an " .. family .. " address", 0) end
  elseif whole_header then
    destination = version == 4 and datagram:sub(13, 16) or datagram:sub(9, 24)
  else
    error("dst: needed when the datagram has no whole " .. family .. " header to take its source from", 0)
  end
  local limit = fields.limit or DEFAULT_LIMIT[version]
  if math.type(limit) ~= "integer" or limit < HEADER[version] + 8 then
    error("limit: " .. tostring(limit) .. " leaves no room for the headers", 0)
  end
  -- The 4 bytes after type, code and checksum.
  local rest = 0
  if version == 4 then
    if kind == 3 and code == 4 then rest = (fields.mtu or 0) & 0xffff
    elseif kind == 12 then rest = ((fields.pointer or 0) & 0xff) << 24
    elseif kind == 5 then
      local gateway = address.ipv4_bytes(fields.gateway)
      if not gateway then error("gateway: '" .. tostring(fields.gateway) .. "' is not an IPv4 address", 0) end
      rest = unpack(">I4", gateway)
    end
  else
    if kind == 2 then rest = fields.mtu or 0
    elseif kind == 4 then rest = fields.pointer or 0 end
  end
  if math.type(rest) ~= "integer" or rest < 0 or rest > 0xffffffff then error("mtu or pointer: out of range", 0) end
  local quote = datagram:sub(1, limit - HEADER[version] - 8)
  local message = pack(">BBI2I4", kind, code, 0, rest) .. quote
  if version == 4 then
    message = message:sub(1, 2) .. pack(">I2", checksum.of(message)) .. message:sub(5)
    local header = pack(">BBI2I2I2BBI2", 0x45, fields.tos or 0xc0, 20 + #message, fields.id or 0, 0,
                        fields.ttl or 64, 1, 0) .. source .. destination
    header = header:sub(1, 10) .. pack(">I2", checksum.of(header)) .. header:sub(13)
    return header .. message
  end
  message = message:sub(1, 2) .. pack(">I2", checksum.ipv6(source, destination, 58, message)) .. message:sub(5)
  return pack(">I4I2BB", 6 << 28, #message, 58, fields.hop_limit or 64) .. source .. destination .. message
end

function icmp_error.encode(fields)
  if type(fields) ~= "table" then return nil, "a table of fields expected, got " .. type(fields) end
  local ok, result = pcall(encode, fields)
  if not ok then return nil, result end
  return result
end

-- What the quote holds of the datagram it is about.
local function quoted_summary(bytes)
  local version = bytes:byte(1) and bytes:byte(1) >> 4
  local summary = {version = version}
  local at
  if version == 4 and #bytes >= 20 then
    summary.src, summary.dst = address.ipv4_text(bytes, 13), address.ipv4_text(bytes, 17)
    summary.protocol = bytes:byte(10)
    at = (bytes:byte(1) & 15) * 4 + 1
  elseif version == 6 and #bytes >= 40 then
    summary.src, summary.dst = address.ipv6_text(bytes, 9), address.ipv6_text(bytes, 25)
    summary.protocol, at = ipv6_upper_layer(bytes)
  else
    return summary
  end
  if at and (summary.protocol == 6 or summary.protocol == 17) and at + 3 <= #bytes then
    summary.sport, summary.dport = unpack(">I2I2", bytes, at)
  end
  return summary
end

function icmp_error.decode(bytes)
  if type(bytes) ~= "string" then return nil, "bytes expected, got " .. type(bytes) end
  local version, length = datagram_length(bytes)
  if not version then return nil, length end
  local fields = {version = version}
  local at
  if version == 4 then
    local header_length = (bytes:byte(1) & 15) * 4
    if header_length < 20 or header_length > length then return nil, "an IPv4 header length of " .. header_length end
    if bytes:byte(10) ~= 1 then return nil, "protocol " .. bytes:byte(10) .. ", not ICMP" end
    fields.src, fields.dst = address.ipv4_text(bytes, 13), address.ipv4_text(bytes, 17)
    fields.ttl, fields.tos = bytes:byte(9), bytes:byte(2)
    at = header_length + 1
  else
    local next_header
    next_header, at = ipv6_upper_layer(bytes:sub(1, length))
    if next_header ~= 58 or not at then return nil, "next header " .. tostring(next_header) .. ", not ICMPv6" end
    fields.src, fields.dst = address.ipv6_text(bytes, 9), address.ipv6_text(bytes, 25)
    fields.hop_limit = bytes:byte(8)
  end
  if at + 7 > length then return nil, "an ICMP message cut short (under 8 bytes)" end
  local message = bytes:sub(at, length)
  local kind, code, sum, rest = unpack(">BBI2I4", message)
  local types = version == 4 and icmp_error.IPV4_TYPES or icmp_error.IPV6_TYPES
  if not types[kind] then return nil, "ICMP" .. (version == 6 and "v6" or "") .. " type " .. kind .. " is not an error" end
  fields.type, fields.code, fields.checksum = kind, code, sum
  local zeroed = message:sub(1, 2) .. "\0\0" .. message:sub(5)
  if version == 4 then
    fields.checksum_ok = checksum.of(zeroed) == sum
    if kind == 3 and code == 4 then fields.mtu = rest & 0xffff
    elseif kind == 12 then fields.pointer = rest >> 24
    elseif kind == 5 then fields.gateway = address.ipv4_text(message, 5) end
  else
    fields.checksum_ok = checksum.ipv6(bytes:sub(9, 24), bytes:sub(25, 40), 58, zeroed) == sum
    if kind == 2 then fields.mtu = rest
    elseif kind == 4 then fields.pointer = rest end
  end
  fields.datagram = message:sub(9)
  -- an error longer than the RFC's size says so, so that encode writes it whole again
  local size = (at - 1) + #message
  if size > DEFAULT_LIMIT[version] then fields.limit = size end
  fields.quoted = quoted_summary(fields.datagram)
  return fields
end

return icmp_error
