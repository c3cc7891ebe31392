-- A bump in the wire between two devices that impairs what its rules match, as netem does
-- on an interface, per rule: each rule is a pcap-filter expression registered as a
-- tapir.on selector (BPF, run natively), in order, before the handler that forwards; the
-- first rule that matches a frame, in a direction it covers, takes it. What no rule takes
-- crosses unchanged at once. Held frames wait in one delay queue (DelayQueue). With a seed,
-- every rule's decisions are the same run after run, frame for frame.
-- Counters are in tapir.state and logged when the pack stops and after a reload (SIGHUP):
--   rule 1 "icmp from ima": matched=400 dropped=41 ... sent=359 write_failed=0
--   port ima: rx=820 forwarded=20 write_failed=0
local rules = require "rules"
local Random = require "random"
local DelayQueue = require "delay_queue"
local Impairment = require "impairment"
local Counters = require "tapir.counters"

local config = tapir.config

local devices = tapir.devices()
if #devices ~= 2 then
  error("impair: needs exactly two devices (tapir run impair --dev A --dev B), has " .. #devices, 0)
end
if devices[1].mode ~= devices[2].mode then
  error("impair: both devices must be taps or both tuns (" .. devices[1].name .. " is a " .. devices[1].mode
        .. ", " .. devices[2].name .. " a " .. devices[2].mode .. ")", 0)
end
local other = {[devices[1].id] = devices[2], [devices[2].id] = devices[1]}

local seed = config.seed
if seed == 0 then seed = math.floor(tapir.now() * 1000) ~ os.time() end  -- said once the rules are in

local list = rules.load(config, devices)

-- Counters: per rule (by its number and text, so a reload with the same rules keeps
-- them) and per device a frame came in on (by name).
local state = tapir.state
state.rules = state.rules or {}
state.ports = state.ports or {}
local ports = {}
for _, dev in ipairs(devices) do
  ports[dev.id] = Counters.new{state = state.ports, key = dev.name, prefix = "port " .. dev.name,
                               names = {"rx", "forwarded", "write_failed"}}
end

local queue = DelayQueue.new(Impairment.release, tapir.now, tapir.after)

-- One link per direction, named by the device frames come in on.
local links = {}
for _, dev in ipairs(devices) do
  local out = other[dev.id]
  links[dev.id] = {write = function(frame) return out:write(frame) end, queue = queue}
end

for _, rule in ipairs(list) do
  local key = rule.index .. " " .. rule.name
  local counters = Counters.new{state = state.rules, key = key, names = Impairment.COUNTER_ORDER,
                                prefix = string.format("rule %d %q", rule.index, rule.name)}
  rule.counters = counters
  -- Each direction of each rule has a random stream of its own, so one direction's
  -- traffic does not move the other's decisions.
  local by_device = {}
  for _, dev in ipairs(devices) do
    if rule.from == nil or rule.from == dev.id then
      by_device[dev.id] = Impairment.new(rule, Random.new(seed, rule.index * 2 + dev.id), counters, links[dev.id])
    end
  end
  local ok, problem = pcall(tapir.on, rule.match, function(pkt, dev)
    local impairment = by_device[dev.id]
    if not impairment then return end  -- the other direction, or a device not ours
    local now = tapir.now()
    queue:release_due(now)
    impairment:take(pkt, dev, counters.matched + 1, now)
    -- Counted after: a decide function that fails leaves the frame to the handlers after
    -- this one (the forwarder counts it), as a failing handler does.
    local port = ports[dev.id]
    port.rx = port.rx + 1
    return true
  end)
  if not ok then
    local why = tostring(problem):gsub("^bad argument #1 to '[%w.]*on' %((.*)%)$", "%1")
    error(string.format("impair: rule %d '%s': %s", rule.index, rule.match, why), 0)
  end
end

tapir.on("frame", function(pkt, dev)
  local port = ports[dev.id]
  if not port then return end
  if queue.size > 0 then queue:release_due(tapir.now()) end
  port.rx = port.rx + 1
  if other[dev.id]:write(pkt) then
    port.forwarded = port.forwarded + 1
  else
    port.write_failed = port.write_failed + 1
  end
  return true
end)

if config.seed == 0 then
  tapir.log.info(string.format("seed %d (give --set seed=%d to repeat this run's decisions)", seed, seed))
end

local function report()
  for _, rule in ipairs(list) do rule.counters:log() end
  for _, dev in ipairs(devices) do ports[dev.id]:log() end
end

tapir.on_stop(report)
tapir.on_reload = report  -- SIGHUP: the counters (carried over in tapir.state) as they stand
