local config = test.config
local PEER_MAC = "02:00:00:00:00:01"

local function datagram(dport, data, dst)
  return tapir.build.eth{src = PEER_MAC, dst = config.mac, type = 0x0800}
      .. tapir.build.ip{src = "198.18.0.1", dst = dst or config.ip, proto = 17,
                        payload = tapir.build.udp{sport = 40000, dport = dport, payload = data}}
end

local function arp_request(tpa)
  return tapir.build.eth{src = PEER_MAC, dst = "ff:ff:ff:ff:ff:ff", type = 0x0806}
      .. tapir.build.arp{op = 1, sha = PEER_MAC, spa = "198.18.0.1", tha = "00:00:00:00:00:00", tpa = tpa}
end

function test_a_datagram_to_an_echo_port_comes_back_unchanged()
  test.inject(datagram(config.ports[1], "hello, echo"))
  local out = test.written()
  test.equal(#out, 1)
  local reply = test.decode(out[1])
  test.equal(reply.payload, "hello, echo")
  test.equal(reply.udp.sport, config.ports[1])
  test.equal(reply.udp.dport, 40000)
  test.equal(reply.ip.src, config.ip)
  test.equal(reply.ip.dst, "198.18.0.1")
  test.equal(reply.eth.dst, PEER_MAC)
end

function test_other_ports_and_addresses_are_not_echoed()
  test.inject(datagram(9, "discard me"))
  test.inject(datagram(config.ports[1], "not mine", "198.18.0.50"))
  test.equal(#test.written(), 0)
end

function test_an_empty_datagram_is_echoed_empty()
  test.inject(datagram(config.ports[1], ""))
  local out = test.written()
  test.equal(#out, 1)
  test.equal(test.decode(out[1]).payload, "")
end

function test_arp_for_its_address_is_answered()
  test.inject(arp_request(config.ip))
  local out = test.written()
  test.equal(#out, 1)
  local reply = test.decode(out[1])
  test.equal(reply.arp.op, 2)
  test.equal(reply.arp.sha, config.mac)
end

function test_arp_for_another_address_is_not_answered()
  test.inject(arp_request("198.18.0.77"))
  test.equal(#test.written(), 0)
end

local function datagram_v6(dport, data, dst)
  return tapir.build.eth{src = PEER_MAC, dst = config.mac, type = 0x86dd}
      .. tapir.build.ipv6{src = "2001:2::1", dst = dst or config.ipv6, nxt = 17,
                          payload = tapir.build.udp{sport = 40000, dport = dport, payload = data}}
end

function test_ipv6_datagrams_are_echoed_too()
  test.inject(datagram_v6(config.ports[1], "over v6"))
  local out = test.written()
  test.equal(#out, 1)
  local reply = test.decode(out[1])
  test.equal(reply.payload, "over v6")
  test.equal(reply.ipv6.src, config.ipv6)
  test.equal(reply.ipv6.dst, "2001:2::1")
  test.equal(reply.udp.sport, config.ports[1])
  test.equal(reply.udp.dport, 40000)
  test.equal(reply.eth.dst, PEER_MAC)
  test.inject(datagram_v6(config.ports[1], "not mine", "2001:2::50"))
  test.inject(datagram_v6(9, "other port"))
  test.equal(#test.written(), 0, "other addresses and ports are left alone")
end

function test_a_neighbour_solicitation_for_its_address_is_answered()
  test.inject(tapir.build.eth{src = PEER_MAC, dst = "33:33:ff:00:00:02", type = 0x86dd}
           .. tapir.build.ipv6{src = "2001:2::1", dst = "ff02::1:ff00:2", nxt = 58, hlim = 255,
                               payload = tapir.build.icmpv6{type = 135, target = config.ipv6, lladdr = PEER_MAC}})
  local out = test.written()
  test.equal(#out, 1)
  local reply = test.decode(out[1])
  test.equal(reply.icmpv6.type, 136)
  test.equal(reply.icmpv6.target, config.ipv6)
  test.equal(reply.ipv6.hlim, 255)
end
