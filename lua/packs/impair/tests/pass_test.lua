-- With no rule, impair is a plain bump in the wire: everything crosses at once, unchanged.
test.devices(2)
local frames = require "support.frames"

function test_everything_crosses_unchanged_both_ways()
  local ping, reply = frames.ping(1), frames.ping(1, true)
  test.inject(ping, 1)
  test.inject(reply, 2)
  test.inject("\1\2\3", 1)
  local to_b, to_a = test.written(2), test.written(1)
  test.equal(#to_b, 2)
  test.equal(to_b[1], ping)
  test.equal(to_b[2], "\1\2\3", "a runt crosses too")
  test.equal(#to_a, 1)
  test.equal(to_a[1], reply)
end
