-- tapir.proto.icmp_error against Scapy 2.8's encoders: fixtures/icmp-errors-scapy.pcap holds four
-- pairs of (offending datagram, the error about it) built by Scapy (IP()/ICMP(type=11)/
-- raw(datagram) and so on, checksums Scapy's), each behind a 14-byte Ethernet header:
--   1-2 an IPv4 UDP datagram with TTL 1 -> time exceeded from 198.18.1.254
--   3-4 a 1,028-byte IPv4 ping with DF -> fragmentation needed (MTU 1500), quote cut to 548 (576 in all)
--   5-6 a 1,400-byte IPv6 ping -> packet too big (MTU 1280), quote cut to 1232 (1280 in all)
--   7-8 an IPv6 UDP datagram with hop limit 1 -> time exceeded from 2001:2:0:1::1
local icmp_error = require "tapir.proto.icmp_error"

local hex = require("tapir.testing.hex").hex

local function datagrams()
  local list = {}
  for i, frame in ipairs(test.pcap("fixtures/icmp-errors-scapy.pcap")) do list[i] = frame:sub(15) end
  return list
end

function test_errors_encode_as_scapy_builds_them()
  local d = datagrams()
  test.equal(#d, 8, "frames in the capture")
  test.equal(hex(assert(icmp_error.encode{datagram = d[1], src = "198.18.1.254", type = 11, code = 0})), hex(d[2]))
  test.equal(hex(assert(icmp_error.encode{datagram = d[3], src = "198.18.1.254", type = 3, code = 4, mtu = 1500})),
             hex(d[4]))
  test.equal(#d[4], 576, "RFC 1812 4.3.2.3: 576 bytes at most")
  test.equal(hex(assert(icmp_error.encode{datagram = d[5], src = "2001:2:0:1::1", type = 2, mtu = 1280})), hex(d[6]))
  test.equal(#d[6], 1280, "RFC 4443 2.4 (c): the minimum MTU at most")
  test.equal(hex(assert(icmp_error.encode{datagram = d[7], src = "2001:2:0:1::1", type = 3, code = 0})), hex(d[8]))
end

function test_errors_decode_with_what_they_quote()
  local d = datagrams()
  local expired = assert(icmp_error.decode(d[2]))
  test.equal(expired.version, 4)
  test.equal(expired.type, 11)
  test.equal(expired.src, "198.18.1.254")
  test.equal(expired.dst, "198.18.1.1")
  test.equal(expired.tos, 0xc0)
  test.equal(expired.checksum_ok, true)
  test.equal(expired.datagram, d[1])
  test.equal(expired.quoted.protocol, 17)
  test.equal(expired.quoted.dst, "198.18.2.1")
  test.equal(expired.quoted.dport, 33434)
  local big = assert(icmp_error.decode(d[4]))
  test.equal(big.mtu, 1500)
  test.equal(#big.datagram, 548)
  local too_big = assert(icmp_error.decode(d[6]))
  test.equal(too_big.version, 6)
  test.equal(too_big.type, 2)
  test.equal(too_big.mtu, 1280)
  test.equal(too_big.checksum_ok, true)
  test.equal(too_big.quoted.src, "2001:2:0:1::5")
  test.equal(too_big.quoted.protocol, 58)
  local hop = assert(icmp_error.decode(d[8]))
  test.equal(hop.hop_limit, 64)
  test.equal(hop.quoted.sport, 5000)
  test.equal(hop.datagram, d[7])
end

function test_round_trips_keep_every_field()
  local d = datagrams()
  for _, error_bytes in ipairs({d[2], d[4], d[6], d[8]}) do
    local fields = assert(icmp_error.decode(error_bytes))
    test.equal(hex(assert(icmp_error.encode(fields))), hex(error_bytes), "type " .. fields.type)
  end
  local problem = assert(icmp_error.decode(assert(icmp_error.encode{datagram = d[7], src = "2001:2:0:1::1", type = 4,
                                                                     code = 0, pointer = 7})))
  test.equal(problem.pointer, 7)
  local redirect = assert(icmp_error.decode(assert(icmp_error.encode{datagram = d[1], src = "198.18.1.254", type = 5,
                                                                      code = 1, gateway = "198.18.1.9"})))
  test.equal(redirect.gateway, "198.18.1.9")
end

function test_when_an_error_may_be_sent()
  local d = datagrams()
  test.equal(icmp_error.reportable(d[1], 11, 0), true)
  test.equal(icmp_error.reportable(d[5], 2, 0), true)
  local function says(bytes, kind, code, reason)
    local ok, why = icmp_error.reportable(bytes, kind, code)
    test.equal(ok, false, reason)
    test.equal(why, reason)
  end
  says(d[2], 11, 0, "about an ICMP error")
  says(d[6], 3, 0, "about an ICMPv6 error")
  says(d[1]:sub(1, 6) .. "\0\1" .. d[1]:sub(9), 11, 0, "a fragment other than the first")
  says(d[1]:sub(1, 16) .. "\224\0\0\1" .. d[1]:sub(21), 11, 0, "to a multicast or broadcast address")
  says(d[1]:sub(1, 12) .. "\127\0\0\1" .. d[1]:sub(17), 11, 0, "from an address no host has")
  local to_group = d[7]:sub(1, 24) .. "\255\2" .. string.rep("\0", 13) .. "\1" .. d[7]:sub(41)
  says(to_group, 3, 0, "to a multicast address")
  test.equal(icmp_error.reportable(to_group, 2, 0), true, "packet too big about multicast is sent (RFC 4443 2.4 (e.3))")
  says(d[7]:sub(1, 8) .. string.rep("\0", 16) .. d[7]:sub(25), 1, 0, "from an address no host has")
  says("\96", 1, 0, "an IPv6 datagram of 1 bytes, under a header (40)")
end

function test_bad_input_says_what_is_wrong()
  local d = datagrams()
  local cases = {
    {{datagram = d[1], src = "2001:2::1", type = 11}, "is not an IPv4 address"},
    {{datagram = d[5], src = "198.18.1.1", type = 2}, "is not an IPv6 address"},
    {{datagram = "\0hello", src = "198.18.1.1", type = 11}, "not an IPv4 or IPv6 datagram"},
    {{datagram = "\0hello", src = "198.18.1.1", type = 11, version = 4}, "dst: needed"},
    {{src = "198.18.1.1", type = 11}, "datagram"},
    {{datagram = d[1], src = "198.18.1.254", type = 300}, "type"},
    {{datagram = d[1], src = "198.18.1.254", type = 11, limit = 10}, "limit"},
    {{datagram = d[1], src = "198.18.1.254", type = 5}, "gateway"},
  }
  for _, case in ipairs(cases) do
    local bytes, why = icmp_error.encode(case[1])
    test.equal(bytes, nil, case[2])
    test.expect(why and why:find(case[2], 1, true), "'" .. tostring(why) .. "' says " .. case[2])
  end
  local decoded, why = icmp_error.decode(d[1])
  test.equal(decoded, nil)
  test.equal(why, "protocol 17, not ICMP")
  test.equal(select(2, icmp_error.decode(d[2]:sub(1, 24))), "an ICMP message cut short (under 8 bytes)")
  for _, bytes in ipairs(d) do
    for length = 0, math.min(#bytes, 120) do test.expect(pcall(icmp_error.decode, bytes:sub(1, length)), "cut") end
    for at = 1, math.min(#bytes, 120) do
      local flipped = bytes:sub(1, at - 1) .. string.char(bytes:byte(at) ~ 0xff) .. bytes:sub(at + 1)
      test.expect(pcall(icmp_error.decode, flipped), "flipped")
      test.expect(pcall(icmp_error.reportable, flipped, 1, 0), "flipped")
    end
  end
end

function test_a_quote_cut_under_its_header_round_trips()
  local d = datagrams()
  local cut = icmp_error.encode{datagram = d[5], src = "2001:2:0:1::1", type = 1, code = 3, limit = 40 + 8 + 27}
  local fields = assert(icmp_error.decode(assert(cut)))
  test.equal(#fields.datagram, 27)
  test.equal(hex(assert(icmp_error.encode(fields))), hex(cut), "decode's fields encode to the same bytes")
  local bytes, why = icmp_error.encode{datagram = fields.datagram, src = "2001:2:0:1::1", type = 1, version = 6}
  test.equal(bytes, nil)
  test.expect(why:find("dst", 1, true), why)
  local foreign = assert(icmp_error.encode{datagram = "\0hello", src = "198.18.1.254", dst = "198.18.1.1", type = 3,
                                          version = 4})
  test.equal(assert(icmp_error.decode(foreign)).datagram, "\0hello", "what is not a datagram is quoted as it is")
end
