-- The router's ports: the `ports` setting's Nth ADDRESS/PREFIX on the Nth device the
-- host serves (by dev.id), each with its MAC (the `mac` setting plus N-1) and its
-- connected network; the `ports6` setting's Nth IPv6 ADDRESS/PREFIX on the same port, with
-- its link-local address from the MAC; the `mtu` setting's Nth MTU (require "ports").
local addresses = require "addresses"
local addresses6 = require "addresses6"
local config = tapir.config

local ports = {
  list = {},          -- by port number
  by_device = {},     -- dev.id -> port
  by_address = {},    -- the router's own addresses -> port
  broadcasts = {},    -- each port's directed broadcast address -> true
  by_address6 = {},   -- the router's own global IPv6 addresses (16 bytes) -> port
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

for number, text in ipairs(config.ports6) do
  local port = ports.list[number]
  if not port then
    error("setting 'ports6': entry " .. number .. " (" .. text .. ") has no port: 'ports' names " .. #ports.list, 0)
  end
  if text ~= "none" then
    local address6, length = addresses6.parse_prefix(text)
    if not address6 then error("setting 'ports6': " .. length .. ", or 'none'", 0) end
    if length == 0 or length > 127 then
      error("setting 'ports6': '" .. text .. "': a port's prefix is 1 to 127 bits long", 0)
    end
    if not addresses6.is_unicast(address6) or addresses6.is_link_local(address6) then
      error("setting 'ports6': '" .. text .. "' is not a global unicast address (the link-local one comes from the MAC)", 0)
    end
    port.address6, port.length6 = address6, length
    port.address6_text = addresses6.text(address6)
    port.network6 = addresses6.network(address6, length)
    port.link_local = addresses6.link_local(port.mac)
    for _, other in ipairs(ports.list) do
      if other ~= port and other.network6 then
        local shorter = math.min(other.length6, length)
        if addresses6.network(other.network6, shorter) == addresses6.network(port.network6, shorter) then
          error("setting 'ports6': " .. text .. " overlaps port " .. other.number .. "'s network "
                .. addresses6.text(other.network6) .. "/" .. other.length6, 0)
        end
      end
    end
    if port.dev then
      ports.by_address6[address6] = port
      tapir.log.info(string.format("port %d: %s %s/%d link-local %s", number, port.dev.name, port.address6_text,
                                   length, addresses6.text(port.link_local)))
    end
  end
end

for number, mtu in ipairs(config.mtu) do
  if not ports.list[number] then
    error("setting 'mtu': entry " .. number .. " has no port: 'ports' names " .. #ports.list, 0)
  end
  if mtu ~= 0 and (mtu < 1280 or mtu > 65535) then
    error("setting 'mtu': " .. mtu .. " for port " .. number .. " is not 0 (the device's) or 1280 to 65535", 0)
  end
  ports.list[number].mtu = mtu ~= 0 and mtu or nil
end

-- What answers ARP and neighbor solicitations for each tap port's own addresses: a
-- tapir.neighbours instance (not started: arp.lua and neighbour_discovery.lua call it, as
-- they learn from the same packets), with the router flag.
local neighbours = require "tapir.neighbours"
for _, port in ipairs(ports.list) do
  if port.tap then
    port.host = neighbours.new{mac = addresses.mac_text(port.mac), ipv4 = port.address_text,
                               ipv6 = port.address6 and {port.address6_text, addresses6.text(port.link_local)} or {},
                               router = true, device = port.dev, foreign = "accept"}
  end
end

-- The MTU datagrams out of `port` must fit: the `mtu` setting's, else the device's (live:
-- it follows the kernel), else nil (a memory device has none).
function ports.mtu(port)
  return port.mtu or port.dev.mtu
end

for number = #config.ports + 1, #devices do
  tapir.log.warn(string.format("device %s has no address in 'ports': the router ignores it", devices[number].name))
end

return ports
