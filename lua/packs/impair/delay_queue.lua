-- Frames held until their time: a binary heap ordered by due time (then by arrival, so
-- frames due at the same moment leave in the order they came), and one host timer, armed
-- for the earliest. A frame costs O(log n) to add and to take out, whatever the delays.
-- The heap is four parallel arrays (due, arrival, frame, owner), so holding a frame makes
-- no table.
local DelayQueue = {}
DelayQueue.__index = DelayQueue

-- `write(frame, owner)` sends a frame when it is due; `now()` and `after(ms, fn)` are the
-- host's clock and timers (tapir.now, tapir.after).
function DelayQueue.new(write, now, after)
  return setmetatable({due = {}, order = {}, frame = {}, owner = {}, size = 0, arrivals = 0, write = write,
                       now = now, after = after, timer = nil, timer_due = math.huge}, DelayQueue)
end

function DelayQueue:push(frame, owner, due)
  local arrivals = self.arrivals + 1
  self.arrivals = arrivals
  local dues, orders, frames, owners = self.due, self.order, self.frame, self.owner
  local i = self.size + 1
  self.size = i
  while i > 1 do
    local parent = i // 2
    local parent_due = dues[parent]
    if parent_due < due or (parent_due == due and orders[parent] < arrivals) then break end
    dues[i], orders[i], frames[i], owners[i] = parent_due, orders[parent], frames[parent], owners[parent]
    i = parent
  end
  dues[i], orders[i], frames[i], owners[i] = due, arrivals, frame, owner
  if due < self.timer_due then self:arm(due) end
end

-- Takes the earliest frame out; returns it and its owner.
local function pop(self)
  local dues, orders, frames, owners = self.due, self.order, self.frame, self.owner
  local size = self.size
  local frame, owner = frames[1], owners[1]
  local due, order, last_frame, last_owner = dues[size], orders[size], frames[size], owners[size]
  dues[size], orders[size], frames[size], owners[size] = nil, nil, nil, nil
  size = size - 1
  self.size = size
  if size > 0 then
    local i = 1
    while true do
      local child = i * 2
      if child > size then break end
      local right = child + 1
      if right <= size and (dues[right] < dues[child] or (dues[right] == dues[child] and orders[right] < orders[child])) then
        child = right
      end
      local child_due = dues[child]
      if due < child_due or (due == child_due and order < orders[child]) then break end
      dues[i], orders[i], frames[i], owners[i] = child_due, orders[child], frames[child], owners[child]
      i = child
    end
    dues[i], orders[i], frames[i], owners[i] = due, order, last_frame, last_owner
  end
  return frame, owner
end

-- The timer for `due`: the host's timers count whole milliseconds, so it is rounded up;
-- it then sends everything due by the time it fires.
function DelayQueue:arm(due)
  if self.timer then self.timer:cancel() end
  self.timer_due = due
  local wait = math.max(0, math.ceil(due - self.now()))
  self.timer = self.after(wait, function()
    self.timer, self.timer_due = nil, math.huge
    self:release()
  end)
end

-- Sends what is due when a frame comes in (cheap when nothing is): written from a
-- handler, frames join the host's batch of writes for the read burst, where the timer's
-- are written one at a time.
function DelayQueue:release_due(now)
  if self.size > 0 and self.due[1] <= now then self:release() end
end

-- Sends every frame due by now, then arms the timer for the next.
function DelayQueue:release()
  local now, write, dues = self.now(), self.write, self.due
  while self.size > 0 and dues[1] <= now do
    write(pop(self))
  end
  if self.size > 0 and not self.timer then self:arm(dues[1]) end
end

return DelayQueue
