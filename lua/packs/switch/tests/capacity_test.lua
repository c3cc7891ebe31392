-- max_macs = 2: a full table learns no more addresses; frames to them are flooded.
test.devices(3)
test.settings{max_macs = 2}

local A, B, C = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"

local function frame(src, dst)
  return tapir.build.eth{src = src, dst = dst, type = 0x88b5} .. "full"
end

local function written()
  return #test.written(1) .. "," .. #test.written(2) .. "," .. #test.written(3)
end

function test_a_full_table_floods_to_addresses_it_could_not_learn()
  test.inject(frame(A, B), 1)
  test.inject(frame(B, A), 2)
  test.inject(frame(C, A), 3)  -- the table is full: C is not learned
  written()
  test.inject(frame(A, B), 1)
  test.equal(written(), "0,1,0", "B was learned")
  test.inject(frame(A, C), 1)
  test.equal(written(), "0,1,1", "C was not")
end

function test_aged_out_entries_make_room()
  test.inject(frame(A, B), 1)
  test.inject(frame(B, A), 2)
  test.advance(test.config.ageing * 1000 + 60000)  -- a sweep removes both
  test.inject(frame(C, A), 3)
  written()
  test.inject(frame(A, C), 1)
  test.equal(written(), "0,0,1", "C was learned in the room made")
end
