local config = test.config
local PEER_MAC = "02:00:00:00:00:01"

local function ping4(id, seq, data, dst)
  return tapir.build.eth{src = PEER_MAC, dst = config.mac, type = 0x0800}
      .. tapir.build.ip{src = "198.18.0.1", dst = dst or config.ip, proto = 1,
                        payload = tapir.build.icmp{type = 8, id = id, seq = seq, payload = data}}
end

local function ping6(id, seq, data)
  return tapir.build.eth{src = PEER_MAC, dst = config.mac, type = 0x86dd}
      .. tapir.build.ipv6{src = "2001:2::1", dst = config.ipv6, nxt = 58,
                          payload = tapir.build.icmpv6{type = 128, id = id, seq = seq, payload = data}}
end

function test_echo_reply_keeps_id_seq_and_data()
  test.inject(ping4(0x1234, 7, "abcdefgh"))
  local out = test.written()
  test.equal(#out, 1)
  local reply = test.decode(out[1])
  test.equal(reply.icmp.type, 0)
  test.equal(reply.icmp.id, 0x1234)
  test.equal(reply.icmp.seq, 7)
  test.equal(reply.payload, "abcdefgh")
  test.equal(reply.ip.src, config.ip)
  test.equal(reply.ip.dst, "198.18.0.1")
  test.equal(reply.eth.dst, PEER_MAC)
end

function test_echo_requests_for_other_addresses_are_ignored()
  test.inject(ping4(1, 1, "x", "198.18.0.77"))
  test.equal(#test.written(), 0)
end

function test_ipv6_echo_reply_keeps_id_seq_and_data()
  test.inject(ping6(0x4321, 9, "ping6 data"))
  local out = test.written()
  test.equal(#out, 1)
  local reply = test.decode(out[1])
  test.equal(reply.icmpv6.type, 129)
  test.equal(reply.icmpv6.id, 0x4321)
  test.equal(reply.icmpv6.seq, 9)
  test.equal(reply.payload, "ping6 data")
  test.equal(reply.ipv6.src, config.ipv6)
end

function test_neighbour_solicitation_gets_an_advertisement()
  local ns = tapir.build.eth{src = PEER_MAC, dst = "33:33:ff:00:00:02", type = 0x86dd}
      .. tapir.build.ipv6{src = "2001:2::1", dst = "ff02::1:ff00:2", nxt = 58, hlim = 255,
                          payload = tapir.build.icmpv6{type = 135, target = config.ipv6, lladdr = PEER_MAC}}
  test.inject(ns)
  local out = test.written()
  test.equal(#out, 1)
  local na = test.decode(out[1])
  test.equal(na.icmpv6.type, 136)
  test.equal(na.icmpv6.target, config.ipv6)
  test.equal(na.icmpv6.lladdr, config.mac)
  test.equal(na.ipv6.hlim, 255)
  test.equal(na.ipv6.src, config.ipv6)
  test.equal(na.eth.src, config.mac)
end

function test_arp_for_its_address_is_answered()
  test.inject(tapir.build.eth{src = PEER_MAC, dst = "ff:ff:ff:ff:ff:ff", type = 0x0806}
           .. tapir.build.arp{op = 1, sha = PEER_MAC, spa = "198.18.0.1", tha = "00:00:00:00:00:00", tpa = config.ip})
  local out = test.written()
  test.equal(#out, 1)
  test.equal(test.decode(out[1]).arp.sha, config.mac)
end

function test_requests_whose_checksums_fail_get_no_reply()
  test.inject(tapir.build.eth{src = PEER_MAC, dst = config.mac, type = 0x0800}
    .. tapir.build.ip{src = "198.18.0.1", dst = config.ip, proto = 1,
                      payload = tapir.build.icmp{type = 8, id = 1, seq = 1, payload = "x", chksum = 0x1234}})
  test.inject(tapir.build.eth{src = PEER_MAC, dst = config.mac, type = 0x0800}
    .. tapir.build.ip{src = "198.18.0.1", dst = config.ip, proto = 1, chksum = 0x4321,
                      payload = tapir.build.icmp{type = 8, id = 1, seq = 2, payload = "x"}})
  test.inject(tapir.build.eth{src = PEER_MAC, dst = config.mac, type = 0x86dd}
    .. tapir.build.ipv6{src = "2001:2::1", dst = config.ipv6, nxt = 58,
                        payload = tapir.build.icmpv6{type = 128, id = 1, seq = 3, payload = "x", chksum = 0x1234}})
  test.equal(#test.written(), 0, "bad ICMP, IPv4 header and ICMPv6 checksums: no reply")
  test.inject(ping4(1, 4, "x"))
  test.equal(#test.written(), 1, "a good request still gets one")
end
