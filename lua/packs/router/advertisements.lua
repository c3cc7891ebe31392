-- Router advertisements (RFC 4861 6.2) on tap ports with an IPv6 prefix: the port's
-- prefix for SLAAC (RFC 4862), the M and O flags, the router lifetime, the port's MTU when
-- the `mtu` setting gives one, RDNSS and DNSSL (RFC 8106); from the port's link-local
-- address with hop limit 255. Sent periodically (three at first, 16 s apart at most, then
-- at random between a third of `ra_interval` and all of it) and in answer to a
-- solicitation (to all nodes at most every 3 s) (require "advertisements").
local addresses = require "addresses"
local addresses6 = require "addresses6"
local counters = require "counters"
local ndp = require "tapir.proto.ndp"
local ports = require "ports"

local config = tapir.config
local INITIAL_COUNT, INITIAL_INTERVAL_MS = 3, 16000   -- MAX_INITIAL_RTR_ADVERTISEMENTS, ..._INTERVAL
local MIN_DELAY_BETWEEN_RAS_MS = 3000
local MAX_INTERVAL_MS = config.ra_interval * 1000
local MIN_INTERVAL_MS = MAX_INTERVAL_MS // 3
-- (ra_interval 4 to 1800 and ra_lifetime 0 to 9000, RFC 4861 6.2.1: the manifest's min and max)
if config.ra_preferred > config.ra_valid then
  error("setting 'ra_preferred' (" .. config.ra_preferred .. ") is longer than 'ra_valid' (" .. config.ra_valid .. ")", 0)
end
-- RFC 8106 5.1: at least MaxRtrAdvInterval; three times it, so one lost RA loses nothing.
local DNS_LIFETIME = 3 * config.ra_interval

local advertisements = {}
local ALL_NODES_TEXT = addresses6.text(addresses6.ALL_NODES)
local ALL_NODES_MAC = addresses6.multicast_mac(addresses6.ALL_NODES)

-- The advertisement's ICMPv6 body for a port (the same each time: built once).
local function message(port)
  local prefix = {prefix = addresses6.text(port.network6), length = port.length6, on_link = true,
                  autonomous = config.ra_autonomous and port.length6 == 64,
                  valid = config.ra_valid, preferred = config.ra_preferred}
  return assert(ndp.encode{
    type = ndp.ROUTER_ADVERTISEMENT, hop_limit = 64, managed = config.ra_managed, other = config.ra_other,
    router_lifetime = config.ra_lifetime, source_lladdr = addresses.mac_text(port.mac), mtu = port.mtu,
    prefixes = {prefix}, servers = config.ra_dns, domains = config.ra_search, dns_lifetime = DNS_LIFETIME,
  })
end

local function serves(port)
  return config.ra and port.tap and port.network6 ~= nil
end

-- An advertisement out of `port`: to `destination` (16 bytes) at `mac`, or to all nodes.
function advertisements.send(port, destination, mac)
  if not serves(port) then return false end
  port.advertisement = port.advertisement or message(port)
  local frame = string.pack(">I6I6I2", mac or ALL_NODES_MAC, port.mac, 0x86dd)
      .. tapir.build.ipv6{src = addresses6.text(port.link_local),
                          dst = destination and addresses6.text(destination) or ALL_NODES_TEXT,
                          nxt = 58, hlim = 255, payload = port.advertisement}
  if not destination then port.last_multicast_advertisement = tapir.now() end
  if port.dev:write(frame) then
    counters.ra_sent = counters.ra_sent + 1
  else
    counters.write_failed = counters.write_failed + 1
  end
  return true
end

-- The answer to a solicitation from the unspecified address, to all nodes: at once, or,
-- within MIN_DELAY_BETWEEN_RAS of the last multicast one, when that has passed, one for
-- all the solicitations that came meanwhile (RFC 4861 6.2.6).
function advertisements.answer_to_all(port)
  if not serves(port) or port.multicast_answer_due then return end
  local wait = (port.last_multicast_advertisement or -math.huge) + MIN_DELAY_BETWEEN_RAS_MS - tapir.now()
  if wait <= 0 then
    advertisements.send(port)
    return
  end
  port.multicast_answer_due = true
  tapir.after(wait, function()
    port.multicast_answer_due = false
    advertisements.send(port)
  end)
end

-- The periodic ones: the first at once, then as the RFC says (6.2.4).
function advertisements.start()
  for _, port in ipairs(ports.list) do
    if port.dev and serves(port) then
      local sent = 0
      local function next_one()
        advertisements.send(port)
        sent = sent + 1
        local delay = math.random(MIN_INTERVAL_MS, MAX_INTERVAL_MS)
        if sent < INITIAL_COUNT then delay = math.min(delay, INITIAL_INTERVAL_MS) end
        tapir.after(delay, next_one)
      end
      tapir.after(0, next_one)
    end
  end
end

return advertisements
