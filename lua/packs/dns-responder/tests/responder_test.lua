-- The responder with its default settings: the demo zone in example.zone.
local config = test.config
local PEER_MAC = "02:00:00:00:00:01"
local RD, QR, AA, TC = 0x0100, 0x8000, 0x0400, 0x0200

local function wire(name)
  local parts = {}
  for label in (name .. "."):gmatch("(.-)%.") do parts[#parts + 1] = string.char(#label) .. label end
  return table.concat(parts) .. "\0"
end

-- A query: id 0x1234, RD set, one question; opts: id, flags, qclass, edns (UDP size),
-- dnssec_ok, edns_version, options (OPT RDATA), extra (bytes appended), counts.
local function query(name, qtype, opts)
  opts = opts or {}
  local additional = ""
  if opts.edns then
    local rdata = opts.options or ""
    additional = "\0" .. string.pack(">I2I2I1I1I2s2", 41, opts.edns, 0, opts.edns_version or 0,
                                     opts.dnssec_ok and 0x8000 or 0, rdata)
  end
  local counts = opts.counts or {1, 0, 0, opts.edns and 1 or 0}
  return string.pack(">I2I2I2I2I2I2", opts.id or 0x1234, opts.flags or RD, table.unpack(counts))
      .. wire(name) .. string.pack(">I2I2", qtype, opts.qclass or 1) .. additional .. (opts.extra or "")
end

local function datagram(payload, dst, dport)
  return tapir.build.eth{src = PEER_MAC, dst = config.mac, type = 0x0800}
      .. tapir.build.ip{src = "198.18.0.1", dst = dst or config.ip, proto = 17,
                        payload = tapir.build.udp{sport = 40000, dport = dport or config.port, payload = payload}}
end

-- Sends a DNS payload; returns the reply's DNS payload and its decoded frame.
local function ask(payload)
  test.inject(datagram(payload))
  local out = test.written()
  test.equal(#out, 1, "one reply")
  local frame = test.decode(out[1])
  test.equal(frame.udp.sport, config.port)
  test.equal(frame.udp.dport, 40000)
  test.equal(frame.ip.src, config.ip)
  test.equal(frame.eth.dst, PEER_MAC)
  return frame.payload, frame
end

-- A name at `pos` (1-based) in `message`, pointers followed; returns it and the position after.
local function read_name(message, pos)
  local labels, after, jumps = {}, nil, 0
  while true do
    local length = message:byte(pos)
    if length >= 0xC0 then
      after = after or pos + 2
      pos = ((length & 0x3F) << 8 | message:byte(pos + 1)) + 1
      jumps = jumps + 1
      assert(jumps < 20, "pointer loop in the reply")
    elseif length == 0 then
      return table.concat(labels, "."), after or pos + 1
    else
      labels[#labels + 1] = message:sub(pos + 1, pos + length)
      pos = pos + 1 + length
    end
  end
end

-- The reply's header fields and sections: {id, flags, rcode, qd, an, ns, ar, question = {name, type, class},
-- answers = {{name, type, class, ttl, rdata, rdata_at}, ...}, additional = {...}}.
local function parse(message)
  local r = {}
  r.id, r.flags, r.qd, r.an, r.ns, r.ar = string.unpack(">I2I2I2I2I2I2", message)
  r.rcode = r.flags & 0xF
  local pos = 13
  if r.qd == 1 then
    local name
    name, pos = read_name(message, pos)
    local qtype, qclass = string.unpack(">I2I2", message, pos)
    r.question = {name = name, type = qtype, class = qclass}
    pos = pos + 4
  end
  local function section(count)
    local list = {}
    for i = 1, count do
      local rr = {}
      rr.name, pos = read_name(message, pos)
      local length
      rr.type, rr.class, rr.ttl, length = string.unpack(">I2I2I4I2", message, pos)
      rr.rdata_at = pos + 10
      rr.rdata = message:sub(pos + 10, pos + 9 + length)
      pos = pos + 10 + length
      list[i] = rr
    end
    return list
  end
  r.answers = section(r.an)
  r.authority = section(r.ns)
  r.additional = section(r.ar)
  test.equal(pos, #message + 1, "the reply's sections fill it exactly")
  return r
end

-- The CHAOS TXT counters as a table.
local function counters()
  local r = parse(ask(query("counters.dns-responder", 16, {qclass = 3})))
  local values, pos, rdata = {}, 1, r.answers[1].rdata
  while pos <= #rdata do
    local text = rdata:sub(pos + 1, pos + rdata:byte(pos))
    local name, value = text:match("^(.-)=(%d+)$")
    values[name] = tonumber(value)
    pos = pos + 1 + #text
  end
  return values
end

local function hex(bytes)
  return (bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- Answers, byte for byte ----------------------------------------------------------------

function test_an_a_query_is_answered_byte_for_byte()
  local q = query("www.example.test", 1)
  local reply = ask(q)
  local expected = string.pack(">I2I2I2I2I2I2", 0x1234, QR | AA | RD, 1, 1, 0, 0)
      .. q:sub(13)                                             -- the question, as asked
      .. "\xc0\x0c" .. string.pack(">I2I2I4I2", 1, 1, 300, 4) .. "\198\18\0\9"
  test.equal(hex(reply), hex(expected))
end

function test_an_aaaa_query_gets_the_address()
  local r = parse(ask(query("www.example.test", 28)))
  test.equal(r.rcode, 0)
  test.equal(#r.answers, 1)
  test.equal(r.answers[1].type, 28)
  test.equal(hex(r.answers[1].rdata), "20010002000000000000000000000009")
end

function test_names_are_case_insensitive_and_the_question_is_echoed_as_asked()
  local q = query("WwW.ExAmPlE.TeSt", 1)
  local reply = ask(q)
  local r = parse(reply)
  test.equal(r.an, 1)
  test.equal(r.question.name, "WwW.ExAmPlE.TeSt")
  test.equal(reply:sub(13, #q), q:sub(13))
end

function test_an_explicit_ptr_answers_dig_x()
  local r = parse(ask(query("2.0.18.198.in-addr.arpa", 12)))
  test.equal(r.rcode, 0)
  test.equal(#r.answers, 1)
  test.equal(r.answers[1].type, 12)
  test.equal(read_name(ask(query("2.0.18.198.in-addr.arpa", 12)), r.answers[1].rdata_at), "ns.example.test")
end

function test_ptr_is_synthesized_from_a_and_aaaa_records()
  local reply = ask(query("9.0.18.198.in-addr.arpa", 12))
  local r = parse(reply)
  test.equal(#r.answers, 1)
  test.equal(read_name(reply, r.answers[1].rdata_at), "www.example.test")
  local nibbles = "9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.2.ip6.arpa"
  reply = ask(query(nibbles, 12))
  r = parse(reply)
  test.equal(#r.answers, 1)
  test.equal(read_name(reply, r.answers[1].rdata_at), "www.example.test")
end

function test_cname_chains_are_followed_with_compressed_names()
  local reply = ask(query("chain.example.test", 1))
  local r = parse(reply)
  test.equal(r.rcode, 0)
  test.equal(#r.answers, 3)
  test.equal(r.answers[1].name, "chain.example.test")
  test.equal(r.answers[1].type, 5)
  test.equal(read_name(reply, r.answers[1].rdata_at), "alias.example.test")
  test.equal(r.answers[2].name, "alias.example.test")
  test.equal(r.answers[2].ttl, 60)
  test.equal(r.answers[3].name, "www.example.test")
  test.equal(hex(r.answers[3].rdata), "c6120009")
  -- "alias" then a pointer to "example.test" in the question; the 2nd owner points at "alias..."
  local question_end = 12 + #wire("chain.example.test") + 4
  local first_rdata = r.answers[1].rdata
  test.equal(hex(first_rdata), hex("\5alias\xc0\x12"))   -- 0x12: "example" in the question
  test.equal(hex(reply:sub(r.answers[1].rdata_at + #first_rdata, r.answers[1].rdata_at + #first_rdata + 1)),
             string.format("c0%02x", r.answers[1].rdata_at - 1), "the next owner points at the CNAME target")
  test.expect(question_end < r.answers[1].rdata_at)
end

function test_a_cname_query_gets_only_the_cname()
  local r = parse(ask(query("alias.example.test", 5)))
  test.equal(#r.answers, 1)
  test.equal(r.answers[1].type, 5)
end

function test_a_cname_to_a_name_we_do_not_know_is_nxdomain_with_the_cname()
  local r = parse(ask(query("dangling.example.test", 1)))
  test.equal(r.rcode, 3)
  test.equal(#r.answers, 1)
  test.equal(r.answers[1].type, 5)
end

function test_txt_strings_come_back_length_prefixed()
  local r = parse(ask(query("example.test", 16)))
  test.equal(#r.answers, 1)
  test.equal(r.answers[1].rdata, "\14v=spf1 mx -all")
end

function test_mx_answers_carry_preference_and_a_compressed_host()
  local reply = ask(query("example.test", 15))
  local r = parse(reply)
  test.equal(#r.answers, 2)
  test.equal(string.unpack(">I2", r.answers[1].rdata), 10)
  test.equal(hex(r.answers[1].rdata), hex("\0\10\4mail\xc0\x0c"))
  test.equal(read_name(reply, r.answers[1].rdata_at + 2), "mail.example.test")
  test.equal(string.unpack(">I2", r.answers[2].rdata), 20)
  test.equal(read_name(reply, r.answers[2].rdata_at + 2), "backup-mx.example.net")
end

function test_any_returns_the_names_first_rrset()
  local r = parse(ask(query("www.example.test", 255)))   -- RFC 8482 4.1, as NSD answers over UDP
  test.equal(#r.answers, 1)
  test.equal(r.answers[1].type, 1)
  r = parse(ask(query("example.test", 255)))
  test.equal(#r.answers, 1)
  test.equal(r.answers[1].type, 6, "the SOA, first in the zone file")
end

-- Negative answers -----------------------------------------------------------------------

function test_an_unknown_name_is_nxdomain_with_aa()
  local q = query("nope.example.test", 1)
  local reply = ask(q)
  local r = parse(reply)
  test.equal(r.id, 0x1234)
  test.equal(r.rcode, 3)
  test.equal(r.flags & (QR | AA | RD), QR | AA | RD)
  test.equal(r.flags & 0x0080, 0, "RA clear: no recursion here")
  test.equal(r.an, 0)
  test.equal(reply:sub(13, #q), q:sub(13))
  test.equal(r.ns, 1, "the zone's SOA in the authority section (RFC 2308)")
  test.equal(r.authority[1].name, "example.test")
  test.equal(r.authority[1].type, 6)
  test.equal(r.authority[1].ttl, 300, "the lesser of the SOA's TTL and its minimum")
end

function test_a_known_name_without_the_type_is_noerror_no_data()
  local r = parse(ask(query("www.example.test", 16)))
  test.equal(r.rcode, 0)
  test.equal(r.flags & AA, AA)
  test.equal(r.an, 0)
end

function test_other_classes_are_refused()
  local r = parse(ask(query("www.example.test", 1, {qclass = 3})))
  test.equal(r.rcode, 5)
  test.equal(r.flags & AA, 0)
  test.equal(r.an, 0)
  r = parse(ask(query("www.example.test", 1, {qclass = 255})))
  test.equal(r.rcode, 5)
end

function test_opcodes_other_than_query_are_notimp()
  local reply = ask(query("www.example.test", 1, {flags = (4 << 11) | RD, id = 7}))   -- NOTIFY
  local r = parse(reply)
  test.equal(r.id, 7)
  test.equal(r.rcode, 4)
  test.equal((r.flags >> 11) & 0xF, 4, "the opcode is echoed")
  test.equal(r.flags & QR, QR)
end

function test_the_id_and_rd_are_echoed()
  local r = parse(ask(query("www.example.test", 1, {id = 0xbeef, flags = 0})))
  test.equal(r.id, 0xbeef)
  test.equal(r.flags & RD, 0)
end

-- EDNS0 ----------------------------------------------------------------------------------

function test_an_opt_is_echoed_with_our_udp_size_and_the_do_bit()
  local r = parse(ask(query("www.example.test", 1, {edns = 1232, dnssec_ok = true,
                                                    options = string.pack(">I2s2", 10, "12345678")})))
  test.equal(r.an, 1)
  test.equal(#r.additional, 1)
  local opt = r.additional[1]
  test.equal(opt.name, "")
  test.equal(opt.type, 41)
  test.equal(opt.class, 4096)
  test.equal(opt.ttl, 0x8000, "extended rcode 0, version 0, DO")
  test.equal(opt.rdata, "")
end

function test_a_query_without_opt_gets_none()
  local r = parse(ask(query("www.example.test", 1)))
  test.equal(r.ar, 0)
end

function test_odd_opts_get_formerr_or_badvers_not_a_crash()
  local bad_options = string.pack(">I2I2", 10, 40) .. "short"          -- an option longer than its RR
  local r = parse(ask(query("www.example.test", 1, {edns = 1232, options = bad_options})))
  test.equal(r.rcode, 1)
  local opt = "\0" .. string.pack(">I2I2I4s2", 41, 1232, 0, "")
  r = parse(ask(query("www.example.test", 1, {counts = {1, 0, 0, 2}, extra = opt .. opt})))
  test.equal(r.rcode, 1, "two OPTs: FORMERR")
  r = parse(ask(query("www.example.test", 1, {counts = {1, 0, 0, 1},
                                              extra = "\3www\0" .. string.pack(">I2I2I4s2", 41, 1232, 0, "")})))
  test.equal(r.rcode, 1, "an OPT not at the root: FORMERR")
  r = parse(ask(query("www.example.test", 1, {edns = 1232, edns_version = 1})))
  test.equal(r.rcode, 0)
  test.equal(r.an, 0)
  test.equal(r.additional[1].ttl >> 24, 1, "BADVERS (16) in the OPT's extended rcode")
  r = parse(ask(query("www.example.test", 1, {edns = 0})))
  test.equal(r.an, 1, "a UDP size under 512 counts as 512")
end

-- Size: truncation and big answers --------------------------------------------------------

function test_an_answer_over_512_bytes_without_edns_is_truncated_to_the_question()
  local q = query("big.example.test", 16)
  local reply = ask(q)
  local r = parse(reply)
  test.equal(r.flags & TC, TC)
  test.equal(r.an, 0)
  test.equal(reply:sub(13), q:sub(13))
end

function test_an_answer_over_the_edns_size_is_truncated_with_the_opt()
  local r = parse(ask(query("big.example.test", 16, {edns = 1232})))
  test.equal(r.flags & TC, TC)
  test.equal(r.an, 0)
  test.equal(#r.additional, 1)
  test.equal(r.additional[1].type, 41)
end

function test_a_big_answer_within_the_edns_size_is_written_whole()
  local reply, frame = ask(query("big.example.test", 16, {edns = 4096}))
  local r = parse(reply)
  test.equal(r.flags & TC, 0)
  test.equal(#r.answers, 8)
  for i, rr in ipairs(r.answers) do
    test.equal(#rr.rdata, 251)
    test.equal(rr.rdata:byte(1), 250)
    test.equal(rr.rdata:sub(2, 7), "big-" .. i .. "-")
  end
  test.expect(#reply > 1500, "over 1500 bytes: " .. #reply)
  test.equal(frame.ip.len, 20 + 8 + #reply, "one datagram, not cut")
  test.equal(frame.udp.len, 8 + #reply)
end

-- Malformed queries: counted, dropped, and the next one answered --------------------------

function test_malformed_queries_are_dropped_counted_and_the_next_is_answered()
  local before = counters().malformed
  local header = string.pack(">I2I2I2I2I2I2", 1, RD, 1, 0, 0, 0)
  local bad = {
    "\1\2\3",                                                        -- shorter than a header
    header,                                                          -- a question the count claims
    header .. "\3www\7exam",                                         -- a name past the end
    header .. "\3www\0\0\1",                                         -- a question cut short
    header .. "\64" .. string.rep("a", 64) .. "\0\0\1\0\1",          -- a label of 64 bytes
    header .. "\xc0\x0c\0\1\0\1",                                    -- a pointer in the question (to itself)
    header .. string.rep("\1a", 128) .. "\0\0\1\0\1",                -- a name of 257 bytes
    string.pack(">I2I2I2I2I2I2", 1, RD, 1, 0, 0, 1) .. wire("www.example.test") .. "\0\1\0\1"
        .. "\xc0\x22" .. string.pack(">I2I2I4I2", 41, 512, 0, 0),   -- a pointer forward (a loop)
    string.pack(">I2I2I2I2I2I2", 1, RD, 1, 5, 0, 0) .. wire("www.example.test") .. "\0\1\0\1",  -- 5 answers, none there
    string.pack(">I2I2I2I2I2I2", 1, RD, 1, 0, 0, 1) .. wire("www.example.test") .. "\0\1\0\1"
        .. "\0" .. string.pack(">I2I2I4I2", 41, 512, 0, 9) .. "\0",  -- RDATA past the end
  }
  for _, payload in ipairs(bad) do test.inject(datagram(payload)) end
  test.equal(#test.written(), 0, "no reply to any of them")
  test.equal(counters().malformed, before + #bad)
  local r = parse(ask(query("www.example.test", 1)))
  test.equal(r.an, 1)
end

function test_responses_are_never_answered()
  test.inject(datagram(query("www.example.test", 1, {flags = QR})))
  test.equal(#test.written(), 0)
end

function test_several_questions_get_formerr()
  local two = string.pack(">I2I2I2I2I2I2", 9, RD, 2, 0, 0, 0) .. wire("www.example.test") .. "\0\1\0\1"
      .. "\xc0\x0c\0\28\0\1"
  local r = parse(ask(two))
  test.equal(r.rcode, 1)
  test.equal(r.qd, 0)
end

-- Addressing ------------------------------------------------------------------------------

function test_other_addresses_and_ports_are_left_alone()
  test.inject(datagram(query("www.example.test", 1), "198.18.0.50"))
  test.inject(datagram(query("www.example.test", 1), nil, 5353))
  test.equal(#test.written(), 0)
end

function test_arp_for_its_address_is_answered()
  test.inject(tapir.build.eth{src = PEER_MAC, dst = "ff:ff:ff:ff:ff:ff", type = 0x0806}
           .. tapir.build.arp{op = 1, sha = PEER_MAC, spa = "198.18.0.1", tha = "00:00:00:00:00:00", tpa = config.ip})
  local out = test.written()
  test.equal(#out, 1)
  local reply = test.decode(out[1])
  test.equal(reply.arp.op, 2)
  test.equal(reply.arp.sha, config.mac)
end

function test_queries_over_ipv6_are_answered()
  test.inject(tapir.build.eth{src = PEER_MAC, dst = config.mac, type = 0x86dd}
           .. tapir.build.ipv6{src = "2001:2::1", dst = config.ipv6, nxt = 17,
                               payload = tapir.build.udp{sport = 40001, dport = 53, payload = query("www.example.test", 28)}})
  local out = test.written()
  test.equal(#out, 1)
  local frame = test.decode(out[1])
  test.equal(frame.ipv6.src, config.ipv6)
  test.equal(parse(frame.payload).an, 1)
end

-- What a resolver needs from an authority (RFC 1034 4.3.2, RFC 2308) ----------------------

function test_no_data_carries_the_soa_with_the_negative_ttl()
  local r = parse(ask(query("www.example.test", 16)))
  test.equal(r.rcode, 0)
  test.equal(r.an, 0)
  test.equal(r.ns, 1)
  test.equal(r.authority[1].name, "example.test")
  test.equal(r.authority[1].type, 6)
  test.equal(r.authority[1].ttl, 300)
end

function test_an_empty_non_terminal_is_noerror_not_nxdomain()
  local r = parse(ask(query("sub.example.test", 1)))
  test.equal(r.rcode, 0, "host.sub.example.test exists, so sub.example.test does")
  test.equal(r.flags & AA, AA)
  test.equal(r.an, 0)
  test.equal(r.authority[1].type, 6)
  r = parse(ask(query("_udp.example.test", 33)))
  test.equal(r.rcode, 0)
  r = parse(ask(query("other.sub.example.test", 1)))
  test.equal(r.rcode, 3, "but a name under it that is not there is NXDOMAIN")
end

function test_a_name_outside_every_zone_is_refused_without_aa()
  local q = query("www.other.test", 1, {edns = 1232})
  local reply = ask(q)
  local r = parse(reply)
  test.equal(r.rcode, 5)
  test.equal(r.flags & AA, 0)
  test.equal(r.an + r.ns, 0)
  test.equal(r.qd, 1)
  test.equal(r.additional[1].type, 41, "the OPT, as in every answer to an EDNS query")
  test.equal(r.additional[1].rdata, string.pack(">I2s2", 15, "\0\20"), "extended error 20: not authoritative")
  r = parse(ask(query("test", 1)))
  test.equal(r.rcode, 5, "the parent of a zone is outside it")
end

function test_soa_and_ns_are_answered_at_the_apex()
  local reply = ask(query("example.test", 6))
  local r = parse(reply)
  test.equal(r.an, 1)
  test.equal(r.answers[1].type, 6)
  test.equal(r.answers[1].ttl, 300)
  test.equal(read_name(reply, r.answers[1].rdata_at), "ns.example.test")
  test.equal(r.ns, 0)
  reply = ask(query("example.test", 2))
  r = parse(reply)
  test.equal(r.an, 1)
  test.equal(r.answers[1].type, 2)
  test.equal(read_name(reply, r.answers[1].rdata_at), "ns.example.test")
  test.equal(#r.additional, 1, "the name server's address")
  test.equal(r.additional[1].name, "ns.example.test")
  test.equal(hex(r.additional[1].rdata), "c6120002")
end

function test_srv_and_caa_are_served()
  local reply = ask(query("_sip._udp.example.test", 33))
  local r = parse(reply)
  test.equal(r.an, 1)
  test.equal(r.answers[1].type, 33)
  test.equal(hex(r.answers[1].rdata:sub(1, 6)), "000a000513c4")
  test.equal(r.answers[1].rdata:sub(7), "\3www\7example\4test\0", "the target, never compressed")
  test.equal(#r.additional, 0, "minimal responses: no addresses for SRV or MX targets")
  r = parse(ask(query("example.test", 257)))
  test.equal(r.an, 1)
  test.equal(r.answers[1].rdata, "\0\5issueca.example.test")
end

function test_errors_to_an_edns_query_carry_an_opt()
  local r = parse(ask(query("www.example.test", 1, {flags = (4 << 11) | RD, edns = 1232})))
  test.equal(r.rcode, 4)
  test.equal(#r.additional, 1)
  test.equal(r.additional[1].type, 41)
  local two = string.pack(">I2I2I2I2I2I2", 9, RD, 2, 0, 0, 1) .. wire("www.example.test") .. "\0\1\0\1"
      .. "\xc0\x0c\0\28\0\1" .. "\0" .. string.pack(">I2I2I4s2", 41, 1232, 0, "")
  r = parse(ask(two))
  test.equal(r.rcode, 1)
  test.equal(#r.additional, 1)
  test.equal(r.additional[1].type, 41)
  r = parse(ask(query("www.example.test", 1, {edns = 1232, options = string.pack(">I2I2", 10, 40) .. "short"})))
  test.equal(r.rcode, 1)
  test.equal(r.additional[1].type, 41)
end
