-- Corruption: every frame gets one bit flipped in its transport payload; the checksum is
-- left wrong (corrupt_checksums = keep, the default), so a receiver's check finds it.
test.devices(2)
test.settings{seed = 17, match = "ip or ip6", corrupt = 100}
local frames = require "support.frames"
local support = require "support.corrupted"

function test_one_bit_of_the_data_flips_and_the_checksum_is_left_wrong()
  support.check_each({frames.udp(1, 200), frames.tcp(string.rep("t", 100)), frames.ping(3), frames.udp6("sixsixsix")},
                     false)
end

function test_the_flips_are_the_same_under_the_seed()
  test.inject(frames.udp(1, 200), 1)
  test.inject(frames.udp(1, 200), 1)
  local out = test.written(2)
  test.equal(support.where(frames.udp(1, 200), out[1]) .. " " .. support.where(frames.udp(1, 200), out[2]), "59.2 182.3")
end
