-- The server's view of DHCPv4 messages, on tapir.proto.dhcp: `parse` takes a BOOTREQUEST
-- (decoded, then checked: op, and the options whose length is fixed or bounded), `build`
-- writes a BOOTREPLY to it. Pure: no tapir calls.
local dhcp = require "tapir.proto.dhcp"
local address = require "tapir.addr"

local message = {}

for _, name in ipairs({"DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM"}) do
  message[name] = dhcp[name]
end
message.TYPE_NAMES = dhcp.TYPE_NAMES
message.OPTION = dhcp.OPTION
local O = dhcp.OPTION
message.MINIMUM_LENGTH = dhcp.MINIMUM_LENGTH

-- Options whose length is fixed or bounded; a request that breaks one is malformed.
local OPTION_LENGTHS = {
  [O.MESSAGE_TYPE] = {1, 1},
  [O.REQUESTED_ADDRESS] = {4, 4},
  [O.SERVER_ID] = {4, 4},
  [O.CLIENT_ID] = {2, 255},
}

-- A BOOTREQUEST's fields (tapir.proto.dhcp's) and: requested, server (text or nil),
-- client_id (bytes or nil), parameters (the option 55 codes, in order). Or nil and why it
-- is malformed.
function message.parse(data)
  local msg, why = dhcp.decode(data)
  if not msg then return nil, why end
  if msg.op ~= 1 then return nil, string.format("op %d is not BOOTREQUEST (1)", msg.op) end
  local options = msg.options
  for code, bounds in pairs(OPTION_LENGTHS) do
    local value = options[code]
    if value and (#value < bounds[1] or #value > bounds[2]) then
      return nil, string.format("option %d has length %d", code, #value)
    end
  end
  msg.requested = options[O.REQUESTED_ADDRESS] and address.ipv4_text(options[O.REQUESTED_ADDRESS])
  msg.server = options[O.SERVER_ID] and address.ipv4_text(options[O.SERVER_ID])
  msg.client_id = options[O.CLIENT_ID]
  msg.parameters = {}
  for i = 1, #(options[O.PARAMETERS] or "") do msg.parameters[i] = options[O.PARAMETERS]:byte(i) end
  return msg
end

-- A BOOTREPLY to `request`: reply = {type, ciaddr, yiaddr, options = {[code] = bytes},
-- order = {codes}}. xid, flags, giaddr and chaddr come from the request; siaddr is 0 (no
-- boot server).
function message.build(request, reply)
  return assert(dhcp.encode{
    op = 2, htype = request.htype, hlen = request.hlen, xid = request.xid, flags = request.flags,
    ciaddr = reply.ciaddr, yiaddr = reply.yiaddr, giaddr = request.giaddr, chaddr = request.chaddr,
    type = reply.type, options = reply.options, order = reply.order,
  })
end

return message
