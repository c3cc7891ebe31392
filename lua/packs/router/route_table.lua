-- What the IPv4 and IPv6 route tables share (require "route_table"): routes kept by prefix
-- length, longest first, and the reading of the `routes` setting's lines of one family.
-- Each family keeps its own lookup (routes.lua, routes6.lua): that runs per packet, on
-- integers for IPv4 and on 16-byte strings for IPv6.
local ports = require "ports"

local route_table = {}

-- A family is {name = "IPv4", network_name = what errors call a port's network of it,
-- network = function(address, length), text = function(address), parse = function(text),
-- parse_prefix = function(text), connected_port = function(address),
-- network_of_port = function(port) -> true, or nil and why a `dev` route cannot use it}.
-- Returns by_length (length -> {[network] = route}), lengths (longest first) and add.
function route_table.new(family)
  local by_length, lengths = {}, {}
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
      error("setting 'routes': " .. text .. " gives " .. family.text(network) .. "/" .. length
            .. " a second route (it has '" .. existing.text .. "')", 0)
    end
    table_of_length[network] = route
  end
  return by_length, lengths, add
end

local FORM = "' is not 'PREFIX via GATEWAY' or 'PREFIX dev N'"

-- One line of the `routes` setting: network, length and the route, or an error that
-- names the line.
local function read(text, family)
  local prefix_text, kind, target = text:match("^(%S+)%s+(%a+)%s+(%S+)$")
  local network, length = nil, "'" .. text .. FORM
  if prefix_text then network, length = family.parse_prefix(prefix_text) end
  if not network then error("setting 'routes': " .. length, 0) end
  if family.network(network, length) ~= network then
    error("setting 'routes': '" .. text .. "': " .. prefix_text .. " has bits set past its length " .. length
          .. " (did you mean " .. family.text(family.network(network, length)) .. "/" .. length .. "?)", 0)
  end
  local route = {text = text}
  if kind == "via" then
    local gateway = family.parse(target)
    if not gateway then
      error("setting 'routes': '" .. text .. "': gateway '" .. target .. "' is not an " .. family.name .. " address", 0)
    end
    route.gateway = gateway
    route.port = family.connected_port(gateway)
    if not route.port then
      error("setting 'routes': '" .. text .. "': gateway " .. target .. " is on no port's "
            .. family.network_name, 0)
    end
  elseif kind == "dev" then
    route.port = ports.list[tonumber(target)]
    if not route.port then
      error("setting 'routes': '" .. text .. "': there is no port " .. target .. " (ports are 1 to "
            .. #ports.list .. ", in device order)", 0)
    end
    local ok, why = family.network_of_port(route.port)
    if not ok then error("setting 'routes': '" .. text .. "': port " .. target .. " " .. why, 0) end
  else
    error("setting 'routes': '" .. text .. FORM, 0)
  end
  return network, length, route
end

-- An IPv6 route (its prefix or gateway has a colon) is routes6.lua's; the rest routes.lua's.
function route_table.is_ipv6(text)
  local prefix_text, _, target = text:match("^(%S+)%s+(%a+)%s+(%S+)$")
  return prefix_text ~= nil and (prefix_text:find(":", 1, true) or target:find(":", 1, true)) ~= nil
end

-- Adds the `routes` setting's lines of the family; a route over a port with no device is
-- left out with a warning.
function route_table.add_configured(family, add)
  for _, text in ipairs(tapir.config.routes) do
    if route_table.is_ipv6(text) == (family.name == "IPv6") then
      local network, length, route = read(text, family)
      if route.port.dev then
        add(network, length, route, "'" .. text .. "'")
      else
        tapir.log.warn("route '" .. text .. "' left out: port " .. route.port.number .. " has no device")
      end
    end
  end
end

return route_table
