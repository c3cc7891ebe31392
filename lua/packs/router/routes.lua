-- The route table: each port's connected network, then the `routes` setting's static
-- routes; lookup is longest-prefix match (require "routes").
local addresses = require "addresses"
local ports = require "ports"

local routes = {}
local by_length = {}   -- prefix length -> {[network] = route}
local lengths = {}     -- the lengths present, longest first
local masks = {}
for length = 0, 32 do masks[length] = addresses.mask(length) end

local function add(network, length, route, text)
  local table_of_length = by_length[length]
  if not table_of_length then
    table_of_length = {}
    by_length[length] = table_of_length
    lengths[#lengths + 1] = length
    table.sort(lengths, function(a, b) return a > b end)
  end
  local existing = table_of_length[network]
  if existing then
    error("setting 'routes': " .. text .. " gives " .. addresses.text(network) .. "/" .. length
          .. " a second route (it has '" .. existing.text .. "')", 0)
  end
  table_of_length[network] = route
end

-- The route for a destination (an integer), or nil: the longest matching prefix.
function routes.lookup(destination)
  for i = 1, #lengths do
    local length = lengths[i]
    local route = by_length[length][destination & masks[length]]
    if route then return route end
  end
  return nil
end

-- The connected port whose network holds an address, or nil.
local function connected_port(address)
  for _, port in ipairs(ports.list) do
    if address & port.mask == port.network then return port end
  end
end

for _, port in ipairs(ports.list) do
  if port.dev then
    add(port.network, port.length, {port = port, text = "connected, port " .. port.number},
        port.address_text .. "/" .. port.length)
  end
end

-- An IPv6 route (its prefix or gateway has a colon) is routes6.lua's.
local function is_ipv6(text)
  local prefix_text, _, target = text:match("^(%S+)%s+(%a+)%s+(%S+)$")
  return prefix_text ~= nil and (prefix_text:find(":", 1, true) or target:find(":", 1, true)) ~= nil
end
routes.is_ipv6 = is_ipv6

for _, text in ipairs(tapir.config.routes) do
  if is_ipv6(text) then goto next_route end
  local prefix_text, kind, target = text:match("^(%S+)%s+(%a+)%s+(%S+)$")
  local network, length = nil, "'" .. text .. "' is not 'PREFIX via GATEWAY' or 'PREFIX dev N'"
  if prefix_text then network, length = addresses.parse_prefix(prefix_text) end
  if not network then error("setting 'routes': " .. length, 0) end
  if network & addresses.mask(length) ~= network then
    error("setting 'routes': '" .. text .. "': " .. prefix_text .. " has bits set past its length "
          .. length .. " (did you mean " .. addresses.text(network & addresses.mask(length)) .. "/" .. length .. "?)", 0)
  end
  local route = {text = text}
  if kind == "via" then
    local gateway = addresses.parse(target)
    if not gateway then error("setting 'routes': '" .. text .. "': gateway '" .. target .. "' is not an IPv4 address", 0) end
    route.gateway = gateway
    route.port = connected_port(gateway)
    if not route.port then
      error("setting 'routes': '" .. text .. "': gateway " .. target .. " is on no port's network", 0)
    end
  elseif kind == "dev" then
    route.port = ports.list[tonumber(target)]
    if not route.port then
      error("setting 'routes': '" .. text .. "': there is no port " .. target .. " (ports are 1 to "
            .. #ports.list .. ", in device order)", 0)
    end
  else
    error("setting 'routes': '" .. text .. "' is not 'PREFIX via GATEWAY' or 'PREFIX dev N'", 0)
  end
  if route.port.dev then
    add(network, length, route, "'" .. text .. "'")
  else
    tapir.log.warn("route '" .. text .. "' left out: port " .. route.port.number .. " has no device")
  end
  ::next_route::
end

return routes
