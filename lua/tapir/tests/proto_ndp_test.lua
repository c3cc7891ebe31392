-- tapir.proto.ndp, the codec the router's IPv6 side speaks: golden bytes from Scapy
-- 2.8's encoders (ICMPv6ND_NS/NA/RS/RA with their option classes, checksums over the
-- pseudo-headers given below), decoded field by field, encoded again byte for byte, and
-- malformed messages refused with a reason.
local ndp = require "tapir.proto.ndp"

local hex, unhex = require("tapir.testing.hex").hex, require("tapir.testing.hex").unhex

-- IPv6(src="2001:2:0:1::5", dst="ff02::1:ff00:1")/ICMPv6ND_NS(tgt="2001:2:0:1::1")/ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:01:05")
local NS = unhex("8700368b00000000200100020000000100000000000000010101020000000105")
-- IPv6(src="2001:2:0:1::1", dst="2001:2:0:1::5")/ICMPv6ND_NA(tgt="2001:2:0:1::1", R=1, S=1, O=1)/ICMPv6NDOptDstLLAddr(lladdr="02:54:41:50:52:01")
local NA = unhex("88009feae0000000200100020000000100000000000000010201025441505201")
-- IPv6(src="fe80::5", dst="ff02::2")/ICMPv6ND_RS()/ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:01:05")
local RS = unhex("85007924000000000101020000000105")
-- IPv6(src="fe80::54:41ff:fe50:5201", dst="ff02::1")/ICMPv6ND_RA(chlim=64, M=1, O=1, routerlifetime=1800) (Scapy's default preference: high)
--   /SrcLLAddr(02:54:41:50:52:01)/MTU(1280)/PrefixInfo(2001:2:0:1::/64, L, A, valid 86400, preferred 14400)
--   /RDNSS(600, [2001:2:0:1::53, 2001:2:0:2::53])/DNSSL(600, [lab.test., example.net.])
local RA = unhex([[
  8600907340c80708000000000000000001010254415052010501000000000500030440c000015180000038400000000020010002000000010000000000000000
  190500000000025820010002000000010000000000000053200100020000000200000000000000531f04000000000258036c6162047465737400076578616d706c65036e65740000]])

function test_a_neighbor_solicitation_decodes_and_encodes_byte_for_byte()
  local message = assert(ndp.decode(NS))
  test.equal(message.type, ndp.NEIGHBOR_SOLICITATION)
  test.equal(message.target, "2001:2:0:1::1")
  test.equal(message.source_lladdr, "02:00:00:00:01:05")
  test.equal(message.checksum, 0x368b)
  test.equal(hex(assert(ndp.encode{type = 135, target = "2001:2:0:1::1", source_lladdr = "02:00:00:00:01:05",
                                   src = "2001:2:0:1::5", dst = "ff02::1:ff00:1"})), hex(NS))
end

function test_a_neighbor_advertisement_has_its_flags()
  local message = assert(ndp.decode(NA))
  test.equal(message.type, 136)
  test.equal(message.router, true)
  test.equal(message.solicited, true)
  test.equal(message.override, true)
  test.equal(message.target_lladdr, "02:54:41:50:52:01")
  test.equal(hex(assert(ndp.encode{type = 136, router = true, solicited = true, override = true, target = "2001:2:0:1::1",
                                   target_lladdr = "02:54:41:50:52:01", src = "2001:2:0:1::1", dst = "2001:2:0:1::5"})),
             hex(NA))
  local plain = assert(ndp.decode(assert(ndp.encode{type = 136, target = "::1"})))
  test.equal(plain.router or plain.solicited or plain.override, false, "no flags set")
end

function test_a_router_solicitation()
  local message = assert(ndp.decode(RS))
  test.equal(message.type, 133)
  test.equal(message.source_lladdr, "02:00:00:00:01:05")
  test.equal(hex(assert(ndp.encode{type = 133, source_lladdr = "02:00:00:00:01:05", src = "fe80::5", dst = "ff02::2"})),
             hex(RS))
end

function test_a_router_advertisement_with_every_option()
  local message = assert(ndp.decode(RA))
  test.equal(message.type, 134)
  test.equal(message.hop_limit, 64)
  test.equal(message.managed, true)
  test.equal(message.other, true)
  test.equal(message.preference, "high", "Scapy's default prf=1")
  test.equal(message.router_lifetime, 1800)
  test.equal(message.source_lladdr, "02:54:41:50:52:01")
  test.equal(message.mtu, 1280)
  test.equal(#message.prefixes, 1)
  local prefix = message.prefixes[1]
  test.equal(prefix.prefix, "2001:2:0:1::")
  test.equal(prefix.length, 64)
  test.equal(prefix.on_link and prefix.autonomous, true)
  test.equal(prefix.valid, 86400)
  test.equal(prefix.preferred, 14400)
  test.equal(table.concat(message.servers, " "), "2001:2:0:1::53 2001:2:0:2::53")
  test.equal(table.concat(message.domains, " "), "lab.test example.net")
  test.equal(#message.options, 5)
  test.equal(message.options[4].lifetime, 600)
  local bytes = assert(ndp.encode{
    type = 134, hop_limit = 64, managed = true, other = true, preference = "high", router_lifetime = 1800,
    source_lladdr = "02:54:41:50:52:01", mtu = 1280,
    prefixes = {{prefix = "2001:2:0:1::", length = 64, valid = 86400, preferred = 14400}},
    servers = {"2001:2:0:1::53", "2001:2:0:2::53"}, domains = {"lab.test", "example.net"}, dns_lifetime = 600,
    src = "fe80::54:41ff:fe50:5201", dst = "ff02::1"})
  test.equal(hex(bytes), hex(RA))
end

function test_decoded_messages_encode_back_to_the_same_bytes()
  local sources = {[NS] = {"2001:2:0:1::5", "ff02::1:ff00:1"}, [NA] = {"2001:2:0:1::1", "2001:2:0:1::5"},
                   [RS] = {"fe80::5", "ff02::2"}, [RA] = {"fe80::54:41ff:fe50:5201", "ff02::1"}}
  for bytes, pair in pairs(sources) do
    local message = assert(ndp.decode(bytes))
    message.src, message.dst = pair[1], pair[2]
    test.equal(hex(assert(ndp.encode(message))), hex(bytes), "type " .. message.type)
  end
  local redirect = assert(ndp.decode(assert(ndp.encode{type = 137, target = "fe80::1", destination = "2001:2:9::1",
                                                       options = {{type = 4, data = string.rep("\0", 46)}}})))
  test.equal(redirect.destination, "2001:2:9::1")
  test.equal(redirect.options[1].type, 4)
  test.equal(#redirect.options[1].data, 46)
end

function test_unknown_options_are_kept_as_bytes()
  local bytes = assert(ndp.encode{type = 133, options = {{type = 200, data = "abcdef"}}})
  local message = assert(ndp.decode(bytes))
  test.equal(message.options[1].type, 200)
  test.equal(message.options[1].data, "abcdef")
  test.equal(bytes, assert(ndp.encode(message)))
end

function test_malformed_messages_say_what_is_wrong()
  local cases = {
    {"", "shorter than an ICMPv6 header"},
    {unhex("80000000"), "not a Neighbor Discovery message"},
    {NS:sub(1, 20), "shorter than a type 135 message"},
    {NS:sub(1, 24) .. "\1\0" .. string.rep("\0", 6), "length 0"},
    {NS:sub(1, 24) .. "\1\2" .. string.rep("\0", 6), "runs past the end"},
    {NS:sub(1, 25), "cut short"},
    {RA:sub(1, 24) .. "\3\1" .. string.rep("\0", 6), "prefix information option of 8 bytes"},
    {RA:sub(1, 16) .. "\25\1" .. string.rep("\0", 6), "RDNSS option of 8 bytes"},
    {RA:sub(1, 16) .. "\31\2\0\0\0\0\0\0\200abc\0\0\0\0", "compression"},
    {RA:sub(1, 16) .. "\31\2\0\0\0\0\0\0\3a.b\0\0\0\0", "a label with a dot in it"},  -- scripts/fuzz found it
  }
  for _, case in ipairs(cases) do
    local message, why = ndp.decode(case[1])
    test.equal(message, nil, case[2])
    test.expect(why and why:find(case[2], 1, true), "'" .. tostring(why) .. "' says " .. case[2])
  end
  test.equal(select(2, ndp.decode(nil)), "bytes expected, got nil")
end

function test_bad_fields_are_refused_when_encoding()
  local cases = {
    {{type = 135, target = "not-an-address"}, "is not an IPv6 address"},
    {{type = 1}, "not a Neighbor Discovery message"},
    {{type = 134, router_lifetime = 70000}, "router_lifetime"},
    {{type = 133, source_lladdr = "02:00"}, "not a MAC address"},
    {{type = 134, domains = {"bad..name"}}, "not a domain name"},
    {{type = 134, preference = "urgent"}, "preference"},
    {{type = 133, options = {{type = 9}}}, "no data"},
  }
  for _, case in ipairs(cases) do
    local bytes, why = ndp.encode(case[1])
    test.equal(bytes, nil, case[2])
    test.expect(why and why:find(case[2], 1, true), "'" .. tostring(why) .. "' says " .. case[2])
  end
end

-- Every prefix of a real message, and every byte of it flipped, decodes or says why: never raises.
function test_decode_never_raises_on_cut_or_flipped_bytes()
  for _, bytes in ipairs({NS, NA, RS, RA}) do
    for length = 0, #bytes do
      local ok = pcall(ndp.decode, bytes:sub(1, length))
      test.expect(ok, "cut to " .. length)
    end
    for at = 1, #bytes do
      local flipped = bytes:sub(1, at - 1) .. string.char(bytes:byte(at) ~ 0xff) .. bytes:sub(at + 1)
      local ok = pcall(ndp.decode, flipped)
      test.expect(ok, "byte " .. at .. " flipped")
    end
  end
end

function test_the_addresses_neighbor_discovery_derives()
  test.equal(ndp.link_local("02:54:41:50:52:01"), "fe80::54:41ff:fe50:5201", "RFC 4291 appendix A: the U/L bit flipped")
  test.equal(ndp.link_local("00:1b:21:aa:bb:cc"), "fe80::21b:21ff:feaa:bbcc")
  test.equal(ndp.solicited_node("2001:2:0:1::abcd:1234"), "ff02::1:ffcd:1234")
  test.equal(ndp.multicast_mac("ff02::1:ffcd:1234"), "33:33:ff:cd:12:34")
  test.equal(ndp.link_local("nope"), nil)
  test.equal(ndp.solicited_node("nope"), nil)
end

-- fixtures/ndp-linux.pcap: Linux 6.18's own, captured with tcpdump on one end of a veth
-- pair as the other came up (02:00:00:00:0d:01) and pinged an absent 2001:2:0:1::9: its
-- duplicate address probes (from ::), router solicitations from the link-local address,
-- and neighbor solicitations with the source link-layer option.
function test_the_kernels_own_solicitations()
  local address = require "tapir.addr"
  local kinds = {}
  for _, frame in ipairs(test.pcap("fixtures/ndp-linux.pcap")) do
    local ip = frame:sub(15)
    local length = string.unpack(">I2", ip, 5)
    local body = ip:sub(41, 40 + length)
    local message = assert(ndp.decode(body))
    kinds[#kinds + 1] = message.type
    local src, dst = address.ipv6_text(ip, 9), address.ipv6_text(ip, 25)
    message.src, message.dst = src, dst
    test.equal(hex(assert(ndp.encode(message))), hex(body), "type " .. message.type .. " from " .. src)
    if message.type == 135 then
      test.equal(dst, ndp.solicited_node(message.target), "to the target's solicited-node group")
      test.equal(message.source_lladdr == nil, src == "::", "no link-layer option from ::, one otherwise (RFC 4861 4.3)")
    else
      test.equal(src, ndp.link_local(message.source_lladdr), "an RS from the link-local address of its own MAC")
    end
  end
  test.equal(table.concat(kinds, " "), "135 135 133 133 135 135 135 133")
end
