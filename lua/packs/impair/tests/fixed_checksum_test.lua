-- corrupt_checksums = fix: the flipped bit is in the data and the checksum is updated for
-- it, so the damage reaches the application (UDP, TCP, ICMP, UDP over IPv6).
test.devices(2)
test.settings{seed = 19, match = "ip or ip6", corrupt = 100, corrupt_checksums = "fix"}
local frames = require "support.frames"
local support = require "support.corrupted"

function test_the_checksum_is_right_for_the_damaged_data()
  support.check_each({frames.udp(1, 201), frames.tcp(string.rep("t", 99)), frames.ping(3), frames.udp6("sixsixsix")},
                     true)
end

function test_frames_without_data_get_a_bit_flipped_anywhere_after_the_link_header()
  local empty = tapir.build.eth{src = frames.A_MAC, dst = "ff:ff:ff:ff:ff:ff", type = 0x0800}
      .. tapir.build.ip{src = frames.A_IP, dst = frames.B_IP, proto = 17, payload = tapir.build.udp{sport = 1, dport = 2}}
  test.inject(empty, 1)
  local out = test.written(2)
  test.equal(#out, 1)
  local at = support.where(empty, out[1])
  test.expect(tonumber(at:match("^%d+")) >= 14, "not in the Ethernet header: " .. at)
end
