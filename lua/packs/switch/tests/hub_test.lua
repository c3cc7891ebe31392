-- Four ports, and the ageing setting: with `tapir test switch --set ageing=0` the switch
-- learns nothing and floods everything, a hub (switch_test.lua assumes learning).
test.devices(4)

local A, B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"

local function frame(src, dst)
  return tapir.build.eth{src = src, dst = dst, type = 0x88b5} .. "hub"
end

function test_four_ports_flood_to_three()
  test.inject(frame(A, B), 3)
  test.equal(#test.written(3), 0)
  for _, port in ipairs{1, 2, 4} do test.equal(#test.written(port), 1, "port " .. port) end
end

function test_learning_follows_the_ageing_setting()
  test.inject(frame(B, A), 2)
  for port = 1, 4 do test.written(port) end
  test.inject(frame(A, B), 1)
  local expected = test.config.ageing > 0 and 1 or 3
  local total = 0
  for port = 1, 4 do total = total + #test.written(port) end
  test.equal(total, expected)
end
