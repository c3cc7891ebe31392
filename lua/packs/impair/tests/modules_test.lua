-- The rules and what a rule does, on their own: rules files, decide functions, counters,
-- and the errors a bad rule gets.
package.path = package.path:gsub("^(.-)tests/%?%.lua", "%1?.lua;%0", 1)
test.devices(2)
local rules = require "rules"
local Impairment = require "impairment"
local Random = require "random"
local frames = require "support.frames"

local DEVICES = {{id = 1, name = "ima"}, {id = 2, name = "imb"}}

-- A rule's impairment writing into a list and holding into another.
local function impairment(rule)
  local written, held = {}, {}
  local link = {write = function(frame) written[#written + 1] = frame; return true end,
                queue = {push = function(_, frame, _, due) held[#held + 1] = {frame = frame, due = due} end}}
  local counters = Impairment.counters()
  return Impairment.new(rule, Random.new(1, 3), counters, link), counters, written, held
end

local function counted(counters)
  local parts = {}
  for _, name in ipairs(Impairment.COUNTER_ORDER) do parts[#parts + 1] = name .. "=" .. counters[name] end
  return table.concat(parts, " ")
end

function test_drop_every_third_dns_answer_is_one_line()
  local list = rules.from_file([[
    return {
      {match = "udp src port 53", decide = function(pkt, n) if n % 3 == 0 then return "drop" end end},
    }]], DEVICES)
  test.equal(#list, 1)
  test.equal(list[1].match, "udp src port 53")
  local rule, counters, written = impairment(list[1])
  for n = 1, 9 do rule:take(frames.packet(frames.udp(n)), DEVICES[1], n, 0) end
  test.equal(frames.text(frames.ids(written)), "1 2 4 5 7 8")
  test.equal(counted(counters), "matched=9 dropped=3 duplicated=0 corrupted=0 reordered=0 delayed=0 overlimit=0 sent=6 write_failed=0")
end

function test_decide_verdicts()
  local verdicts = {"pass", "duplicate", 25, 0, nil, "drop"}
  local rule = rules.check({delay = 5, decide = function(_, n) return verdicts[n] end}, "test", DEVICES)
  local impair, counters, written, held = impairment(rule)
  for n = 1, 6 do impair:take(frames.packet(frames.udp(n)), DEVICES[1], n, 100) end
  test.equal(frames.text(frames.ids(written)), "1 2 2 4", "pass, duplicate, a 0 ms delay at once")
  test.equal(#held, 2, "the 25 ms verdict and the rule's own 5 ms delay for nil")
  test.equal(held[1].due, 125)
  test.equal(held[2].due, 105)
  test.equal(counted(counters), "matched=6 dropped=1 duplicated=1 corrupted=0 reordered=0 delayed=2 overlimit=0 sent=4 write_failed=0")
  local bad = rules.check({decide = function() return "dorp" end}, "test", DEVICES)
  bad.index = 4
  local ok, problem = pcall(Impairment.take, impairment(bad), frames.packet(frames.udp(1)), DEVICES[1], 1, 0)
  test.expect(not ok)
  test.equal(problem, 'impair: rule 4\'s decide returned dorp: "drop", "duplicate", "pass", a delay in ms (0 or more) or nil expected')
end

function test_distributions_of_the_delay()
  local function sample(distribution)
    local rule = rules.check({delay = 30, jitter = 10, distribution = distribution}, "test", DEVICES)
    local impair = impairment(rule)
    local n, sum, squares, low, high = 5000, 0, 0, math.huge, 0
    for _ = 1, n do
      local d = impair:delay()
      sum, squares, low, high = sum + d, squares + d * d, math.min(low, d), math.max(high, d)
    end
    local mean = sum / n
    return mean, math.sqrt(squares / n - mean * mean), low, high
  end
  local mean, deviation, low, high = sample("uniform")
  test.expect(math.abs(mean - 30) < 0.5 and low >= 20 and high <= 40,
              string.format("uniform: mean %.2f in %.2f..%.2f", mean, low, high))
  mean, deviation, low, high = sample("normal")
  test.expect(math.abs(mean - 30) < 0.6 and math.abs(deviation - 10) < 0.6 and low >= 0,
              string.format("normal: mean %.2f deviation %.2f", mean, deviation))
  mean, deviation, low, high = sample("pareto")
  test.expect(math.abs(mean - 30) < 1 and low >= 30 - 10 * 0.578 and high > 60,
              string.format("pareto: mean %.2f, %.2f..%.2f: a floor under the mean and a long tail", mean, low, high))
end

function test_rules_from_settings_and_file_in_order()
  local config = {rules = "return {{match = 'udp', loss = 1}, {match = 'tcp', from = 'imb', delay = 5}}",
                  match = "icmp", from = "1", delay = "0", jitter = "0", distribution = "uniform", loss = "2.5",
                  gemodel = "", duplicate = "0", reorder = "0", gap = 0, corrupt = "0", corrupt_checksums = "keep",
                  rate = "", limit = 1000}
  local list = rules.load(config, DEVICES)
  test.equal(#list, 3)
  test.equal(list[1].name, "udp")
  test.equal(list[2].name, "tcp from imb")
  test.equal(list[2].from, 2)
  test.equal(list[3].name, "icmp from ima")
  test.equal(list[3].loss, 2.5)
  config.loss = "0"
  test.equal(#rules.load(config, DEVICES), 2, "no impairment set: no settings rule")
end

function test_gemodel_and_rate_forms()
  local rule = rules.check({gemodel = "1 30"}, "test", DEVICES)
  test.equal(rule.gemodel.p, 1)
  test.equal(rule.gemodel.r, 30)
  test.equal(rule.gemodel.bad, 100)
  test.equal(rule.gemodel.good, 0)
  test.equal(rules.check({gemodel = {p = 2}}, "test", DEVICES).gemodel.r, 98, "r defaults to 100 - p, as netem's")
  test.equal(rules.rate("test", "1mbit"), 1e6)
  test.equal(rules.rate("test", "2mbps"), 16e6)
  test.equal(rules.rate("test", 9600), 9600)
end

function test_bad_rules_say_what_is_wrong()
  local cases = {
    {{loss = 120}, "test: 'loss' must be a percentage from 0 to 100, got '120'"},
    {{loss = "lots"}, "test: 'loss' must be a percentage from 0 to 100, got 'lots'"},
    {{delay = -1}, "test: 'delay' must be milliseconds (0 or more), got '-1'"},
    {{distribution = "gauss", jitter = 1}, "test: 'distribution' must be uniform, normal or pareto, got 'gauss'"},
    {{reorder = 5}, "test: 'reorder' needs a 'delay'"},
    {{loss = 1, gemodel = "1"}, "test: give 'loss' or 'gemodel', not both"},
    {{rate = "fast"}, "test: 'rate' must be a rate like 1mbit"},
    {{limit = 0}, "test: 'limit' must be a whole number of frames (1 or more), got '0'"},
    {{from = "eth0"}, "test: 'from' must be one of the devices (ima, imb, or their numbers 1 and 2), got 'eth0'"},
    {{corrupt_checksums = "maybe"}, "test: 'corrupt_checksums' must be keep or fix, got 'maybe'"},
    {{decide = "drop"}, "test: 'decide' must be a function"},
    {{lose = 5}, "test: unknown field 'lose'"},
  }
  for _, case in ipairs(cases) do
    local ok, problem = pcall(rules.check, case[1], "test", DEVICES)
    test.expect(not ok and problem:sub(1, #case[2]) == case[2], tostring(problem) .. " should start " .. case[2])
  end
  local files = {
    {"return {", "impair: the rules file: rules:1: unexpected symbol near <eof>"},
    {"return 5", "impair: the rules file must return a list of rules"},
    {"error('no')", "impair: the rules file: rules:1: no"},
    {"return {{match = 'udp'}, 'tcp'}", "impair: rules file, rule 2: a table expected"},
    {"return {{loss = 200}}", "impair: rules file, rule 1: 'loss' must be a percentage"},
  }
  for _, case in ipairs(files) do
    local ok, problem = pcall(rules.from_file, case[1], DEVICES)
    test.expect(not ok and problem:sub(1, #case[2]) == case[2], tostring(problem) .. " should start " .. case[2])
  end
end
