-- The switch's forwarding table: the port (dev.id) each source MAC address was last seen
-- on, and when (tapir.now). An entry older than the ageing time counts as absent;
-- sweep() removes such entries. The entries live in a table the caller gives
-- (tapir.state's), so a reload keeps what was learned.
local MacTable = {}
MacTable.__index = MacTable

-- entries: {[mac] = {port = id, seen = ms}}; ageing_ms: how long an entry lasts;
-- capacity: the most entries kept.
function MacTable.new(entries, ageing_ms, capacity)
  local size = 0
  for _ in pairs(entries) do size = size + 1 end
  return setmetatable({entries = entries, ageing = ageing_ms, capacity = capacity, size = size}, MacTable)
end

-- Records that `mac` was seen on `port` at `now`: "new", "moved" (from another port),
-- "full" (not recorded: the table is full) or nil (already known there).
function MacTable:learn(mac, port, now)
  local entry = self.entries[mac]
  if entry then
    entry.seen = now
    if entry.port == port then return nil end
    entry.port = port
    return "moved"
  end
  if self.size >= self.capacity then return "full" end
  self.entries[mac] = {port = port, seen = now}
  self.size = self.size + 1
  return "new"
end

-- The port `mac` was last seen on, if that was within the ageing time.
function MacTable:port(mac, now)
  local entry = self.entries[mac]
  if entry and now - entry.seen <= self.ageing then return entry.port end
  return nil
end

-- Removes the entries older than the ageing time; returns how many.
function MacTable:sweep(now)
  local removed = 0
  for mac, entry in pairs(self.entries) do
    if now - entry.seen > self.ageing then
      self.entries[mac] = nil
      removed = removed + 1
    end
  end
  self.size = self.size - removed
  return removed
end

-- How many live entries point at each port: {[id] = count}.
function MacTable:counts(now)
  local counts = {}
  for _, entry in pairs(self.entries) do
    if now - entry.seen <= self.ageing then counts[entry.port] = (counts[entry.port] or 0) + 1 end
  end
  return counts
end

return MacTable
