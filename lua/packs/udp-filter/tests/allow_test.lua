-- mode allow: UDP crosses only when a rule matches it; frames that are not UDP always do.
test.devices(2)
test.settings{mode = "allow", rules = "udp port 7; vlan and udp port 7"}

local A_MAC, B_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b"

local function ip(payload, proto)
  return tapir.build.ip{src = "198.18.0.1", dst = "198.18.0.2", proto = proto or 17, payload = payload}
end

local function udp(dport)
  return tapir.build.eth{src = A_MAC, dst = B_MAC, type = 0x0800}
      .. ip(tapir.build.udp{sport = 40000, dport = dport, payload = "x"})
end

local function tagged_udp(dport)
  return tapir.build.eth{src = A_MAC, dst = B_MAC, type = 0x8100} .. tapir.build.vlan{id = 5, type = 0x0800}
      .. ip(tapir.build.udp{sport = 40000, dport = dport, payload = "x"})
end

function test_udp_a_rule_allows_crosses()
  test.inject(udp(7), 1)
  test.equal(#test.written(2), 1)
  test.inject(udp(7), 2)
  test.equal(#test.written(1), 1)
end

function test_udp_no_rule_allows_is_dropped()
  test.inject(udp(9), 1)
  test.inject(udp(53), 2)
  test.equal(#test.written(1) + #test.written(2), 0)
end

function test_tagged_udp_is_judged_too()
  test.inject(tagged_udp(9), 1)
  test.equal(#test.written(2), 0, "a VLAN tag does not get UDP past the filter")
  test.inject(tagged_udp(7), 1)
  test.equal(#test.written(2), 1, "a rule naming the VLAN allows it")
end

function test_other_protocols_always_cross()
  test.inject(tapir.build.eth{src = A_MAC, dst = "ff:ff:ff:ff:ff:ff", type = 0x0806}
           .. tapir.build.arp{op = 1, sha = A_MAC, spa = "198.18.0.1", tpa = "198.18.0.2"}, 1)
  test.inject(tapir.build.eth{src = A_MAC, dst = B_MAC, type = 0x0800}
           .. ip(tapir.build.icmp{type = 8, id = 1, seq = 1}, 1), 1)
  test.inject(tapir.build.eth{src = A_MAC, dst = B_MAC, type = 0x0800}
           .. ip(tapir.build.tcp{sport = 1000, dport = 80, flags = "S"}, 6), 1)
  test.equal(#test.written(2), 3)
end
