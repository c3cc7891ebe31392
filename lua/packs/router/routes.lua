-- The route table: each port's connected network, then the `routes` setting's static
-- routes; lookup is longest-prefix match (require "routes").
local addresses = require "addresses"
local ports = require "ports"
local route_table = require "route_table"

local routes = {}
local masks = {}
for length = 0, 32 do masks[length] = addresses.mask(length) end

-- The connected port whose network holds an address, or nil.
local function connected_port(address)
  for _, port in ipairs(ports.list) do
    if address & port.mask == port.network then return port end
  end
end

local IPV4 = {
  name = "IPv4", network_name = "network",
  network = function(address, length) return address & masks[length] end,
  text = addresses.text, parse = addresses.parse, parse_prefix = addresses.parse_prefix,
  connected_port = connected_port,
  network_of_port = function() return true end,
}
local by_length, lengths, add = route_table.new(IPV4)

-- The route for a destination (an integer), or nil: the longest matching prefix.
function routes.lookup(destination)
  for i = 1, #lengths do
    local length = lengths[i]
    local route = by_length[length][destination & masks[length]]
    if route then return route end
  end
  return nil
end

for _, port in ipairs(ports.list) do
  if port.dev then
    add(port.network, port.length, {port = port, text = "connected, port " .. port.number},
        port.address_text .. "/" .. port.length)
  end
end
route_table.add_configured(IPV4, add)

return routes
