-- The DHCP server (RFC 2131 §4.3): answers BOOTREQUESTs on UDP port 67 from the pool in
-- leases.lua, addressing each reply as §4.1 says. It is authoritative for its subnet: a
-- client asking for a free pool address it has no record of (after a restart, say) gets
-- it. Leases and counters live in tapir.state, so a reload keeps both.
-- A message in IPv4 fragments arrives whole.
tapir.reassemble = true
tapir.verify_checksums = true  -- a datagram whose checksum fails is dropped, as Linux does
local config = tapir.config
local addr = require "tapir.addr"
local message = require "message"
local dhcp = require "tapir.proto.dhcp"
local Counters = require "tapir.counters"
local Leases = require "leases"

local IP, MAC = config.ip, config.mac
local BROADCAST_IP = "255.255.255.255"
local BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
local ZERO = "0.0.0.0"

local state = tapir.state
local counters = Counters.new{names = {"received", "discover", "offer", "request", "ack", "nak", "decline", "release",
                                       "inform", "malformed", "ignored", "exhausted", "loads"}}
counters:add("loads")
state.pool = state.pool or {}

local pool, problem = Leases.new({ip = IP, prefix = config.prefix, pool = config.pool, static = config.static,
                                  lease = config.lease}, state.pool)
if not pool then error(problem, 0) end
local SUBNET_BROADCAST = addr.ipv4_int_text(pool.broadcast)

local O = message.OPTION
local function check(ok, why)
  if not ok then error(why, 0) end
  return ok
end

-- The value of every option the settings give (code -> bytes), checked once here.
local VALUES = {[O.SUBNET_MASK] = dhcp.u32(pool.mask), [O.BROADCAST] = dhcp.u32(pool.broadcast)}
local function list_setting(code, name, list)
  if #list == 0 then return end
  if #list > 63 then error("setting '" .. name .. "': at most 63 addresses fit in the option", 0) end
  VALUES[code] = check(dhcp.addresses(list))
end
list_setting(O.ROUTER, "router", config.router)
list_setting(O.DNS, "dns", config.dns)
list_setting(O.NTP, "ntp", config.ntp)
if config.domain ~= "" then
  if #config.domain > 255 then error("setting 'domain': at most 255 bytes fit in the option", 0) end
  VALUES[O.DOMAIN] = config.domain
end
if config.mtu ~= 0 then
  if config.mtu < 68 or config.mtu > 65535 then error("setting 'mtu' = " .. config.mtu .. ": 68 to 65535, or 0 for none", 0) end
  VALUES[O.MTU] = dhcp.u16(config.mtu)
end
if config.time_offset ~= "" then
  local offset = config.time_offset:match("^%s*([+-]?%d+)%s*$")
  offset = offset and tonumber(offset)
  if not offset or offset < -0x80000000 or offset > 0x7fffffff then
    error("setting 'time_offset' = '" .. config.time_offset .. "' is not seconds east of UTC (-43200 to 50400, say)", 0)
  end
  VALUES[O.TIME_OFFSET] = dhcp.i32(offset)
end
if #config.search > 0 then
  local value, why = dhcp.search_list(config.search)
  if not value then error("setting 'search': " .. why, 0) end
  VALUES[O.SEARCH] = value
end
if #config.routes > 0 then
  -- RFC 3442: a client given option 121 ignores option 3, so the default route goes in too.
  local routes, has_default = {}, false
  for _, text in ipairs(config.routes) do
    local prefix, length, router = text:match("^%s*([%d.]+)/(%d+)%s+via%s+([%d.]+)%s*$")
    local network = addr.ipv4_int(prefix)
    length = tonumber(length)
    if not network or not length or length > 32 or not addr.ipv4_int(router) then
      error("setting 'routes': '" .. text .. "' is not 'PREFIX/LENGTH via ROUTER' (198.19.0.0/16 via 198.18.0.1)", 0)
    end
    if network & ~addr.ipv4_mask(length) & 0xffffffff ~= 0 then
      error("setting 'routes': '" .. text .. "' has host bits set past /" .. length, 0)
    end
    has_default = has_default or length == 0
    routes[#routes + 1] = {prefix = prefix, length = length, router = router}
  end
  if not has_default and #config.router > 0 then
    routes[#routes + 1] = {prefix = "0.0.0.0", length = 0, router = config.router[1]}
  end
  VALUES[O.CLASSLESS_ROUTES] = check(dhcp.classless_routes(routes))
end
-- Host names by MAC, 'MAC=NAME; ...'.
local HOST_NAMES = {}
for entry in config.hostnames:gmatch("[^;]+") do
  if entry:match("%S") then
    local mac_text, name = entry:match("^%s*([^=%s]+)%s*=%s*([%w][%w%-%.]*)%s*$")
    local mac = addr.family(mac_text) == "mac" and addr.normal(mac_text)
    if not mac or #name > 255 then error("setting 'hostnames': '" .. entry .. "' is not MAC=NAME", 0) end
    HOST_NAMES[mac] = name
  end
end

-- Sent whenever set, asked for or not (RFC 2131 4.3.1: what the client needs to use the
-- address); the others only to a client whose parameter request list (55) names them.
local ALWAYS = {O.SUBNET_MASK, O.ROUTER, O.DNS, O.DOMAIN}
local LEASE_ORDER = {O.SERVER_ID, O.LEASE_TIME, O.RENEWAL_TIME, O.REBINDING_TIME}
local SERVER_ID = addr.ipv4_bytes(IP)
local LEASE_VALUES = {[O.LEASE_TIME] = dhcp.u32(config.lease), [O.RENEWAL_TIME] = dhcp.u32(config.lease // 2),
                      [O.REBINDING_TIME] = dhcp.u32(config.lease * 7 // 8)}

-- The options of an OFFER or ACK (`kind` "inform": no lease options) to `request`: 54 and
-- the lease times first, then what the client asked for in the order it asked (RFC 2132
-- 9.8), then what is always sent.
local function options_for(kind, request)
  local options, order = {[O.SERVER_ID] = SERVER_ID}, {O.SERVER_ID}
  if kind ~= "inform" then
    for _, code in ipairs(LEASE_ORDER) do
      if LEASE_VALUES[code] then options[code] = LEASE_VALUES[code] order[#order + 1] = code end
    end
  end
  local function add(code, value)
    if value and not options[code] then
      options[code] = value
      order[#order + 1] = code
    end
  end
  local host_name = HOST_NAMES[request.mac]
  for _, code in ipairs(request.parameters) do
    if code == O.HOST_NAME then add(code, host_name) else add(code, VALUES[code]) end
  end
  for _, code in ipairs(ALWAYS) do add(code, VALUES[code]) end
  return options, order
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
  counters:add("malformed")
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
    fields.options[O.CLIENT_ID] = request.client_id
    fields.order[#fields.order + 1] = O.CLIENT_ID
  end
  local ip_dst, port, mac_dst = destination(request, pkt, kind, fields.yiaddr)
  dev:write(tapir.build.eth{src = MAC, dst = mac_dst, type = 0x0800}
         .. tapir.build.ip{src = IP, dst = ip_dst, proto = 17,
                           payload = tapir.build.udp{sport = 67, dport = port, payload = message.build(request, fields)}})
  counters:add(message.TYPE_NAMES[kind]:lower())
end

local function nak(dev, pkt, request, why)
  tapir.log.info(string.format("NAK to %s: %s", request.mac, why))
  send(dev, pkt, request, message.NAK, {options = {[O.SERVER_ID] = SERVER_ID, [O.MESSAGE] = why:sub(1, 255)},
                                        order = {O.SERVER_ID, O.MESSAGE}})
end

local function client_key(request)
  if request.client_id then
    return "id:" .. request.client_id:gsub(".", function(c) return string.format("%02x", c:byte()) end)
  end
  return "hw:" .. request.mac
end

local function on_discover(dev, pkt, request, key, now)
  local ip = pool:choose(key, request.mac, request.requested, now)
  if not ip then
    counters:add("exhausted")
    warn_limited("exhausted", string.format("no address to offer %s: the pool is exhausted", request.mac))
    return
  end
  pool:offer(key, request.mac, ip, now)
  local options, order = options_for("offer", request)
  send(dev, pkt, request, message.OFFER, {yiaddr = ip, options = options, order = order})
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
    counters:add("ignored")
    return  -- names no address: nothing to confirm
  end
  local ok, why = pool:can_have(key, request.mac, ip, now)
  if not ok then return nak(dev, pkt, request, ip .. ": " .. why) end
  pool:bind(key, request.mac, ip, now)
  tapir.log.info(string.format("ACK %s to %s (%s, lease %d s)", ip, request.mac, kind, config.lease))
  local options, order = options_for("ack", request)
  send(dev, pkt, request, message.ACK, {ciaddr = request.ciaddr, yiaddr = ip, options = options, order = order})
end

local function on_decline(request, key, now)
  if request.server ~= IP or not request.requested then return end
  pool:decline(key, request.requested, now)
  tapir.log.warn(string.format("%s declined %s (in use by another host): not handed out for %d s",
                               request.mac, request.requested, Leases.DECLINE_HOLD_MS // 1000))
end

local function on_release(request, key, now)
  if request.server and request.server ~= IP then return end
  if pool:release(key, request.ciaddr, now) then
    tapir.log.info(string.format("%s released %s (kept for it while no one else needs it)", request.mac,
                                 request.ciaddr))
  end
end

local function on_inform(dev, pkt, request)
  local options, order = options_for("inform", request)
  send(dev, pkt, request, message.ACK, {ciaddr = request.ciaddr, options = options, order = order})
end

tapir.on("udp", {dport = 67}, function(pkt, dev)
  local ip = pkt.ip
  if not ip or not pkt.eth then return end
  if ip.dst ~= IP and ip.dst ~= BROADCAST_IP and ip.dst ~= SUBNET_BROADCAST then return end
  counters:add("received")
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
  local relayed_elsewhere = request.giaddr ~= ZERO and not pool:in_subnet(addr.ipv4_int(request.giaddr))
  if not kind or kind < 1 or kind > 8 or not request.mac or relayed_elsewhere then
    -- BOOTP without DHCP, a reply type, non-Ethernet hardware, another subnet's relay
    counters:add("ignored")
    return true
  end
  local key, now = client_key(request), tapir.now()
  if kind == message.DISCOVER then
    counters:add("discover")
    on_discover(dev, pkt, request, key, now)
  elseif kind == message.REQUEST then
    counters:add("request")
    on_request(dev, pkt, request, key, now)
  elseif kind == message.DECLINE then
    counters:add("decline")
    on_decline(request, key, now)
  elseif kind == message.RELEASE then
    counters:add("release")
    on_release(request, key, now)
  elseif kind == message.INFORM then
    counters:add("inform")
    on_inform(dev, pkt, request)
  else
    counters:add("ignored")  -- OFFER, ACK, NAK: server messages
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
  local lines = {counters:line()}
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
