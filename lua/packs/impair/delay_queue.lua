-- Frames held until their time: a binary heap ordered by due time (then by arrival, so
-- frames due at the same moment leave in the order they came), and one host timer, armed
-- for the earliest. A frame costs O(log n) to add and to take out, whatever the delays.
local DelayQueue = {}
DelayQueue.__index = DelayQueue

-- `write(entry)` sends a frame when it is due; `now()` and `after(ms, fn)` are the host's
-- clock and timers (tapir.now, tapir.after).
function DelayQueue.new(write, now, after)
  return setmetatable({heap = {}, size = 0, arrivals = 0, write = write, now = now, after = after,
                       timer = nil, timer_due = math.huge}, DelayQueue)
end

local function before(a, b)
  return a.due < b.due or (a.due == b.due and a.order < b.order)
end

function DelayQueue:push(entry, due)
  self.arrivals = self.arrivals + 1
  entry.due, entry.order = due, self.arrivals
  local heap = self.heap
  local i = self.size + 1
  self.size = i
  while i > 1 do
    local parent = i // 2
    if not before(entry, heap[parent]) then break end
    heap[i] = heap[parent]
    i = parent
  end
  heap[i] = entry
  if due < self.timer_due then self:arm(due) end
end

local function pop(self)
  local heap, size = self.heap, self.size
  local top, last = heap[1], heap[size]
  heap[size] = nil
  size = size - 1
  self.size = size
  if size > 0 then
    local i = 1
    while true do
      local child = i * 2
      if child > size then break end
      if child < size and before(heap[child + 1], heap[child]) then child = child + 1 end
      if not before(heap[child], last) then break end
      heap[i] = heap[child]
      i = child
    end
    heap[i] = last
  end
  return top
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

-- Sends every frame due by now, then arms the timer for the next.
function DelayQueue:release()
  local now = self.now()
  while self.size > 0 and self.heap[1].due <= now do
    self.write(pop(self))
  end
  if self.size > 0 and not self.timer then self:arm(self.heap[1].due) end
end

return DelayQueue
