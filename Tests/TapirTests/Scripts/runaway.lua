-- Handlers that misbehave on UDP (loaded before lua/examples/responder.lua, in a state
-- of their own, so the responder keeps answering pings):
-- port 1 loops forever, port 2 loops inside pcall, port 3 loops in a coroutine,
-- port 4 allocates without end, port 5 keeps what it allocates in a global,
-- port 6 raises an error every time.
tapir.on("udp", {dport = 1}, function() while true do end end)
tapir.on("udp", {dport = 2}, function() pcall(function() while true do end end) end)
tapir.on("udp", {dport = 3}, function()
  coroutine.wrap(function() while true do end end)()
end)
tapir.on("udp", {dport = 4}, function()
  local t = {}
  while true do t[#t + 1] = string.rep("x", 1024) end
end)
hoard = {}
tapir.on("udp", {dport = 5}, function()
  while true do hoard[#hoard + 1] = string.rep("y", 4096) end
end)
tapir.on("udp", {dport = 6}, function() error("storm") end)
