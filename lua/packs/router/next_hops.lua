-- Next hops' MACs on tap ports, for both families: a cache that ages out, a small queue
-- per next hop of datagrams waiting for the answer, a request again each second, and
-- "unreachable" for what waited when three requests got no answer. `next_hops.ipv4`
-- asks by ARP (addresses as integers), `next_hops.ipv6` by neighbor solicitation
-- (addresses as 16 bytes, RFC 4861 7.2) (require "next_hops").
local addresses = require "addresses"
local addresses6 = require "addresses6"
local counters = require "counters"
local icmp_errors = require "icmp_errors"
local ndp = require "tapir.proto.ndp"
local ports = require "ports"

local RETRY_MS, REQUESTS = 1000, 3
local MAX_RESOLVING = 64   -- next hops awaited at once per port: a scan of a connected network stays bounded
local BROADCAST_MAC = 0xffffffffffff
local AGEING_MS = tapir.config.arp_ageing * 1000
local QUEUE_LIMIT = tapir.config.arp_queue

local next_hops = {}

local function count(name) counters[name] = counters[name] + 1 end

local function write(port, frame, counter)
  if port.dev:write(frame) then count(counter) else count("write_failed") end
end

tapir.state.next_hops = tapir.state.next_hops or {}

-- A resolver for one family. `family` has: name (its key in tapir.state.next_hops);
-- ethertype; names = the counters' {requests, failed, queue_dropped}; request(port,
-- address) sends one; unreachable(item) answers a datagram that waited in vain;
-- text(address); on_link(port, address).
local function resolver(family)
  local self = {}
  -- port number -> {[address] = {mac, expires}}: plain data, kept across reloads
  tapir.state.next_hops[family.name] = tapir.state.next_hops[family.name] or {}
  local cache = tapir.state.next_hops[family.name]
  local headers = {}   -- port number -> {[mac] = the Ethernet header to it}: rebuilt, not kept
  local waiting = {}   -- port number -> {[address] = {datagrams = {{datagram, from_port, link_source}, ...}, requests, timer}}
  local resolving = {} -- port number -> how many addresses `waiting` holds
  for number in ipairs(ports.list) do
    cache[number] = cache[number] or {}
    headers[number], waiting[number], resolving[number] = {}, {}, 0
  end

  local function header_to(port, mac)
    local header = headers[port.number][mac]
    if not header then
      header = string.pack(">I6I6I2", mac, port.mac, family.ethertype)
      headers[port.number][mac] = header
    end
    return header
  end
  local names = family.names

  local function stop_waiting(port, address)
    waiting[port.number][address] = nil
    resolving[port.number] = resolving[port.number] - 1
  end

  local function ask(port, address)
    if family.request(port, address) then count(names.requests) else count("write_failed") end
  end

  -- The Ethernet header for a datagram to this next hop on this port, or nil when its MAC
  -- is not known (or aged out).
  function self.header(port, address)
    local entry = cache[port.number][address]
    if entry and entry.expires > tapir.now() then return header_to(port, entry.mac) end
    return nil
  end

  -- Forwards the datagram at `offset` out of `egress` (pkt:forward lowers its TTL or hop
  -- limit): as it is out of a tun port, behind the next hop's MAC out of a tap. False when
  -- that MAC is not known yet: the caller lowers the TTL itself and calls enqueue.
  function self.forward(pkt, egress, next_hop, offset)
    local header
    if egress.tap then
      header = self.header(egress, next_hop)
      if not header then return false end
    end
    if pkt:forward(egress.dev, offset, header) then count("forwarded") else count("write_failed") end
    return true
  end

  local function retry(port, address, queue)
    if waiting[port.number][address] ~= queue then return end
    if queue.requests < REQUESTS then
      queue.requests = queue.requests + 1
      ask(port, address)
      queue.timer = tapir.after(RETRY_MS, function() retry(port, address, queue) end)
      return
    end
    stop_waiting(port, address)
    count(names.failed)
    tapir.log.debug("no answer from " .. family.text(address) .. " on port " .. port.number)
    for _, item in ipairs(queue.datagrams) do
      count("host_unreachable")
      family.unreachable(item)
    end
  end

  -- Keeps a datagram (TTL or hop limit already lowered) for `address` on `port` until its
  -- MAC is known, asking for it when nobody has yet. `from_port` and `link_source` say
  -- where the datagram came from, for the error if no answer comes.
  function self.enqueue(port, address, datagram, from_port, link_source)
    local queue = waiting[port.number][address]
    if queue then
      if #queue.datagrams >= QUEUE_LIMIT then
        table.remove(queue.datagrams, 1)
        count(names.queue_dropped)
      end
      queue.datagrams[#queue.datagrams + 1] = {datagram, from_port, link_source}
      return
    end
    if resolving[port.number] >= MAX_RESOLVING then
      count(names.queue_dropped)
      return
    end
    queue = {datagrams = {{datagram, from_port, link_source}}, requests = 1}
    waiting[port.number][address] = queue
    resolving[port.number] = resolving[port.number] + 1
    ask(port, address)
    queue.timer = tapir.after(RETRY_MS, function() retry(port, address, queue) end)
  end

  -- What a packet on `port` says: `address` is at `mac`. Kept when the router already
  -- knows the address or waits for it on this port, or the router was the target and the
  -- address is on the port's network (RFC 826's merge, RFC 4861 7.2.3); what waited is sent.
  -- `override` false (a neighbor advertisement without the Override flag) does not replace
  -- a known address with another (RFC 4861 7.2.5).
  function self.learn(port, address, mac, was_target, override)
    if mac >> 40 & 1 == 1 or mac == 0 then return end  -- a group or zero MAC is no host's
    local known, queue = cache[port.number][address], waiting[port.number][address]
    if not (known or queue or (was_target and family.on_link(port, address))) then return end
    if override == false and known and known.mac ~= mac then return end
    local expires = tapir.now() + AGEING_MS
    if known and known.mac == mac then
      known.expires = expires
    else
      known = {mac = mac, expires = expires}
      cache[port.number][address] = known
    end
    if queue then
      stop_waiting(port, address)
      queue.timer:cancel()
      local header = header_to(port, mac)
      for _, item in ipairs(queue.datagrams) do write(port, header .. item[1], "forwarded") end
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

  return self
end

next_hops.ipv4 = resolver{
  name = "ipv4",
  ethertype = 0x0800,
  names = {requests = "arp_requests", failed = "arp_failed", queue_dropped = "arp_queue_dropped"},
  text = addresses.text,
  request = function(port, address)
    return port.dev:write(string.pack(">I6I6I2 I2I2BBI2 I6I4I6I4", BROADCAST_MAC, port.mac, 0x0806,
                                      1, 0x0800, 6, 4, 1, port.mac, port.address, 0, address))
  end,
  unreachable = function(item) icmp_errors.send(item[2], item[3], item[1], 0, 3, 1) end,
  on_link = function(port, address)
    return addresses.is_unicast(address) and address ~= port.address and address & port.mask == port.network
  end,
}

-- A solicitation to the target's solicited-node group, from the port's global address
-- when the target is on its prefix, else from its link-local one, with our MAC in it.
next_hops.ipv6 = resolver{
  name = "ipv6",
  ethertype = 0x86dd,
  names = {requests = "nd_requests", failed = "nd_failed", queue_dropped = "nd_queue_dropped"},
  text = addresses6.text,
  request = function(port, address)
    local group = addresses6.solicited_node(address)
    local source = addresses6.network(address, port.length6) == port.network6 and port.address6 or port.link_local
    local source_text, group_text = addresses6.text(source), addresses6.text(group)
    local solicitation = ndp.encode{type = ndp.NEIGHBOR_SOLICITATION, target = addresses6.text(address),
                                    source_lladdr = addresses.mac_text(port.mac)}
    return port.dev:write(string.pack(">I6I6I2", addresses6.multicast_mac(group), port.mac, 0x86dd)
                          .. tapir.build.ipv6{src = source_text, dst = group_text, nxt = 58, hlim = 255,
                                              payload = solicitation})
  end,
  unreachable = function(item) icmp_errors.send6(item[2], item[3], item[1], 0, 1, 3) end,
  on_link = function(port, address)
    return addresses6.is_unicast(address) and address ~= port.address6
      and (addresses6.is_link_local(address) or addresses6.network(address, port.length6) == port.network6)
  end,
}

return next_hops
