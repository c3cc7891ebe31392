-- The router between two ports (two memory devices): host 1 on port 1's network, host 2
-- on port 2's, and the default static route to 198.19.0.0/16 through host 2.
test.devices(2)

local config = test.config
local function port_address(n) return config.ports[n]:match("^([%d.]+)/") end
local PORT_MAC = {"02:54:41:50:52:01", "02:54:41:50:52:02"}   -- config.mac and one more
local HOST_MAC = {"02:00:00:00:01:01", "02:00:00:00:02:01"}
local HOST_IP = {"198.18.1.1", "198.18.2.1"}
local GATEWAY, BEHIND_GATEWAY = "198.18.2.1", "198.19.5.5"   -- config.routes' default

local function udp_from(n, fields)
  fields.src = fields.src or HOST_IP[n]
  fields.proto = fields.proto or 17
  fields.payload = fields.payload or tapir.build.udp{sport = 5000, dport = 6000, payload = "across"}
  return tapir.build.eth{src = HOST_MAC[n], dst = PORT_MAC[n], type = 0x0800} .. tapir.build.ip(fields)
end

local function arp_from(n, op, spa, tpa, sha)
  sha = sha or HOST_MAC[n]
  return tapir.build.eth{src = sha, dst = op == 1 and "ff:ff:ff:ff:ff:ff" or PORT_MAC[n], type = 0x0806}
      .. tapir.build.arp{op = op, sha = sha, spa = spa, tha = op == 2 and PORT_MAC[n] or "00:00:00:00:00:00", tpa = tpa}
end

local function written(n, count, message)
  local out = test.written(n)
  test.equal(#out, count, (message or "frames written") .. " on port " .. n)
  return out
end

function test_the_defaults_match_these_tests()
  test.equal(config.mac, PORT_MAC[1])
  test.equal(port_address(1), "198.18.1.254")
  test.equal(port_address(2), "198.18.2.254")
  test.equal(config.routes[1], "198.19.0.0/16 via " .. GATEWAY)
end

function test_a_datagram_crosses_both_ways_each_after_arp_on_the_egress_port()
  test.inject(udp_from(1, {dst = HOST_IP[2], ttl = 30}), 1)
  written(1, 0, "nothing back")
  local request = test.decode(written(2, 1, "an ARP request")[1])
  test.equal(request.eth.src, PORT_MAC[2])
  test.equal(request.arp.sha, PORT_MAC[2])
  test.equal(request.arp.spa, port_address(2))
  test.equal(request.arp.tpa, HOST_IP[2])

  test.inject(arp_from(2, 2, HOST_IP[2], port_address(2)), 2)
  local there = test.decode(written(2, 1, "the datagram")[1])
  test.equal(there.eth.src, PORT_MAC[2])
  test.equal(there.eth.dst, HOST_MAC[2])
  test.equal(there.ip.ttl, 29)
  test.equal(there.ip.src, HOST_IP[1])
  test.equal(there.payload, "across")

  test.inject(udp_from(2, {dst = HOST_IP[1], payload = tapir.build.udp{sport = 6000, dport = 5000, payload = "back"}}), 2)
  written(2, 0, "nothing back")
  test.equal(test.decode(written(1, 1, "an ARP request")[1]).arp.tpa, HOST_IP[1])
  test.inject(arp_from(1, 2, HOST_IP[1], port_address(1)), 1)
  local back = test.decode(written(1, 1, "the answer")[1])
  test.equal(back.eth.src, PORT_MAC[1])
  test.equal(back.eth.dst, HOST_MAC[1])
  test.equal(back.ip.ttl, 63)
  test.equal(back.payload, "back")
end

function test_a_static_route_sends_to_its_gateway()
  test.inject(udp_from(1, {dst = BEHIND_GATEWAY}), 1)
  test.equal(test.decode(written(2, 1, "ARP for the gateway")[1]).arp.tpa, GATEWAY)
  test.inject(arp_from(2, 2, GATEWAY, port_address(2)), 2)
  local out = test.decode(written(2, 1)[1])
  test.equal(out.eth.dst, HOST_MAC[2])
  test.equal(out.ip.dst, BEHIND_GATEWAY)
end

function test_each_port_answers_arp_for_its_own_address_only()
  test.inject(arp_from(1, 1, HOST_IP[1], port_address(2)), 1)
  written(1, 0, "port 2's address asked on port 1")
  test.inject(arp_from(2, 1, HOST_IP[2], port_address(2)), 2)
  local reply = test.decode(written(2, 1)[1])
  test.equal(reply.arp.sha, PORT_MAC[2])
  test.equal(reply.arp.spa, port_address(2))
  written(1, 0)
end

function test_the_router_answers_ping_on_its_other_ports_address()
  test.inject(udp_from(1, {dst = port_address(2), proto = 1, payload = tapir.build.icmp{type = 8, id = 1, seq = 2}}), 1)
  local reply = test.decode(written(1, 1)[1])
  test.equal(reply.icmp.type, 0)
  test.equal(reply.ip.src, port_address(2))
  written(2, 0)
end

function test_icmp_errors_come_from_the_ingress_ports_address()
  test.inject(udp_from(2, {dst = HOST_IP[1], ttl = 1}), 2)
  local expired = test.decode(written(2, 1)[1])
  test.equal(expired.icmp.type, 11)
  test.equal(expired.ip.src, port_address(2))
  test.equal(expired.eth.src, PORT_MAC[2])
  test.equal(expired.eth.dst, HOST_MAC[2])
  test.inject(udp_from(2, {dst = "198.18.77.1"}), 2)
  local unreachable = test.decode(written(2, 1)[1])
  test.equal(unreachable.icmp.type, 3)
  test.equal(unreachable.icmp.code, 0)
  test.equal(unreachable.ip.src, port_address(2))
  written(1, 0)
end

function test_a_neighbour_learned_on_one_port_is_not_used_on_the_other()
  test.inject(arp_from(1, 1, HOST_IP[1], port_address(1), "02:00:00:00:01:99"), 1)
  written(1, 1, "the ARP reply")
  -- 198.18.1.1 is port 1's; a datagram from port 2 to it still goes out of port 1 to the learned MAC
  test.inject(udp_from(2, {dst = HOST_IP[1]}), 2)
  test.equal(test.decode(written(1, 1)[1]).eth.dst, "02:00:00:00:01:99")
  -- an ARP on port 2 claiming a port 1 address teaches nothing
  test.inject(arp_from(2, 1, "198.18.1.50", port_address(2)), 2)
  written(2, 1, "the ARP reply")
  test.inject(udp_from(1, {src = "198.18.1.1", dst = "198.18.1.50"}), 1)
  test.equal(test.decode(written(1, 1)[1]).arp.tpa, "198.18.1.50", "asked, not taken from port 2")
end
