-- ARP for next hops on tap ports: a cache of their MACs that ages out, a small queue per
-- next hop of datagrams waiting for the answer, a request again each second, and host
-- unreachable for what waited when three requests got no answer (require "neighbours").
local addresses = require "addresses"
local counters = require "counters"
local icmp_errors = require "icmp_errors"
local ports = require "ports"

local RETRY_MS, REQUESTS = 1000, 3
local MAX_RESOLVING = 64   -- next hops awaited at once per port: a scan of a connected network stays bounded
local BROADCAST_MAC = 0xffffffffffff
local AGEING_MS = tapir.config.arp_ageing * 1000
local QUEUE_LIMIT = tapir.config.arp_queue
if AGEING_MS < 1000 then error("setting 'arp_ageing' must be at least 1 (seconds)", 0) end
if QUEUE_LIMIT < 1 then error("setting 'arp_queue' must be at least 1", 0) end

local neighbours = {}
local cache = {}     -- port number -> {[address] = {mac, header, expires}}
local waiting = {}   -- port number -> {[address] = {datagrams = {{datagram, from_port, link_source}, ...}, requests, timer}}
local resolving = {} -- port number -> how many addresses `waiting` holds
for number in ipairs(ports.list) do
  cache[number], waiting[number], resolving[number] = {}, {}, 0
end

local function stop_waiting(port, address)
  waiting[port.number][address] = nil
  resolving[port.number] = resolving[port.number] - 1
end

local function write(port, frame)
  if port.dev:write(frame) then
    counters.forwarded = counters.forwarded + 1
  else
    counters.write_failed = counters.write_failed + 1
  end
end

local function request(port, address)
  local frame = string.pack(">I6I6I2 I2I2BBI2 I6I4I6I4", BROADCAST_MAC, port.mac, 0x0806,
                            1, 0x0800, 6, 4, 1, port.mac, port.address, 0, address)
  if port.dev:write(frame) then
    counters.arp_requests = counters.arp_requests + 1
  else
    counters.write_failed = counters.write_failed + 1
  end
end

-- The Ethernet header for a datagram to this next hop on this port, or nil when its MAC
-- is not known (or aged out).
function neighbours.header(port, address)
  local entry = cache[port.number][address]
  if entry and entry.expires > tapir.now() then return entry.header end
  return nil
end

local function retry(port, address, queue)
  if waiting[port.number][address] ~= queue then return end
  if queue.requests < REQUESTS then
    queue.requests = queue.requests + 1
    request(port, address)
    queue.timer = tapir.after(RETRY_MS, function() retry(port, address, queue) end)
    return
  end
  stop_waiting(port, address)
  counters.arp_failed = counters.arp_failed + 1
  tapir.log.debug("no ARP answer from " .. addresses.text(address) .. " on port " .. port.number)
  for _, item in ipairs(queue.datagrams) do
    counters.host_unreachable = counters.host_unreachable + 1
    icmp_errors.send(item[2], item[3], item[1], 0, 3, 1)
  end
end

-- Keeps a datagram (IP, TTL already lowered) for `address` on `port` until its MAC is
-- known, asking for it when nobody has yet. `from_port` and `link_source` say where the
-- datagram came from, for the error if no answer comes.
function neighbours.enqueue(port, address, datagram, from_port, link_source)
  local queue = waiting[port.number][address]
  if queue then
    if #queue.datagrams >= QUEUE_LIMIT then
      table.remove(queue.datagrams, 1)
      counters.arp_queue_dropped = counters.arp_queue_dropped + 1
    end
    queue.datagrams[#queue.datagrams + 1] = {datagram, from_port, link_source}
    return
  end
  if resolving[port.number] >= MAX_RESOLVING then
    counters.arp_queue_dropped = counters.arp_queue_dropped + 1
    return
  end
  queue = {datagrams = {{datagram, from_port, link_source}}, requests = 1}
  waiting[port.number][address] = queue
  resolving[port.number] = resolving[port.number] + 1
  request(port, address)
  queue.timer = tapir.after(RETRY_MS, function() retry(port, address, queue) end)
end

-- What an ARP packet on `port` says: `address` is at `mac`. Kept when the router
-- already knows the address or waits for it on this port, or the router was the target
-- and the address is on the port's network (RFC 826's merge); what waited is sent.
function neighbours.learn(port, address, mac, was_target)
  if not addresses.is_unicast(address) or address == port.address then return end
  if mac >> 40 & 1 == 1 or mac == 0 then return end  -- a group or zero MAC is no host's
  local known, queue = cache[port.number][address], waiting[port.number][address]
  if not (known or queue or (was_target and address & port.mask == port.network)) then return end
  local expires = tapir.now() + AGEING_MS
  if known and known.mac == mac then
    known.expires = expires
  else
    known = {mac = mac, header = string.pack(">I6I6I2", mac, port.mac, 0x0800), expires = expires}
    cache[port.number][address] = known
  end
  if queue then
    stop_waiting(port, address)
    queue.timer:cancel()
    for _, item in ipairs(queue.datagrams) do write(port, known.header .. item[1]) end
  end
end

-- Aged entries go, so the cache holds only neighbours heard from lately.
tapir.every(AGEING_MS, function()
  local now = tapir.now()
  for _, entries in pairs(cache) do
    for address, entry in pairs(entries) do
      if entry.expires <= now then entries[address] = nil end
    end
  end
end)

return neighbours
