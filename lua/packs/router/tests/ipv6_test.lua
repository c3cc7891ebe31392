-- The router's IPv6 side between two ports (two memory devices), advertisements off (see
-- advertisements_test.lua): Neighbor Discovery for its addresses and for next hops, the
-- hop limit, ICMPv6 errors (time exceeded, no route, beyond scope, packet too big at port
-- 2's MTU of 1280, address unreachable), pings to it.
local ndp = require "tapir.proto.ndp"
local icmp_error = require "tapir.proto.icmp_error"
test.devices(2)
test.settings{ports6 = "2001:2:0:1::1/64, 2001:2:0:2::1/64", mtu = "0, 1280", ra = false,
              routes = "198.19.0.0/16 via 198.18.2.1, 2001:2:9::/48 via 2001:2:0:2::9"}

local PORT_MAC = {"02:54:41:50:52:01", "02:54:41:50:52:02"}
local PORT_LINK_LOCAL = {"fe80::54:41ff:fe50:5201", "fe80::54:41ff:fe50:5202"}
local PORT_ADDRESS = {"2001:2:0:1::1", "2001:2:0:2::1"}
local HOST_MAC = {"02:00:00:00:01:05", "02:00:00:00:02:05"}
local HOST = {"2001:2:0:1::5", "2001:2:0:2::5"}

local function frame(n, fields, eth_dst)
  fields.src = fields.src or HOST[n]
  fields.nxt = fields.nxt or 17
  if fields.payload == nil then fields.payload = tapir.build.udp{sport = 5000, dport = 6000, payload = "across"} end
  return tapir.build.eth{src = HOST_MAC[n], dst = eth_dst or PORT_MAC[n], type = 0x86dd} .. tapir.build.ipv6(fields)
end

local function nd_frame(n, message, src, dst, eth_dst)
  return frame(n, {src = src, dst = dst, nxt = 58, hlim = 255, payload = assert(ndp.encode(message))}, eth_dst)
end

local function written(n, count, what)
  local out = test.written(n)
  test.equal(#out, count, (what or "frames written") .. " on port " .. n)
  return out
end

local function icmpv6_of(bytes) return assert(ndp.decode(bytes:sub(55))) end

-- Sends host 1 -> host 2 and answers the solicitation it causes on port 2.
local function resolve_host2()
  test.inject(frame(1, {dst = HOST[2], hlim = 30}), 1)
  local solicitation = written(2, 1, "a solicitation")[1]
  test.inject(nd_frame(2, {type = 136, solicited = true, override = true, target = HOST[2], target_lladdr = HOST_MAC[2]},
                       HOST[2], PORT_ADDRESS[2]), 2)
  return solicitation, written(2, 1, "the datagram that waited")[1]
end

function test_a_solicitation_for_each_port_address_gets_a_router_advertisement_of_it()
  for _, target in ipairs({PORT_ADDRESS[1], PORT_LINK_LOCAL[1]}) do
    test.inject(nd_frame(1, {type = 135, target = target, source_lladdr = HOST_MAC[1]}, HOST[1], "ff02::1:ff00:1",
                         "33:33:ff:00:00:01"), 1)
    local out = written(1, 1, "an advertisement for " .. target)[1]
    local fields = test.decode(out)
    test.equal(fields.eth.dst, HOST_MAC[1])
    test.equal(fields.eth.src, PORT_MAC[1])
    test.equal(fields.ipv6.hlim, 255, "RFC 4861 7.1.2")
    test.equal(fields.ipv6.src, target)
    test.equal(fields.ipv6.dst, HOST[1])
    test.equal(fields.icmpv6.chksum_ok, true)
    local message = icmpv6_of(out)
    test.equal(message.type, 136)
    test.equal(message.router and message.solicited and message.override, true)
    test.equal(message.target, target)
    test.equal(message.target_lladdr, PORT_MAC[1])
  end
  test.inject(nd_frame(1, {type = 135, target = "2001:2:0:1::99", source_lladdr = HOST_MAC[1]}, HOST[1],
                       "ff02::1:ff00:99", "33:33:ff:00:00:99"), 1)
  written(1, 0, "no answer for another address")
  test.inject(nd_frame(1, {type = 135, target = PORT_ADDRESS[2], source_lladdr = HOST_MAC[1]}, HOST[1],
                       "ff02::1:ff00:1", "33:33:ff:00:00:01"), 1)
  written(1, 0, "no answer on port 1 for port 2's address")
end

function test_duplicate_address_detection_for_our_address_is_answered_to_all_nodes()
  test.inject(nd_frame(1, {type = 135, target = PORT_ADDRESS[1]}, "::", "ff02::1:ff00:1", "33:33:ff:00:00:01"), 1)
  local out = written(1, 1)[1]
  local fields = test.decode(out)
  test.equal(fields.ipv6.dst, "ff02::1")
  test.equal(fields.eth.dst, "33:33:00:00:00:01")
  test.equal(icmpv6_of(out).solicited, false)
end

function test_solicitations_with_a_wrong_hop_limit_or_checksum_are_ignored()
  local bytes = nd_frame(1, {type = 135, target = PORT_ADDRESS[1], source_lladdr = HOST_MAC[1]}, HOST[1], "ff02::1:ff00:1",
                         "33:33:ff:00:00:01")
  test.inject(bytes:sub(1, 21) .. "\64" .. bytes:sub(23), 1)
  written(1, 0, "hop limit 64: not from this link")
  test.inject(bytes:sub(1, 56) .. "\0\0" .. bytes:sub(59), 1)
  written(1, 0, "a bad checksum")
end

function test_a_datagram_crosses_after_neighbor_discovery_with_its_hop_limit_lowered()
  local solicitation, forwarded = resolve_host2()
  local asked = test.decode(solicitation)
  test.equal(asked.eth.dst, "33:33:ff:00:00:05")
  test.equal(asked.ipv6.dst, "ff02::1:ff00:5")
  test.equal(asked.ipv6.src, PORT_ADDRESS[2], "from the port's address on the target's prefix")
  test.equal(asked.ipv6.hlim, 255)
  local message = icmpv6_of(solicitation)
  test.equal(message.target, HOST[2])
  test.equal(message.source_lladdr, PORT_MAC[2])
  local fields = test.decode(forwarded)
  test.equal(fields.eth.dst, HOST_MAC[2])
  test.equal(fields.eth.src, PORT_MAC[2])
  test.equal(fields.ipv6.hlim, 29)
  test.equal(fields.ipv6.src, HOST[1])
  test.equal(fields.payload, "across")
  test.equal(fields.udp.chksum_ok, true, "IPv6 has no header checksum; the UDP one is untouched")
  test.inject(frame(1, {dst = HOST[2], hlim = 2}), 1)
  test.equal(test.decode(written(2, 1, "known now: straight out")[1]).ipv6.hlim, 1)
  written(1, 0, "nothing back")
end

function test_a_static_route_goes_through_its_gateway()
  test.inject(frame(1, {dst = "2001:2:9::7"}), 1)
  local message = icmpv6_of(written(2, 1, "a solicitation for the gateway")[1])
  test.equal(message.target, "2001:2:0:2::9")
end

function test_the_hop_limit_running_out_gets_time_exceeded_from_the_ingress_port()
  local offending = frame(1, {dst = HOST[2], hlim = 1})
  test.inject(offending, 1)
  written(2, 0, "not forwarded")
  local out = written(1, 1, "time exceeded")[1]
  test.equal(test.decode(out).eth.dst, HOST_MAC[1])
  local err = assert(icmp_error.decode(out:sub(15)))
  test.equal(err.type, 3)
  test.equal(err.code, 0)
  test.equal(err.src, PORT_ADDRESS[1])
  test.equal(err.dst, HOST[1])
  test.equal(err.checksum_ok, true)
  test.equal(err.datagram, offending:sub(15), "the whole datagram quoted")
end

function test_no_route_gets_destination_unreachable()
  test.inject(frame(1, {dst = "2001:2:77::1"}), 1)
  local err = assert(icmp_error.decode(written(1, 1)[1]:sub(15)))
  test.equal(err.type, 1)
  test.equal(err.code, 0)
end

function test_a_link_local_source_is_not_forwarded_beyond_its_link()
  test.inject(frame(1, {src = "fe80::5", dst = HOST[2]}), 1)
  local err = assert(icmp_error.decode(written(1, 1)[1]:sub(15)))
  test.equal(err.type, 1)
  test.equal(err.code, 2, "beyond scope of source address")
  test.equal(err.src, PORT_LINK_LOCAL[1], "from the link-local address, to a link-local one")
  written(2, 0)
end

function test_over_the_egress_ports_mtu_gets_packet_too_big()
  resolve_host2()
  local big = frame(1, {dst = HOST[2], nxt = 58, payload = tapir.build.icmpv6{type = 128, id = 1, seq = 1,
                                                                               payload = string.rep("x", 1400)}})
  test.inject(big, 1)
  written(2, 0, "not forwarded")
  local out = written(1, 1, "packet too big")[1]
  test.equal(#out, 14 + 1280, "the error fills the minimum MTU")
  local err = assert(icmp_error.decode(out:sub(15)))
  test.equal(err.type, 2)
  test.equal(err.mtu, 1280)
  test.equal(err.quoted.dst, HOST[2])
  test.inject(frame(1, {dst = HOST[2], payload = tapir.build.udp{sport = 1, dport = 2, payload = string.rep("y", 1232)}}), 1)
  written(2, 1, "1280 bytes fit")
end

function test_a_next_hop_that_never_answers_gets_address_unreachable()
  test.inject(frame(1, {dst = "2001:2:0:2::77"}), 1)
  written(2, 1, "first solicitation")
  test.advance(1000)
  written(2, 1, "second")
  test.advance(1000)
  written(2, 1, "third")
  test.advance(1000)
  local err = assert(icmp_error.decode(written(1, 1, "address unreachable")[1]:sub(15)))
  test.equal(err.type, 1)
  test.equal(err.code, 3)
end

function test_pings_to_the_router_are_answered_and_udp_gets_port_unreachable()
  for _, target in ipairs({PORT_ADDRESS[1], PORT_LINK_LOCAL[1], PORT_ADDRESS[2]}) do
    test.inject(frame(1, {dst = target, nxt = 58, payload = tapir.build.icmpv6{type = 128, id = 9, seq = 4, payload = "hi"}}), 1)
    local reply = test.decode(written(1, 1, "an echo reply from " .. target)[1])
    test.equal(reply.icmpv6.type, 129)
    test.equal(reply.ipv6.src, target)
    test.equal(reply.icmpv6.seq, 4)
  end
  test.inject(frame(1, {dst = PORT_ADDRESS[1]}), 1)
  local err = assert(icmp_error.decode(written(1, 1)[1]:sub(15)))
  test.equal(err.type, 1)
  test.equal(err.code, 4)
end

function test_no_error_about_an_error_or_from_a_group()
  local quoted = tapir.build.ipv6{src = HOST[2], dst = HOST[1], nxt = 17, payload = tapir.build.udp{sport = 1, dport = 2}}
  test.inject(frame(1, {dst = "2001:2:77::1", nxt = 58, payload = tapir.build.icmpv6{type = 1, code = 0, payload = quoted}}), 1)
  written(1, 0, "an error about an error")
  test.inject(frame(1, {src = "ff02::5", dst = HOST[2]}), 1)
  written(1, 0, "from a group")
  written(2, 0)
end

function test_an_advertisement_without_override_does_not_replace_a_known_address()
  -- RFC 4861 7.2.5: with the Override flag clear, a link-layer address that differs from
  -- the cached one does not replace it (an anycast or proxy answer); with it set, it does
  resolve_host2()
  local OTHER_MAC = "02:00:00:00:02:99"
  test.inject(nd_frame(2, {type = 136, override = false, target = HOST[2], target_lladdr = OTHER_MAC},
                       HOST[2], "ff02::1", "33:33:00:00:00:01"), 2)
  test.inject(frame(1, {dst = HOST[2]}), 1)
  test.equal(test.decode(written(2, 1)[1]).eth.dst, HOST_MAC[2], "still the first address")
  test.inject(nd_frame(2, {type = 136, override = true, target = HOST[2], target_lladdr = OTHER_MAC},
                       HOST[2], "ff02::1", "33:33:00:00:00:01"), 2)
  test.inject(frame(1, {dst = HOST[2]}), 1)
  test.equal(test.decode(written(2, 1)[1]).eth.dst, OTHER_MAC, "overridden")
end
