-- DHCPv4 messages (RFC 2131 §2, options RFC 2132): `parse` reads a BOOTREQUEST with every
-- length checked against the bytes there, `build` writes a BOOTREPLY. Option overload
-- (option 52: more options in `sname`/`file`) is not followed; a repeated option is
-- concatenated (RFC 3396). Pure: no tapir calls.
local addresses = require "addresses"

local message = {}

message.DISCOVER, message.OFFER, message.REQUEST, message.DECLINE = 1, 2, 3, 4
message.ACK, message.NAK, message.RELEASE, message.INFORM = 5, 6, 7, 8
message.TYPE_NAMES = {"DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM"}

-- Option codes (RFC 2132).
message.PAD, message.SUBNET_MASK, message.ROUTER, message.DNS, message.DOMAIN = 0, 1, 3, 6, 15
message.REQUESTED_ADDRESS, message.LEASE_TIME, message.MESSAGE_TYPE, message.SERVER_ID = 50, 51, 53, 54
message.MESSAGE, message.RENEWAL_TIME, message.REBINDING_TIME, message.CLIENT_ID = 56, 58, 59, 61
message.END = 255

local COOKIE = "\99\130\83\99"
local OPTIONS_START = 241     -- 1-based: 236 bytes of fixed fields, then the 4-byte cookie
local BROADCAST_FLAG = 0x8000
-- A BOOTP relay agent may drop shorter messages (RFC 1542 §2.1): replies are padded to it.
message.MINIMUM_LENGTH = 300

-- Options whose length is fixed or bounded; a request that breaks one is malformed.
local OPTION_LENGTHS = {
  [message.MESSAGE_TYPE] = {1, 1},
  [message.REQUESTED_ADDRESS] = {4, 4},
  [message.SERVER_ID] = {4, 4},
  [message.CLIENT_ID] = {2, 255},
}

-- Reads the options from `at` to the end option (or the end of the bytes); returns a
-- table code -> value bytes, or nil and why.
local function parse_options(data, at)
  local options = {}
  local last = #data
  while at <= last do
    local code = data:byte(at)
    if code == message.END then return options end
    if code == message.PAD then
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
      options[code] = previous and previous .. value or value
      at = value_end + 1
    end
  end
  return options  -- no end option: tolerated, everything was inside the bytes
end

-- A BOOTREQUEST's fields: op, htype, hlen, hops, xid, secs, flags, broadcast, ciaddr,
-- yiaddr, siaddr, giaddr (text), chaddr (the 16 raw bytes), mac (text, hlen 6 only),
-- options (code -> bytes), type (option 53), requested, server (text or nil),
-- client_id (bytes or nil). Or nil and why it is malformed.
function message.parse(data)
  if #data < OPTIONS_START - 1 then
    return nil, string.format("%d bytes, shorter than a header and magic cookie (240)", #data)
  end
  local op, htype, hlen, hops, xid, secs, flags = string.unpack(">BBBBI4I2I2", data)
  if op ~= 1 then return nil, string.format("op %d is not BOOTREQUEST (1)", op) end
  if data:sub(237, 240) ~= COOKIE then return nil, "bad magic cookie" end
  if hlen > 16 then return nil, string.format("hardware address length %d is over 16", hlen) end
  local options, problem = parse_options(data, OPTIONS_START)
  if not options then return nil, problem end
  for code, bounds in pairs(OPTION_LENGTHS) do
    local value = options[code]
    if value and (#value < bounds[1] or #value > bounds[2]) then
      return nil, string.format("option %d has length %d", code, #value)
    end
  end
  local type_byte = options[message.MESSAGE_TYPE]
  local msg = {
    op = op, htype = htype, hlen = hlen, hops = hops, xid = xid, secs = secs, flags = flags,
    broadcast = flags & BROADCAST_FLAG ~= 0,
    ciaddr = addresses.from_bytes(data, 13), yiaddr = addresses.from_bytes(data, 17),
    siaddr = addresses.from_bytes(data, 21), giaddr = addresses.from_bytes(data, 25),
    chaddr = data:sub(29, 44),
    mac = (htype == 1 and hlen == 6) and addresses.mac_text(data, 29) or nil,
    options = options,
    type = type_byte and type_byte:byte(),
    requested = options[message.REQUESTED_ADDRESS] and addresses.from_bytes(options[message.REQUESTED_ADDRESS], 1),
    server = options[message.SERVER_ID] and addresses.from_bytes(options[message.SERVER_ID], 1),
    client_id = options[message.CLIENT_ID],
  }
  return msg
end

-- One option: code, length, value.
function message.option(code, value)
  return string.char(code, #value) .. value
end

function message.u32(number)
  return string.pack(">I4", number)
end

-- A list of address texts as one option value.
function message.address_list(list)
  local parts = {}
  for i, text in ipairs(list) do parts[i] = addresses.to_bytes(text) end
  return table.concat(parts)
end

-- A BOOTREPLY to `request`: reply = {type, ciaddr, yiaddr, options = {bytes of encoded
-- options, in order}}. xid, flags, giaddr and chaddr come from the request; siaddr is 0
-- (no boot server). Padded to MINIMUM_LENGTH.
function message.build(request, reply)
  local parts = {
    string.pack(">BBBBI4I2I2", 2, request.htype, request.hlen, 0, request.xid, 0, request.flags),
    addresses.to_bytes(reply.ciaddr or "0.0.0.0"),
    addresses.to_bytes(reply.yiaddr or "0.0.0.0"),
    "\0\0\0\0",
    addresses.to_bytes(request.giaddr),
    request.chaddr,
    string.rep("\0", 192),  -- sname and file
    COOKIE,
    message.option(message.MESSAGE_TYPE, string.char(reply.type)),
  }
  for _, option in ipairs(reply.options) do parts[#parts + 1] = option end
  parts[#parts + 1] = string.char(message.END)
  local bytes = table.concat(parts)
  if #bytes < message.MINIMUM_LENGTH then bytes = bytes .. string.rep("\0", message.MINIMUM_LENGTH - #bytes) end
  return bytes
end

return message
