-- Gilbert-Elliott loss (netem's `loss gemodel 5 20 100 0`): a 5% chance of going bad, 20%
-- of coming back, everything lost while bad: losses come in bursts (mean length 1/r = 5),
-- the same ones under seed 23.
test.devices(2)
test.settings{seed = 23, match = "udp", gemodel = "5 20 100 0"}
local frames = require "support.frames"

function test_losses_come_in_bursts()
  for seq = 1, 300 do test.inject(frames.udp(seq), 1) end
  local crossed, lost, bursts, previous = {}, {}, 0, 0
  for _, seq in ipairs(frames.ids(test.written(2))) do crossed[seq] = true end
  for seq = 1, 300 do
    if not crossed[seq] then
      lost[#lost + 1] = seq
      if previous ~= seq - 1 then bursts = bursts + 1 end
      previous = seq
    end
  end
  test.equal(frames.text(lost), "10 11 12 13 14 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 73 74 75 115 116 117 118 "
    .. "119 120 121 122 123 124 136 137 138 139 146 147 148 159 160 173 174 175 240 241 242 243 244 245 246 247 250 "
    .. "251 252 253 274 275 276 284 285 286 287 288 289 290 291 299 300")  -- 71 of 300: about p / (p + r) = 20%
  test.expect(#lost / bursts >= 2.5, string.format("%d lost in %d bursts", #lost, bursts))
end
