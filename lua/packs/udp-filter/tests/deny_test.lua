-- mode deny (the default): what a rule matches is dropped, everything else crosses.
test.devices(2)
test.settings{rules = "udp port 9; udp dst port 10 and src host 198.18.0.1; arp and arp[7] == 2"}

local A_MAC, B_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
local A_IP, B_IP = "198.18.0.1", "198.18.0.2"

local function udp(dport, src_ip, data)
  return tapir.build.eth{src = A_MAC, dst = B_MAC, type = 0x0800}
      .. tapir.build.ip{src = src_ip or A_IP, dst = B_IP, proto = 17,
                        payload = tapir.build.udp{sport = 40000, dport = dport, payload = data or "x"}}
end

local function arp(op)
  return tapir.build.eth{src = A_MAC, dst = op == 1 and "ff:ff:ff:ff:ff:ff" or B_MAC, type = 0x0806}
      .. tapir.build.arp{op = op, sha = A_MAC, spa = A_IP, tha = "00:00:00:00:00:00", tpa = B_IP}
end

function test_other_udp_crosses_unchanged_both_ways()
  local datagram = udp(7, nil, "echo me")
  test.inject(datagram, 1)
  local out = test.written(2)
  test.equal(#out, 1)
  test.equal(out[1], datagram, "the frame is unchanged")
  test.equal(#test.written(1), 0, "nothing back out of where it came in")
  test.inject(datagram, 2)
  test.equal(#test.written(1), 1)
  test.equal(#test.written(2), 0)
end

function test_a_rule_drops_what_it_matches_in_either_direction()
  test.inject(udp(9), 1)
  test.inject(udp(9), 2)
  test.equal(#test.written(1) + #test.written(2), 0)
end

function test_a_rule_with_several_conditions_needs_them_all()
  test.inject(udp(10), 1)
  test.equal(#test.written(2), 0, "to port 10 from 198.18.0.1: dropped")
  test.inject(udp(10, "198.18.0.3"), 1)
  test.equal(#test.written(2), 1, "from another host: passes")
end

function test_non_udp_frames_pass_unless_a_rule_names_them()
  test.inject(arp(1), 1)
  test.equal(#test.written(2), 1, "an ARP request passes")
  test.inject(arp(2), 1)
  test.equal(#test.written(2), 0, "an ARP reply is named by a rule")
  local ping = tapir.build.eth{src = A_MAC, dst = B_MAC, type = 0x0800}
      .. tapir.build.ip{src = A_IP, dst = B_IP, proto = 1, payload = tapir.build.icmp{type = 8, id = 1, seq = 1}}
  test.inject(ping, 1)
  test.equal(#test.written(2), 1, "ping passes")
end

function test_runt_and_odd_frames_cross_too()
  test.inject("\1\2\3", 2)
  test.equal(test.written(1)[1], "\1\2\3")
end
