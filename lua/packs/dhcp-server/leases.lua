-- The address pool and its leases. Which address a client gets, whether it may have the
-- one it asks for, and the records that say so. Pure: times are passed in (milliseconds
-- on the host's clock), and the records live in a plain table the caller keeps (the pack
-- keeps it in tapir.state, so a reload keeps every lease).
--
-- The store: store.leases[key] = {ip = TEXT, mac = TEXT, expires = MS, state = "offered"
-- | "bound" | "expired" | "released"}, one per client (key: "id:" .. client id in hex, or "hw:" .. MAC);
-- store.declined[ip] = MS until which a declined address is not handed out.
--
-- An expired or released lease is remembered, not deleted ("expired", "released"), so
-- the client gets the same address back when it is free (RFC 2131 4.3.1); its address
-- goes to a new client only when no address was never leased (the one let go longest ago
-- first).
local addr = require "tapir.addr"

local Leases = {}
Leases.__index = Leases

-- How long an offered address is held for the client's REQUEST.
Leases.OFFER_HOLD_MS = 60 * 1000
-- How long a declined address (in use by someone the server does not know) is left alone.
Leases.DECLINE_HOLD_MS = 10 * 60 * 1000
-- The most addresses a pool may hold (a /16): choosing scans the pool.
Leases.MAX_POOL = 65536

local function fail(setting, problem)
  return nil, string.format("setting '%s': %s", setting, problem)
end

-- "198.18.0.100-198.18.0.199" -> first, last (integers), or nil and why.
local function parse_pool(text, network, mask, server)
  local first_text, last_text = text:match("^%s*([%d.]+)%s*%-%s*([%d.]+)%s*$")
  local first, last = addr.ipv4_int(first_text), addr.ipv4_int(last_text)
  if not first or not last then return fail("pool", "'" .. text .. "' is not FIRST-LAST (198.18.0.100-198.18.0.199)") end
  if first > last then return fail("pool", "'" .. text .. "' starts after it ends") end
  local broadcast = network | (~mask & 0xffffffff)
  if first & mask ~= network or last & mask ~= network or first == network or last == broadcast then
    return fail("pool", "'" .. text .. "' is not inside " .. addr.ipv4_int_text(network) .. " (network and broadcast excluded)")
  end
  if last - first + 1 > Leases.MAX_POOL then return fail("pool", "more than " .. Leases.MAX_POOL .. " addresses") end
  if first == last and first == server then return fail("pool", "holds only the server's own address") end
  return first, last
end

-- "MAC=IP; MAC=IP" -> {[mac] = ip text}, {[ip integer] = mac}, or nil and why.
local function parse_static(text, in_subnet, server)
  local by_mac, by_ip = {}, {}
  for entry in text:gmatch("[^;]+") do
    if entry:match("%S") then
      local mac_text, ip_text = entry:match("^%s*([^=%s]+)%s*=%s*([^%s]+)%s*$")
      local mac, ip = addr.family(mac_text) == "mac" and addr.normal(mac_text), addr.ipv4_int(ip_text)
      if not mac or not ip then return fail("static", "'" .. entry .. "' is not MAC=IP") end
      if not in_subnet(ip) or ip == server then
        return fail("static", ip_text .. " is not a client address of the server's subnet")
      end
      if by_mac[mac] then return fail("static", mac .. " is bound twice") end
      if by_ip[ip] then return fail("static", ip_text .. " is bound twice") end
      by_mac[mac], by_ip[ip] = addr.ipv4_int_text(ip), mac
    end
  end
  return by_mac, by_ip
end

-- settings: {ip = TEXT, prefix = N, pool = "" or "FIRST-LAST", static = "" or "MAC=IP; ...",
-- lease = seconds}; store: the table the records live in. Returns the pool, or nil and why.
function Leases.new(settings, store)
  local server = addr.ipv4_int(settings.ip)
  if not server then return fail("ip", "not an IPv4 address") end
  local prefix = settings.prefix
  if math.type(prefix) ~= "integer" or prefix < 8 or prefix > 30 then
    return fail("prefix", tostring(prefix) .. " is not a prefix length from 8 to 30")
  end
  if math.type(settings.lease) ~= "integer" or settings.lease < 1 or settings.lease > 0x7fffffff then
    return fail("lease", "seconds from 1 to 2147483647 expected")
  end
  local mask = addr.ipv4_mask(prefix)
  local network = server & mask
  local broadcast = network | (~mask & 0xffffffff)
  if server == network or server == broadcast then
    return fail("ip", settings.ip .. " is the network or broadcast address of its /" .. prefix)
  end
  local self = setmetatable({server = server, mask = mask, network = network, broadcast = broadcast,
                             lease_ms = settings.lease * 1000, store = store}, Leases)
  if settings.pool and settings.pool ~= "" then
    local first, last = parse_pool(settings.pool, network, mask, server)
    if not first then return nil, last end
    self.first, self.last = first, last
  else
    self.first, self.last = network + 1, broadcast - 1
    if self.last - self.first + 1 > Leases.MAX_POOL then
      return fail("pool", "a /" .. prefix .. " holds more than " .. Leases.MAX_POOL .. " addresses: set a pool")
    end
  end
  local by_mac, by_ip = parse_static(settings.static or "", function(ip) return self:in_subnet(ip) end, server)
  if not by_mac then return nil, by_ip end
  self.static_by_mac, self.static_by_ip = by_mac, by_ip

  store.leases = store.leases or {}
  store.declined = store.declined or {}
  -- ip integer -> key of the record holding it; rebuilt here, kept by every change.
  self.holder = {}
  for key, record in pairs(store.leases) do
    local ip = addr.ipv4_int(record.ip)
    if ip and self:may_hold(record.mac, ip) and not self.holder[ip] then
      self.holder[ip] = key
    else
      store.leases[key] = nil  -- the settings changed under it (a reload): not ours to give now
    end
  end
  return self
end

function Leases:in_subnet(ip)
  return ip & self.mask == self.network and ip ~= self.network and ip ~= self.broadcast
end

function Leases:in_pool(ip)
  return ip >= self.first and ip <= self.last and ip ~= self.server and not self.static_by_ip[ip]
end

-- The fixed address of a MAC, as text, or nil.
function Leases:static_for(mac)
  return mac and self.static_by_mac[mac]
end

-- True when a client with this MAC could ever be given `ip` (its fixed address, or a
-- pool address when it has none), whoever holds it now.
function Leases:may_hold(mac, ip)
  local fixed = self:static_for(mac)
  if fixed then return addr.ipv4_int(fixed) == ip end
  return self:in_pool(ip)
end

local function active(record, now)
  return (record.state == "offered" or record.state == "bound") and record.expires > now
end

-- Whether client `key` (with `mac`) may have `ip` (text) now; false and why not.
function Leases:can_have(key, mac, ip_text, now)
  local ip = addr.ipv4_int(ip_text)
  if not ip or not self:in_subnet(ip) then return false, "not on this server's subnet" end
  local fixed = self:static_for(mac)
  if fixed and fixed ~= ip_text then return false, "this client's address is " .. fixed end
  if not fixed then
    if self.static_by_ip[ip] then return false, "the fixed address of another client" end
    if not self:in_pool(ip) then return false, "not an address of the pool" end
  end
  local until_ms = self.store.declined[ip_text]
  if until_ms and until_ms > now then return false, "declined by a client (in use)" end
  local holder = self.holder[ip]
  if holder and holder ~= key and active(self.store.leases[holder], now) then
    return false, "leased to another client"
  end
  return true
end

-- The address to offer client `key`: its fixed address, its lease (live or remembered),
-- the one it asks for, a never-leased one, or the longest-expired one; nil if none is free.
function Leases:choose(key, mac, requested, now)
  local fixed = self:static_for(mac)
  if fixed then return self:can_have(key, mac, fixed, now) and fixed or nil end
  local record = self.store.leases[key]
  if record and self:can_have(key, mac, record.ip, now) then return record.ip end
  if requested and self:can_have(key, mac, requested, now) then return requested end
  local declined = self.store.declined
  for ip = self.first, self.last do
    if not self.holder[ip] and self:in_pool(ip) then
      local text = addr.ipv4_int_text(ip)
      local until_ms = declined[text]
      if not until_ms or until_ms <= now then return text end
    end
  end
  local oldest, oldest_expiry
  for other, held in pairs(self.store.leases) do
    if other ~= key and not active(held, now) and (not oldest_expiry or held.expires < oldest_expiry)
       and self:can_have(key, mac, held.ip, now) then
      oldest, oldest_expiry = held.ip, held.expires
    end
  end
  return oldest
end

-- Records that `key` holds `ip` until `expires`, taking the address from an expired
-- holder and dropping the client's previous record.
function Leases:hold(key, mac, ip_text, expires, state)
  local ip = addr.ipv4_int(ip_text)
  local leases = self.store.leases
  local previous = leases[key]
  if previous and previous.ip ~= ip_text then self.holder[addr.ipv4_int(previous.ip)] = nil end
  local holder = self.holder[ip]
  if holder and holder ~= key then leases[holder] = nil end
  leases[key] = {ip = ip_text, mac = mac, expires = expires, state = state}
  self.holder[ip] = key
end

-- Holds `ip` for an offer, unless the client's lease on it runs longer anyway.
function Leases:offer(key, mac, ip_text, now)
  local record = self.store.leases[key]
  if record and record.ip == ip_text and record.state == "bound" and record.expires > now + Leases.OFFER_HOLD_MS then
    return
  end
  self:hold(key, mac, ip_text, now + Leases.OFFER_HOLD_MS, "offered")
end

function Leases:bind(key, mac, ip_text, now)
  self:hold(key, mac, ip_text, now + self.lease_ms, "bound")
end

-- Forgets the record of `key` on `ip`; true if there was one.
function Leases:forget(key, ip_text)
  local record = self.store.leases[key]
  if not record or record.ip ~= ip_text then return false end
  self.store.leases[key] = nil
  self.holder[addr.ipv4_int(ip_text)] = nil
  return true
end

-- The client let its lease of `ip` go: the address is free, and remembered as the
-- client's, so it gets it back while no one else took it. True if there was a lease.
function Leases:release(key, ip_text, now)
  local record = self.store.leases[key]
  if not record or record.ip ~= ip_text or record.state == "released" or record.state == "expired" then
    return false
  end
  record.state, record.expires = "released", now
  return true
end

-- The client chose another server: an address only offered to it is free again.
function Leases:withdraw_offer(key)
  local record = self.store.leases[key]
  if record and record.state == "offered" then self:forget(key, record.ip) end
end

-- A client found `ip` in use: nobody gets it for a while.
function Leases:decline(key, ip_text, now)
  self:forget(key, ip_text)
  self.store.declined[ip_text] = now + Leases.DECLINE_HOLD_MS
end

-- Ends what ran out by `now`: untaken offers are forgotten, bound leases become
-- remembered ("expired"), declines lapse. Calls report(record) for each lease that ended.
function Leases:expire(now, report)
  local leases = self.store.leases
  for key, record in pairs(leases) do
    if (record.state == "offered" or record.state == "bound") and record.expires <= now then
      if record.state == "offered" then
        leases[key] = nil
        self.holder[addr.ipv4_int(record.ip)] = nil
      else
        record.state = "expired"
      end
      if report then report(record) end
    end
  end
  for ip, until_ms in pairs(self.store.declined) do
    if until_ms <= now then self.store.declined[ip] = nil end
  end
end

function Leases:lease_of(key)
  return self.store.leases[key]
end

-- The records, sorted by address, for a listing.
function Leases:list()
  local list = {}
  for key, record in pairs(self.store.leases) do
    list[#list + 1] = {key = key, ip = record.ip, mac = record.mac, expires = record.expires, state = record.state}
  end
  table.sort(list, function(a, b) return addr.ipv4_int(a.ip) < addr.ipv4_int(b.ip) end)
  return list
end

return Leases
