-- DHCPv4 messages (RFC 2131 2, options RFC 2132): decode(bytes) -> message | nil, why,
-- and encode(message) -> bytes | nil, why; typed option values both ways.
-- Pure: no tapir calls (require "tapir.proto.dhcp").
--
-- A message:
--   {op = 1 | 2, htype = 1, hlen = 6, hops = 0, xid =, secs =, flags =, broadcast = bool,
--    ciaddr =, yiaddr =, siaddr =, giaddr = "a.b.c.d",
--    chaddr = 16 bytes (or mac = "02:00:..." when encoding), mac = text (htype 1, hlen 6),
--    sname =, file = bytes (NUL-padded on the wire),
--    options = {[code] = value bytes}, order = {code, ...} (as they came / to write),
--    type = option 53 (DISCOVER 1 ... INFORM 8)}
-- decode: the options up to the end option (or the bytes' end); a repeated option is one
-- value, concatenated (RFC 3396); option overload (52) is not followed.
-- encode: options written in `order` (else ascending), then any not listed, then the end
-- option; `type` becomes option 53, first; padded to 300 bytes (RFC 1542 2.1).
local address = require "tapir.addr"

local dhcp = {}

dhcp.DISCOVER, dhcp.OFFER, dhcp.REQUEST, dhcp.DECLINE = 1, 2, 3, 4
dhcp.ACK, dhcp.NAK, dhcp.RELEASE, dhcp.INFORM = 5, 6, 7, 8
dhcp.TYPE_NAMES = {"DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM"}

-- Option codes (RFC 2132 unless said).
dhcp.OPTION = {
  PAD = 0, SUBNET_MASK = 1, TIME_OFFSET = 2, ROUTER = 3, DNS = 6, HOST_NAME = 12, DOMAIN = 15,
  MTU = 26, BROADCAST = 28, STATIC_ROUTES = 33, NTP = 42, NETBIOS_NS = 44, NETBIOS_SCOPE = 47,
  REQUESTED_ADDRESS = 50, LEASE_TIME = 51, OVERLOAD = 52, MESSAGE_TYPE = 53, SERVER_ID = 54,
  PARAMETERS = 55, MESSAGE = 56, MAX_SIZE = 57, RENEWAL_TIME = 58, REBINDING_TIME = 59, CLIENT_ID = 61,
  SEARCH = 119,          -- RFC 3397
  CLASSLESS_ROUTES = 121, -- RFC 3442
  END = 255,
}
local O = dhcp.OPTION

local COOKIE = "\99\130\83\99"
local OPTIONS_START = 241     -- 1-based: 236 bytes of fixed fields, then the 4-byte cookie
local BROADCAST_FLAG = 0x8000
dhcp.MINIMUM_LENGTH = 300

local function ip_text(bytes, at) return address.ipv4_text(bytes, at) end

local function mac_text(bytes, at)
  return string.format("%02x:%02x:%02x:%02x:%02x:%02x", bytes:byte(at, at + 5))
end

function dhcp.decode(data)
  if type(data) ~= "string" then return nil, "bytes expected, got " .. type(data) end
  if #data < OPTIONS_START - 1 then
    return nil, string.format("%d bytes, shorter than a header and magic cookie (240)", #data)
  end
  if data:sub(237, 240) ~= COOKIE then return nil, "bad magic cookie" end
  local op, htype, hlen, hops, xid, secs, flags = string.unpack(">BBBBI4I2I2", data)
  if hlen > 16 then return nil, string.format("hardware address length %d is over 16", hlen) end
  local options, order = {}, {}
  local at, last = OPTIONS_START, #data
  while at <= last do
    local code = data:byte(at)
    if code == O.END then break end
    if code == O.PAD then
      at = at + 1
    else
      if at + 1 > last then return nil, "option " .. code .. " has no length byte" end
      local length = data:byte(at + 1)
      local value_end = at + 1 + length
      if value_end > last then
        return nil, string.format("option %d (length %d) runs past the end", code, length)
      end
      local value = data:sub(at + 2, value_end)
      local previous = options[code]
      if not previous then order[#order + 1] = code end
      options[code] = previous and previous .. value or value
      at = value_end + 1
    end
  end
  local type_byte = options[O.MESSAGE_TYPE]
  return {
    op = op, htype = htype, hlen = hlen, hops = hops, xid = xid, secs = secs, flags = flags,
    broadcast = flags & BROADCAST_FLAG ~= 0,
    ciaddr = ip_text(data, 13), yiaddr = ip_text(data, 17), siaddr = ip_text(data, 21), giaddr = ip_text(data, 25),
    chaddr = data:sub(29, 44),
    mac = (htype == 1 and hlen == 6) and mac_text(data, 29) or nil,
    sname = data:sub(45, 108), file = data:sub(109, 236),
    options = options, order = order,
    type = type_byte and #type_byte == 1 and type_byte:byte() or nil,
  }
end

local function ip_bytes(text, field)
  local bytes = address.ipv4_bytes(text or "0.0.0.0")
  if not bytes then error("'" .. field .. "' = " .. tostring(text) .. " is not an IPv4 address", 0) end
  return bytes
end

local function fixed(bytes, size, field)
  bytes = bytes or ""
  if type(bytes) ~= "string" or #bytes > size then error("'" .. field .. "' must be at most " .. size .. " bytes", 0) end
  return bytes .. string.rep("\0", size - #bytes)
end

local function encode(msg)
  local chaddr = msg.chaddr
  if not chaddr and msg.mac then
    local hex = msg.mac:gsub("[:%-]", "")
    if not hex:match("^%x+$") or #hex ~= 12 then error("'mac' = " .. msg.mac .. " is not a MAC address", 0) end
    chaddr = hex:gsub("%x%x", function(pair) return string.char(tonumber(pair, 16)) end)
  end
  local flags = msg.flags or 0
  if msg.broadcast then flags = flags | BROADCAST_FLAG end
  local parts = {
    string.pack(">BBBBI4I2I2", msg.op or 2, msg.htype or 1, msg.hlen or 6, msg.hops or 0, msg.xid or 0,
                msg.secs or 0, flags),
    ip_bytes(msg.ciaddr, "ciaddr"), ip_bytes(msg.yiaddr, "yiaddr"), ip_bytes(msg.siaddr, "siaddr"),
    ip_bytes(msg.giaddr, "giaddr"),
    fixed(chaddr, 16, "chaddr"), fixed(msg.sname, 64, "sname"), fixed(msg.file, 128, "file"),
    COOKIE,
  }
  local options = msg.options or {}
  local function put(code, value)
    if type(value) ~= "string" then error("option " .. code .. ": bytes expected, got " .. type(value), 0) end
    -- A value over 255 bytes goes as several options of the same code (RFC 3396).
    local at = 1
    repeat
      local piece = value:sub(at, at + 254)
      parts[#parts + 1] = string.char(code, #piece) .. piece
      at = at + 255
    until at > #value
  end
  local written = {[O.PAD] = true, [O.END] = true}
  local order = msg.order or {}
  -- The message type: `type`, unless options[53] says the same (then its bytes as they
  -- are); where `order` puts option 53, else first.
  local message_type = options[O.MESSAGE_TYPE]
  if msg.type ~= nil then
    if math.type(msg.type) ~= "integer" or msg.type < 0 or msg.type > 255 then
      error("'type' must be an integer 0 to 255", 0)
    end
    if not (type(message_type) == "string" and message_type:byte(1) == msg.type) then
      message_type = string.char(msg.type)
    end
  end
  local type_placed = false
  for _, code in ipairs(order) do
    if code == O.MESSAGE_TYPE then type_placed = true end
  end
  if message_type and not type_placed then
    put(O.MESSAGE_TYPE, message_type)
    written[O.MESSAGE_TYPE] = true
  end
  for _, code in ipairs(order) do
    local value = code == O.MESSAGE_TYPE and message_type or options[code]
    if value and not written[code] then
      put(code, value)
      written[code] = true
    end
  end
  local rest = {}
  for code in pairs(options) do
    if math.type(code) ~= "integer" or code < 0 or code > 255 then error("option code " .. tostring(code) .. " is not 1 to 254", 0) end
    if not written[code] then rest[#rest + 1] = code end
  end
  table.sort(rest)
  for _, code in ipairs(rest) do put(code, options[code]) end
  parts[#parts + 1] = string.char(O.END)
  local bytes = table.concat(parts)
  if #bytes < dhcp.MINIMUM_LENGTH then bytes = bytes .. string.rep("\0", dhcp.MINIMUM_LENGTH - #bytes) end
  return bytes
end

function dhcp.encode(msg)
  if type(msg) ~= "table" then return nil, "a message table expected, got " .. type(msg) end
  local ok, result = pcall(encode, msg)
  if not ok then return nil, result end
  return result
end

-- Typed option values --------------------------------------------------------------------

-- Addresses: a list of texts <-> 4 bytes each.
function dhcp.addresses(list)
  local parts = {}
  for i, text in ipairs(list) do
    parts[i] = address.ipv4_bytes(text)
    if not parts[i] then return nil, "'" .. tostring(text) .. "' is not an IPv4 address" end
  end
  return table.concat(parts)
end

function dhcp.read_addresses(bytes)
  if #bytes % 4 ~= 0 then return nil, "a list of addresses of " .. #bytes .. " bytes" end
  local list = {}
  for at = 1, #bytes, 4 do list[#list + 1] = ip_text(bytes, at) end
  return list
end

function dhcp.u32(number) return string.pack(">I4", number) end
function dhcp.i32(number) return string.pack(">i4", number) end
function dhcp.u16(number) return string.pack(">I2", number) end

-- The domain search list (RFC 3397): names in DNS wire form, one after another
-- (uncompressed, which the RFC allows).
function dhcp.search_list(names)
  local parts = {}
  for _, name in ipairs(names) do
    name = name:gsub("%.$", "")
    for label in name:gmatch("[^.]+") do
      if #label > 63 then return nil, "a label of '" .. name .. "' is over 63 bytes" end
      parts[#parts + 1] = string.char(#label) .. label
    end
    if name:find("%.%.") or name:sub(1, 1) == "." or name == "" then return nil, "'" .. name .. "' is not a domain name" end
    parts[#parts + 1] = "\0"
  end
  return table.concat(parts)
end

-- The names of a search list, pointers followed (RFC 3397 allows them), or nil and why.
function dhcp.read_search_list(bytes)
  local names, pos = {}, 1
  while pos <= #bytes do
    local labels, at, jumps, after = {}, pos, 0, nil
    while true do
      local size = bytes:byte(at)
      if not size then return nil, "a name runs past the end" end
      if size == 0 then after = after or at + 1 break end
      if size >= 0xC0 then
        local low = bytes:byte(at + 1)
        if not low then return nil, "a name runs past the end" end
        local target = ((size & 0x3F) << 8 | low) + 1
        if target >= at then return nil, "a pointer that does not point back" end
        after = after or at + 2
        at = target
        jumps = jumps + 1
      else
        labels[#labels + 1] = bytes:sub(at + 1, at + size)
        at = at + 1 + size
      end
    end
    names[#names + 1] = table.concat(labels, ".")
    pos = after
  end
  return names
end

-- Classless static routes (RFC 3442): {{prefix = "198.19.0.0", length = 16, router =
-- "198.18.0.1"}, ...} <-> width byte, significant octets of the prefix, router.
function dhcp.classless_routes(routes)
  local parts = {}
  for _, route in ipairs(routes) do
    local prefix, router = address.ipv4_bytes(route.prefix), address.ipv4_bytes(route.router)
    local length = route.length
    if not prefix or not router or math.type(length) ~= "integer" or length < 0 or length > 32 then
      return nil, "a route needs prefix, length (0-32) and router"
    end
    parts[#parts + 1] = string.char(length) .. prefix:sub(1, (length + 7) // 8) .. router
  end
  return table.concat(parts)
end

function dhcp.read_classless_routes(bytes)
  local routes, at = {}, 1
  while at <= #bytes do
    local length = bytes:byte(at)
    if length > 32 then return nil, "a prefix length of " .. length end
    local octets = (length + 7) // 8
    if at + octets + 4 > #bytes then return nil, "a route runs past the end" end
    local prefix = bytes:sub(at + 1, at + octets) .. string.rep("\0", 4 - octets)
    routes[#routes + 1] = {prefix = ip_text(prefix, 1), length = length, router = ip_text(bytes, at + 1 + octets)}
    at = at + 1 + octets + 4
  end
  return routes
end

return dhcp
