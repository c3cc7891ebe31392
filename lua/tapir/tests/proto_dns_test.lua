-- tapir.proto.dns, the codec the responder is built on: literal messages (laid out by
-- hand from RFC 1035 4.1, RFC 2782, RFC 8659 and RFC 6891) decoded field by field, built
-- again byte for byte, and round trips.
local dns = require "tapir.proto.dns"

local hex, unhex = require("tapir.testing.hex").hex, require("tapir.testing.hex").unhex

-- dig www.example.test A: RD and AD set, EDNS0 with a client cookie.
local QUERY = unhex [[
  1234 0120 0001 0000 0000 0001
  03 777777 07 6578616d706c65 04 74657374 00   0001 0001
  00 0029 04d0 00 00 0000 000c   000a 0008 0102030405060708
]]

-- The NXDOMAIN for nope.example.test: the zone's SOA in the authority section, its
-- names compressed against the question ("example" is at offset 0x11).
local NXDOMAIN = unhex [[
  abcd 8503 0001 0000 0001 0000
  04 6e6f7065 07 6578616d706c65 04 74657374 00   0001 0001
  c011 0006 0001 0000012c 0026
    02 6e73 c011
    0a 686f73746d6173746572 c011
    78c275f5 00000e10 00000384 00093a80 0000012c
]]

-- An answer with SRV (target not compressed, RFC 2782), MX, CAA, TXT and AAAA records.
local MIXED = unhex [[
  0001 8400 0001 0005 0000 0000
  04 5f736970 04 5f756470 07 6578616d706c65 04 74657374 00   0021 0001
  c00c 0021 0001 00000e10 0018   000a 0005 13c4   03 736970 07 6578616d706c65 04 74657374 00
  c016 000f 0001 00000e10 0009   000a 04 6d61696c c016
  c016 0101 0001 00000e10 000e   00 05 6973737565 63612e74657374
  c016 0010 0001 00000e10 0007   03 612062 00 01 63
  c05a 001c 0001 00000e10 0010   20010002000000000000000000000009
]]

function test_a_query_decodes_field_by_field()
  local msg = assert(dns.decode(QUERY))
  test.equal(msg.id, 0x1234)
  test.equal(msg.qr, false)
  test.equal(msg.opcode, 0)
  test.equal(msg.rd, true)
  test.equal(msg.ad, true)
  test.equal(msg.cd, false)
  test.equal(#msg.questions, 1)
  test.equal(msg.questions[1].name, "www.example.test")
  test.equal(msg.questions[1].type, dns.TYPE.A)
  test.equal(msg.questions[1].class, dns.CLASS.IN)
  test.equal(#msg.additional, 0, "the OPT is not a record of the additional section")
  test.equal(msg.edns.udp_size, 1232)
  test.equal(msg.edns.version, 0)
  test.equal(msg.edns.dnssec_ok, false)
  test.equal(#msg.edns.options, 1)
  test.equal(msg.edns.options[1].code, 10)
  test.equal(msg.edns.options[1].data, "\1\2\3\4\5\6\7\8")
  test.equal(msg.edns_error, nil)
end

function test_a_query_encodes_byte_for_byte()
  local bytes = assert(dns.encode{
    id = 0x1234, rd = true, ad = true,
    questions = {{name = "www.example.test", type = dns.TYPE.A, class = dns.CLASS.IN}},
    edns = {udp_size = 1232, options = {{code = 10, data = "\1\2\3\4\5\6\7\8"}}},
  })
  test.equal(hex(bytes), hex(QUERY))
end

function test_a_negative_answer_with_its_soa_decodes_and_encodes()
  local msg = assert(dns.decode(NXDOMAIN))
  test.equal(msg.qr and msg.aa and msg.rd, true)
  test.equal(msg.rcode, dns.RCODE.NXDOMAIN)
  test.equal(#msg.answers, 0)
  test.equal(#msg.authority, 1)
  local soa = msg.authority[1]
  test.equal(soa.name, "example.test")
  test.equal(soa.type, dns.TYPE.SOA)
  test.equal(soa.ttl, 300)
  test.equal(soa.mname, "ns.example.test")
  test.equal(soa.rname, "hostmaster.example.test")
  test.equal(soa.serial, 2026010101)
  test.equal(soa.refresh, 3600)
  test.equal(soa.retry, 900)
  test.equal(soa.expire, 604800)
  test.equal(soa.minimum, 300)
  test.equal(hex(assert(dns.encode(msg))), hex(NXDOMAIN))
  test.equal(hex(assert(dns.encode{
    id = 0xabcd, qr = true, aa = true, rd = true, rcode = 3,
    questions = {{name = "nope.example.test", type = 1}},
    authority = {{name = "example.test", type = 6, ttl = 300, mname = "ns.example.test",
                  rname = "hostmaster.example.test", serial = 2026010101, refresh = 3600, retry = 900,
                  expire = 604800, minimum = 300}},
  })), hex(NXDOMAIN))
end

function test_srv_mx_caa_txt_and_aaaa_decode_and_encode()
  local msg = assert(dns.decode(MIXED))
  local srv, mx, caa, txt, aaaa = table.unpack(msg.answers)
  test.equal(srv.name, "_sip._udp.example.test")
  test.equal(srv.priority, 10)
  test.equal(srv.weight, 5)
  test.equal(srv.port, 5060)
  test.equal(srv.target, "sip.example.test")
  test.equal(mx.name, "example.test")
  test.equal(mx.preference, 10)
  test.equal(mx.exchange, "mail.example.test")
  test.equal(caa.type, dns.TYPE.CAA)
  test.equal(caa.flags, 0)
  test.equal(caa.tag, "issue")
  test.equal(caa.value, "ca.test")
  test.equal(#txt.strings, 3)
  test.equal(txt.strings[1], "a b")
  test.equal(txt.strings[2], "")
  test.equal(txt.strings[3], "c")
  test.equal(aaaa.name, "mail.example.test")
  test.equal(aaaa.address, "2001:2::9")
  test.equal(hex(assert(dns.encode(msg))), hex(MIXED))
end

function test_round_trips_keep_every_field()
  local msg = {
    id = 7, qr = true, opcode = 0, aa = true, tc = false, rd = false, ra = true, ad = false, cd = true, rcode = 16,
    questions = {{name = "Mixed.case.test", type = 255, class = 1}},
    answers = {
      {name = "a\\.b.case.test", type = 1, class = 1, ttl = 1, address = "198.18.0.1"},
      {name = "case.test", type = 2, class = 1, ttl = 2, target = "ns.case.test"},
      {name = "x.case.test", type = 5, class = 1, ttl = 3, target = "case.test"},
      {name = "1.0.18.198.in-addr.arpa", type = 12, class = 1, ttl = 4, target = "x.case.test"},
      {name = "bin\\000\\255.case.test", type = 16, class = 1, ttl = 5, strings = {"\0\255", string.rep("z", 255)}},
      {name = "case.test", type = 99, class = 1, ttl = 6, rdata = "\1\2\3"},
    },
    authority = {{name = "case.test", type = 6, class = 1, ttl = 7, mname = "ns.case.test", rname = "h.case.test",
                  serial = 0xffffffff, refresh = 1, retry = 2, expire = 3, minimum = 4}},
    additional = {{name = "ns.case.test", type = 28, class = 1, ttl = 8, address = "2001:2::"}},
    edns = {udp_size = 4096, version = 0, dnssec_ok = true, z = 0, options = {}},
  }
  local bytes = assert(dns.encode(msg))
  local back = assert(dns.decode(bytes))
  test.equal(back.rcode, 16, "BADVERS: the high bits in the OPT")
  test.equal(back.questions[1].name, "Mixed.case.test")
  test.equal(back.answers[1].name, "a\\.b.case.test")
  test.equal(back.answers[5].name, "bin\\000\\255.case.test")
  test.equal(back.answers[5].strings[1], "\0\255")
  test.equal(back.answers[6].rdata, "\1\2\3")
  test.equal(back.authority[1].serial, 0xffffffff)
  test.equal(back.edns.dnssec_ok, true)
  for _, field in ipairs({"id", "qr", "aa", "tc", "rd", "ra", "ad", "cd"}) do test.equal(back[field], msg[field], field) end
  test.equal(hex(assert(dns.encode(back))), hex(bytes), "decode then encode gives the same bytes")
end

function test_names_are_compressed_case_blind_and_only_where_allowed()
  local bytes = assert(dns.encode{
    questions = {{name = "WWW.example.test", type = 33}},
    answers = {{name = "www.EXAMPLE.test", type = 33, ttl = 1, priority = 0, weight = 0, port = 1,
                target = "www.example.test"}},
  })
  -- The owner is a pointer to the question (offset 12); the SRV target is written out.
  test.equal(hex(bytes:sub(35, 36)), "c00c")
  test.equal(bytes:sub(-18), "\3www\7example\4test\0")
end

function test_a_label_with_a_dot_is_not_two_labels_when_compressing()
  -- "a\.b" is one label; "x.a.b" ends in two. Compression must not take one for the other.
  local bytes = assert(dns.encode{questions = {{name = "a\\.b", type = 1}, {name = "x.A.b", type = 1}}})
  local msg = assert(dns.decode(bytes))
  test.equal(msg.questions[1].name, "a\\.b")
  test.equal(msg.questions[2].name, "x.A.b")
  test.equal(bytes:sub(13, 18), "\3a.b\0\0", "the first name written out")
end

function test_bad_messages_are_refused_with_a_reason()
  local cases = {
    {"\1\2\3", "shorter than a DNS header"},
    {unhex("0001 0000 0001 0000 0000 0000"), "counts claim more"},
    {unhex("0001 0000 0001 0000 0000 0000 c00c 0001 0001"), "does not point back"},
    {unhex("0001 0000 0001 0000 0000 0000 40") .. string.rep("a", 64) .. "\0\0\1\0\1", "label length of 64"},
    {unhex("0001 0000 0001 0000 0000 0000 03 777777 00 0001"), "question runs past the end"},
    {unhex("0001 8000 0000 0001 0000 0000 00 0001 0001 00000001 0003 010203"), "A data of 3 bytes"},
    {unhex("0001 8000 0000 0001 0000 0000 00 0001 0001 00000001 0004 0102"), "data runs past the end"},
  }
  for _, case in ipairs(cases) do
    local msg, why = dns.decode(case[1])
    test.equal(msg, nil)
    test.expect(why and why:find(case[2], 1, true), tostring(why) .. " should say " .. case[2])
  end
  local long = string.rep("a.", 128) .. "test"
  test.equal(select(2, dns.encode{questions = {{name = long, type = 1}}}), "'" .. long .. "' is over 255 bytes")
  test.equal(select(2, dns.encode{answers = {{name = "x.test", type = 1, ttl = 1, address = "nope"}}}),
             "'nope' is not an IPv4 address")
  test.equal(select(2, dns.encode{answers = {{name = "x..test", type = 1, ttl = 1, address = "1.2.3.4"}}}),
             "'x..test' has an empty label")
end

function test_odd_opts_are_read_and_said()
  local opt = "\0" .. string.pack(">I2I2I4s2", 41, 1232, 0, "")
  local header = string.pack(">I2I2I2I2I2I2", 1, 0, 1, 0, 0, 2) .. "\0\0\1\0\1"
  test.equal(assert(dns.decode(header .. opt .. opt)).edns_error, "a second OPT record")
  header = string.pack(">I2I2I2I2I2I2", 1, 0, 1, 0, 0, 1) .. "\0\0\1\0\1"
  test.equal(assert(dns.decode(header .. "\1x\0" .. opt:sub(2))).edns_error, "an OPT record not owned by the root")
  local broken = "\0" .. string.pack(">I2I2I4s2", 41, 1232, 0, string.pack(">I2I2", 10, 40) .. "short")
  test.equal(assert(dns.decode(header .. broken)).edns_error, "an EDNS option runs past its record")
end

-- Real queries and answers: fixtures/dns-dig-nsd.pcap is dig 9.18's queries (`dig
-- @198.18.5.1 NAME TYPE +norec`, EDNS with a cookie) and NSD 4.6's answers from a zone with
-- A, AAAA, CNAME, MX, SRV, TXT, CAA and SOA records, on a veth between two namespaces.
-- Expected values are dig's and tshark's.
local function payloads(file)
  local list = {}
  for i, frame in ipairs(test.pcap(file)) do list[i] = test.decode(frame).payload end
  return list
end

local function same(a, b, path)
  if type(a) ~= "table" or type(b) ~= "table" then
    test.equal(a, b, path)
    return
  end
  for key, value in pairs(a) do same(value, b[key], path .. "." .. tostring(key)) end
  for key in pairs(b) do test.expect(a[key] ~= nil, path .. "." .. tostring(key) .. " appeared") end
end

function test_dig_and_nsd_as_dig_reads_them()
  local packets = payloads("fixtures/dns-dig-nsd.pcap")
  test.equal(#packets, 14)
  local query = assert(dns.decode(packets[1]))
  test.equal(query.id, 0xdcf3)
  test.equal(query.rd, false, "+norec")
  test.equal(query.questions[1].name, "www.example.test")
  test.equal(query.edns.udp_size, 1232)
  test.equal(query.edns.options[1].code, 10, "a client cookie")
  test.equal(#query.edns.options[1].data, 8)
  local a = assert(dns.decode(packets[2]))
  test.equal(a.qr and a.aa, true)
  test.equal(a.answers[1].address, "198.18.5.80")
  test.equal(a.authority[1].type, dns.TYPE.NS)
  test.equal(a.authority[1].target, "ns1.example.test")
  test.equal(a.additional[1].address, "198.18.5.1")
  local cname = assert(dns.decode(packets[4]))
  test.equal(cname.answers[1].target, "www.example.test")
  test.equal(cname.answers[2].address, "2001:2::80")
  local mx = assert(dns.decode(packets[6]))
  test.equal(mx.answers[1].preference, 10)
  test.equal(mx.answers[1].exchange, "mail.example.test")
  local srv = assert(dns.decode(packets[8])).answers[1]
  test.equal(srv.priority .. " " .. srv.weight .. " " .. srv.port .. " " .. srv.target, "10 5 5060 sip.example.test")
  local txt = assert(dns.decode(packets[10])).answers[1]
  test.equal(table.concat(txt.strings, "|"), "v=spf1 -all|second string")
  local caa = assert(dns.decode(packets[12])).answers[1]
  test.equal(caa.flags .. " " .. caa.tag .. " " .. caa.value, "0 issue ca.test")
  local nxdomain = assert(dns.decode(packets[14]))
  test.equal(nxdomain.rcode, dns.RCODE.NXDOMAIN)
  local soa = nxdomain.authority[1]
  test.equal(soa.mname .. " " .. soa.rname .. " " .. soa.serial .. " " .. soa.minimum,
             "ns1.example.test hostmaster.example.test 2026120601 300")
end

function test_dig_and_nsd_messages_encode_again()
  for i, bytes in ipairs(payloads("fixtures/dns-dig-nsd.pcap")) do
    local msg = assert(dns.decode(bytes))
    local encoded = assert(dns.encode(msg))
    same(assert(dns.decode(encoded)), msg, "message " .. i)
    if i == 8 then
      -- Both write the SRV target out (RFC 2782); NSD then writes the additional A record's
      -- owner, sip.example.test, as "sip" and a pointer, where encode points at the
      -- target's copy (RFC 1035 4.1.4: any earlier occurrence).
      test.equal(#encoded, #bytes - 4, "the SRV answer")
      test.equal(hex(encoded:sub(1, 94)), hex(bytes:sub(1, 94)), "the same up to the additional section")
    else
      test.equal(hex(encoded), hex(bytes), "message " .. i .. " byte for byte")
    end
  end
end

function test_every_truncation_of_a_real_answer_is_refused_with_a_reason()
  local answer = payloads("fixtures/dns-dig-nsd.pcap")[8]
  for length = 0, #answer - 1 do
    local msg, why = dns.decode(answer:sub(1, length))
    test.equal(msg, nil, "length " .. length)
    test.equal(type(why), "string")
  end
end

function test_a_name_that_is_only_a_pointer_to_the_root()
  -- The answer's owner points at the zero byte that ends the question's name (offset 29):
  -- the root, "" (found by the fuzz target; a pointer is followed before any label).
  local bytes = unhex [[
    0001 8400 0001 0001 0000 0000
    03 777777 07 6578616d706c65 04 74657374 00   0001 0001
    c01d 0001 0001 0000003c 0004 c6120001
  ]]
  local msg = assert(dns.decode(bytes))
  test.equal(msg.answers[1].name, "")
  test.equal(msg.answers[1].address, "198.18.0.1")
end

-- An answer whose data (an unknown type: opaque bytes) holds the root and then `count`
-- pointers, each to the one before it; a second answer's owner is a pointer to the last,
-- so its name goes through count + 1 pointers.
local function pointer_chain(count)
  local chain, first = {"\0"}, 12 + 5 + 11   -- header, the root question, the first answer's fields
  for i = 1, count do chain[#chain + 1] = string.pack(">I2", 0xC000 | (i == 1 and first or first + 2 * i - 3)) end
  local data = table.concat(chain)
  local last = first + #data - 2
  return unhex("0001 8000 0001 0002 0000 0000") .. "\0" .. unhex("00ff 0001")
      .. "\0" .. string.pack(">I2I2I4s2", 0xff00, 1, 60, data)
      .. string.pack(">I2I2I2I4I2", 0xC000 | last, 0xff00, 1, 60, 0)
end

function test_a_name_through_more_than_127_pointers_is_refused()
  local message = assert(dns.decode(pointer_chain(126)))
  test.equal(message.answers[2].name, "", "127 pointers lead to the root")
  local refused, why = dns.decode(pointer_chain(127))
  test.equal(refused, nil)
  test.expect(why and why:find("more than 127 compression pointers", 1, true), tostring(why))
end

