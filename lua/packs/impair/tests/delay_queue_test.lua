-- The delay queue on its own, with a clock and timers of the test's: frames leave in the
-- order they are due, those due together in the order they came, and one timer is armed
-- for the earliest.
package.path = package.path:gsub("^(.-)tests/%?%.lua", "%1?.lua;%0", 1)
test.devices(2)
local DelayQueue = require "delay_queue"
local Random = require "random"

-- A queue whose timers are a list the test fires by hand.
local function queue()
  local clock, timers, sent = {now = 0}, {}, {}
  local q = DelayQueue.new(function(frame, owner) sent[#sent + 1] = {frame = frame, owner = owner, at = clock.now} end,
                           function() return clock.now end,
                           function(ms, fn)
                             local timer = {at = clock.now + ms, fn = fn}
                             function timer.cancel() timer.cancelled = true end
                             timers[#timers + 1] = timer
                             return timer
                           end)
  -- Moves the clock to `t`, firing the timers due on the way.
  function clock.run(t)
    local fired = true
    while fired do
      fired = false
      for _, timer in ipairs(timers) do
        if not timer.cancelled and not timer.fired and timer.at <= t then
          timer.fired, fired = true, true
          clock.now = math.max(clock.now, timer.at)
          timer.fn()
        end
      end
    end
    clock.now = t
  end
  return q, clock, timers, sent
end

function test_frames_leave_in_due_order_and_ties_in_arrival_order()
  local q, clock, _, sent = queue()
  local random, dues = Random.new(9), {}
  for i = 1, 2000 do
    dues[i] = random:below(50) + 0.5  -- 50 distinct times: many frames due together
    q:push(i, "owner", dues[i])
  end
  clock.run(100)
  test.equal(#sent, 2000)
  local in_order = true
  for i = 2, #sent do
    local a, b = sent[i - 1].frame, sent[i].frame
    in_order = in_order and (dues[a] < dues[b] or (dues[a] == dues[b] and a < b))
    in_order = in_order and sent[i].at >= dues[b]
  end
  test.expect(in_order, "by due time, then arrival, none early")
  test.equal(sent[1].owner, "owner")
end

function test_one_timer_for_the_earliest_and_whole_milliseconds()
  local q, clock, timers, sent = queue()
  q:push("late", nil, 30)
  q:push("later", nil, 40)
  test.equal(#timers, 1, "a later frame arms nothing")
  q:push("early", nil, 10.2)
  test.equal(#timers, 2)
  test.expect(timers[1].cancelled, "the timer for 30 ms gave way")
  test.equal(timers[2].at, 11, "10.2 ms rounded up")
  clock.run(11)
  test.equal(#sent, 1)
  test.equal(sent[1].frame, "early")
  clock.run(29)
  test.equal(#sent, 1)
  clock.run(40)
  test.equal(#sent, 3)
  test.equal(q.size, 0)
end

function test_release_due_sends_only_what_is_due()
  local q, clock, _, sent = queue()
  q:push("a", nil, 5)
  q:push("b", nil, 8)
  clock.now = 6
  q:release_due(6)
  test.equal(#sent, 1)
  q:release_due(6)
  test.equal(#sent, 1, "nothing more is due")
end
