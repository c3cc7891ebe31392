-- rate = 2, burst = 3: each IP source may send 3 datagrams at once, then 2 a second.
test.devices(2)
test.settings{rate = 2, burst = 3}

local function udp(src)
  return tapir.build.eth{src = "02:00:00:00:00:0a", dst = "02:00:00:00:00:0b", type = 0x0800}
      .. tapir.build.ip{src = src, dst = "198.18.0.2", proto = 17,
                        payload = tapir.build.udp{sport = 40000, dport = 7, payload = "x"}}
end

local function send(count, src)
  for _ = 1, count do test.inject(udp(src), 1) end
  return #test.written(2)
end

function test_a_burst_then_the_rate()
  test.equal(send(5, "198.18.0.1"), 3, "the burst")
  test.advance(500)
  test.equal(send(5, "198.18.0.1"), 1, "half a second: one token")
  test.advance(1000)
  test.equal(send(5, "198.18.0.1"), 2, "one second: two tokens")
end

function test_each_source_has_its_own_bucket()
  test.equal(send(5, "198.18.0.1"), 3)
  test.equal(send(5, "198.18.0.3"), 3)
end

function test_only_udp_is_limited()
  for _ = 1, 10 do
    test.inject(tapir.build.eth{src = "02:00:00:00:00:0a", dst = "ff:ff:ff:ff:ff:ff", type = 0x0806}
             .. tapir.build.arp{op = 1, sha = "02:00:00:00:00:0a", spa = "198.18.0.1", tpa = "198.18.0.2"}, 1)
  end
  test.equal(#test.written(2), 10)
end
