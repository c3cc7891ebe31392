-- ageing = 0: the switch learns nothing and floods every frame, a hub.
test.devices(4)
test.settings{ageing = 0}

local A, B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"

local function frame(src, dst)
  return tapir.build.eth{src = src, dst = dst, type = 0x88b5} .. "hub"
end

local function written()
  local counts = {}
  for port = 1, 4 do counts[port] = #test.written(port) end
  return table.concat(counts, ",")
end

function test_every_frame_goes_to_every_other_port()
  test.inject(frame(B, A), 2)
  test.equal(written(), "1,0,1,1")
  test.inject(frame(A, B), 1)
  test.equal(written(), "0,1,1,1", "B was not learned")
  test.inject(frame(B, A), 2)
  test.equal(written(), "1,0,1,1", "nor A")
end
