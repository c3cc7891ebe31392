-- What one rule does to the frames it matches in one direction: the decide function,
-- loss (random or Gilbert-Elliott), duplication, corruption, delay with jitter, reordering
-- and a rate limit with a queue limit, in netem's order. Each direction of a rule has its
-- own random stream and state (the Gilbert-Elliott state, the reorder gap count, when the
-- link is next free, the frames held); the counters are the rule's, both directions.
local corrupt = require "corrupt"

local Impairment = {}
Impairment.__index = Impairment

-- `link`: write(frame) -> boolean (the other device's dev:write), queue (a DelayQueue whose
-- entries go to that device).
function Impairment.new(rule, random, counters, link)
  return setmetatable({rule = rule, random = random, counters = counters, link = link,
                       bad_state = false, since_reorder = 0, link_free = 0, held = 0}, Impairment)
end

-- The counters a rule keeps, zero.
function Impairment.counters()
  return {matched = 0, dropped = 0, duplicated = 0, corrupted = 0, reordered = 0, delayed = 0,
          overlimit = 0, sent = 0, write_failed = 0}
end
Impairment.COUNTER_ORDER = {"matched", "dropped", "duplicated", "corrupted", "reordered", "delayed", "overlimit",
                            "sent", "write_failed"}

-- Gilbert-Elliott (netem's loss gemodel): a good and a bad state, p the chance of going
-- bad, r of going good again, each state losing with its own chance; as netem, the frame
-- is judged by the state it found before the move.
function Impairment:lost()
  local rule, random = self.rule, self.random
  local model = rule.gemodel
  if model then
    local was_bad = self.bad_state
    if was_bad then
      if random:chance(model.r) then self.bad_state = false end
    elseif random:chance(model.p) then
      self.bad_state = true
    end
    return random:chance(was_bad and model.bad or model.good)
  end
  return rule.loss > 0 and random:chance(rule.loss)
end

-- The delay for one frame: delay, plus jitter times a deviate of the distribution
-- (uniform: -1..1; normal and pareto: mean 0, deviation 1), never under 0.
function Impairment:delay()
  local rule = self.rule
  if rule.jitter == 0 then return rule.delay end
  local random, deviate = self.random, nil
  if rule.distribution == "normal" then
    deviate = random:normal()
  elseif rule.distribution == "pareto" then
    deviate = random:pareto()
  else
    deviate = 2 * random:uniform() - 1
  end
  return math.max(0, rule.delay + rule.jitter * deviate)
end

-- netem's reorder: after gap - 1 frames delayed, a frame goes at once (ahead of those
-- held) with the reorder chance.
function Impairment:sent_ahead()
  local rule = self.rule
  if rule.reorder == 0 then return false end
  if self.since_reorder < rule.gap - 1 or not self.random:chance(rule.reorder) then
    self.since_reorder = self.since_reorder + 1
    return false
  end
  self.since_reorder = 0
  return true
end

function Impairment:write(frame)
  local counters = self.counters
  if self.link.write(frame) then
    counters.sent = counters.sent + 1
  else
    counters.write_failed = counters.write_failed + 1
  end
end

-- A frame held until `due`: refused when the direction already holds `limit` frames.
function Impairment:hold(bytes, due)
  local counters = self.counters
  if self.held >= self.rule.limit then
    counters.overlimit = counters.overlimit + 1
    return
  end
  self.held = self.held + 1
  counters.delayed = counters.delayed + 1
  self.link.queue:push(bytes, self, due)
end

-- A held frame's time has come (the DelayQueue's write).
function Impairment.release(bytes, self)
  self.held = self.held - 1
  self:write(bytes)
end

-- One copy of a frame on its way: corrupted maybe, then sent at once or held.
function Impairment:send(pkt, now)
  local rule, counters = self.rule, self.counters
  local bytes
  if rule.corrupt > 0 and self.random:chance(rule.corrupt) then
    bytes = corrupt.flip(pkt, self.random, rule.fix_checksum)
    counters.corrupted = counters.corrupted + 1
  end
  local due = now
  if rule.delay > 0 or rule.jitter > 0 then
    if self:sent_ahead() then
      counters.reordered = counters.reordered + 1
    else
      due = now + self:delay()
    end
  end
  if rule.rate > 0 then
    if self.held >= rule.limit then
      counters.overlimit = counters.overlimit + 1
      return
    end
    due = math.max(due, self.link_free) + (bytes and #bytes or #pkt) * 8000 / rule.rate
    self.link_free = due
  end
  if due <= now then
    self:write(bytes or pkt)
  else
    self:hold(bytes or pkt:bytes(), due)
  end
end

local VERDICTS = 'returned %s: "drop", "duplicate", "pass", a delay in ms (0 or more) or nil expected'

-- A frame the rule matched, the `n`th it matched (both directions), read from `dev`.
function Impairment:take(pkt, dev, n, now)
  local rule, counters = self.rule, self.counters
  counters.matched = counters.matched + 1
  if rule.decide then
    local verdict = rule.decide(pkt, n, dev)
    if verdict == "drop" then
      counters.dropped = counters.dropped + 1
      return
    elseif verdict == "pass" then
      self:write(pkt)
      return
    elseif verdict == "duplicate" then
      counters.duplicated = counters.duplicated + 1
      self:write(pkt)
      self:write(pkt)
      return
    elseif type(verdict) == "number" and verdict >= 0 then
      if verdict == 0 then self:write(pkt) else self:hold(pkt:bytes(), now + verdict) end
      return
    elseif verdict ~= nil then
      error(string.format("impair: rule %d's decide " .. VERDICTS, rule.index, tostring(verdict)), 0)
    end
  end
  if self:lost() then
    counters.dropped = counters.dropped + 1
    return
  end
  if rule.duplicate > 0 and self.random:chance(rule.duplicate) then
    counters.duplicated = counters.duplicated + 1
    self:send(pkt, now)
  end
  self:send(pkt, now)
end

return Impairment
