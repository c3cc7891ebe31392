-- LLDP data units (IEEE 802.1AB), the payload of an EtherType 0x88cc frame sent to
-- 01:80:c2:00:00:0e: decode(bytes) -> lldpdu | nil, why and encode(lldpdu) -> bytes | nil,
-- why. Pure: no tapir calls (require "tapir.proto.lldp").
--
-- decode gives the TLVs in order, and the common ones by name:
--   {tlvs = {{type = "chassis_id", subtype = 4, id = "02:54:41:50:49:52"}, ..., {type = "end"}},
--    chassis_id =, chassis_subtype =, port_id =, port_subtype =, ttl =, port_description =,
--    system_name =, system_description =, capabilities = {supported =, enabled =},
--    management = {tlv, ...}, org = {tlv, ...}}
-- encode writes `tlvs` as they are when the table has them; else it builds the LLDPDU from
-- the named fields (chassis_id, port_id and ttl first, an end TLV last).
-- A TLV whose value does not read as its type says (a MAC chassis id of 5 bytes, say) keeps
-- its value in `raw`, which encode writes back as is.
local addr = require "tapir.addr"

local lldp = {}

lldp.TYPE = {END = 0, CHASSIS_ID = 1, PORT_ID = 2, TTL = 3, PORT_DESCRIPTION = 4, SYSTEM_NAME = 5,
             SYSTEM_DESCRIPTION = 6, CAPABILITIES = 7, MANAGEMENT_ADDRESS = 8, ORG = 127}
lldp.CHASSIS = {CHASSIS_COMPONENT = 1, INTERFACE_ALIAS = 2, PORT_COMPONENT = 3, MAC = 4, NETWORK_ADDRESS = 5,
                INTERFACE_NAME = 6, LOCAL = 7}
lldp.PORT = {INTERFACE_ALIAS = 1, PORT_COMPONENT = 2, MAC = 3, NETWORK_ADDRESS = 4, INTERFACE_NAME = 5,
             AGENT_CIRCUIT_ID = 6, LOCAL = 7}
lldp.CAPABILITY = {OTHER = 0x1, REPEATER = 0x2, BRIDGE = 0x4, WLAN_AP = 0x8, ROUTER = 0x10, TELEPHONE = 0x20,
                   DOCSIS = 0x40, STATION = 0x80, CVLAN = 0x100, SVLAN = 0x200, TPMR = 0x400}
lldp.MULTICAST = "01:80:c2:00:00:0e"
lldp.ETHERTYPE = 0x88cc

local NAMES = {[0] = "end", "chassis_id", "port_id", "ttl", "port_description", "system_name",
               "system_description", "capabilities", "management_address", [127] = "org"}
local NUMBERS = {}
for number, name in pairs(NAMES) do NUMBERS[name] = number end

-- The MAC subtype of each id TLV, and its network address subtype.
local MAC_SUBTYPE = {chassis_id = lldp.CHASSIS.MAC, port_id = lldp.PORT.MAC}
local ADDRESS_SUBTYPE = {chassis_id = lldp.CHASSIS.NETWORK_ADDRESS, port_id = lldp.PORT.NETWORK_ADDRESS}

-- An address with its IANA family number (1 IPv4, 2 IPv6) as text; nil for anything else.
local function address_text(family, bytes)
  if family == 1 and #bytes == 4 then return addr.ipv4_text(bytes) end
  if family == 2 and #bytes == 16 then return addr.ipv6_text(bytes) end
  return nil
end

local function address_bytes(text)
  local bytes = addr.ipv4_bytes(text)
  if bytes then return 1, bytes end
  bytes = addr.ipv6_bytes(text)
  if bytes then return 2, bytes end
  return nil
end

-- Decoding: value bytes -> the TLV's table, or nil when they do not read as the type says.
local READ = {}

local function read_id(name)
  return function(value)
    if #value < 2 then return nil end
    local subtype, id = value:byte(1), value:sub(2)
    if subtype == MAC_SUBTYPE[name] then
      if #id ~= 6 then return nil end
      return {subtype = subtype, id = addr.mac_text(id)}
    elseif subtype == ADDRESS_SUBTYPE[name] then
      local text = address_text(id:byte(1), id:sub(2))
      if not text then return nil end
      return {subtype = subtype, id = text}
    end
    return {subtype = subtype, id = id}
  end
end
READ.chassis_id = read_id("chassis_id")
READ.port_id = read_id("port_id")

function READ.ttl(value)
  if #value ~= 2 then return nil end
  return {ttl = string.unpack(">I2", value)}
end

local function read_text(value) return {text = value} end
READ.port_description, READ.system_name, READ.system_description = read_text, read_text, read_text

function READ.capabilities(value)
  if #value ~= 4 then return nil end
  local supported, enabled = string.unpack(">I2I2", value)
  return {supported = supported, enabled = enabled}
end

function READ.management_address(value)
  local length = value:byte(1)
  if not length or length < 2 or length > 32 or #value < length + 7 then return nil end
  local subtype = value:byte(2)
  local address = address_text(subtype, value:sub(3, length + 1))
  if not address then return nil end
  local interface_subtype, interface, oid_length, at = string.unpack(">BI4B", value, length + 2)
  if oid_length > 128 or #value ~= at - 1 + oid_length then return nil end
  return {address = address, interface_subtype = interface_subtype, interface = interface,
          oid = value:sub(at)}
end

function READ.org(value)
  if #value < 4 then return nil end
  local oui, subtype = string.unpack(">I3B", value)
  return {oui = oui, subtype = subtype, data = value:sub(5)}
end

READ["end"] = function(value)
  if #value ~= 0 then return nil end
  return {}
end

local SINGLE = {ttl = "ttl", port_description = "text", system_name = "text", system_description = "text"}

function lldp.decode(bytes)
  if type(bytes) ~= "string" then return nil, "bytes expected, got " .. type(bytes) end
  local lldpdu = {tlvs = {}, management = {}, org = {}}
  local at = 1
  while at <= #bytes do
    if at + 1 > #bytes then return nil, "a TLV header cut short at byte " .. at end
    local header = string.unpack(">I2", bytes, at)
    local number, length = header >> 9, header & 0x1ff
    if at + 1 + length > #bytes then
      return nil, string.format("TLV type %d at byte %d: its %d bytes run past the end", number, at, length)
    end
    local value = bytes:sub(at + 2, at + 1 + length)
    at = at + 2 + length
    local name = NAMES[number]
    local tlv = name and READ[name](value)
    if not tlv then tlv = name and {raw = value} or {value = value} end
    tlv.type = name or number
    lldpdu.tlvs[#lldpdu.tlvs + 1] = tlv
    if name == "end" then break end
    -- The named fields: the first of each kind.
    if (name == "chassis_id" or name == "port_id") and lldpdu[name] == nil then
      lldpdu[name] = tlv.id or tlv.raw
      lldpdu[name == "chassis_id" and "chassis_subtype" or "port_subtype"] = tlv.subtype
    elseif SINGLE[name] and lldpdu[name] == nil then
      lldpdu[name] = tlv[SINGLE[name]] or tlv.raw
    elseif name == "capabilities" and lldpdu.capabilities == nil and tlv.supported then
      lldpdu.capabilities = tlv
    elseif name == "management_address" then
      lldpdu.management[#lldpdu.management + 1] = tlv
    elseif name == "org" then
      lldpdu.org[#lldpdu.org + 1] = tlv
    end
  end
  return lldpdu
end

-- Encoding: a TLV's table -> its value bytes, or nil and why.
local WRITE = {}

local function bad(tlv, field, expected)
  return nil, string.format("%s TLV: field '%s': %s expected, got %s", tostring(tlv.type), field, expected,
                            type(tlv[field]) == "string" and "'" .. tlv[field] .. "'" or type(tlv[field]))
end

local function integer(tlv, field, high)
  local value = tlv[field]
  if math.type(value) ~= "integer" or value < 0 or value > high then
    return bad(tlv, field, "an integer 0.." .. high)
  end
  return value
end

local function write_id(name)
  return function(tlv)
    local subtype, why = integer(tlv, "subtype", 255)
    if not subtype then return nil, why end
    local id = tlv.id
    if type(id) ~= "string" or id == "" then return bad(tlv, "id", "a non-empty string") end
    if subtype == MAC_SUBTYPE[name] then
      local bytes = addr.mac_bytes(id)
      if not bytes then return bad(tlv, "id", "a MAC address") end
      return string.char(subtype) .. bytes
    elseif subtype == ADDRESS_SUBTYPE[name] then
      local family, bytes = address_bytes(id)
      if not family then return bad(tlv, "id", "an IPv4 or IPv6 address") end
      return string.char(subtype, family) .. bytes
    end
    return string.char(subtype) .. id
  end
end
WRITE.chassis_id = write_id("chassis_id")
WRITE.port_id = write_id("port_id")

function WRITE.ttl(tlv)
  local ttl, why = integer(tlv, "ttl", 0xffff)
  if not ttl then return nil, why end
  return string.pack(">I2", ttl)
end

local function write_text(tlv)
  if type(tlv.text) ~= "string" then return bad(tlv, "text", "a string") end
  return tlv.text
end
WRITE.port_description, WRITE.system_name, WRITE.system_description = write_text, write_text, write_text

function WRITE.capabilities(tlv)
  local supported, why = integer(tlv, "supported", 0xffff)
  if not supported then return nil, why end
  local enabled
  enabled, why = integer(tlv, "enabled", 0xffff)
  if not enabled then return nil, why end
  return string.pack(">I2I2", supported, enabled)
end

function WRITE.management_address(tlv)
  local family, bytes = address_bytes(tlv.address)
  if not family then return bad(tlv, "address", "an IPv4 or IPv6 address") end
  local interface_subtype, interface, why
  interface_subtype, why = integer(tlv, "interface_subtype", 255)
  if not interface_subtype then return nil, why end
  interface, why = integer(tlv, "interface", 0xffffffff)
  if not interface then return nil, why end
  local oid = tlv.oid or ""
  if type(oid) ~= "string" or #oid > 128 then return bad(tlv, "oid", "at most 128 bytes") end
  return string.pack(">BB", #bytes + 1, family) .. bytes .. string.pack(">BI4B", interface_subtype, interface, #oid)
         .. oid
end

function WRITE.org(tlv)
  local oui, subtype, why
  oui, why = integer(tlv, "oui", 0xffffff)
  if not oui then return nil, why end
  subtype, why = integer(tlv, "subtype", 255)
  if not subtype then return nil, why end
  if type(tlv.data or "") ~= "string" then return bad(tlv, "data", "bytes") end
  return string.pack(">I3B", oui, subtype) .. (tlv.data or "")
end

WRITE["end"] = function() return "" end

local function write_tlv(tlv)
  if type(tlv) ~= "table" then return nil, "a TLV is a table, not " .. type(tlv) end
  local number = NUMBERS[tlv.type] or tlv.type
  if math.type(number) ~= "integer" or number < 0 or number > 127 then
    return nil, "TLV type " .. tostring(tlv.type) .. ": a type name or a number 0..127 expected"
  end
  local value, why
  if tlv.raw ~= nil then
    value = tlv.raw
    if type(value) ~= "string" then return bad(tlv, "raw", "bytes") end
  elseif NAMES[number] then
    value, why = WRITE[NAMES[number]](tlv)
    if not value then return nil, why end
  else
    value = tlv.value
    if type(value) ~= "string" then return bad(tlv, "value", "bytes") end
  end
  if #value > 511 then return nil, string.format("TLV type %s: %d bytes, over 511", tostring(tlv.type), #value) end
  return string.pack(">I2", number << 9 | #value) .. value
end

-- The TLVs the named fields describe, in the standard's order.
local function named_tlvs(lldpdu)
  local tlvs = {}
  local function id_tlv(name, subtype_field, mac, address, other)
    local id = lldpdu[name]
    if type(id) ~= "string" or id == "" then
      return string.format("field '%s': a non-empty string expected, got %s", name, type(id))
    end
    local subtype = lldpdu[subtype_field]
    if subtype == nil then
      subtype = addr.mac_bytes(id) and mac or (address_bytes(id) and address or other)
    end
    tlvs[#tlvs + 1] = {type = name, subtype = subtype, id = id}
  end
  local why = id_tlv("chassis_id", "chassis_subtype", lldp.CHASSIS.MAC, lldp.CHASSIS.NETWORK_ADDRESS, lldp.CHASSIS.LOCAL)
    or id_tlv("port_id", "port_subtype", lldp.PORT.MAC, lldp.PORT.NETWORK_ADDRESS, lldp.PORT.INTERFACE_NAME)
  if why then return nil, why end
  tlvs[#tlvs + 1] = {type = "ttl", ttl = lldpdu.ttl or 120}
  for _, name in ipairs{"port_description", "system_name", "system_description"} do
    if lldpdu[name] ~= nil then tlvs[#tlvs + 1] = {type = name, text = lldpdu[name]} end
  end
  if lldpdu.capabilities ~= nil then
    local capabilities = lldpdu.capabilities
    if type(capabilities) ~= "table" then return nil, "field 'capabilities': a table expected" end
    tlvs[#tlvs + 1] = {type = "capabilities", supported = capabilities.supported,
                       enabled = capabilities.enabled or 0}
  end
  for _, list in ipairs{"management", "org"} do
    if lldpdu[list] ~= nil and type(lldpdu[list]) ~= "table" then
      return nil, "field '" .. list .. "': a list of TLVs expected"
    end
    for _, tlv in ipairs(lldpdu[list] or {}) do
      if type(tlv) ~= "table" then return nil, "field '" .. list .. "': a list of TLVs expected" end
      local copy = {}
      for key, value in pairs(tlv) do copy[key] = value end
      copy.type = list == "management" and "management_address" or "org"
      tlvs[#tlvs + 1] = copy
    end
  end
  tlvs[#tlvs + 1] = {type = "end"}
  return tlvs
end

function lldp.encode(lldpdu)
  if type(lldpdu) ~= "table" then return nil, "a table expected, got " .. type(lldpdu) end
  local tlvs, why = lldpdu.tlvs, nil
  if tlvs == nil then
    tlvs, why = named_tlvs(lldpdu)
    if not tlvs then return nil, why end
  elseif type(tlvs) ~= "table" then
    return nil, "field 'tlvs': a list of TLVs expected, got " .. type(tlvs)
  end
  local parts = {}
  for i, tlv in ipairs(tlvs) do
    parts[i], why = write_tlv(tlv)
    if not parts[i] then return nil, why end
  end
  return table.concat(parts)
end

return lldp
