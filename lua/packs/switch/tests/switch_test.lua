-- Three ports; hosts A, B and C behind ports 1, 2 and 3.
test.devices(3)

local A, B, C = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"
local BROADCAST = "ff:ff:ff:ff:ff:ff"

local function frame(src, dst, data)
  return tapir.build.eth{src = src, dst = dst, type = 0x88b5} .. (data or "switched")
end

-- The frames written to each port, taken: {[1] = {...}, [2] = {...}, [3] = {...}}.
local function outputs()
  return {test.written(1), test.written(2), test.written(3)}
end

local function counts(out)
  return #out[1] .. "," .. #out[2] .. "," .. #out[3]
end

function test_unknown_unicast_is_flooded_to_every_port_but_the_ingress()
  local sent = frame(A, B, "to B, wherever it is")
  test.inject(sent, 1)
  local out = outputs()
  test.equal(counts(out), "0,1,1")
  test.equal(out[2][1], sent, "the frame is unchanged")
  test.equal(out[3][1], sent)
end

function test_a_learned_address_gets_its_frames_on_its_port_only()
  test.inject(frame(B, A), 2)  -- B is learned on port 2
  test.equal(counts(outputs()), "1,0,1", "A is not known yet: flooded")
  test.inject(frame(A, B), 1)
  test.equal(counts(outputs()), "0,1,0", "B is known: port 2 only")
  test.inject(frame(B, A), 2)
  test.equal(counts(outputs()), "1,0,0", "A was learned from its frame: port 1 only")
end

function test_broadcast_and_multicast_are_flooded_even_when_learned()
  test.inject(frame(B, A), 2)
  test.inject(frame(C, A), 3)
  outputs()
  test.inject(frame(A, BROADCAST), 1)
  test.equal(counts(outputs()), "0,1,1")
  test.inject(frame(A, "01:00:5e:00:00:01"), 1)  -- IPv4 multicast
  test.equal(counts(outputs()), "0,1,1")
  test.inject(frame(B, "33:33:00:00:00:01"), 2)  -- IPv6 multicast
  test.equal(counts(outputs()), "1,0,1")
end

function test_a_frame_for_the_ingress_segment_is_not_sent_back()
  test.inject(frame(B, A), 2)
  test.inject(frame(C, A), 2)  -- C shares port 2 with B
  outputs()
  test.inject(frame(B, C), 2)
  test.equal(counts(outputs()), "0,0,0")
end

function test_an_address_that_moves_is_learned_on_its_new_port()
  test.inject(frame(B, A), 2)
  outputs()
  test.inject(frame(B, A), 3)  -- B now behind port 3
  outputs()
  test.inject(frame(A, B), 1)
  test.equal(counts(outputs()), "0,0,1")
end

function test_learned_addresses_age_out()
  local ageing_ms = test.config.ageing * 1000
  test.inject(frame(B, A), 2)
  outputs()
  test.advance(ageing_ms - 1000)
  test.inject(frame(A, B), 1)
  test.equal(counts(outputs()), "0,1,0", "still within the ageing time")
  test.advance(ageing_ms + 1000)
  test.inject(frame(C, B), 3)
  test.equal(counts(outputs()), "1,1,0", "B aged out: flooded again")
end

function test_a_group_source_address_is_dropped_and_not_learned()
  test.inject(frame("01:00:5e:00:00:09", A), 2)
  test.equal(counts(outputs()), "0,0,0")
  test.inject(frame(A, "01:00:5e:00:00:09"), 1)
  test.equal(counts(outputs()), "0,1,1", "flooded: multicast, never learned")
end

function test_a_runt_frame_is_dropped()
  test.inject("\1\2\3\4\5\6\7", 1)
  test.equal(counts(outputs()), "0,0,0")
end

function test_vlan_tagged_frames_are_switched_as_they_are()
  local tagged = tapir.build.eth{src = A, dst = B, type = 0x8100}
      .. tapir.build.vlan{id = 100, type = 0x0800}
      .. tapir.build.ip{src = "198.18.0.1", dst = "198.18.0.2", proto = 17,
                        payload = tapir.build.udp{sport = 1, dport = 2, payload = "tagged"}}
  test.inject(frame(B, A), 2)
  outputs()
  test.inject(tagged, 1)
  local out = outputs()
  test.equal(counts(out), "0,1,0")
  test.equal(out[2][1], tagged)
end
