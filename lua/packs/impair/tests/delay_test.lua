-- Delay, with and without jitter: frames are held on the host's clock and leave when due.
test.devices(2)
test.settings{seed = 3, match = "udp", delay = 50}
local frames = require "support.frames"

function test_a_frame_leaves_after_the_delay_unchanged()
  local datagram = frames.udp(1)
  test.inject(datagram, 1)
  test.advance(49)
  test.equal(#test.written(2), 0, "held for 49 ms")
  test.advance(1)
  local out = test.written(2)
  test.equal(#out, 1, "out at 50 ms")
  test.equal(out[1], datagram)
end

function test_frames_keep_their_order_and_spacing()
  test.equal(frames.timeline({frames.udp(1), frames.udp(2), frames.udp(3)}, 1, 2, 60), "1@50 2@51 3@52")
end

function test_both_directions_and_other_frames_at_once()
  test.inject(frames.ping(1), 1)
  test.equal(#test.written(2), 1, "ICMP is not the rule's")
  test.inject(frames.udp(2), 2)
  test.equal(#test.written(1), 0)
  test.advance(50)
  test.equal(#test.written(1), 1, "UDP from device 2 is delayed too")
end
