-- The IPv6 route table: each port's connected network (its `ports6` prefix), then the
-- `routes` setting's IPv6 lines; lookup is longest-prefix match over 16-byte addresses
-- (require "routes6").
local addresses6 = require "addresses6"
local ports = require "ports"
local route_table = require "route_table"

local routes6 = {}
local by_length_high = {}  -- prefix length up to 64 -> {[the network's first 64 bits] = route}
local network = addresses6.network
local HIGH_MASKS = {}  -- length -> the mask of the first 64 bits
for length = 0, 64 do HIGH_MASKS[length] = length == 0 and 0 or -1 << (64 - length) end

-- The port whose IPv6 network holds an address, or nil.
local function connected_port(address)
  for _, port in ipairs(ports.list) do
    if port.network6 and network(address, port.length6) == port.network6 then return port end
  end
end
routes6.connected_port = connected_port

local IPV6 = {
  name = "IPv6", network_name = "IPv6 network",
  network = network, text = addresses6.text, parse = addresses6.parse,
  parse_prefix = addresses6.parse_prefix, connected_port = connected_port,
  network_of_port = function(port)
    if port.network6 then return true end
    return nil, "has no IPv6 prefix in 'ports6'"
  end,
}
local by_length, lengths, add_to_table = route_table.new(IPV6)

local function add(prefix, length, route, text)
  add_to_table(prefix, length, route, text)
  if length <= 64 then
    by_length_high[length] = by_length_high[length] or {}
    by_length_high[length][string.unpack(">i8", prefix)] = route
  end
end

-- The route for a destination (16 bytes), or nil: the longest matching prefix.
function routes6.lookup(destination)
  for i = 1, #lengths do
    local length = lengths[i]
    local route = by_length[length][network(destination, length)]
    if route then return route end
  end
  return nil
end

-- The same for a destination as two 64-bit integers (pkt:ipv6_header's): prefixes up to
-- 64 bits long are an integer mask and a lookup, with no string made.
function routes6.lookup_halves(high, low)
  for i = 1, #lengths do
    local length = lengths[i]
    local route
    if length <= 64 then
      route = by_length_high[length][high & HIGH_MASKS[length]]
    else
      route = by_length[length][network(string.pack(">i8i8", high, low), length)]
    end
    if route then return route end
  end
  return nil
end

for _, port in ipairs(ports.list) do
  if port.dev and port.network6 then
    add(port.network6, port.length6, {port = port, text = "connected, port " .. port.number},
        port.address6_text .. "/" .. port.length6)
  end
end
route_table.add_configured(IPV6, add)

return routes6
