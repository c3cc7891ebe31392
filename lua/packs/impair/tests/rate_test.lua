-- rate 80kbit (10 bytes a millisecond) with limit 3: a 100-byte frame takes 10 ms on the
-- link, frames queue behind one another, and a fourth waiting is dropped.
test.devices(2)
test.settings{match = "udp", rate = "80kbit", limit = 3}
local frames = require "support.frames"

local function sized(seq)  -- 100 bytes on the wire: 14 + 20 + 8 + 58
  local frame = frames.udp(seq, 58)
  test.equal(#frame, 100)
  return frame
end

function test_frames_leave_at_the_rate()
  test.inject(sized(1), 1)
  test.inject(sized(2), 1)
  test.inject(sized(3), 1)
  test.inject(sized(4), 1)
  test.equal(frames.timeline({}, 1, 2, 60), "1@10 2@20 3@30", "the fourth found three waiting")
  test.inject(sized(5), 1)
  test.equal(frames.timeline({}, 1, 2, 20), "5@10", "an idle link again")
end

function test_a_frame_sent_when_the_link_is_idle_waits_only_its_own_time()
  test.inject(sized(1), 1)
  test.advance(25)
  test.equal(#test.written(2), 1)
  test.inject(sized(2), 1)
  test.equal(frames.timeline({}, 1, 2, 15), "2@10")
end
