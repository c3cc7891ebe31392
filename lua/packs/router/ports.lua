-- The router's ports: the `ports` setting's Nth ADDRESS/PREFIX on the Nth device the
-- host serves (by dev.id), each with its MAC (the `mac` setting plus N-1) and its
-- connected network (require "ports").
local addresses = require "addresses"
local config = tapir.config

local ports = {
  list = {},          -- by port number
  by_device = {},     -- dev.id -> port
  by_address = {},    -- the router's own addresses -> port
  broadcasts = {},    -- each port's directed broadcast address -> true
}

local devices = tapir.devices()
table.sort(devices, function(a, b) return a.id < b.id end)
local base_mac = addresses.parse_mac(config.mac)

for number, text in ipairs(config.ports) do
  local address, length = addresses.parse_prefix(text)
  if not address then error("setting 'ports': " .. length, 0) end
  if length == 0 then error("setting 'ports': '" .. text .. "' covers every address; give the port's own network", 0) end
  local mask = addresses.mask(length)
  local port = {
    number = number,
    address = address,
    address_text = addresses.text(address),
    length = length,
    mask = mask,
    network = address & mask,
    -- /31 (RFC 3021) and /32 have no broadcast address
    broadcast = length <= 30 and (address | ~mask & 0xffffffff) or nil,
    mac = (base_mac + number - 1) & 0xffffffffffff,
    dev = devices[number],
  }
  if length <= 30 and (address == port.network or address == port.broadcast) then
    error("setting 'ports': " .. text .. " is its network's own "
          .. (address == port.network and "network" or "broadcast") .. " address, not a host's", 0)
  end
  for _, other in ipairs(ports.list) do
    local shorter = math.min(other.length, length)
    if other.network & addresses.mask(shorter) == port.network & addresses.mask(shorter) then
      error("setting 'ports': " .. text .. " overlaps port " .. other.number .. "'s network "
            .. addresses.text(other.network) .. "/" .. other.length, 0)
    end
  end
  port.tap = port.dev ~= nil and port.dev.mode == "tap"
  ports.list[number] = port
  if port.dev then
    ports.by_device[port.dev.id] = port
    ports.by_address[address] = port
    if port.broadcast then ports.broadcasts[port.broadcast] = true end
    tapir.log.info(string.format("port %d: %s %s/%d%s", number, port.dev.name, port.address_text, length,
                                 port.tap and (" mac " .. addresses.mac_text(port.mac)) or ""))
  else
    tapir.log.warn(string.format("port %d (%s): no device %d to put it on, so it is left out", number, text, number))
  end
end

for number = #config.ports + 1, #devices do
  tapir.log.warn(string.format("device %s has no address in 'ports': the router ignores it", devices[number].name))
end

return ports
