-- Duplication: 25% of the datagrams cross twice, always the same ones under seed 11.
test.devices(2)
test.settings{seed = 11, match = "udp", duplicate = 25}
local frames = require "support.frames"

function test_the_same_datagrams_cross_twice()
  for seq = 1, 20 do test.inject(frames.udp(seq), 1) end
  test.equal(frames.text(frames.ids(test.written(2))), "1 1 2 3 3 4 5 5 6 7 7 8 9 10 10 11 12 13 14 15 16 17 18 19 20 20")
end
