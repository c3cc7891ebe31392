-- The IPv6 route table: each port's connected network (its `ports6` prefix), then the
-- `routes` setting's IPv6 lines; lookup is longest-prefix match over 16-byte addresses
-- (require "routes6").
local addresses6 = require "addresses6"
local ports = require "ports"
local routes = require "routes"

local routes6 = {}
local by_length = {}   -- prefix length -> {[network bytes] = route}
local by_length_high = {}  -- prefix length up to 64 -> {[the network's first 64 bits] = route}
local lengths = {}     -- the lengths present, longest first
local network = addresses6.network
local HIGH_MASKS = {}  -- length -> the mask of the first 64 bits
for length = 0, 64 do HIGH_MASKS[length] = length == 0 and 0 or -1 << (64 - length) end

local function add(prefix, length, route, text)
  local table_of_length = by_length[length]
  if not table_of_length then
    table_of_length = {}
    by_length[length] = table_of_length
    lengths[#lengths + 1] = length
    table.sort(lengths, function(a, b) return a > b end)
  end
  local existing = table_of_length[prefix]
  if existing then
    error("setting 'routes': " .. text .. " gives " .. addresses6.text(prefix) .. "/" .. length
          .. " a second route (it has '" .. existing.text .. "')", 0)
  end
  table_of_length[prefix] = route
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

-- The port whose IPv6 network holds an address, or nil.
local function connected_port(address)
  for _, port in ipairs(ports.list) do
    if port.network6 and network(address, port.length6) == port.network6 then return port end
  end
end
routes6.connected_port = connected_port

for _, port in ipairs(ports.list) do
  if port.dev and port.network6 then
    add(port.network6, port.length6, {port = port, text = "connected, port " .. port.number},
        port.address6_text .. "/" .. port.length6)
  end
end

for _, text in ipairs(tapir.config.routes) do
  if routes.is_ipv6(text) then
    local prefix_text, kind, target = text:match("^(%S+)%s+(%a+)%s+(%S+)$")
    local prefix, length = addresses6.parse_prefix(prefix_text)
    if not prefix then error("setting 'routes': " .. length, 0) end
    if network(prefix, length) ~= prefix then
      error("setting 'routes': '" .. text .. "': " .. prefix_text .. " has bits set past its length " .. length
            .. " (did you mean " .. addresses6.text(network(prefix, length)) .. "/" .. length .. "?)", 0)
    end
    local route = {text = text}
    if kind == "via" then
      local gateway = addresses6.parse(target)
      if not gateway then error("setting 'routes': '" .. text .. "': gateway '" .. target .. "' is not an IPv6 address", 0) end
      route.gateway = gateway
      route.port = connected_port(gateway)
      if not route.port then
        error("setting 'routes': '" .. text .. "': gateway " .. target .. " is on no port's IPv6 network", 0)
      end
    elseif kind == "dev" then
      route.port = ports.list[tonumber(target)]
      if not route.port then
        error("setting 'routes': '" .. text .. "': there is no port " .. target .. " (ports are 1 to "
              .. #ports.list .. ", in device order)", 0)
      end
      if not route.port.network6 then
        error("setting 'routes': '" .. text .. "': port " .. target .. " has no IPv6 prefix in 'ports6'", 0)
      end
    else
      error("setting 'routes': '" .. text .. "' is not 'PREFIX via GATEWAY' or 'PREFIX dev N'", 0)
    end
    if route.port.dev then
      add(prefix, length, route, "'" .. text .. "'")
    else
      tapir.log.warn("route '" .. text .. "' left out: port " .. route.port.number .. " has no device")
    end
  end
end

return routes6
