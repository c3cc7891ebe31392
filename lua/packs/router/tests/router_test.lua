-- The router's behaviour on its first port (one memory device): ARP, ping, forwarding
-- back out of the same port (a connected destination on that port), the TTL and its
-- checksum, ICMP errors and when they are not sent.
local config = test.config
local PORT_ADDRESS = config.ports[1]:match("^([%d.]+)/")
local ROUTER_MAC = config.mac
local PEER_MAC, PEER_IP = "02:00:00:00:01:01", "198.18.1.1"
local NEIGHBOUR_MAC, NEIGHBOUR_IP = "02:00:00:00:01:07", "198.18.1.7"
local UNROUTED = "198.18.200.1"   -- on no port's network and under no route

local function ip_frame(fields, eth_dst)
  fields.src = fields.src or PEER_IP
  fields.proto = fields.proto or 17
  if fields.payload == nil then
    fields.payload = tapir.build.udp{sport = 40000, dport = 33434, payload = "0123456789"}
  end
  return tapir.build.eth{src = PEER_MAC, dst = eth_dst or ROUTER_MAC, type = 0x0800} .. tapir.build.ip(fields)
end

local function arp_frame(op, sha, spa, tpa, eth_dst)
  return tapir.build.eth{src = sha, dst = eth_dst or "ff:ff:ff:ff:ff:ff", type = 0x0806}
      .. tapir.build.arp{op = op, sha = sha, spa = spa, tha = op == 2 and ROUTER_MAC or "00:00:00:00:00:00", tpa = tpa}
end

local function written(count, message)
  local out = test.written()
  test.equal(#out, count, message or "frames written")
  return out
end

-- The header's 16-bit words, checksum included, add up to 0xffff (RFC 1071).
local function header_checksum_is_right(frame)
  local header_length = (frame:byte(15) & 15) * 4
  local sum = 0
  for at = 15, 14 + header_length, 2 do sum = sum + string.unpack(">I2", frame, at) end
  while sum > 0xffff do sum = (sum & 0xffff) + (sum >> 16) end
  return sum == 0xffff
end

-- The checksum the header would have computed from scratch.
local function full_checksum(frame)
  local header_length = (frame:byte(15) & 15) * 4
  local sum = 0
  for at = 15, 14 + header_length, 2 do
    if at ~= 25 then sum = sum + string.unpack(">I2", frame, at) end
  end
  while sum > 0xffff do sum = (sum & 0xffff) + (sum >> 16) end
  return ~sum & 0xffff
end

-- Forwards one datagram to the neighbour, answering the ARP request it causes.
local function resolve_neighbour()
  test.inject(ip_frame{dst = NEIGHBOUR_IP})
  local request = test.decode(written(1, "an ARP request")[1])
  test.equal(request.arp.tpa, NEIGHBOUR_IP)
  test.inject(arp_frame(2, NEIGHBOUR_MAC, NEIGHBOUR_IP, PORT_ADDRESS, ROUTER_MAC))
  written(1, "the datagram that waited")
end

function test_arp_for_the_port_address_is_answered_and_others_are_not()
  test.inject(arp_frame(1, PEER_MAC, PEER_IP, PORT_ADDRESS))
  local reply = test.decode(written(1)[1])
  test.equal(reply.arp.op, 2)
  test.equal(reply.arp.sha, ROUTER_MAC)
  test.equal(reply.arp.spa, PORT_ADDRESS)
  test.equal(reply.arp.tha, PEER_MAC)
  test.equal(reply.arp.tpa, PEER_IP)
  test.equal(reply.eth.dst, PEER_MAC)
  test.equal(reply.eth.src, ROUTER_MAC)
  test.inject(arp_frame(1, PEER_MAC, PEER_IP, "198.18.1.99"))
  written(0, "no answer for another address")
end

function test_ping_to_the_port_address_is_answered()
  test.inject(ip_frame{dst = PORT_ADDRESS, proto = 1, payload = tapir.build.icmp{type = 8, id = 7, seq = 3, payload = "ping"}})
  local reply = test.decode(written(1)[1])
  test.equal(reply.icmp.type, 0)
  test.equal(reply.icmp.id, 7)
  test.equal(reply.icmp.seq, 3)
  test.equal(reply.payload, "ping")
  test.equal(reply.ip.src, PORT_ADDRESS)
  test.equal(reply.ip.dst, PEER_IP)
  test.equal(reply.eth.dst, PEER_MAC)
  test.inject(ip_frame{src = "127.0.0.1", dst = PORT_ADDRESS, proto = 1, payload = tapir.build.icmp{type = 8}})
  written(0, "no answer to a loopback source")
end

function test_no_route_gets_net_unreachable_quoting_the_datagram()
  local sent = ip_frame{dst = UNROUTED, ttl = 9}
  test.inject(sent)
  local frame = written(1)[1]
  local reply = test.decode(frame)
  test.equal(reply.icmp.type, 3)
  test.equal(reply.icmp.code, 0)
  test.equal(reply.ip.src, PORT_ADDRESS)
  test.equal(reply.ip.dst, PEER_IP)
  test.equal(reply.eth.dst, PEER_MAC)
  test.equal(reply.eth.src, ROUTER_MAC)
  test.equal(reply.payload, sent:sub(15), "the quote: the whole datagram as received, as Linux sends it")
  test.equal(reply.ip.tos, 0xc0, "precedence: internetwork control")
  test.expect(header_checksum_is_right(frame), "the error's own header checksum")
end

function test_an_icmp_error_quotes_as_much_as_fits_in_576_bytes_and_keeps_the_tos_bits()
  local sent = ip_frame{dst = UNROUTED, tos = 0x10 | 0x02,
                        payload = tapir.build.udp{sport = 40000, dport = 33434, payload = string.rep("x", 1000)}}
  test.inject(sent)
  local frame = written(1)[1]
  local reply = test.decode(frame)
  test.equal(#frame - 14, 576, "the error is 576 bytes long")
  test.equal(reply.payload, sent:sub(15, 14 + 548))
  test.equal(reply.ip.tos, 0xc0 | 0x10 | 0x02, "the TOS bits kept (0x1e), precedence set")
end

-- TCP to the router's own address: no port is open there ---------------------------------

local function tcp_frame(fields)
  return ip_frame{dst = PORT_ADDRESS, proto = 6, payload = tapir.build.tcp(fields)}
end

function test_a_syn_to_the_router_gets_a_reset_with_window_0()
  test.inject(tcp_frame{sport = 40001, dport = 22, seq = 1000, flags = "S", window = 64240})
  local frame = written(1, "a reset")[1]
  local reply = test.decode(frame)
  test.equal(reply.eth.dst, PEER_MAC)
  test.equal(reply.eth.src, ROUTER_MAC)
  test.equal(reply.ip.src, PORT_ADDRESS)
  test.equal(reply.ip.dst, PEER_IP)
  test.equal(reply.tcp.sport, 22)
  test.equal(reply.tcp.dport, 40001)
  test.equal(reply.tcp.flags, 0x14, "RST+ACK")
  test.equal(reply.tcp.seq, 0)
  test.equal(reply.tcp.ack, 1001, "their seq + 1 for the SYN")
  test.equal(reply.tcp.window, 0, "as Linux sends it, not their window")
  test.expect(header_checksum_is_right(frame), "the reset's header checksum")
end

function test_a_segment_with_ack_gets_a_reset_at_its_ack_and_a_reset_gets_nothing()
  test.inject(tcp_frame{sport = 40002, dport = 80, seq = 5, ack = 777, flags = "P.", window = 500, payload = "GET /"})
  local reply = test.decode(written(1)[1])
  test.equal(reply.tcp.flags, 0x04, "RST alone")
  test.equal(reply.tcp.seq, 777)
  test.equal(reply.tcp.window, 0)
  test.inject(tcp_frame{sport = 40002, dport = 80, seq = 5, ack = 777, flags = "R."})
  written(0, "never a reset for a reset")
  test.inject(tcp_frame{sport = 40003, dport = 80, seq = 0xffffffff, flags = "F", payload = "ab"})
  test.equal(test.decode(written(1)[1]).tcp.ack, 2, "seq + 2 bytes + FIN, modulo 2^32")
end

function test_a_datagram_waits_for_arp_then_goes_out_with_ttl_lowered()
  local sent = ip_frame{dst = NEIGHBOUR_IP, ttl = 17, id = 4242}
  test.inject(sent)
  local request = test.decode(written(1, "an ARP request first")[1])
  test.equal(request.arp.op, 1)
  test.equal(request.arp.sha, ROUTER_MAC)
  test.equal(request.arp.spa, PORT_ADDRESS)
  test.equal(request.arp.tpa, NEIGHBOUR_IP)
  test.equal(request.eth.dst, "ff:ff:ff:ff:ff:ff")

  test.inject(arp_frame(2, NEIGHBOUR_MAC, NEIGHBOUR_IP, PORT_ADDRESS, ROUTER_MAC))
  local frame = written(1, "the datagram that waited")[1]
  local forwarded = test.decode(frame)
  test.equal(forwarded.eth.dst, NEIGHBOUR_MAC)
  test.equal(forwarded.eth.src, ROUTER_MAC)
  test.equal(forwarded.ip.ttl, 16)
  test.equal(forwarded.ip.id, 4242)
  test.equal(forwarded.ip.src, PEER_IP)
  test.equal(forwarded.payload, "0123456789")
  test.expect(header_checksum_is_right(frame), "the forwarded header's checksum")
  -- all but TTL and checksum are the bytes that came in
  test.equal(frame:sub(15, 22) .. frame:sub(27), sent:sub(15, 22) .. sent:sub(27))

  test.inject(ip_frame{dst = NEIGHBOUR_IP, ttl = 5})
  test.equal(test.decode(written(1, "the next one goes at once")[1]).ip.ttl, 4)
end

function test_the_checksum_update_matches_a_full_computation()
  resolve_neighbour()
  local tried = 0
  for ttl = 2, 255, 3 do
    for _, id in ipairs{0, 1, 0x7fff, 0xfffe, 0xffff} do
      for _, tos in ipairs{0, 0xb8, 0xff} do
        test.inject(ip_frame{dst = NEIGHBOUR_IP, ttl = ttl, id = id, tos = tos, df = ttl % 2 == 0})
        local frame = written(1)[1]
        test.equal(frame:byte(23), ttl - 1, "ttl")
        test.equal(string.unpack(">I2", frame, 25), full_checksum(frame), "checksum for ttl " .. ttl .. " id " .. id)
        tried = tried + 1
      end
    end
  end
  -- RFC 1624's case: the id that makes the forwarded header's checksum 0x0000 (eqn. 2 of
  -- RFC 1141 gives 0xffff there)
  local probe = ip_frame{dst = NEIGHBOUR_IP, ttl = 64, id = 0}
  local id = full_checksum(probe:sub(1, 22) .. string.char(63) .. probe:sub(24))
  test.inject(ip_frame{dst = NEIGHBOUR_IP, ttl = 64, id = id})
  local zero = written(1)[1]
  test.equal(full_checksum(zero), 0, "the case where the sum is 0xffff")
  test.equal(string.unpack(">I2", zero, 25), 0, "checksum 0x0000, not 0xffff")
  -- a header with options (ihl 6: a no-op and end-of-list word)
  test.inject(ip_frame{dst = NEIGHBOUR_IP, ttl = 200, options = "\1\1\1\0"})
  local frame = written(1)[1]
  test.equal(frame:byte(15) & 15, 6)
  test.equal(string.unpack(">I2", frame, 25), full_checksum(frame), "checksum with options")
  test.expect(tried > 1000, "many headers tried")
end

function test_ttl_running_out_gets_time_exceeded_from_the_port_address()
  for _, ttl in ipairs{1, 0} do
    local sent = ip_frame{dst = NEIGHBOUR_IP, ttl = ttl}
    test.inject(sent)
    local reply = test.decode(written(1)[1])
    test.equal(reply.icmp.type, 11)
    test.equal(reply.icmp.code, 0)
    test.equal(reply.ip.src, PORT_ADDRESS)
    test.equal(reply.ip.dst, PEER_IP)
    test.equal(reply.payload, sent:sub(15))
  end
  -- an echo request is a query, not an error: it gets one too
  test.inject(ip_frame{dst = UNROUTED, ttl = 1, proto = 1, payload = tapir.build.icmp{type = 8, id = 1, seq = 1}})
  test.equal(test.decode(written(1)[1]).icmp.type, 11)
end

function test_no_icmp_error_about_an_icmp_error_a_broadcast_or_a_later_fragment()
  local about = tapir.build.ip{src = "198.18.9.9", dst = PEER_IP, proto = 17, payload = tapir.build.udp{sport = 1, dport = 2}}
  test.inject(ip_frame{dst = UNROUTED, ttl = 1, proto = 1, payload = tapir.build.icmp{type = 3, code = 1, payload = about}})
  test.inject(ip_frame{dst = UNROUTED, proto = 1, payload = tapir.build.icmp{type = 11, code = 0, payload = about}})
  test.inject(ip_frame{dst = UNROUTED, ttl = 1, frag = 185, payload = "later fragment bytes"})
  test.inject(ip_frame{dst = UNROUTED, frag = 10, payload = "later fragment bytes"})
  test.inject(ip_frame{dst = "255.255.255.255", ttl = 1})
  test.inject(ip_frame{dst = "198.18.1.255", ttl = 1})
  test.inject(ip_frame{dst = "224.0.0.9", ttl = 1})
  test.inject(ip_frame{src = "0.0.0.0", dst = UNROUTED})
  test.inject(ip_frame{src = PORT_ADDRESS, dst = UNROUTED})
  test.inject(ip_frame({dst = UNROUTED}, "ff:ff:ff:ff:ff:ff"))
  test.inject(ip_frame({dst = UNROUTED}, "02:00:00:00:99:99"))
  written(0, "no errors")
  -- but a first fragment does get one
  test.inject(ip_frame{dst = UNROUTED, mf = true, payload = "first fragment bytes"})
  test.equal(test.decode(written(1)[1]).icmp.type, 3)
end

function test_an_unanswered_next_hop_gets_host_unreachable_after_three_requests()
  local sent = ip_frame{dst = "198.18.1.9", id = 99}
  test.inject(sent)
  test.inject(ip_frame{dst = "198.18.1.9", id = 100})
  test.equal(test.decode(written(1, "one request for both")[1]).arp.tpa, "198.18.1.9")
  test.advance(1000)
  test.equal(test.decode(written(1, "second request")[1]).arp.op, 1)
  test.advance(1000)
  test.equal(test.decode(written(1, "third request")[1]).arp.op, 1)
  test.advance(999)
  written(0, "not yet")
  test.advance(1)
  local errors = written(2, "one error per datagram that waited")
  local first = test.decode(errors[1])
  test.equal(first.icmp.type, 3)
  test.equal(first.icmp.code, 1)
  test.equal(first.ip.src, PORT_ADDRESS)
  test.equal(first.eth.dst, PEER_MAC)
  -- the quote is the datagram as it would have gone: TTL lowered
  local quoted_ttl = first.payload:byte(9)
  test.equal(quoted_ttl, sent:byte(23) - 1)
  test.equal(first.payload:sub(5, 6), sent:sub(19, 20), "id 99")
  test.advance(5000)
  written(0, "nothing after giving up")
end

function test_the_arp_queue_keeps_the_newest_datagrams()
  for id = 1, config.arp_queue + 3 do test.inject(ip_frame{dst = NEIGHBOUR_IP, id = id}) end
  written(1, "one ARP request")
  test.inject(arp_frame(2, NEIGHBOUR_MAC, NEIGHBOUR_IP, PORT_ADDRESS, ROUTER_MAC))
  local out = written(config.arp_queue, "as many as the queue holds")
  test.equal(test.decode(out[1]).ip.id, 4)
  test.equal(test.decode(out[#out]).ip.id, config.arp_queue + 3)
end

function test_a_learned_neighbour_ages_out_and_is_asked_again()
  resolve_neighbour()
  test.advance(config.arp_ageing * 1000 - 1)
  test.inject(ip_frame{dst = NEIGHBOUR_IP})
  test.equal(test.decode(written(1)[1]).eth.dst, NEIGHBOUR_MAC, "still known")
  test.advance(1)
  test.inject(ip_frame{dst = NEIGHBOUR_IP})
  test.equal(test.decode(written(1)[1]).arp.tpa, NEIGHBOUR_IP, "asked again")
end

function test_a_request_for_the_router_teaches_it_the_sender()
  test.inject(arp_frame(1, NEIGHBOUR_MAC, NEIGHBOUR_IP, PORT_ADDRESS))
  written(1, "the ARP reply")
  test.inject(ip_frame{dst = NEIGHBOUR_IP})
  test.equal(test.decode(written(1)[1]).eth.dst, NEIGHBOUR_MAC, "forwarded without asking")
  -- a request between two others teaches nothing
  test.inject(arp_frame(1, "02:00:00:00:01:08", "198.18.1.8", "198.18.1.1"))
  test.inject(ip_frame{dst = "198.18.1.8"})
  test.equal(test.decode(written(1)[1]).arp.tpa, "198.18.1.8", "asks")
end

function test_a_bad_header_checksum_is_dropped()
  local frame = ip_frame{dst = UNROUTED, ttl = 1}
  local broken = frame:sub(1, 24) .. string.char(frame:byte(25) ~ 0x01) .. frame:sub(26)
  test.inject(broken)
  written(0, "dropped without an error")
  test.inject(frame:sub(1, 30))
  written(0, "truncated: dropped")
end

function test_udp_to_the_router_gets_port_unreachable()
  test.inject(ip_frame{dst = PORT_ADDRESS, ttl = 1})
  local reply = test.decode(written(1)[1])
  test.equal(reply.icmp.type, 3)
  test.equal(reply.icmp.code, 3)
end

function test_at_most_64_next_hops_are_awaited_at_once()
  for host = 1, 70 do test.inject(ip_frame{dst = "198.18.1." .. (100 + host)}) end
  written(64, "ARP requests")
  test.inject(arp_frame(2, "02:00:00:00:01:65", "198.18.1.101", PORT_ADDRESS, ROUTER_MAC))
  written(1, "the datagram for the one that answered")
  test.inject(ip_frame{dst = "198.18.1.200"})
  test.equal(test.decode(written(1, "room for one more")[1]).arp.tpa, "198.18.1.200")
  test.inject(ip_frame{dst = "198.18.1.201"})
  written(0, "and no more")
end
