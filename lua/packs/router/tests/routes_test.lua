-- Longest-prefix match over connected networks and static routes of both kinds.
test.devices(2)
test.settings{routes = {"198.19.0.0/16 via 198.18.2.1", "198.19.5.0/24 via 198.18.1.1",
                        "198.19.5.128/25 dev 2", "default via 198.18.1.2"}}

local PORT_MAC = {"02:54:41:50:52:01", "02:54:41:50:52:02"}
local HOST_MAC, HOST_IP = "02:00:00:00:01:01", "198.18.1.1"

local function udp_to(destination)
  return tapir.build.eth{src = HOST_MAC, dst = PORT_MAC[1], type = 0x0800}
      .. tapir.build.ip{src = HOST_IP, dst = destination, proto = 17,
                        payload = tapir.build.udp{sport = 1, dport = 2, payload = destination}}
end

-- The port a datagram to `destination` leaves by, and whom the router asks ARP for there.
local function asked(destination)
  test.inject(udp_to(destination), 1)
  for port = 1, 2 do
    local out = test.written(port)
    if #out == 1 then
      local frame = test.decode(out[1])
      test.equal(frame.arp and frame.arp.op, 1, "an ARP request for " .. destination)
      return port, frame.arp.tpa
    end
    test.equal(#out, 0, "at most one frame on port " .. port)
  end
  return nil
end

local function expect_route(destination, port, next_hop)
  local out_port, target = asked(destination)
  test.equal(out_port, port, destination .. " leaves by")
  test.equal(target, next_hop, destination .. "'s next hop")
end

function test_the_longest_prefix_wins()
  expect_route("198.19.7.1", 2, "198.18.2.1")        -- /16
  expect_route("198.19.5.1", 1, "198.18.1.1")        -- /24 inside it
  expect_route("198.19.5.200", 2, "198.19.5.200")    -- /25 inside that, on-link on port 2
  expect_route("198.18.2.9", 2, "198.18.2.9")        -- connected /24
  expect_route("198.18.99.1", 1, "198.18.1.2")       -- only the default route matches
end

function test_a_dev_route_learns_its_on_link_destination()
  test.equal(asked("198.19.5.200"), 2)
  test.inject(tapir.build.eth{src = "02:00:00:00:05:c8", dst = PORT_MAC[2], type = 0x0806}
           .. tapir.build.arp{op = 2, sha = "02:00:00:00:05:c8", spa = "198.19.5.200",
                              tha = PORT_MAC[2], tpa = "198.18.2.254"}, 2)
  local out = test.written(2)
  test.equal(#out, 1, "the datagram that waited")
  local frame = test.decode(out[1])
  test.equal(frame.eth.dst, "02:00:00:00:05:c8")
  test.equal(frame.payload, "198.19.5.200")
end
