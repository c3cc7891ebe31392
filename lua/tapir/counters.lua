-- Named counts that survive a reload (require "tapir.counters"): the counts live in a
-- table of tapir.state, so the new version of a pack goes on counting where the old one
-- stopped. The instance is that table: read and bump a count as a field
-- (`counters.queries = counters.queries + 1`, no call on a hot path) or with
-- `counters:add("queries")`, which names an unknown counter instead of failing on nil.
--
--   local Counters = require "tapir.counters"
--   local counters = Counters.new{names = {"received", "answered"}, prefix = "my-pack"}
--   counters:add("received")
--   counters:line()   --> "my-pack: received=1 answered=0"
--
-- Requiring the module registers nothing; only `log_at_stop` registers an on_stop.
local M = {}
local Counters = {}  -- an instance's methods: counters:add is Counters.add
local FIELDS = {names = true, known = true, prefix = true}  -- the instance's own, beside its counts

-- config: names (the counters, in the order lines list them), state (the table that holds
-- them; default tapir.state), key (where in it; default "counters"), prefix (put before
-- line(); default none), log_at_stop (log line() when the host stops; default false).
-- A counter missing from the state (a new one, or a first start) starts at 0; one the
-- state has that names does not list is kept, and not listed.
function M.new(config)
  if type(config) ~= "table" then error("counters.new: a table of settings expected, got " .. type(config), 2) end
  local names = config.names
  if type(names) ~= "table" or #names == 0 then error("counters.new: 'names' must be a list of counter names", 2) end
  local state = config.state or tapir.state
  local key = config.key or "counters"
  if type(state[key]) ~= "table" then state[key] = {} end
  local counts = state[key]
  local known = {}
  for i, name in ipairs(names) do
    if type(name) ~= "string" then error("counters.new: names[" .. i .. "] must be a string, got " .. type(name), 2) end
    if Counters[name] or FIELDS[name] then
      error("counters.new: '" .. name .. "' is the name of a method or field; call the counter otherwise", 2)
    end
    known[name] = true
    if math.type(counts[name]) ~= "integer" then counts[name] = 0 end
  end
  local instance = {names = names, known = known, prefix = config.prefix}
  -- Methods first, then the instance's fields; counts are raw fields.
  setmetatable(counts, {__index = function(_, field)
    local method = Counters[field]
    if method ~= nil then return method end
    return instance[field]
  end})
  if config.log_at_stop then tapir.on_stop(function() counts:log() end) end
  return counts
end

-- Adds `n` (default 1) to the counter `name`; returns its new value.
function Counters:add(name, n)
  if not self.known[name] then
    error("counters: no counter '" .. tostring(name) .. "' (counters: " .. table.concat(self.names, ", ") .. ")", 2)
  end
  local value = rawget(self, name) + (n or 1)
  self[name] = value
  return value
end

-- {"name=value", ...} in the order of `names`.
function Counters:list()
  local parts = {}
  for i, name in ipairs(self.names) do parts[i] = name .. "=" .. rawget(self, name) end
  return parts
end

-- "prefix: name=value name=value ..." (no "prefix: " without a prefix).
function Counters:line()
  local text = table.concat(self:list(), " ")
  if self.prefix then return self.prefix .. ": " .. text end
  return text
end

-- Logs line() at info level.
function Counters:log()
  tapir.log.info(self:line())
end

return M
