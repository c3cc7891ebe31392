-- The client's side of the DHCP tests: requests written field by field (on purpose not
-- with the pack's message.lua, so a mistake there cannot hide itself) and replies read
-- back into plain tables.
local client = {}

local COOKIE = "\99\130\83\99"

local function ip_bytes(text)
  local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  return string.char(tonumber(a), tonumber(b), tonumber(c), tonumber(d))
end

local function ip_text(bytes, at)
  return string.format("%d.%d.%d.%d", bytes:byte(at, at + 3))
end

local function mac_bytes(text)
  return (text:gsub("(%x%x):?", function(pair) return string.char(tonumber(pair, 16)) end))
end

-- "02 01 06 00" -> bytes (spaces and newlines ignored).
function client.unhex(text)
  return (text:gsub("%s", ""):gsub("%x%x", function(pair) return string.char(tonumber(pair, 16)) end))
end

function client.hex(bytes)
  return (bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- The BOOTREQUEST bytes: fields {type, mac, xid, flags, ciaddr, giaddr, requested,
-- server, client_id, options (extra encoded bytes), op}.
function client.bootp(fields)
  local options = {string.char(53, 1, fields.type)}
  if fields.requested then options[#options + 1] = string.char(50, 4) .. ip_bytes(fields.requested) end
  if fields.server then options[#options + 1] = string.char(54, 4) .. ip_bytes(fields.server) end
  if fields.client_id then options[#options + 1] = string.char(61, #fields.client_id) .. fields.client_id end
  options[#options + 1] = fields.options or ""
  options[#options + 1] = "\255"
  return string.pack(">BBBBI4I2I2", fields.op or 1, 1, 6, 0, fields.xid or 0x12345678, 0, fields.flags or 0)
      .. ip_bytes(fields.ciaddr or "0.0.0.0") .. ip_bytes("0.0.0.0") .. ip_bytes("0.0.0.0")
      .. ip_bytes(fields.giaddr or "0.0.0.0")
      .. mac_bytes(fields.mac) .. string.rep("\0", 10) .. string.rep("\0", 192) .. COOKIE
      .. table.concat(options)
end

-- A whole frame carrying `payload` from the client to port 67: from 0.0.0.0 to the
-- broadcast address unless fields.src / fields.dst / fields.eth_dst say otherwise.
function client.frame(fields, payload)
  return tapir.build.eth{src = fields.mac, dst = fields.eth_dst or "ff:ff:ff:ff:ff:ff", type = 0x0800}
      .. tapir.build.ip{src = fields.src or fields.ciaddr or "0.0.0.0", dst = fields.dst or "255.255.255.255",
                        proto = 17, payload = tapir.build.udp{sport = fields.sport or 68, dport = 67,
                                                                payload = payload or client.bootp(fields)}}
end

-- A BOOTREPLY's fields, and its options as code -> bytes (and type, from option 53).
function client.read(payload)
  local op, htype, hlen, hops, xid, secs, flags = string.unpack(">BBBBI4I2I2", payload)
  local reply = {op = op, htype = htype, hlen = hlen, hops = hops, xid = xid, secs = secs, flags = flags,
                 ciaddr = ip_text(payload, 13), yiaddr = ip_text(payload, 17), siaddr = ip_text(payload, 21),
                 giaddr = ip_text(payload, 25), chaddr = payload:sub(29, 44), cookie = payload:sub(237, 240),
                 options = {}}
  local at = 241
  while at <= #payload do
    local code = payload:byte(at)
    if code == 255 then break end
    if code == 0 then
      at = at + 1
    else
      local length = payload:byte(at + 1)
      reply.options[code] = payload:sub(at + 2, at + 1 + length)
      at = at + 2 + length
    end
  end
  reply.type = reply.options[53] and reply.options[53]:byte()
  return reply
end

function client.u32(bytes)
  return (string.unpack(">I4", bytes))
end

client.ip_text = ip_text

return client
