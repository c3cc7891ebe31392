-- The rules, from the rules file (Lua returning a list of rule tables) and from the
-- settings (one rule, for the simple cases), checked and put in one form:
--   {match = "udp port 53" or "frame", from = device id or nil (both ways), delay = ms,
--    jitter = ms, distribution = "uniform"|"normal"|"pareto", loss = %, gemodel = {p, r,
--    bad, good} (% each) or nil, duplicate = %, reorder = %, gap = n, corrupt = %,
--    fix_checksum = bool, rate = bit/s (0: none), limit = frames, decide = fn or nil,
--    name = the rule's text in counters}
-- Errors are one line naming the rule and the field.
local rules = {}

local FIELDS = {match = true, from = true, delay = true, jitter = true, distribution = true, loss = true,
                gemodel = true, duplicate = true, reorder = true, gap = true, corrupt = true,
                corrupt_checksums = true, rate = true, limit = true, decide = true}
local DISTRIBUTIONS = {uniform = true, normal = true, pareto = true}
local RATE_UNITS = {bit = 1, kbit = 1e3, mbit = 1e6, gbit = 1e9, bps = 8, kbps = 8e3, mbps = 8e6, gbps = 8e9}
local DEFAULT_LIMIT = 1000

-- A number from a number or its text; nil when it is neither.
local function number(value)
  if type(value) == "number" then return value end
  if type(value) == "string" then return tonumber((value:gsub("%%$", ""))) end
  return nil
end

local function percent(where, field, value)
  if value == nil or value == "" then return 0 end
  local n = number(value)
  if not n or n < 0 or n > 100 then
    error(string.format("%s: '%s' must be a percentage from 0 to 100, got '%s'", where, field, tostring(value)), 0)
  end
  return n
end

local function milliseconds(where, field, value)
  if value == nil or value == "" then return 0 end
  local n = number(value)
  if not n or n < 0 or n ~= n or n == math.huge then
    error(string.format("%s: '%s' must be milliseconds (0 or more), got '%s'", where, field, tostring(value)), 0)
  end
  return n
end

-- "1mbit", "500kbit", "10mbps" (bytes), or a number of bits a second.
function rules.rate(where, value)
  if value == nil or value == "" or value == 0 then return 0 end
  local n, unit
  if type(value) == "number" then
    n, unit = value, "bit"
  else
    local digits, suffix = tostring(value):lower():match("^%s*([%d%.]+)%s*(%a*)%s*$")
    n, unit = tonumber(digits), suffix == "" and "bit" or suffix
  end
  if not n or n <= 0 or not RATE_UNITS[unit] then
    error(string.format("%s: 'rate' must be a rate like 1mbit, 500kbit or 2mbps (bytes), got '%s'",
                        where, tostring(value)), 0)
  end
  return n * RATE_UNITS[unit]
end

-- The Gilbert-Elliott model: {p = %, r = %, bad = %, good = %} or netem's text "p [r [1-h [1-k]]]".
local function gemodel(where, value)
  if value == nil or value == "" then return nil end
  local given = value
  if type(value) == "string" then
    local fields = {}
    for item in value:gmatch("%S+") do fields[#fields + 1] = item end
    given = {p = fields[1], r = fields[2], bad = fields[3], good = fields[4]}
  elseif type(value) ~= "table" then
    error(where .. ": 'gemodel' must be {p = %, r = %, bad = %, good = %} or text 'p [r [bad [good]]]'", 0)
  end
  local model = {p = percent(where, "gemodel.p", given.p)}
  -- netem's defaults: r = 100 - p, all lost in the bad state, none in the good.
  model.r = given.r == nil and 100 - model.p or percent(where, "gemodel.r", given.r)
  model.bad = given.bad == nil and 100 or percent(where, "gemodel.bad", given.bad)
  model.good = given.good == nil and 0 or percent(where, "gemodel.good", given.good)
  return model
end

-- The device a rule's `from` names (a name or a number), as its id.
local function device(where, value, devices)
  if value == nil or value == "" or value == "both" then return nil end
  for _, dev in ipairs(devices) do
    if dev.name == value or dev.id == number(value) then return dev.id end
  end
  local names = {}
  for i, dev in ipairs(devices) do names[i] = dev.name end
  error(string.format("%s: 'from' must be one of the devices (%s, or their numbers 1 and 2), got '%s'",
                      where, table.concat(names, ", "), tostring(value)), 0)
end

-- One rule's table (from the file or the settings) in the form above.
function rules.check(given, where, devices)
  for key in pairs(given) do
    if not FIELDS[key] then error(string.format("%s: unknown field '%s'", where, tostring(key)), 0) end
  end
  local match = given.match
  if match ~= nil and type(match) ~= "string" then error(where .. ": 'match' must be a pcap-filter string", 0) end
  if match == nil or match:match("^%s*$") then match = "frame" end
  local rule = {
    match = match,
    from = device(where, given.from, devices),
    delay = milliseconds(where, "delay", given.delay),
    jitter = milliseconds(where, "jitter", given.jitter),
    distribution = given.distribution or "uniform",
    loss = percent(where, "loss", given.loss),
    gemodel = gemodel(where, given.gemodel),
    duplicate = percent(where, "duplicate", given.duplicate),
    reorder = percent(where, "reorder", given.reorder),
    corrupt = percent(where, "corrupt", given.corrupt),
    rate = rules.rate(where, given.rate),
    decide = given.decide,
  }
  if not DISTRIBUTIONS[rule.distribution] then
    error(string.format("%s: 'distribution' must be uniform, normal or pareto, got '%s'", where,
                        tostring(rule.distribution)), 0)
  end
  local checksums = given.corrupt_checksums or "keep"
  if checksums ~= "keep" and checksums ~= "fix" then
    error(string.format("%s: 'corrupt_checksums' must be keep or fix, got '%s'", where, tostring(checksums)), 0)
  end
  rule.fix_checksum = checksums == "fix"
  local gap = number(given.gap == nil and 0 or given.gap)
  if not gap or gap < 0 or gap ~= math.floor(gap) then
    error(string.format("%s: 'gap' must be a whole number (0 or more), got '%s'", where, tostring(given.gap)), 0)
  end
  local limit = number(given.limit == nil and DEFAULT_LIMIT or given.limit)
  if not limit or limit < 1 or limit ~= math.floor(limit) then
    error(string.format("%s: 'limit' must be a whole number of frames (1 or more), got '%s'", where,
                        tostring(given.limit)), 0)
  end
  rule.gap, rule.limit = math.tointeger(gap), math.tointeger(limit)
  if rule.gap == 0 then rule.gap = 1 end  -- netem's: with no gap, any packet may be sent ahead
  if rule.loss > 0 and rule.gemodel then error(where .. ": give 'loss' or 'gemodel', not both", 0) end
  if rule.reorder > 0 and rule.delay == 0 then
    error(where .. ": 'reorder' needs a 'delay' (a reordered frame is one sent at once, ahead of the delayed ones)", 0)
  end
  if rule.decide ~= nil and type(rule.decide) ~= "function" then
    error(where .. ": 'decide' must be a function (pkt, n, dev) returning \"drop\", \"duplicate\", \"pass\", "
          .. "a delay in ms or nil", 0)
  end
  return rule
end

-- The rules of a rules file's text: a Lua chunk returning a list of rule tables. It runs
-- with the pack's globals readable (string, math, tapir.log...), so its `decide`
-- functions can use them.
function rules.from_file(text, devices)
  local chunk, problem = load(text, "=rules", "t", setmetatable({}, {__index = _G}))
  if not chunk then error("impair: the rules file: " .. problem, 0) end
  local ok, list = pcall(chunk)
  if not ok then error("impair: the rules file: " .. tostring(list), 0) end
  if type(list) ~= "table" then error("impair: the rules file must return a list of rules ({match = ..., ...})", 0) end
  local checked = {}
  for i, given in ipairs(list) do
    if type(given) ~= "table" then error(string.format("impair: rules file, rule %d: a table expected", i), 0) end
    checked[i] = rules.check(given, string.format("impair: rules file, rule %d", i), devices)
  end
  return checked
end

-- The settings' rule, when any impairment is set there; nil otherwise.
function rules.from_settings(config, devices)
  local given = {match = config.match, from = config.from, delay = config.delay, jitter = config.jitter,
                 distribution = config.distribution, loss = config.loss, gemodel = config.gemodel,
                 duplicate = config.duplicate, reorder = config.reorder, gap = config.gap, corrupt = config.corrupt,
                 corrupt_checksums = config.corrupt_checksums, rate = config.rate, limit = config.limit}
  local rule = rules.check(given, "impair: settings", devices)
  local impairs = rule.delay > 0 or rule.jitter > 0 or rule.loss > 0 or rule.gemodel or rule.duplicate > 0
      or rule.corrupt > 0 or rule.rate > 0
  return impairs and rule or nil
end

-- Every rule, the file's first; each named for the counters by its number and match.
function rules.load(config, devices)
  local list = config.rules ~= "" and rules.from_file(config.rules, devices) or {}
  list[#list + 1] = rules.from_settings(config, devices)
  for i, rule in ipairs(list) do
    rule.index = i
    local from = ""
    for _, dev in ipairs(devices) do
      if dev.id == rule.from then from = " from " .. dev.name end
    end
    rule.name = rule.match .. from
  end
  return list
end

return rules
