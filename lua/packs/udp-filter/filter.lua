-- A bump in the wire: every frame read from one of the two devices is written to the
-- other, unless the rules say otherwise. The rules are pcap-filter expressions, each
-- registered as a tapir.on selector (BPF, run natively), in the order given, before the
-- handler that forwards; the first rule that matches a frame claims it, and only that
-- rule counts it.
--   mode deny:  a frame a rule matches is dropped (any frame: a rule may name ARP or
--               ICMP too); every other frame is forwarded.
--   mode allow: a frame a rule matches is forwarded; a UDP datagram (in any VLAN) no rule
--               matches is dropped; every other frame (ARP, ICMP, TCP...) is forwarded.
-- With `rate` set, UDP datagrams forwarded are limited per IP source address (a token
-- bucket: `burst` at once, then `rate` a second); the excess is dropped.
-- Counters are in tapir.state and logged when the filter stops and after a reload
-- (SIGHUP), one line per rule and per device:
--   rule 1 "udp port 9": matched=3
--   port fa: rx=10 forwarded=7 denied=3 not_allowed=0 rate_limited=0 write_failed=0
local Counters = require "tapir.counters"
local TokenBuckets = require "token_buckets"

local config = tapir.config
if config.mode ~= "deny" and config.mode ~= "allow" then
  error("udp-filter: setting 'mode' must be 'deny' or 'allow', got '" .. config.mode .. "'")
end
if config.rate < 0 or config.burst < 0 then error("udp-filter: settings 'rate' and 'burst' must not be negative") end

local devices = tapir.devices()
if #devices ~= 2 then
  error("udp-filter: needs exactly two devices (tapir run udp-filter --dev A --dev B), has " .. #devices)
end
if devices[1].mode ~= devices[2].mode then
  error("udp-filter: both devices must be taps or both tuns (" .. devices[1].name .. " is a " .. devices[1].mode
        .. ", " .. devices[2].name .. " a " .. devices[2].mode .. ")")
end
local other = {[devices[1].id] = devices[2], [devices[2].id] = devices[1]}

local rules = {}
for rule in config.rules:gmatch("[^;]+") do
  rule = rule:match("^%s*(.-)%s*$")
  if rule ~= "" then rules[#rules + 1] = rule end
end
if config.mode == "allow" and #rules == 0 then
  tapir.log.warn("udp-filter: mode allow with no rules: all UDP is dropped")
end

-- Counters: per rule (by its text, so a reload with the same rules keeps them) and per
-- device the frame came in on (by name).
local state = tapir.state
state.ports = state.ports or {}
local matched = #rules > 0 and Counters.new{key = "rules", names = rules}
local counted = {}
for _, dev in ipairs(devices) do
  counted[dev.id] = Counters.new{state = state.ports, key = dev.name, prefix = "port " .. dev.name,
                                 names = {"rx", "forwarded", "denied", "not_allowed", "rate_limited", "write_failed"}}
end

local limiter = config.rate > 0 and TokenBuckets.new(config.rate, config.burst > 0 and config.burst or config.rate)

local function forward(pkt, dev, port)
  if limiter and pkt.udp then
    local ip = pkt.ip or pkt.ipv6
    if ip and not limiter:take(ip.src, tapir.now()) then
      port.rate_limited = port.rate_limited + 1
      return
    end
  end
  -- A write the other side refused at once (too big, gone) is counted apart, so that
  -- rx = forwarded + denied + not_allowed + rate_limited + write_failed. (A refusal by its
  -- kernel when the write goes out after the read burst, its link down, is in the host's
  -- write_errors of that device.)
  if other[dev.id]:write(pkt) then
    port.forwarded = port.forwarded + 1
  else
    port.write_failed = port.write_failed + 1
  end
end

for index, rule in ipairs(rules) do
  local ok, problem = pcall(tapir.on, rule, function(pkt, dev)
    local port = counted[dev.id]
    if not port then return end
    port.rx = port.rx + 1
    matched[rule] = matched[rule] + 1
    if config.mode == "allow" then
      forward(pkt, dev, port)
    else
      port.denied = port.denied + 1
    end
    return true
  end)
  if not ok then
    local why = tostring(problem):gsub("^bad argument #1 to '[%w.]*on' %((.*)%)$", "%1")
    error(string.format("udp-filter: rule %d '%s': %s", index, rule, why), 0)
  end
end

if config.mode == "allow" then
  tapir.on("udp", function(pkt, dev)
    local port = counted[dev.id]
    if not port then return end
    port.rx = port.rx + 1
    port.not_allowed = port.not_allowed + 1
    return true
  end)
end

tapir.on("frame", function(pkt, dev)
  local port = counted[dev.id]
  if not port then return end
  port.rx = port.rx + 1
  forward(pkt, dev, port)
  return true
end)

if limiter then tapir.every(10000, function() limiter:sweep(tapir.now()) end) end

local function report()
  for index, rule in ipairs(rules) do
    tapir.log.info(string.format("rule %d %q: matched=%d", index, rule, matched[rule]))
  end
  for _, dev in ipairs(devices) do
    tapir.log.info(counted[dev.id]:line())
  end
end

tapir.on_stop(report)
tapir.on_reload = report  -- SIGHUP: the counters (carried over in tapir.state) as they stand
