-- Jitter: 20 datagrams 1 ms apart through delay 30 ms, jitter 10 ms (uniform: each delay
-- in 20..40 ms). When each leaves is the same under seed 5; frames overtake one another
-- as the delays vary (netem's do too).
test.devices(2)
test.settings{seed = 5, match = "udp", delay = 30, jitter = 10}
local frames = require "support.frames"

function test_uniform_jitter_under_the_seed()
  local list = {}
  for seq = 1, 20 do list[seq] = frames.udp(seq) end
  local timeline = frames.timeline(list, 1, 2, 80)
  test.equal(timeline, "2@26 8@29 6@30 4@32 7@33 3@34 13@35 15@35 5@36 9@40 1@40 10@41 16@41 11@45 18@46 19@47 "
                       .. "14@47 12@50 17@50 20@59")
  local count = 0
  for seq, at in timeline:gmatch("(%d+)@(%d+)") do
    local delay = tonumber(at) - (tonumber(seq) - 1)
    test.expect(delay >= 20 and delay <= 40, "datagram " .. seq .. " held " .. delay .. " ms")
    count = count + 1
  end
  test.equal(count, 20, "every datagram left")
end
