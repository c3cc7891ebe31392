-- Random loss on one direction: 30% of the pings from device 1 are dropped, always the
-- same ones under seed 7; replies and other traffic are not touched.
test.devices(2)
test.settings{seed = 7, match = "icmp", from = 1, loss = 30}
local frames = require "support.frames"

local CROSSED = "1 2 4 5 7 8 9 12 13 14 16 18 19 20 21 22 24 27 28 32 33 34 35 36 38 39"  -- 14 of 40 lost

function test_the_same_pings_are_dropped_under_the_seed()
  for seq = 1, 40 do test.inject(frames.ping(seq), 1) end
  local crossed = frames.ids(test.written(2))
  test.equal(frames.text(crossed), CROSSED)
end

function test_the_other_direction_and_other_traffic_cross()
  for seq = 1, 40 do test.inject(frames.ping(seq, true), 2) end
  test.equal(#test.written(1), 40, "replies from device 2")
  for seq = 1, 40 do test.inject(frames.udp(seq), 1) end
  test.equal(#test.written(2), 40, "UDP from device 1")
end
