-- NTP packets, versions 3 and 4 (RFC 1305, RFC 5905): decode(bytes) -> packet | nil, why
-- and encode(packet) -> bytes | nil, why; NTP timestamps <-> tapir.time()'s seconds.
-- Pure: no tapir calls (require "tapir.proto.ntp").
--
-- A packet:
--   {leap = 0, version = 4, mode = 3 (ntp.MODE.CLIENT), stratum = 0, poll = 6 (log2 s),
--    precision = -20 (log2 s), root_delay = 0.0, root_dispersion = 0.0 (seconds),
--    ref_id = 4 bytes ("GPS\0", a kiss code "RATE", an IPv4 address's bytes),
--    reference =, origin =, receive =, transmit = timestamps,
--    key_id =, digest = bytes    -- a MAC after the header (RFC 5905 7.3), when there is one
--    extra = bytes}              -- anything else after the header (extension fields), as is
-- A timestamp is the 64 bits of the wire as one integer, seconds since 1900 << 32 |
-- fraction (it reads negative from 1968 to 2036: compare times with ntp.time); 0 is "not
-- set". ntp.time(ts) and ntp.timestamp(seconds) convert to and from Unix seconds.
local ntp = {}

ntp.MODE = {SYMMETRIC_ACTIVE = 1, SYMMETRIC_PASSIVE = 2, CLIENT = 3, SERVER = 4, BROADCAST = 5, CONTROL = 6,
            PRIVATE = 7}
ntp.LEAP = {NONE = 0, ADD = 1, DELETE = 2, UNSYNCHRONIZED = 3}

local HEADER = ">BBbbI4I4c4i8i8i8i8"
local HEADER_LENGTH = 48
-- Seconds from 1900 (NTP's era 0) to 1970 (Unix).
local UNIX_EPOCH = 2208988800
local FRACTION = 2.0 ^ 32

-- Unix seconds (a float) of an NTP timestamp; nil for 0 (not set). Seconds below 2^31 are
-- taken to be in era 1, from 2036 on (RFC 4330 3).
function ntp.time(timestamp)
  if math.type(timestamp) ~= "integer" or timestamp == 0 then return nil end
  local seconds = timestamp >> 32
  if seconds < 0x80000000 then seconds = seconds + 0x100000000 end
  return (seconds - UNIX_EPOCH) + (timestamp & 0xffffffff) / FRACTION
end

-- The NTP timestamp of Unix seconds (tapir.time()), to the nearest 2^-32 s.
function ntp.timestamp(unix_seconds)
  local whole = math.floor(unix_seconds)
  local fraction = math.floor((unix_seconds - whole) * FRACTION + 0.5)
  if fraction >= 0x100000000 then whole, fraction = whole + 1, 0 end
  return ((whole + UNIX_EPOCH) & 0xffffffff) << 32 | fraction
end

function ntp.decode(bytes)
  if type(bytes) ~= "string" then return nil, "bytes expected, got " .. type(bytes) end
  if #bytes < HEADER_LENGTH then
    return nil, string.format("%d bytes, shorter than an NTP header (48)", #bytes)
  end
  local flags, stratum, poll, precision, delay, dispersion, ref_id, reference, origin, receive, transmit =
    string.unpack(HEADER, bytes)
  local packet = {
    leap = flags >> 6, version = flags >> 3 & 7, mode = flags & 7, stratum = stratum, poll = poll,
    precision = precision, root_delay = delay / 65536, root_dispersion = dispersion / 65536, ref_id = ref_id,
    reference = reference, origin = origin, receive = receive, transmit = transmit,
  }
  local rest = bytes:sub(HEADER_LENGTH + 1)
  -- A MAC is a key id and an MD5 (16) or SHA-1 (20) digest; 4 bytes alone is a crypto-NAK.
  if #rest == 4 or #rest == 20 or #rest == 24 then
    packet.key_id, packet.digest = string.unpack(">I4", rest), rest:sub(5)
  elseif #rest > 0 then
    packet.extra = rest
  end
  return packet
end

-- Checks `value` (default `default`) is an integer in [low, high]; returns it or nil, why.
local function integer(packet, field, default, low, high)
  local value = packet[field]
  if value == nil then return default end
  if math.type(value) ~= "integer" then
    return nil, "field '" .. field .. "': an integer expected, got " .. (math.type(value) or type(value))
  end
  if value < low or value > high then
    return nil, string.format("field '%s': %d is out of range %d..%d", field, value, low, high)
  end
  return value
end

local function seconds16(packet, field)
  local value = packet[field]
  if value == nil then return 0 end
  if type(value) ~= "number" or value < 0 or value >= 65536 then
    return nil, "field '" .. field .. "': seconds from 0 to 65535 expected, got " .. tostring(value)
  end
  return math.floor(value * 65536 + 0.5) & 0xffffffff
end

local function ref_id(packet)
  local value = packet.ref_id
  if value == nil then return "\0\0\0\0" end
  if type(value) ~= "string" then return nil, "field 'ref_id': 4 bytes or IPv4 text expected, got " .. type(value) end
  if #value == 4 then return value end
  local a, b, c, d = value:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if a and tonumber(a) < 256 and tonumber(b) < 256 and tonumber(c) < 256 and tonumber(d) < 256 then
    return string.char(tonumber(a), tonumber(b), tonumber(c), tonumber(d))
  end
  return nil, "field 'ref_id': 4 bytes or IPv4 text expected, got '" .. value .. "'"
end

function ntp.encode(packet)
  if type(packet) ~= "table" then return nil, "a table expected, got " .. type(packet) end
  local values, why = {}, nil
  local fields = {
    {"leap", 0, 0, 3}, {"version", 4, 0, 7}, {"mode", ntp.MODE.CLIENT, 0, 7}, {"stratum", 0, 0, 255},
    {"poll", 0, -128, 127}, {"precision", 0, -128, 127},
    {"reference", 0, math.mininteger, math.maxinteger}, {"origin", 0, math.mininteger, math.maxinteger},
    {"receive", 0, math.mininteger, math.maxinteger}, {"transmit", 0, math.mininteger, math.maxinteger},
  }
  for _, field in ipairs(fields) do
    values[field[1]], why = integer(packet, field[1], field[2], field[3], field[4])
    if why then return nil, why end
  end
  local delay, dispersion, id
  delay, why = seconds16(packet, "root_delay")
  if not delay then return nil, why end
  dispersion, why = seconds16(packet, "root_dispersion")
  if not dispersion then return nil, why end
  id, why = ref_id(packet)
  if not id then return nil, why end
  local tail = ""
  if packet.key_id ~= nil or packet.digest ~= nil then
    local key = integer(packet, "key_id", 0, 0, 0xffffffff)
    if not key or (packet.digest ~= nil and type(packet.digest) ~= "string") then
      return nil, "fields 'key_id' (an integer 0..2^32-1) and 'digest' (bytes) make the MAC"
    end
    tail = string.pack(">I4", key) .. (packet.digest or "")
  elseif packet.extra ~= nil then
    if type(packet.extra) ~= "string" then return nil, "field 'extra': bytes expected, got " .. type(packet.extra) end
    tail = packet.extra
  end
  local flags = values.leap << 6 | values.version << 3 | values.mode
  return string.pack(HEADER, flags, values.stratum, values.poll, values.precision, delay, dispersion, id,
                     values.reference, values.origin, values.receive, values.transmit) .. tail
end

return ntp
