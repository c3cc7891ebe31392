-- VXLAN headers (RFC 7348, with the group policy extension Linux's `vxlan gbp` sends):
-- the payload of UDP to port 4789, an 8-byte header and the inner Ethernet frame.
-- decode(bytes) -> packet | nil, why and encode(packet) -> bytes | nil, why.
-- Pure: no tapir calls (require "tapir.proto.vxlan").
--
-- A packet: {flags = 0x0800, group_policy = 0, vni = 42, reserved = 0, payload = inner frame}
-- flags are the first 16 bits (vxlan.FLAG: VNI 0x0800 must be set, RFC 7348 5; GBP 0x8000
-- with DONT_LEARN and POLICY_APPLIED); group_policy the next 16 (reserved without GBP).
local vxlan = {}

vxlan.PORT = 4789
vxlan.FLAG = {GBP = 0x8000, VNI = 0x0800, DONT_LEARN = 0x0040, POLICY_APPLIED = 0x0008}

local HEADER = ">I2I2I3B"
local HEADER_LENGTH = 8

function vxlan.decode(bytes)
  if type(bytes) ~= "string" then return nil, "bytes expected, got " .. type(bytes) end
  if #bytes < HEADER_LENGTH then
    return nil, string.format("%d bytes, shorter than a VXLAN header (8)", #bytes)
  end
  local flags, group_policy, vni, reserved = string.unpack(HEADER, bytes)
  return {flags = flags, group_policy = group_policy, vni = vni, reserved = reserved,
          payload = bytes:sub(HEADER_LENGTH + 1)}
end

local function field(packet, name, default, high)
  local value = packet[name]
  if value == nil then return default end
  if math.type(value) ~= "integer" or value < 0 or value > high then
    return nil, string.format("field '%s': an integer 0..%d expected, got %s", name, high, tostring(value))
  end
  return value
end

function vxlan.encode(packet)
  if type(packet) ~= "table" then return nil, "a table expected, got " .. type(packet) end
  local values, why = {}, nil
  for _, spec in ipairs{{"flags", vxlan.FLAG.VNI, 0xffff}, {"group_policy", 0, 0xffff}, {"vni", nil, 0xffffff},
                        {"reserved", 0, 0xff}} do
    values[spec[1]], why = field(packet, spec[1], spec[2], spec[3])
    if why then return nil, why end
  end
  if values.vni == nil then return nil, "field 'vni': an integer 0..16777215 expected, got nil" end
  local payload = packet.payload or ""
  if type(payload) ~= "string" then return nil, "field 'payload': bytes expected, got " .. type(payload) end
  return string.pack(HEADER, values.flags, values.group_policy, values.vni, values.reserved) .. payload
end

return vxlan
