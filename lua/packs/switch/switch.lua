-- A learning Ethernet switch: every tap device the host serves is a port. A frame's
-- source MAC is learned on the port it came in on; a frame to a learned unicast address
-- goes out of that one port; unknown unicast, broadcast and multicast are flooded to
-- every port but the one the frame came in on. Nothing ever goes back out of its ingress
-- port. Counters per port are in tapir.state.ports and logged when the switch stops, on
-- a reload (SIGHUP) and every `report` seconds when set, one parseable line per port:
--   port swa: rx=5 tx=4 flooded=1 forwarded=4 dropped=0 macs=1
local Counters = require "tapir.counters"
local MacTable = require "mac_table"

local config = tapir.config
if config.ageing < 0 then error("switch: setting 'ageing' must be 0 or more seconds, got " .. config.ageing) end
if config.max_macs < 1 then error("switch: setting 'max_macs' must be at least 1, got " .. config.max_macs) end
if config.report < 0 then error("switch: setting 'report' must be 0 or more seconds, got " .. config.report) end

local LEARNING = config.ageing > 0
local state = tapir.state
state.macs = state.macs or {}    -- [mac] = {port = dev.id, seen = tapir.now()}
state.ports = state.ports or {}  -- [dev.name] = {rx, tx, flooded, forwarded, dropped}
local macs = MacTable.new(state.macs, config.ageing * 1000, config.max_macs)

-- The second hex digit of a MAC's text holds the I/G bit (the first octet's lowest):
-- set for broadcast and multicast ("group") addresses. A byte lookup, no allocation.
local GROUP_DIGIT = {}
for digit in ("13579bdfBDF"):gmatch(".") do GROUP_DIGIT[digit:byte()] = true end
local function is_group(mac) return GROUP_DIGIT[mac:byte(2)] == true end

-- Ports by dev.id (taps only: a tun device carries no Ethernet frames) and their counters.
local PORT_COUNTERS = {"rx", "tx", "flooded", "forwarded", "dropped"}
local ports, counters = {}, {}

local function refresh_ports()
  ports, counters = {}, {}
  for _, dev in ipairs(tapir.devices()) do
    if dev.mode == "tap" then
      ports[dev.id] = dev
      counters[dev.id] = Counters.new{state = state.ports, key = dev.name, names = PORT_COUNTERS,
                                      prefix = "port " .. dev.name}
    else
      tapir.log.warn("switch: " .. dev.name .. " is a tun device (no Ethernet): not a port")
    end
  end
end
refresh_ports()

local function send(pkt, id)
  if ports[id]:write(pkt) then
    local out = counters[id]
    out.tx = out.tx + 1
  end
end

local function flood(pkt, ingress)
  for id in pairs(ports) do
    if id ~= ingress then send(pkt, id) end
  end
end

tapir.on("frame", function(pkt, dev)
  local ingress = dev.id
  local counted = counters[ingress]
  if not counted then
    refresh_ports()  -- a device opened since
    counted = counters[ingress]
    if not counted then return end
  end
  counted.rx = counted.rx + 1
  local eth = pkt.eth
  if not eth then  -- shorter than an Ethernet header
    counted.dropped = counted.dropped + 1
    return true
  end
  local src, dst = eth.src, eth.dst
  if is_group(src) then  -- no frame comes from a group address
    counted.dropped = counted.dropped + 1
    return true
  end
  local now = tapir.now()
  if LEARNING and macs:learn(src, ingress, now) == "moved" then
    tapir.log.debug("switch: " .. src .. " moved to " .. dev.name)
  end
  local out = not is_group(dst) and macs:port(dst, now)
  if out == ingress then  -- the destination is on the segment it came from
    counted.dropped = counted.dropped + 1
  elseif out and ports[out] then
    counted.forwarded = counted.forwarded + 1
    send(pkt, out)
  else
    counted.flooded = counted.flooded + 1
    flood(pkt, ingress)
  end
  return true
end)

-- Expired entries are already ignored; the sweep frees their memory.
if LEARNING then
  local period = math.max(1000, math.min(60000, config.ageing * 250))
  tapir.every(period, function() macs:sweep(tapir.now()) end)
end

local function report()
  local learned = macs:counts(tapir.now())
  local ids = {}
  for id in pairs(ports) do ids[#ids + 1] = id end
  table.sort(ids)
  for _, id in ipairs(ids) do
    tapir.log.info(counters[id]:line() .. " macs=" .. (learned[id] or 0))
  end
end

if config.report > 0 then tapir.every(config.report * 1000, report) end
tapir.on_stop(report)
tapir.on_reload = report  -- SIGHUP: the counters (carried over in tapir.state) as they stand
