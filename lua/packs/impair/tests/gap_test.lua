-- reorder 100% with gap 5 (netem's `reorder 100% gap 5`): every fifth datagram goes at once.
test.devices(2)
test.settings{match = "udp", delay = 10, reorder = 100, gap = 5}
local frames = require "support.frames"

function test_every_fifth_goes_ahead()
  local list = {}
  for seq = 1, 12 do list[seq] = frames.udp(seq) end
  test.equal(frames.timeline(list, 1, 2, 30),
             "5@4 10@9 1@10 2@11 3@12 4@13 6@15 7@16 8@17 9@18 11@20 12@21")
end
