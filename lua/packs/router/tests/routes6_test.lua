-- IPv6 longest-prefix match: a /128 inside a /48, the /48, and the default route; each
-- destination's next hop is the one asked for by a neighbor solicitation.
local ndp = require "tapir.proto.ndp"
test.devices(2)
test.settings{ports6 = "2001:2:0:1::1/64, 2001:2:0:2::1/64", ra = false,
              routes = "2001:2:9::/48 via 2001:2:0:2::9, 2001:2:9::7/128 via 2001:2:0:2::8, "
                       .. "default via 2001:2:0:1::9, 198.19.0.0/16 via 198.18.2.1"}

local function send_to(destination)
  test.inject(tapir.build.eth{src = "02:00:00:00:01:05", dst = "02:54:41:50:52:01", type = 0x86dd}
              .. tapir.build.ipv6{src = "2001:2:0:1::5", dst = destination, nxt = 17,
                                  payload = tapir.build.udp{sport = 1, dport = 2, payload = "x"}}, 1)
end

local function asked_for(port)
  local out = test.written(port)
  test.equal(#out, 1, "one solicitation on port " .. port)
  return out[1] and assert(ndp.decode(out[1]:sub(55))).target
end

function test_the_longest_prefix_wins()
  send_to("2001:2:9::7")
  test.equal(asked_for(2), "2001:2:0:2::8", "the /128")
  send_to("2001:2:9::8")
  test.equal(asked_for(2), "2001:2:0:2::9", "the /48")
  send_to("2001:2:77::1")
  test.equal(asked_for(1), "2001:2:0:1::9", "the default route, back out of port 1")
  send_to("2001:2:0:2::44")
  test.equal(asked_for(2), "2001:2:0:2::44", "connected: the destination itself")
end

function test_loopback_and_unspecified_destinations_are_never_forwarded()
  -- RFC 4291 2.5.2 and 2.5.3: never forwarded, whatever the default route says (and, as
  -- Linux does, dropped without an error)
  for _, destination in ipairs{"::1", "::"} do
    send_to(destination)
    test.equal(#test.written(1), 0, destination .. ": nothing back out of port 1")
    test.equal(#test.written(2), 0, destination .. ": nothing on port 2")
  end
end
