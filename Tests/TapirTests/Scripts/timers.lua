-- 10,000 one-shot timers at random whole-millisecond delays between 0.2 and 2.2 s. Each
-- notes when it fired; 3 s in, a last timer writes one line a firing, in firing order,
-- "id low high fired" (milliseconds on tapir.now's clock), to $TAPIR_TIMER_RESULT. A
-- timer's deadline is tapir.after's clock reading plus its delay: the script reads the
-- clock just before and just after the call, so the deadline lies between low and high.
local count = 10000
local result = assert(os.getenv("TAPIR_TIMER_RESULT"), "set TAPIR_TIMER_RESULT")
local low, high, order, firedAt = {}, {}, {}, {}
math.randomseed(9)
for id = 1, count do
  local delay = math.random(200, 2200)
  low[id] = tapir.now() + delay
  tapir.after(delay, function()
    order[#order + 1] = id
    firedAt[#order] = tapir.now()
  end)
  high[id] = tapir.now() + delay
end
tapir.after(3000, function()
  local file = assert(io.open(result .. ".part", "w"))
  for position, id in ipairs(order) do
    file:write(string.format("%d %.6f %.6f %.6f\n", id, low[id], high[id], firedAt[position]))
  end
  file:close()
  assert(os.rename(result .. ".part", result))
end)
