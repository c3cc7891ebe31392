-- The DHCP server (RFC 2131 §4.3): answers BOOTREQUESTs on UDP port 67 from the pool in
-- leases.lua, addressing each reply as §4.1 says. It is authoritative for its subnet: a
-- client asking for a free pool address it has no record of (after a restart, say) gets
-- it. Leases and counters live in tapir.state, so a reload keeps both.
local config = tapir.config
local addresses = require "addresses"
local message = require "message"
local Leases = require "leases"

local IP, MAC = config.ip, config.mac
local BROADCAST_IP = "255.255.255.255"
local BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
local ZERO = "0.0.0.0"

local state = tapir.state
state.counters = state.counters or {}
local counters = state.counters
local COUNTER_NAMES = {"received", "discover", "offer", "request", "ack", "nak", "decline", "release", "inform",
                       "malformed", "ignored", "exhausted", "loads"}
for _, name in ipairs(COUNTER_NAMES) do counters[name] = counters[name] or 0 end
counters.loads = counters.loads + 1
state.pool = state.pool or {}

local pool, problem = Leases.new({ip = IP, prefix = config.prefix, pool = config.pool, static = config.static,
                                  lease = config.lease}, state.pool)
if not pool then error(problem, 0) end
if #config.dns > 63 then error("setting 'dns': at most 63 addresses fit in the option", 0) end
if #config.router > 63 then error("setting 'router': at most 63 addresses fit in the option", 0) end
if #config.domain > 255 then error("setting 'domain': at most 255 bytes fit in the option", 0) end
local SUBNET_BROADCAST = addresses.to_text(pool.broadcast)

-- The options every ACK and OFFER carry after 53 (and 54, first of them).
local SERVER_ID = message.option(message.SERVER_ID, addresses.to_bytes(IP))
local LEASE_OPTIONS = {
  message.option(message.LEASE_TIME, message.u32(config.lease)),
  message.option(message.RENEWAL_TIME, message.u32(config.lease // 2)),
  message.option(message.REBINDING_TIME, message.u32(config.lease * 7 // 8)),
}
local NETWORK_OPTIONS = {message.option(message.SUBNET_MASK, message.u32(pool.mask))}
if #config.router > 0 then
  NETWORK_OPTIONS[#NETWORK_OPTIONS + 1] = message.option(message.ROUTER, message.address_list(config.router))
end
if #config.dns > 0 then
  NETWORK_OPTIONS[#NETWORK_OPTIONS + 1] = message.option(message.DNS, message.address_list(config.dns))
end
if config.domain ~= "" then
  NETWORK_OPTIONS[#NETWORK_OPTIONS + 1] = message.option(message.DOMAIN, config.domain)
end

local function options_for(kind)
  local list = {SERVER_ID}
  if kind ~= "inform" then
    for _, option in ipairs(LEASE_OPTIONS) do list[#list + 1] = option end
  end
  for _, option in ipairs(NETWORK_OPTIONS) do list[#list + 1] = option end
  return list
end

-- Warnings that a client can repeat (malformed requests, an exhausted pool) are logged
-- at most once per 10 s each, saying how many there were in between.
local WARN_INTERVAL_MS = 10 * 1000
local last_warned, unwarned = {}, {}

local function warn_limited(kind, text)
  unwarned[kind] = (unwarned[kind] or 0) + 1
  local now = tapir.now()
  if last_warned[kind] and now - last_warned[kind] < WARN_INTERVAL_MS then return end
  tapir.log.warn(string.format("%s (%d since the last such warning, %d in all)", text, unwarned[kind], counters[kind]))
  last_warned[kind], unwarned[kind] = now, 0
end

local function drop_malformed(pkt, why)
  counters.malformed = counters.malformed + 1
  warn_limited("malformed", string.format("dropped a malformed DHCP request from %s: %s", pkt.eth.src, why))
end

-- Where a reply goes (RFC 2131 §4.1): to a relay agent; a NAK broadcast; to a client that
-- has an address (ciaddr) directly; broadcast when the client asked for it or has no
-- address to be given; else to the address being given, at the client's MAC.
local function destination(request, pkt, kind, yiaddr)
  if request.giaddr ~= ZERO then return request.giaddr, 67, pkt.eth.src end
  if kind == message.NAK then return BROADCAST_IP, 68, BROADCAST_MAC end
  if request.ciaddr ~= ZERO then return request.ciaddr, 68, pkt.eth.src end
  if request.broadcast or not yiaddr then return BROADCAST_IP, 68, BROADCAST_MAC end
  return yiaddr, 68, request.mac
end

local function send(dev, pkt, request, kind, fields)
  fields.type = kind
  if request.client_id then  -- echoed, so the client knows the reply is its own (RFC 6842)
    fields.options[#fields.options + 1] = message.option(message.CLIENT_ID, request.client_id)
  end
  local ip_dst, port, mac_dst = destination(request, pkt, kind, fields.yiaddr)
  dev:write(tapir.build.eth{src = MAC, dst = mac_dst, type = 0x0800}
         .. tapir.build.ip{src = IP, dst = ip_dst, proto = 17,
                           payload = tapir.build.udp{sport = 67, dport = port, payload = message.build(request, fields)}})
  counters[message.TYPE_NAMES[kind]:lower()] = counters[message.TYPE_NAMES[kind]:lower()] + 1
end

local function nak(dev, pkt, request, why)
  tapir.log.info(string.format("NAK to %s: %s", request.mac, why))
  send(dev, pkt, request, message.NAK,
       {options = {SERVER_ID, message.option(message.MESSAGE, why:sub(1, 255))}})
end

local function client_key(request)
  if request.client_id then return "id:" .. addresses.hex(request.client_id) end
  return "hw:" .. request.mac
end

local function on_discover(dev, pkt, request, key, now)
  local ip = pool:choose(key, request.mac, request.requested, now)
  if not ip then
    counters.exhausted = counters.exhausted + 1
    warn_limited("exhausted", string.format("no address to offer %s: the pool is exhausted", request.mac))
    return
  end
  pool:offer(key, request.mac, ip, now)
  send(dev, pkt, request, message.OFFER, {yiaddr = ip, options = options_for("offer")})
end

local function on_request(dev, pkt, request, key, now)
  local ip, kind
  if request.server then
    if request.server ~= IP then  -- the client took another server's offer
      pool:withdraw_offer(key)
      return
    end
    ip, kind = request.requested or request.ciaddr, "selecting"
  elseif request.requested then
    ip, kind = request.requested, "init-reboot"
  elseif request.ciaddr ~= ZERO then
    ip, kind = request.ciaddr, pkt.ip.dst == IP and "renewing" or "rebinding"
  else
    counters.ignored = counters.ignored + 1
    return  -- names no address: nothing to confirm
  end
  local ok, why = pool:can_have(key, request.mac, ip, now)
  if not ok then return nak(dev, pkt, request, ip .. ": " .. why) end
  pool:bind(key, request.mac, ip, now)
  tapir.log.info(string.format("ACK %s to %s (%s, lease %d s)", ip, request.mac, kind, config.lease))
  send(dev, pkt, request, message.ACK, {ciaddr = request.ciaddr, yiaddr = ip, options = options_for("ack")})
end

local function on_decline(request, key, now)
  if request.server ~= IP or not request.requested then return end
  pool:decline(key, request.requested, now)
  tapir.log.warn(string.format("%s declined %s (in use by another host): not handed out for %d s",
                               request.mac, request.requested, Leases.DECLINE_HOLD_MS // 1000))
end

local function on_release(request, key)
  if request.server and request.server ~= IP then return end
  if pool:release(key, request.ciaddr) then
    tapir.log.info(string.format("%s released %s", request.mac, request.ciaddr))
  end
end

local function on_inform(dev, pkt, request)
  send(dev, pkt, request, message.ACK, {ciaddr = request.ciaddr, options = options_for("inform")})
end

tapir.on("udp", {dport = 67}, function(pkt, dev)
  local ip = pkt.ip
  if not ip or not pkt.eth then return end
  if ip.dst ~= IP and ip.dst ~= BROADCAST_IP and ip.dst ~= SUBNET_BROADCAST then return end
  counters.received = counters.received + 1
  local request, why
  if ip.mf or ip.frag ~= 0 then
    why = "a fragment"
  else
    request, why = message.parse(pkt.payload)
  end
  if not request then
    drop_malformed(pkt, why)
    return true
  end
  local kind = request.type
  local relayed_elsewhere = request.giaddr ~= ZERO and not pool:in_subnet(addresses.to_integer(request.giaddr))
  if not kind or kind < 1 or kind > 8 or not request.mac or relayed_elsewhere then
    -- BOOTP without DHCP, a reply type, non-Ethernet hardware, another subnet's relay
    counters.ignored = counters.ignored + 1
    return true
  end
  local key, now = client_key(request), tapir.now()
  if kind == message.DISCOVER then
    counters.discover = counters.discover + 1
    on_discover(dev, pkt, request, key, now)
  elseif kind == message.REQUEST then
    counters.request = counters.request + 1
    on_request(dev, pkt, request, key, now)
  elseif kind == message.DECLINE then
    counters.decline = counters.decline + 1
    on_decline(request, key, now)
  elseif kind == message.RELEASE then
    counters.release = counters.release + 1
    on_release(request, key)
  elseif kind == message.INFORM then
    counters.inform = counters.inform + 1
    on_inform(dev, pkt, request)
  else
    counters.ignored = counters.ignored + 1  -- OFFER, ACK, NAK: server messages
  end
  return true
end)

-- Lease expiry: the checks above compare with the clock themselves; this sweep forgets
-- untaken offers and says when a lease ends.
tapir.every(1000, function()
  pool:expire(tapir.now(), function(record)
    if record.state == "expired" then
      tapir.log.info(string.format("the lease of %s to %s expired", record.ip, record.mac))
    end
  end)
end)

-- The counters and leases as text, for the stats port.
local function report()
  local now = tapir.now()
  local parts = {}
  for i, name in ipairs(COUNTER_NAMES) do parts[i] = name .. "=" .. counters[name] end
  local lines = {table.concat(parts, " ")}
  for _, record in ipairs(pool:list()) do
    local left = math.max(0, (record.expires - now) // 1000)
    lines[#lines + 1] = string.format("lease %s %s %s %d", record.ip, record.mac, record.state, left)
  end
  return table.concat(lines, "\n") .. "\n"
end

if config.stats_port ~= 0 then
  tapir.on("udp", {dport = config.stats_port}, function(pkt, dev)
    if not pkt.ip or pkt.ip.dst ~= IP then return end
    dev:write(pkt:reply{payload = report()})
    return true
  end)
end
