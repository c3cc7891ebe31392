local config = test.config
local PEER_MAC, PEER_IP, PEER_IPV6 = "02:00:00:00:00:01", "198.18.0.1", "2001:2::1"

local function eth(type, dst)
  return tapir.build.eth{src = PEER_MAC, dst = dst or config.mac, type = type}
end

local function udp4(dport, data, dst, eth_dst)
  return eth(0x0800, eth_dst)
      .. tapir.build.ip{src = PEER_IP, dst = dst or config.ip, proto = 17,
                        payload = tapir.build.udp{sport = 40000, dport = dport, payload = data}}
end

local function udp6(dport, data)
  return eth(0x86dd)
      .. tapir.build.ipv6{src = PEER_IPV6, dst = config.ipv6, nxt = 17,
                          payload = tapir.build.udp{sport = 40000, dport = dport, payload = data}}
end

local function tcp4(flags, seq, ack, data)
  return eth(0x0800)
      .. tapir.build.ip{src = PEER_IP, dst = config.ip, proto = 6,
                        payload = tapir.build.tcp{sport = 40001, dport = 80, flags = flags, seq = seq,
                                                  ack = ack, window = 64240, payload = data}}
end

local function only_reply()
  local out = test.written()
  test.equal(#out, 1, "one frame written")
  return test.decode(out[1]), out[1]
end

function test_arp_ndp_and_ping_on_both_addresses()
  test.inject(eth(0x0806, "ff:ff:ff:ff:ff:ff")
           .. tapir.build.arp{op = 1, sha = PEER_MAC, spa = PEER_IP, tha = "00:00:00:00:00:00", tpa = config.ip})
  test.equal(only_reply().arp.sha, config.mac)

  test.inject(eth(0x86dd, "33:33:ff:00:00:02")
           .. tapir.build.ipv6{src = PEER_IPV6, dst = "ff02::1:ff00:2", nxt = 58, hlim = 255,
                               payload = tapir.build.icmpv6{type = 135, target = config.ipv6, lladdr = PEER_MAC}})
  local na = only_reply()
  test.equal(na.icmpv6.type, 136)
  test.equal(na.ipv6.hlim, 255)

  test.inject(eth(0x0800) .. tapir.build.ip{src = PEER_IP, dst = config.ip, proto = 1,
                                            payload = tapir.build.icmp{type = 8, id = 5, seq = 6, payload = "p4"}})
  local pong = only_reply()
  test.equal(pong.icmp.type, 0)
  test.equal(pong.icmp.seq, 6)

  test.inject(eth(0x86dd) .. tapir.build.ipv6{src = PEER_IPV6, dst = config.ipv6, nxt = 58,
                                              payload = tapir.build.icmpv6{type = 128, id = 5, seq = 6, payload = "p6"}})
  local pong6 = only_reply()
  test.equal(pong6.icmpv6.type, 129)
  test.equal(pong6.payload, "p6")
end

function test_udp_echo_over_ipv4_and_ipv6()
  test.inject(udp4(config.udp_echo_ports[1], "four"))
  test.equal(only_reply().payload, "four")
  test.inject(udp6(config.udp_echo_ports[1], "six"))
  test.equal(only_reply().payload, "six")
end

function test_a_closed_udp_port_gets_port_unreachable_quoting_the_datagram()
  local sent = udp4(9999, "0123456789abcdef")
  test.inject(sent)
  local reply = only_reply()
  test.equal(reply.icmp.type, 3)
  test.equal(reply.icmp.code, 3)
  test.equal(reply.ip.dst, PEER_IP)
  test.equal(reply.ip.src, config.ip)
  -- the IP header (20 bytes) and the first 8 bytes of the datagram: its UDP header
  test.equal(reply.payload, sent:sub(15, 14 + 28))
end

function test_a_closed_udp_port_over_ipv6_gets_port_unreachable()
  local sent = udp6(9999, "data")
  test.inject(sent)
  local reply = only_reply()
  test.equal(reply.icmpv6.type, 1)
  test.equal(reply.icmpv6.code, 4)
  test.equal(reply.payload, sent:sub(15))
end

function test_no_icmp_error_about_broadcast_or_multicast()
  test.inject(udp4(9999, "b", "255.255.255.255", "ff:ff:ff:ff:ff:ff"))
  test.inject(udp4(9999, "m", config.ip, "01:00:5e:00:00:01"))
  test.inject(udp4(9999, "other host", "198.18.0.77"))
  test.equal(#test.written(), 0)
end

function test_tcp_syn_to_a_closed_port_gets_rst_ack()
  test.inject(tcp4(0x02, 1000, 0, ""))
  local rst = only_reply()
  test.equal(rst.tcp.flags, 0x14)
  test.equal(rst.tcp.ack, 1001)
  test.equal(rst.tcp.seq, 0)
  test.equal(rst.tcp.sport, 80)
  test.equal(rst.tcp.window, 0, "as Linux sends it, not their 64240")
end

function test_tcp_ack_gets_rst_with_their_ack_and_a_reset_gets_nothing()
  test.inject(tcp4(0x10, 5000, 777, "data"))
  local rst = only_reply()
  test.equal(rst.tcp.flags, 0x04)
  test.equal(rst.tcp.seq, 777)
  test.equal(rst.tcp.window, 0)
  test.inject(tcp4(0x04, 5000, 0, ""))
  test.equal(#test.written(), 0)
end

-- As Linux answers: record route and timestamps ------------------------------------------

local function ping4(options, icmp)
  return eth(0x0800)
      .. tapir.build.ip{src = PEER_IP, dst = config.ip, proto = 1, options = options,
                        payload = tapir.build.icmp(icmp or {type = 8, id = 7, seq = 1, payload = "rr"})}
end

function test_a_ping_with_record_route_gets_it_back_with_our_address_in_and_out()
  -- ping -R: 39 bytes of room, the sender's own address recorded already (pointer 8)
  local rr = "\7\39\8" .. "\198\18\0\1" .. string.rep("\0", 32)
  test.inject(ping4(rr))
  local reply = only_reply()
  test.equal(reply.icmp.type, 0)
  test.equal(reply.icmp.id, 7)
  test.equal(reply.payload, "rr")
  local options = reply.ip.options
  test.equal(options:sub(1, 3), "\7\39\16", "two addresses added: pointer 8 -> 16")
  test.equal(options:sub(4, 15), "\198\18\0\1\198\18\0\2\198\18\0\2", "the sender's, then ours twice")
  test.equal(options:sub(16, 39), string.rep("\0", 24))
  test.equal(reply.ip.ihl, 15)
end

function test_a_full_record_route_is_echoed_unchanged_and_other_options_dropped()
  local full = "\7\7\8" .. "\198\18\0\1"   -- room for one address, taken
  test.inject(ping4(full))
  test.equal(only_reply().ip.options:sub(1, 7), full)
  test.inject(ping4("\148\4\0\0"))          -- router alert only: nothing to echo
  test.equal(only_reply().ip.options, "")
end

function test_a_timestamp_request_gets_a_timestamp_reply()
  local originate = string.pack(">I4", 12345678)
  test.inject(ping4(nil, {type = 13, id = 9, seq = 3, payload = originate .. string.rep("\0", 8)}))
  local reply = only_reply()
  test.equal(reply.icmp.type, 14)
  test.equal(reply.icmp.code, 0)
  local data = reply.payload
  test.equal(#data, 12)
  test.equal(data:sub(1, 4), originate, "the originate timestamp, copied")
  local receive, transmit = string.unpack(">I4I4", data, 5)
  test.equal(receive, transmit)
  test.expect(receive < 86400000, "milliseconds since midnight UT: " .. receive)
  local ms = os.time() % 86400 * 1000
  test.expect(math.abs(receive - ms) <= 2000 or math.abs(receive - ms) >= 86400000 - 2000, "about now")
  test.inject(ping4(nil, {type = 13, id = 9, seq = 4, payload = "\1\2"}))
  test.equal(#test.written(), 0, "too short for an originate timestamp: dropped, as Linux does")
end

-- As a NIC: a frame to another host's unicast MAC (a flooded or bridged segment) gets no
-- answer, whatever it carries; broadcast and multicast still reach the host.
function test_frames_to_another_unicast_mac_are_ignored()
  local FOREIGN = "02:99:00:00:00:09"
  test.inject(eth(0x0800, FOREIGN) .. tapir.build.ip{src = PEER_IP, dst = config.ip, proto = 1,
                                                     payload = tapir.build.icmp{type = 8, id = 1, seq = 1}})
  test.inject(udp4(config.udp_echo_ports[1], "echo?", nil, FOREIGN))
  test.inject(udp4(9999, "closed?", nil, FOREIGN))
  test.inject(eth(0x0806, FOREIGN)
           .. tapir.build.arp{op = 1, sha = PEER_MAC, spa = PEER_IP, tha = "00:00:00:00:00:00", tpa = config.ip})
  test.inject(eth(0x86dd, FOREIGN)
           .. tapir.build.ipv6{src = PEER_IPV6, dst = config.ipv6, nxt = 58,
                               payload = tapir.build.icmpv6{type = 128, id = 1, seq = 1}})
  -- A SYN to the TCP echo port (the host's engine) and to a closed port (a reset otherwise).
  for _, port in ipairs{config.tcp_echo_ports[1], 81} do
    test.inject(eth(0x0800, FOREIGN)
             .. tapir.build.ip{src = PEER_IP, dst = config.ip, proto = 6,
                               payload = tapir.build.tcp{sport = 40002, dport = port, flags = 0x02, seq = 1,
                                                         window = 64240}})
  end
  test.equal(#test.written(), 0, "nothing answered for a frame to another MAC")

  test.inject(eth(0x0800) .. tapir.build.ip{src = PEER_IP, dst = config.ip, proto = 1,
                                            payload = tapir.build.icmp{type = 8, id = 1, seq = 2}})
  test.equal(only_reply().icmp.type, 0, "the same ping to our MAC is answered")
  test.inject(udp4(config.udp_echo_ports[1], "to all", nil, "ff:ff:ff:ff:ff:ff"))
  test.equal(only_reply().payload, "to all", "a broadcast frame to our IP is still seen")
  test.inject(eth(0x86dd, "33:33:ff:00:00:02")
           .. tapir.build.ipv6{src = PEER_IPV6, dst = "ff02::1:ff00:2", nxt = 58, hlim = 255,
                               payload = tapir.build.icmpv6{type = 135, target = config.ipv6, lladdr = PEER_MAC}})
  test.equal(only_reply().icmpv6.type, 136, "a solicitation to the solicited-node group is answered")
end

function test_solicitations_that_fail_rfc_4861_checks_are_not_answered()
  -- RFC 4861 7.1.1: a solicitation with hop limit other than 255 (it may come from off the
  -- link) or a bad checksum is silently discarded
  local function solicitation(hlim)
    return eth(0x86dd, "33:33:ff:00:00:02")
        .. tapir.build.ipv6{src = PEER_IPV6, dst = "ff02::1:ff00:2", nxt = 58, hlim = hlim,
                            payload = tapir.build.icmpv6{type = 135, target = config.ipv6, lladdr = PEER_MAC}}
  end
  test.inject(solicitation(64))
  test.equal(#test.written(), 0, "hop limit 64")
  local frame = solicitation(255)
  test.inject(frame:sub(1, 56) .. string.char(frame:byte(57) ~ 0xff) .. frame:sub(58))
  test.equal(#test.written(), 0, "a bad checksum")
  test.inject(frame)
  test.equal(only_reply().icmpv6.type, 136, "the same solicitation whole is answered")
end
