-- tapir.addr: conversions between text, bytes and integers, and prefixes. The expected
-- values come from Python's ipaddress module (python3: ipaddress.IPv6Address(t).compressed
-- and .packed, ipaddress.ip_interface(p).network's network_address, broadcast_address,
-- netmask and hosts()), not from this module.
local addr = require "tapir.addr"

local hex, unhex = require("tapir.testing.hex").hex, require("tapir.testing.hex").unhex

-- text, RFC 5952 text, bytes
local IPV6 = {
  {"2001:db8::1", "2001:db8::1", "20010db8000000000000000000000001"},
  {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", "20010db8000000000000000000000001"},
  {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", "20010db8000000000001000000000001"},
  {"2001:DB8::A:0:0:0", "2001:db8:0:0:a::", "20010db800000000000a000000000000"},
  {"::", "::", "00000000000000000000000000000000"},
  {"::1", "::1", "00000000000000000000000000000001"},
  {"1::", "1::", "00010000000000000000000000000000"},
  -- IPv4-mapped: its last 32 bits dotted (RFC 5952 5), as the host writes pkt.ipv6.src
  {"::ffff:198.18.0.9", "::ffff:198.18.0.9", "00000000000000000000ffffc6120009"},
  {"::ffff:c612:9", "::ffff:198.18.0.9", "00000000000000000000ffffc6120009"},
  {"::fffe:c612:9", "::fffe:c612:9", "00000000000000000000fffec6120009"},
  {"2001:2:0:0:0:0:0:0", "2001:2::", "20010002000000000000000000000000"},
  {"fe80::1:2:3:4", "fe80::1:2:3:4", "fe800000000000000001000200030004"},
  {"0:0:1:0:0:1:0:0", "::1:0:0:1:0:0", "00000000000100000000000100000000"},
  {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1", "20010db8000000010001000100010001"},
}

local PREFIXES = {
  {"198.18.1.254/24", network = "198.18.1.0", broadcast = "198.18.1.255", mask = "255.255.255.0", first = "198.18.1.1", count = 254},
  {"198.18.0.0/30", network = "198.18.0.0", broadcast = "198.18.0.3", mask = "255.255.255.252", first = "198.18.0.1", count = 2},
  {"198.18.0.0/31", network = "198.18.0.0", broadcast = "198.18.0.1", mask = "255.255.255.254", first = "198.18.0.0", count = 2},
  {"198.18.0.7/32", network = "198.18.0.7", broadcast = "198.18.0.7", mask = "255.255.255.255", first = "198.18.0.7", count = 1},
  {"10.0.0.0/8", network = "10.0.0.0", broadcast = "10.255.255.255", mask = "255.0.0.0", first = "10.0.0.1"},
  {"0.0.0.0/0", network = "0.0.0.0", broadcast = "255.255.255.255", mask = "0.0.0.0", first = "0.0.0.1"},
  {"2001:2::5/64", network = "2001:2::", broadcast = "2001:2::ffff:ffff:ffff:ffff", mask = "ffff:ffff:ffff:ffff::", first = "2001:2::1"},
  {"2001:2::/127", network = "2001:2::", broadcast = "2001:2::1", mask = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", first = "2001:2::", count = 2},
  {"2001:db8:1:2:3:4:5:6/100", network = "2001:db8:1:2:3:4::", broadcast = "2001:db8:1:2:3:4:fff:ffff", mask = "ffff:ffff:ffff:ffff:ffff:ffff:f000:0", first = "2001:db8:1:2:3:4:0:1"},
}

function test_ipv6_text_bytes_and_integers()
  for _, case in ipairs(IPV6) do
    local text, normal, bytes = case[1], case[2], unhex(case[3])
    test.equal(addr.ipv6_bytes(text), bytes, text)
    test.equal(addr.ipv6_text(bytes), normal, text)
    test.equal(addr.normal(text), normal, text)
    local high, low = addr.ipv6_int(text)
    test.equal(string.format("%016x%016x", high, low), case[3], text)
    test.equal(addr.ipv6_int_text(high, low), normal)
    test.equal(addr.ipv6_int_bytes(addr.ipv6_bytes_int(bytes)), bytes)
  end
  test.equal(addr.ipv6_text("xx" .. unhex(IPV6[1][3]), 3), "2001:db8::1", "at an offset")
end

function test_ipv4_text_bytes_and_integers()
  test.equal(addr.ipv4_bytes("198.18.0.9"), "\198\18\0\9")
  test.equal(addr.ipv4_text("\198\18\0\9"), "198.18.0.9")
  test.equal(addr.ipv4_text("ab\198\18\0\9", 3), "198.18.0.9")
  test.equal(addr.ipv4_int("198.18.0.9"), 0xc6120009)
  test.equal(addr.ipv4_int("255.255.255.255"), 0xffffffff, "never negative")
  test.equal(addr.ipv4_int_text(0xc6120009), "198.18.0.9")
  test.equal(addr.ipv4_bytes_int("\198\18\0\9"), 0xc6120009)
  test.equal(addr.ipv4_int_bytes(0xc6120009), "\198\18\0\9")
  test.equal(addr.ipv4_mask(24), 0xffffff00)
  test.equal(addr.ipv4_mask(0), 0)
  test.equal(addr.ipv4_mask(32), 0xffffffff)
end

function test_mac_text_bytes_and_integers()
  test.equal(addr.mac_bytes("02:00:5e:00:00:01"), "\2\0\94\0\0\1")
  test.equal(addr.mac_bytes("02-00-5E-00-00-01"), "\2\0\94\0\0\1", "dashes and capitals")
  test.equal(addr.mac_text("\2\0\94\0\0\1"), "02:00:5e:00:00:01")
  test.equal(addr.mac_int("02:54:41:50:52:01"), 0x025441505201)
  test.equal(addr.mac_int_text(0x025441505201), "02:54:41:50:52:01")
  test.equal(addr.mac_int_text(0xffffffffffff), "ff:ff:ff:ff:ff:ff")
  test.equal(addr.mac_bytes_int("\255\255\255\255\255\255"), 0xffffffffffff)
  test.equal(addr.mac_int_bytes(0x025441505201), "\2\84\65\80\82\1")
  test.equal(addr.normal("02-00-5E-00-00-01"), "02:00:5e:00:00:01")
end

function test_what_is_not_an_address_gives_nil()
  for _, text in ipairs{"", "1.2.3", "1.2.3.256", "1.2.3.4.5", "01234.1.1.1", " 1.2.3.4", "1.2.3.4/24", "a.b.c.d"} do
    test.equal(addr.ipv4_bytes(text), nil, text)
    test.equal(addr.ipv4_int(text), nil, text)
  end
  for _, text in ipairs{"", ":", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "g::1",
                        "::1.2.3", "::1.2.3.256", "2001:2::/64", "1.2.3.4"} do
    test.equal(addr.ipv6_bytes(text), nil, text)
    test.equal(addr.ipv6_int(text), nil, text)
  end
  for _, text in ipairs{"", "02:00:5e:00:00", "02:00:5e:00:00:01:02", "02:00:5e:00:00:0g", "0200.5e00.0001",
                        "2:0:5e:0:0:1"} do
    test.equal(addr.mac_bytes(text), nil, text)
    test.equal(addr.mac_int(text), nil, text)
  end
  test.equal(addr.ipv4_bytes(42), nil)
  test.equal(addr.family("not an address"), nil)
  test.equal(addr.normal({}), nil)
  test.equal(addr.ipv4_text("\1\2\3"), nil, "three bytes are not an address")
  test.equal(addr.ipv6_text(string.rep("\0", 15)), nil)
  test.equal(addr.mac_text("\0\0\0\0\0"), nil)
end

function test_family_compare_and_equal()
  test.equal(addr.family("198.18.0.1"), "ipv4")
  test.equal(addr.family("2001:2::1"), "ipv6")
  test.equal(addr.family("02:00:00:00:00:01"), "mac")
  test.equal(addr.compare("198.18.0.9", "198.18.0.10"), -1, "numerically, not as text")
  test.equal(addr.compare("198.18.0.10", "198.18.0.9"), 1)
  test.equal(addr.compare("2001:2::1", "2001:2:0:0::1"), 0)
  test.equal(addr.compare("8000::", "7fff::"), 1, "the high bit is not a sign")
  test.equal(addr.compare("02:00:00:00:00:01", "02:00:00:00:00:02"), -1)
  local result, why = addr.compare("198.18.0.1", "2001:2::1")
  test.equal(result, nil)
  test.equal(why, "'2001:2::1' is not an IPv4 address")
  test.equal(addr.equal("2001:DB8::1", "2001:db8:0::1"), true)
  test.equal(addr.equal("198.18.0.1", "198.18.0.2"), false)
  local sorted = {"198.18.0.10", "198.18.0.9", "198.18.0.100", "10.0.0.1"}
  table.sort(sorted, function(a, b) return addr.compare(a, b) < 0 end)
  test.equal(table.concat(sorted, " "), "10.0.0.1 198.18.0.9 198.18.0.10 198.18.0.100")
end

function test_prefixes_as_pythons_ipaddress_sees_them()
  for _, case in ipairs(PREFIXES) do
    local prefix = assert(addr.prefix(case[1]))
    test.equal(prefix:network(), case.network, case[1])
    test.equal(prefix:broadcast(), case.broadcast, case[1])
    test.equal(prefix:mask(), case.mask, case[1])
    test.equal(prefix:host(1), case.first, case[1])
    test.equal(tostring(prefix), case.network .. "/" .. prefix.length)
    test.equal(prefix:contains(case.network), true, case[1])
    test.equal(prefix:contains(case.broadcast), true, case[1])
    if case.count then
      local hosts = {}
      for host in prefix:hosts() do hosts[#hosts + 1] = host end
      test.equal(#hosts, case.count, case[1])
      test.equal(prefix:host(case.count + 1), nil, case[1] .. ": past the last host")
    end
  end
end

function test_prefix_contains_nth_host_and_the_written_address()
  local prefix = addr.prefix("198.18.1.254/24")
  test.equal(prefix.address, "198.18.1.254")
  test.equal(prefix.family, "ipv4")
  test.equal(prefix.length, 24)
  test.equal(prefix:contains("198.18.1.7"), true)
  test.equal(prefix:contains("198.18.2.7"), false)
  test.equal(prefix:contains(0xc6120107), true, "an IPv4 integer")
  test.equal(prefix:contains("2001:2::1"), false, "another family")
  test.equal(prefix:contains("nonsense"), false)
  test.equal(prefix:host(254), "198.18.1.254")
  test.equal(prefix:host(0), nil)
  local v6 = addr.prefix("2001:2::5/64")
  test.equal(v6:contains("2001:2::ffff:1"), true)
  test.equal(v6:contains("2001:2:0:1::1"), false)
  test.equal(v6:host(0x10000), "2001:2::1:0")
  local top = addr.prefix("2001:db8:0:0:ffff:ffff:ffff:fff0/64")
  test.equal(top:host(1), "2001:db8::1")
  test.equal(addr.prefix("2001:db8::/63"):host(1 << 62 | 5), "2001:db8::4000:0:0:5")
  test.equal(addr.prefix("2001:db8:0:1::/63"):broadcast(), "2001:db8:0:1:ffff:ffff:ffff:ffff")
  test.equal(addr.prefix("198.18.0.9").length, 32, "no length: one address")
  test.equal(addr.prefix("2001:2::9").length, 128)
end

function test_bad_prefixes_say_why()
  local cases = {
    ["198.18.0.0/33"] = "'198.18.0.0/33': an IPv4 prefix length is 0..32",
    ["2001:2::/129"] = "'2001:2::/129': an IPv6 prefix length is 0..128",
    ["nonsense/8"] = "'nonsense/8' is not ADDRESS/LENGTH (like 198.18.1.254/24 or 2001:2::/64)",
    ["198.18.0.0/"] = "'198.18.0.0/' is not ADDRESS/LENGTH (like 198.18.1.254/24 or 2001:2::/64)",
    ["02:00:00:00:00:01/8"] = "'02:00:00:00:00:01/8' is not ADDRESS/LENGTH (like 198.18.1.254/24 or 2001:2::/64)",
  }
  for text, expected in pairs(cases) do
    local prefix, why = addr.prefix(text)
    test.equal(prefix, nil, text)
    test.equal(why, expected)
  end
  local prefix, why = addr.prefix(24)
  test.equal(prefix, nil)
  test.equal(why, "a prefix is text, like 198.18.0.0/24, not number")
end

function test_reverse_names()
  test.equal(addr.reverse_name("\198\18\0\9"), "9.0.18.198.in-addr.arpa")
  test.equal(addr.reverse_name(addr.ipv6_bytes("2001:db8::1")),
             "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")
end
