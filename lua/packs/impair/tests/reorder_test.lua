-- Reordering as netem's: with delay 10 ms, 25% of the datagrams are sent at once, ahead of
-- those held; the same ones under seed 13, and none lost.
test.devices(2)
test.settings{seed = 13, match = "udp", delay = 10, reorder = 25}
local frames = require "support.frames"

function test_some_datagrams_go_ahead()
  local list = {}
  for seq = 1, 20 do list[seq] = frames.udp(seq) end
  test.equal(frames.timeline(list, 1, 2, 40), "2@1 4@3 7@6 10@9 1@10 3@12 5@14 6@15 8@17 18@17 9@18 11@20 12@21 "
             .. "13@22 14@23 15@24 16@25 17@26 19@28 20@29")
end
