-- tapir.proto.dhcpv6, the codec the server is built on. Client messages are ISC dhclient
-- 4.4's own, captured with tcpdump on a veth pair (UDP payloads): a Solicit for an address
-- (`dhclient -6`), one for a prefix (`dhclient -6 -P`), an Information-request
-- (`dhclient -6 -S`). Server messages are Scapy 2.8's DHCP6_Advertise / DHCP6_Reply /
-- DHCP6_RelayForward with the option classes named below.
local dhcpv6 = require "tapir.proto.dhcpv6"

local hex, unhex = require("tapir.testing.hex").hex, require("tapir.testing.hex").unhex

local SOLICIT = unhex("011b5da70001000e0001000132a7a0e302000000d60100060008001700180027001f0008000200000003000c0000d60100000e1000001518")
local SOLICIT_PD = unhex("016795a30001000e0001000132a7a0e602000000d60100060008001700180027001f0008000200000019000c0000d60100000e1000001518")
local INFORMATION_REQUEST = unhex("0b7b23c60001000a0003000102000000d60100060008001700180027001f000800020000")
-- DHCP6_Advertise / ServerId(DUID_LL 02:54:41:50:44:36) / ClientId(the Solicit's) /
-- IA_NA(d601, T1 1800, T2 2880, IAAddress 2001:2:0:1::1000 3600/7200) /
-- IA_PD(1, 1800, 2880, IAPrefix 2001:2:0:100::/56 3600/7200) / StatusCode(0, "all good") /
-- Pref(255) / DNSServers(2001:2:0:1::53) / DNSDomains(lab.test.)
local ADVERTISE = unhex([[021b5da70002000a000300010254415044360001000e0001000132a7a0e302000000d601000300280000d6010000070800000b40
  000500182001000200000001000000000000100000000e1000001c2000190029000000010000070800000b40001a001900000e1000001c2038200100020000010000
  00000000000000000d000a0000616c6c20676f6f6400070001ff00170010200100020000000100000000000000530018000a036c6162047465737400]])
-- DHCP6_Reply / ServerId / ClientId / RapidCommit / IA_NA(d601, 0, 0, StatusCode(2, "no addresses"))
local REPLY = unhex([[071b5da70002000a000300010254415044360001000e0001000132a7a0e302000000d601000e00000003001e0000d601000000000000
  0000000d000e00026e6f20616464726573736573]])
-- DHCP6_RelayForward(hop 1, link 2001:2:0:1::1, peer fe80::ff:fe00:d601) / RelayMsg(Release(0x42) / ClientId /
-- ServerId / IA_NA(d601, IAAddress 2001:2:0:1::1000))
local RELAY = unhex([[0c0120010002000000010000000000000001fe80000000000000000000fffe00d60100090050080000420001000e0001000132a7a0e3
  02000000d6010002000a00030001025441504436000300280000d601000000000000000000050018200100020000000100000000000010000000000000000000]])

function test_dhclients_solicit_decodes()
  local message = assert(dhcpv6.decode(SOLICIT))
  test.equal(message.type, dhcpv6.SOLICIT)
  test.equal(message.xid, 0x1b5da7)
  local duid = assert(dhcpv6.duid(message.client_id))
  test.equal(duid.type, 1, "DUID-LLT")
  test.equal(duid.lladdr, "02:00:00:00:d6:01")
  test.equal(table.concat(message.oro, " "), "23 24 39 31", "DNS, domains, FQDN, SNTP")
  test.equal(message.elapsed_time, 0)
  test.equal(#message.ia_na, 1)
  test.equal(message.ia_na[1].iaid, 0xd601)
  test.equal(message.ia_na[1].t1, 3600)
  test.equal(message.ia_na[1].t2, 5400)
  test.equal(#message.ia_na[1].addresses, 0)
  test.equal(message.rapid_commit, false)
  local pd = assert(dhcpv6.decode(SOLICIT_PD))
  test.equal(#pd.ia_na, 0)
  test.equal(#pd.ia_pd, 1)
  test.equal(pd.ia_pd[1].iaid, 0xd601)
  local info = assert(dhcpv6.decode(INFORMATION_REQUEST))
  test.equal(info.type, dhcpv6.INFORMATION_REQUEST)
  test.equal(assert(dhcpv6.duid(info.client_id)).type, 3, "DUID-LL")
end

function test_an_advertise_encodes_as_scapy_builds_it()
  local client = assert(dhcpv6.decode(SOLICIT)).client_id
  local bytes = assert(dhcpv6.encode{
    type = dhcpv6.ADVERTISE, xid = 0x1b5da7, server_id = assert(dhcpv6.duid_ll("02:54:41:50:44:36")), client_id = client,
    ia_na = {{iaid = 0xd601, t1 = 1800, t2 = 2880,
              addresses = {{address = "2001:2:0:1::1000", preferred = 3600, valid = 7200}}}},
    ia_pd = {{iaid = 1, t1 = 1800, t2 = 2880,
              prefixes = {{prefix = "2001:2:0:100::", length = 56, preferred = 3600, valid = 7200}}}},
    status = {status = 0, message = "all good"}, preference = 255,
    dns_servers = {"2001:2:0:1::53"}, domains = {"lab.test"},
  })
  test.equal(hex(bytes), hex(ADVERTISE))
  local message = assert(dhcpv6.decode(ADVERTISE))
  test.equal(message.ia_na[1].addresses[1].address, "2001:2:0:1::1000")
  test.equal(message.ia_na[1].addresses[1].valid, 7200)
  test.equal(message.ia_pd[1].prefixes[1].prefix, "2001:2:0:100::")
  test.equal(message.ia_pd[1].prefixes[1].length, 56)
  test.equal(message.status.message, "all good")
  test.equal(message.preference, 255)
  test.equal(message.dns_servers[1], "2001:2:0:1::53")
  test.equal(message.domains[1], "lab.test")
end

function test_a_reply_with_rapid_commit_and_an_ia_status()
  local message = assert(dhcpv6.decode(REPLY))
  test.equal(message.type, dhcpv6.REPLY)
  test.equal(message.rapid_commit, true)
  test.equal(message.ia_na[1].status.status, dhcpv6.STATUS.NO_ADDRS_AVAIL)
  test.equal(message.ia_na[1].status.message, "no addresses")
  local bytes = assert(dhcpv6.encode{
    type = dhcpv6.REPLY, xid = 0x1b5da7, server_id = message.server_id, client_id = message.client_id,
    rapid_commit = true, ia_na = {{iaid = 0xd601, status = {status = 2, message = "no addresses"}}}})
  test.equal(hex(bytes), hex(REPLY))
end

function test_a_relayed_release()
  local relay = assert(dhcpv6.decode(RELAY))
  test.equal(relay.type, dhcpv6.RELAY_FORW)
  test.equal(relay.hop_count, 1)
  test.equal(relay.link, "2001:2:0:1::1")
  test.equal(relay.peer, "fe80::ff:fe00:d601")
  local inner = relay.options[1].message
  test.equal(inner.type, dhcpv6.RELEASE)
  test.equal(inner.ia_na[1].addresses[1].address, "2001:2:0:1::1000")
end

function test_every_message_encodes_back_to_its_bytes()
  for name, bytes in pairs({SOLICIT = SOLICIT, SOLICIT_PD = SOLICIT_PD, INFORMATION_REQUEST = INFORMATION_REQUEST,
                            ADVERTISE = ADVERTISE, REPLY = REPLY, RELAY = RELAY}) do
    local message = assert(dhcpv6.decode(bytes))
    test.equal(hex(assert(dhcpv6.encode(message))), hex(bytes), name)
  end
  local unknown = assert(dhcpv6.encode{type = 1, xid = 7, options = {{code = 4242, data = "xyz"}}})
  test.equal(assert(dhcpv6.decode(unknown)).options[1].data, "xyz")
end

function test_malformed_messages_say_what_is_wrong()
  local cases = {
    {"\1\0", "shorter than a message header"},
    {"\14\0\0\0", "not a DHCPv6 message"},
    {"\12\0\0\0", "shorter than a relay message header"},
    {SOLICIT:sub(1, 6), "cut short"},
    {SOLICIT:sub(1, 10), "runs past the end"},
    {"\1\0\0\1" .. "\0\3\0\4abcd", "under 12"},
    {"\1\0\0\1" .. "\0\8\0\1x", "elapsed time option of 1 bytes"},
    {"\1\0\0\1" .. "\0\6\0\3abc", "not even"},
    {"\1\0\0\1" .. "\0\23\0\5abcde", "not a multiple of 16"},
    {"\1\0\0\1" .. "\0\24\0\3\2ab", "a name runs past the end"},
    {"\1\0\0\1" .. "\0\25\0\16" .. string.rep("\0", 12) .. "\0\26\0\0", "under 25"},
  }
  for _, case in ipairs(cases) do
    local message, why = dhcpv6.decode(case[1])
    test.equal(message, nil, case[2])
    test.expect(why and why:find(case[2], 1, true), "'" .. tostring(why) .. "' says " .. case[2])
  end
  -- relay messages nested past any sane depth are refused, not recursed into
  local nested = "\1\0\0\1"
  for _ = 1, 40 do nested = "\12\0" .. string.rep("\0", 32) .. string.pack(">I2I2", 9, #nested) .. nested end
  local message, why = dhcpv6.decode(nested)
  test.equal(message, nil)
  test.expect(why:find("nested", 1, true), why)
  test.equal(select(2, dhcpv6.decode(42)), "bytes expected, got number")
end

function test_bad_fields_are_refused_when_encoding()
  local cases = {
    {{type = 1}, "xid"},
    {{type = 99, xid = 1}, "not a DHCPv6 message"},
    {{type = 2, xid = 1, ia_na = {{iaid = 1, addresses = {{address = "nope"}}}}}, "not an IPv6 address"},
    {{type = 2, xid = 1, domains = {"a..b"}}, "not a domain name"},
    {{type = 2, xid = 1, options = {{code = 300}}}, "no data"},
    {{type = 2, xid = 1, preference = 256}, "preference"},
  }
  for _, case in ipairs(cases) do
    local bytes, why = dhcpv6.encode(case[1])
    test.equal(bytes, nil, case[2])
    test.expect(why and why:find(case[2], 1, true), "'" .. tostring(why) .. "' says " .. case[2])
  end
  test.equal(dhcpv6.duid_ll("nope"), nil)
end

function test_decode_never_raises_on_cut_or_flipped_bytes()
  for _, bytes in ipairs({SOLICIT, SOLICIT_PD, INFORMATION_REQUEST, ADVERTISE, REPLY, RELAY}) do
    for length = 0, #bytes do test.expect(pcall(dhcpv6.decode, bytes:sub(1, length)), "cut to " .. length) end
    for at = 1, #bytes do
      local flipped = bytes:sub(1, at - 1) .. string.char(bytes:byte(at) ~ 0xff) .. bytes:sub(at + 1)
      test.expect(pcall(dhcpv6.decode, flipped), "byte " .. at .. " flipped")
    end
  end
end

-- Found by scripts/fuzz 30 proto-dhcpv6: a label with a dot in it read back as two labels.
function test_a_label_with_a_dot_is_refused()
  local message, why = dhcpv6.decode("\1\0\0\1" .. "\0\24\0\5\3a\0.\0")
  test.equal(message, nil)
  test.equal(why, "domain list: a label with a dot in it")
end
