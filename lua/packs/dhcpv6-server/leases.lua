-- The server's pools and leases: addresses from the `pool` range, prefixes cut from
-- `prefixes`, each bound to a client's IA (its DUID and IAID) until its valid lifetime
-- ends. Kept in tapir.state, so a reload keeps every lease (require "leases").
local address = require "tapir.addr"

local config = tapir.config
local leases = {}

tapir.state.leases = tapir.state.leases or {addresses = {}, prefixes = {}, declined = {}}
local state = tapir.state.leases
-- addresses / prefixes: text -> {client = "DUIDHEX/IAID", expires = ms}; declined: text -> ms

local function hex(bytes) return (bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end

-- A client's IA as one key: its DUID in hex and the IAID.
function leases.client(duid, iaid) return hex(duid) .. "/" .. iaid end

-- The address pool: the first 12 bytes shared, the last 4 counted.
local pool = {count = 0}
if config.pool ~= "" then
  local first_text, last_text = config.pool:match("^%s*([%x:]+)%s*%-%s*([%x:]+)%s*$")
  local first, last = address.ipv6_bytes(first_text), address.ipv6_bytes(last_text)
  if not first or not last then
    error("setting 'pool': '" .. config.pool .. "' is not FIRST-LAST (like 2001:2::1000-2001:2::10ff)", 0)
  end
  if first:sub(1, 12) ~= last:sub(1, 12) then
    error("setting 'pool': " .. first_text .. " and " .. last_text .. " differ before their last 32 bits", 0)
  end
  local low, high = string.unpack(">I4", first, 13), string.unpack(">I4", last, 13)
  if high < low then error("setting 'pool': " .. last_text .. " comes before " .. first_text, 0) end
  pool = {head = first:sub(1, 12), low = low, count = high - low + 1}
end

-- The delegation pool: `prefixes` cut into `delegated_length` pieces (the first 8 bytes counted).
local delegation = {count = 0}
if config.prefixes ~= "" then
  local text, length_text = config.prefixes:match("^%s*([%x:]+)/(%d+)%s*$")
  local base, length = address.ipv6_bytes(text), tonumber(length_text)
  local size = config.delegated_length
  if not base or not length or length > 64 then
    error("setting 'prefixes': '" .. config.prefixes .. "' is not PREFIX/LENGTH with a length up to 64", 0)
  end
  if size < length or size > 64 or size - length > 16 then
    error("setting 'delegated_length': " .. size .. " must be " .. length .. " to 64, and at most 16 bits longer", 0)
  end
  local network = string.unpack(">i8", base) & (-1 << (64 - length))
  delegation = {network = network, length = size, step = 1 << (64 - size), count = 1 << (size - length)}
end

if config.valid < 60 or config.preferred < 1 or config.preferred > config.valid then
  error("settings 'preferred' and 'valid': 1 <= preferred <= valid and valid >= 60 (seconds)", 0)
end
local VALID_MS = config.valid * 1000

function leases.address_at(index)
  return address.ipv6_text(pool.head .. string.pack(">I4", pool.low + index))
end

function leases.prefix_at(index)
  return address.ipv6_text(string.pack(">i8", delegation.network + index * delegation.step) .. string.rep("\0", 8))
end

leases.delegated_length = delegation.length

local function live(entry, now) return entry ~= nil and entry.expires > now end

-- What `client` holds in `kind` ("addresses" or "prefixes"), or nil.
function leases.held(kind, client)
  local now = tapir.now()
  for text, entry in pairs(state[kind]) do
    if entry.client == client and live(entry, now) then return text end
  end
end

-- Whether `text` is one of the pool's (kind "addresses") or the delegation's (kind "prefixes").
local function in_pool(kind, text)
  if kind == "addresses" then
    local bytes = address.ipv6_bytes(text)
    if not bytes or pool.count == 0 or bytes:sub(1, 12) ~= pool.head then return false end
    local index = string.unpack(">I4", bytes, 13) - pool.low
    return index >= 0 and index < pool.count
  end
  local bytes = address.ipv6_bytes(text)
  if not bytes or delegation.count == 0 or bytes:sub(9) ~= string.rep("\0", 8) then return false end
  local offset = string.unpack(">i8", bytes) - delegation.network
  return offset >= 0 and offset % delegation.step == 0 and offset // delegation.step < delegation.count
end
leases.in_pool = in_pool

-- Whether `text` is in its pool and neither leased nor declined.
function leases.is_free(kind, text)
  local now = tapir.now()
  return in_pool(kind, text) and not live(state[kind][text], now)
    and not (state.declined[text] and state.declined[text] > now)
end

-- What `client` already holds, else the first free one; nil when the pool is used up.
function leases.choose(kind, client)
  local held = leases.held(kind, client)
  if held then return held end
  local now = tapir.now()
  local count = kind == "addresses" and pool.count or delegation.count
  local at = kind == "addresses" and leases.address_at or leases.prefix_at
  for index = 0, count - 1 do
    local text = at(index)
    if not live(state[kind][text], now) and not (state.declined[text] and state.declined[text] > now) then return text end
  end
end

-- Binds `text` to `client` for the valid lifetime; false when another client holds it.
function leases.bind(kind, client, text)
  local now = tapir.now()
  local entry = state[kind][text]
  if live(entry, now) and entry.client ~= client then return false end
  if not in_pool(kind, text) then return false end
  if not (live(entry, now) and entry.client == client) then
    tapir.log.info(string.format("dhcpv6-server: leased %s to %s", text, client))
  end
  state[kind][text] = {client = client, expires = now + VALID_MS}
  return true
end

-- Extends `client`'s lease of `text` (Renew, Rebind): false when it has none.
function leases.extend(kind, client, text)
  local entry = state[kind][text]
  if not live(entry, tapir.now()) or entry.client ~= client then return false end
  entry.expires = tapir.now() + VALID_MS
  return true
end

-- Frees `client`'s lease of `text` (Release); false when it had none.
function leases.release(kind, client, text)
  local entry = state[kind][text]
  if not entry or entry.client ~= client then return false end
  state[kind][text] = nil
  tapir.log.info(string.format("dhcpv6-server: released %s by %s", text, client))
  return true
end

-- An address a client found in use (Decline): given to nobody for the valid lifetime.
function leases.decline(client, text)
  local entry = state.addresses[text]
  if not entry or entry.client ~= client then return false end
  state.addresses[text] = nil
  state.declined[text] = tapir.now() + VALID_MS
  tapir.log.info(string.format("dhcpv6-server: %s declined by %s: not given out for %d s", text, client, config.valid))
  return true
end

-- The live leases of a kind, for the log and tests: {[text] = client}.
function leases.list(kind)
  local now, list = tapir.now(), {}
  for text, entry in pairs(state[kind]) do
    if live(entry, now) then list[text] = entry.client end
  end
  return list
end

return leases
