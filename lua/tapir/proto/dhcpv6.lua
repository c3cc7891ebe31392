-- DHCPv6 messages (RFC 8415): decode(bytes) -> message | nil, why; encode(message) ->
-- bytes | nil, why. Pure: no tapir calls (require "tapir.proto.dhcpv6").
--
-- A message: {type = SOLICIT 1 ... RELAY_REPL 13, xid = 24-bit transaction id,
--   (relay messages 12 and 13: hop_count, link, peer instead of xid),
--   options = {option, ...} in wire order, each {code =, ...typed fields} or {code =, data = bytes}}
-- Typed options (fields besides code):
--   1 client id, 2 server id: duid (bytes; dhcpv6.duid() reads one)
--   3 IA_NA: iaid, t1, t2, options (IAADDR 5: address, preferred, valid, options; status 13)
--   25 IA_PD: iaid, t1, t2, options (IAPREFIX 26: prefix, length, preferred, valid, options)
--   6 ORO: codes = {...};  7 preference: value;  8 elapsed time: value (1/100 s)
--   9 relay message: message (a decoded message);  13 status: status, message (text)
--   14 rapid commit, 20 reconfigure accept: nothing;  23 DNS servers: servers = {...}
--   24 domain list: domains = {...}
-- decode also sets shortcuts: client_id, server_id (DUID bytes), ia_na and ia_pd (lists of
-- IA options, each with addresses or prefixes: its IAADDR/IAPREFIX options, and status:
-- its status option), status, oro, preference, elapsed_time, rapid_commit, dns_servers,
-- domains. encode writes `options` when given, else the shortcuts' options in the order
-- server_id, client_id, rapid_commit, ia_na, ia_pd, status, preference, elapsed_time,
-- reconfigure_accept, oro, dns_servers, domains.
-- An IA or IAADDR/IAPREFIX without `options` is encoded from addresses / prefixes / status.
local address = require "tapir.addr"
local domain_list = require "tapir.domain_list"

local dhcpv6 = {}
local pack, unpack = string.pack, string.unpack

dhcpv6.SOLICIT, dhcpv6.ADVERTISE, dhcpv6.REQUEST, dhcpv6.CONFIRM, dhcpv6.RENEW, dhcpv6.REBIND = 1, 2, 3, 4, 5, 6
dhcpv6.REPLY, dhcpv6.RELEASE, dhcpv6.DECLINE, dhcpv6.RECONFIGURE, dhcpv6.INFORMATION_REQUEST = 7, 8, 9, 10, 11
dhcpv6.RELAY_FORW, dhcpv6.RELAY_REPL = 12, 13
dhcpv6.TYPE_NAMES = {"SOLICIT", "ADVERTISE", "REQUEST", "CONFIRM", "RENEW", "REBIND", "REPLY", "RELEASE", "DECLINE",
                     "RECONFIGURE", "INFORMATION-REQUEST", "RELAY-FORW", "RELAY-REPL"}
dhcpv6.OPTION = {
  CLIENTID = 1, SERVERID = 2, IA_NA = 3, IA_TA = 4, IAADDR = 5, ORO = 6, PREFERENCE = 7, ELAPSED_TIME = 8,
  RELAY_MSG = 9, AUTH = 11, UNICAST = 12, STATUS_CODE = 13, RAPID_COMMIT = 14, USER_CLASS = 15, VENDOR_CLASS = 16,
  VENDOR_OPTS = 17, INTERFACE_ID = 18, RECONF_MSG = 19, RECONF_ACCEPT = 20, DNS_SERVERS = 23, DOMAIN_LIST = 24,
  IA_PD = 25, IAPREFIX = 26, INFORMATION_REFRESH_TIME = 32, SOL_MAX_RT = 82,
}
local O = dhcpv6.OPTION
dhcpv6.STATUS = {SUCCESS = 0, UNSPEC_FAIL = 1, NO_ADDRS_AVAIL = 2, NO_BINDING = 3, NOT_ON_LINK = 4, USE_MULTICAST = 5,
                 NO_PREFIX_AVAIL = 6}
local MAX_DEPTH = 8   -- relay messages inside relay messages (RFC 8415 19.1: hop count 8 by default)

-- Decoding ----------------------------------------------------------------------------

local decode_options

local function ipv6_list(body, what)
  if #body % 16 ~= 0 then return nil, what .. " of " .. #body .. " bytes, not a multiple of 16" end
  local list = {}
  for at = 1, #body, 16 do list[#list + 1] = address.ipv6_text(body, at) end
  return list
end

-- The typed fields of one option from its body, or nil and why.
local function decode_option(code, body, depth)
  local option = {code = code}
  local function need(length, name)
    if #body < length then return nil, string.format("%s option of %d bytes, under %d", name, #body, length) end
    return true
  end
  local ok, why
  if code == O.CLIENTID or code == O.SERVERID then
    ok, why = need(2, code == 1 and "a client id" or "a server id")
    if not ok then return nil, why end
    option.duid = body
  elseif code == O.IA_NA or code == O.IA_PD then
    ok, why = need(12, code == 3 and "an IA_NA" or "an IA_PD")
    if not ok then return nil, why end
    option.iaid, option.t1, option.t2 = unpack(">I4I4I4", body)
    option.options, why = decode_options(body, 13, depth)
    if not option.options then return nil, (code == 3 and "IA_NA: " or "IA_PD: ") .. why end
  elseif code == O.IAADDR then
    ok, why = need(24, "an IAADDR")
    if not ok then return nil, why end
    option.address = address.ipv6_text(body, 1)
    option.preferred, option.valid = unpack(">I4I4", body, 17)
    option.options, why = decode_options(body, 25, depth)
    if not option.options then return nil, "IAADDR: " .. why end
  elseif code == O.IAPREFIX then
    ok, why = need(25, "an IAPREFIX")
    if not ok then return nil, why end
    option.preferred, option.valid, option.length = unpack(">I4I4B", body)
    if option.length > 128 then return nil, "an IAPREFIX of length " .. option.length end
    option.prefix = address.ipv6_text(body, 10)
    option.options, why = decode_options(body, 26, depth)
    if not option.options then return nil, "IAPREFIX: " .. why end
  elseif code == O.ORO then
    if #body % 2 ~= 0 then return nil, "an option request option of " .. #body .. " bytes, not even" end
    option.codes = {}
    for at = 1, #body, 2 do option.codes[#option.codes + 1] = unpack(">I2", body, at) end
  elseif code == O.PREFERENCE then
    if #body ~= 1 then return nil, "a preference option of " .. #body .. " bytes, not 1" end
    option.value = body:byte(1)
  elseif code == O.ELAPSED_TIME then
    if #body ~= 2 then return nil, "an elapsed time option of " .. #body .. " bytes, not 2" end
    option.value = unpack(">I2", body)
  elseif code == O.STATUS_CODE then
    ok, why = need(2, "a status code")
    if not ok then return nil, why end
    option.status, option.message = unpack(">I2", body), body:sub(3)
  elseif code == O.RAPID_COMMIT or code == O.RECONF_ACCEPT then
    if #body ~= 0 then return nil, "option " .. code .. " of " .. #body .. " bytes, not empty" end
  elseif code == O.DNS_SERVERS then
    option.servers, why = ipv6_list(body, "a DNS servers option")
    if not option.servers then return nil, why end
  elseif code == O.DOMAIN_LIST then
    option.domains, why = domain_list.decode(body)
    if not option.domains then return nil, "domain list: " .. why end
  elseif code == O.RELAY_MSG then
    option.message, why = dhcpv6.decode(body, depth + 1)
    if not option.message then return nil, "relay message: " .. why end
  else
    option.data = body
  end
  return option
end

-- The options from `at` to the end of `bytes`, or nil and why.
function decode_options(bytes, at, depth)
  if depth > MAX_DEPTH then return nil, "options nested over " .. MAX_DEPTH .. " deep" end
  local list = {}
  while at <= #bytes do
    if at + 3 > #bytes then return nil, "an option header cut short at byte " .. at end
    local code, length = unpack(">I2I2", bytes, at)
    if at + 3 + length > #bytes then return nil, "option " .. code .. " runs past the end" end
    local option, why = decode_option(code, bytes:sub(at + 4, at + 3 + length), depth + 1)
    if not option then return nil, why end
    list[#list + 1] = option
    at = at + 4 + length
  end
  return list
end

local function find(options, code)
  for _, option in ipairs(options) do
    if option.code == code then return option end
  end
end

-- The shortcuts of an IA (addresses or prefixes, status) and of a message.
local function add_ia_shortcuts(ia)
  ia.addresses, ia.prefixes = {}, {}
  for _, option in ipairs(ia.options) do
    if option.code == O.IAADDR then ia.addresses[#ia.addresses + 1] = option
    elseif option.code == O.IAPREFIX then ia.prefixes[#ia.prefixes + 1] = option end
    if option.code == O.IAADDR or option.code == O.IAPREFIX then option.status = find(option.options, O.STATUS_CODE) end
  end
  ia.status = find(ia.options, O.STATUS_CODE)
end

local function add_shortcuts(message)
  local options = message.options
  message.ia_na, message.ia_pd = {}, {}
  for _, option in ipairs(options) do
    if option.code == O.IA_NA then add_ia_shortcuts(option); message.ia_na[#message.ia_na + 1] = option
    elseif option.code == O.IA_PD then add_ia_shortcuts(option); message.ia_pd[#message.ia_pd + 1] = option end
  end
  local client, server = find(options, O.CLIENTID), find(options, O.SERVERID)
  message.client_id, message.server_id = client and client.duid, server and server.duid
  message.status = find(options, O.STATUS_CODE)
  local oro, preference, elapsed = find(options, O.ORO), find(options, O.PREFERENCE), find(options, O.ELAPSED_TIME)
  message.oro = oro and oro.codes
  message.preference, message.elapsed_time = preference and preference.value, elapsed and elapsed.value
  message.rapid_commit = find(options, O.RAPID_COMMIT) ~= nil
  message.reconfigure_accept = find(options, O.RECONF_ACCEPT) ~= nil
  local dns, domains = find(options, O.DNS_SERVERS), find(options, O.DOMAIN_LIST)
  message.dns_servers, message.domains = dns and dns.servers, domains and domains.domains
end

function dhcpv6.decode(bytes, depth)
  if type(bytes) ~= "string" then return nil, "bytes expected, got " .. type(bytes) end
  depth = depth or 0
  if #bytes < 4 then return nil, #bytes .. " bytes, shorter than a message header (4)" end
  local kind = bytes:byte(1)
  local message = {type = kind}
  local at = 5
  if kind == dhcpv6.RELAY_FORW or kind == dhcpv6.RELAY_REPL then
    if #bytes < 34 then return nil, #bytes .. " bytes, shorter than a relay message header (34)" end
    message.hop_count = bytes:byte(2)
    message.link, message.peer = address.ipv6_text(bytes, 3), address.ipv6_text(bytes, 19)
    at = 35
  elseif kind == 0 or kind > 13 then
    return nil, "message type " .. kind .. " is not a DHCPv6 message (1 to 13)"
  else
    message.xid = unpack(">I3", bytes, 2)
  end
  local options, why = decode_options(bytes, at, depth)
  if not options then return nil, why end
  message.options = options
  add_shortcuts(message)
  return message
end

-- Reads a DUID (RFC 8415 11): {type = 1 LLT | 2 EN | 3 LL | 4 UUID, hardware, time,
-- lladdr (text for Ethernet), enterprise, identifier, uuid}, or nil and why.
function dhcpv6.duid(bytes)
  if type(bytes) ~= "string" or #bytes < 2 then return nil, "a DUID is at least 2 bytes" end
  local kind = unpack(">I2", bytes)
  local duid = {type = kind}
  if kind == 1 and #bytes >= 8 then
    duid.hardware, duid.time = unpack(">I2I4", bytes, 3)
    duid.lladdr = bytes:sub(9)
  elseif kind == 2 and #bytes >= 6 then
    duid.enterprise, duid.identifier = unpack(">I4", bytes, 3), bytes:sub(7)
  elseif kind == 3 and #bytes >= 4 then
    duid.hardware, duid.lladdr = unpack(">I2", bytes, 3), bytes:sub(5)
  elseif kind == 4 and #bytes == 18 then
    duid.uuid = bytes:sub(3)
  else
    return nil, string.format("DUID type %d of %d bytes", kind, #bytes)
  end
  if duid.lladdr and duid.hardware == 1 and #duid.lladdr == 6 then
    duid.lladdr = string.format("%02x:%02x:%02x:%02x:%02x:%02x", duid.lladdr:byte(1, 6))
  end
  return duid
end

-- A DUID-LL (type 3) for an Ethernet MAC given as text.
function dhcpv6.duid_ll(mac)
  local parts = {}
  for byte in tostring(mac):gmatch("%x%x") do parts[#parts + 1] = tonumber(byte, 16) end
  if #parts ~= 6 then return nil, "'" .. tostring(mac) .. "' is not a MAC address" end
  return pack(">I2I2", 3, 1) .. string.char(table.unpack(parts))
end

-- Encoding ----------------------------------------------------------------------------
-- Helpers raise a plain message; dhcpv6.encode turns it into nil, why.

local encode_option

local function integer(value, what, maximum)
  if math.type(value) ~= "integer" or value < 0 or value > maximum then
    error(what .. ": " .. tostring(value) .. " is not an integer 0 to " .. maximum, 0)
  end
  return value
end

local function ipv6(text, what)
  local bytes = address.ipv6_bytes(text)
  if not bytes then error(what .. ": '" .. tostring(text) .. "' is not an IPv6 address", 0) end
  return bytes
end

local function encode_list(options)
  if type(options) ~= "table" then error("options is a " .. type(options) .. ", not a list", 0) end
  local parts = {}
  for i, option in ipairs(options) do parts[i] = encode_option(option) end
  return table.concat(parts)
end

local function status_option(status)
  if status == nil then return {} end
  return {{code = O.STATUS_CODE, status = status.status, message = status.message}}
end

-- The sub-options of an IA, IAADDR or IAPREFIX: `options`, else from its shortcuts.
local function sub_options(option)
  if option.options then return encode_list(option.options) end
  local list = {}
  for _, entry in ipairs(option.addresses or {}) do
    local copy = {code = O.IAADDR}
    for key, value in pairs(entry) do if key ~= "code" then copy[key] = value end end
    list[#list + 1] = copy
  end
  for _, entry in ipairs(option.prefixes or {}) do
    local copy = {code = O.IAPREFIX}
    for key, value in pairs(entry) do if key ~= "code" then copy[key] = value end end
    list[#list + 1] = copy
  end
  for _, status in ipairs(status_option(option.status)) do list[#list + 1] = status end
  return encode_list(list)
end

function encode_option(option)
  if type(option) ~= "table" then error("an option is a " .. type(option) .. ", not a table", 0) end
  local code = integer(option.code, "option code", 0xffff)
  local body
  if option.data ~= nil then
    if type(option.data) ~= "string" then error("option " .. code .. ": data is not bytes", 0) end
    body = option.data
  elseif code == O.CLIENTID or code == O.SERVERID then
    if type(option.duid) ~= "string" or #option.duid < 2 then error("option " .. code .. ": duid is not bytes", 0) end
    body = option.duid
  elseif code == O.IA_NA or code == O.IA_PD then
    body = pack(">I4I4I4", integer(option.iaid, "iaid", 0xffffffff), integer(option.t1 or 0, "t1", 0xffffffff),
                integer(option.t2 or 0, "t2", 0xffffffff)) .. sub_options(option)
  elseif code == O.IAADDR then
    body = ipv6(option.address, "IAADDR address")
           .. pack(">I4I4", integer(option.preferred or 0, "preferred", 0xffffffff),
                   integer(option.valid or 0, "valid", 0xffffffff)) .. sub_options(option)
  elseif code == O.IAPREFIX then
    body = pack(">I4I4B", integer(option.preferred or 0, "preferred", 0xffffffff),
                integer(option.valid or 0, "valid", 0xffffffff), integer(option.length, "prefix length", 128))
           .. ipv6(option.prefix, "IAPREFIX prefix") .. sub_options(option)
  elseif code == O.ORO then
    local parts = {}
    for i, requested in ipairs(option.codes or {}) do parts[i] = pack(">I2", integer(requested, "ORO code", 0xffff)) end
    body = table.concat(parts)
  elseif code == O.PREFERENCE then
    body = string.char(integer(option.value, "preference", 255))
  elseif code == O.ELAPSED_TIME then
    body = pack(">I2", integer(option.value or 0, "elapsed time", 0xffff))
  elseif code == O.STATUS_CODE then
    body = pack(">I2", integer(option.status, "status", 0xffff)) .. (option.message or "")
  elseif code == O.RAPID_COMMIT or code == O.RECONF_ACCEPT then
    body = ""
  elseif code == O.DNS_SERVERS then
    local parts = {}
    for i, server in ipairs(option.servers or {}) do parts[i] = ipv6(server, "DNS server") end
    body = table.concat(parts)
  elseif code == O.DOMAIN_LIST then
    local why
    body, why = domain_list.encode(option.domains or {})
    if not body then error("domain list: " .. why, 0) end
  elseif code == O.RELAY_MSG then
    local inner, why = dhcpv6.encode(option.message)
    if not inner then error("relay message: " .. why, 0) end
    body = inner
  else
    error("option " .. code .. " has no data (its bytes) and is no type this module knows", 0)
  end
  if #body > 0xffff then error("option " .. code .. " is over 65535 bytes", 0) end
  return pack(">I2I2", code, #body) .. body
end

-- The options a message without `options` gets from its shortcuts.
local function options_from_shortcuts(message)
  local list = {}
  local function add(option) list[#list + 1] = option end
  if message.server_id then add{code = O.SERVERID, duid = message.server_id} end
  if message.client_id then add{code = O.CLIENTID, duid = message.client_id} end
  if message.rapid_commit then add{code = O.RAPID_COMMIT} end
  for _, ia in ipairs(message.ia_na or {}) do
    local copy = {}
    for key, value in pairs(ia) do copy[key] = value end
    copy.code = O.IA_NA
    add(copy)
  end
  for _, ia in ipairs(message.ia_pd or {}) do
    local copy = {}
    for key, value in pairs(ia) do copy[key] = value end
    copy.code = O.IA_PD
    add(copy)
  end
  for _, status in ipairs(status_option(message.status)) do add(status) end
  if message.preference then add{code = O.PREFERENCE, value = message.preference} end
  if message.elapsed_time then add{code = O.ELAPSED_TIME, value = message.elapsed_time} end
  if message.reconfigure_accept then add{code = O.RECONF_ACCEPT} end
  if message.oro then add{code = O.ORO, codes = message.oro} end
  if message.dns_servers and #message.dns_servers > 0 then add{code = O.DNS_SERVERS, servers = message.dns_servers} end
  if message.domains and #message.domains > 0 then add{code = O.DOMAIN_LIST, domains = message.domains} end
  return list
end

local function encode(message)
  local kind = integer(message.type, "type", 255)
  if kind == 0 or kind > 13 then error("type " .. kind .. " is not a DHCPv6 message (1 to 13)", 0) end
  local header
  if kind == dhcpv6.RELAY_FORW or kind == dhcpv6.RELAY_REPL then
    header = string.char(kind, integer(message.hop_count or 0, "hop_count", 255))
             .. ipv6(message.link, "link") .. ipv6(message.peer, "peer")
  else
    header = pack(">BI3", kind, integer(message.xid, "xid", 0xffffff))
  end
  return header .. encode_list(message.options or options_from_shortcuts(message))
end

function dhcpv6.encode(message)
  if type(message) ~= "table" then return nil, "a message table expected, got " .. type(message) end
  local ok, result = pcall(encode, message)
  if not ok then return nil, result end
  return result
end

return dhcpv6
