-- Writes a frame of its own (a broadcast of EtherType 0x88b5, for local experiments)
-- every 5 ms, whether or not anyone listens: traffic that goes on while a test sets the
-- link down. Loaded beside lua/examples/responder.lua.
local frame = tapir.build.eth{src = "02:54:41:50:49:52", dst = "ff:ff:ff:ff:ff:ff", type = 0x88b5}
  .. string.rep("b", 46)
tapir.every(5, function()
  for _, dev in ipairs(tapir.devices()) do dev:write(frame) end
end)
