-- tapir.proto.tcp_options against real segments: fixtures/tcp-linux-handshake.pcap is a
-- Linux 6 kernel's connection (nc between two namespaces: SYN, SYN-ACK, ACK, data);
-- fixtures/tcp-options-scapy.pcap a segment from Scapy 2.8's TCP options encoder with
-- SACK blocks, an experimental option (RFC 6994 kind 253) and EOL padding. The expected
-- values are tshark's (-e tcp.options.mss_val -e tcp.options.wscale.shift ...).
local tcp_options = require "tapir.proto.tcp_options"

local hex, unhex = require("tapir.testing.hex").hex, require("tapir.testing.hex").unhex

local function options_of(file)
  local list = {}
  for i, frame in ipairs(test.pcap(file)) do list[i] = test.decode(frame).tcp.options end
  return list
end

local function kinds(options)
  local names = {}
  for i, option in ipairs(options.list) do names[i] = tostring(option.kind) end
  return table.concat(names, " ")
end

function test_linux_syn_and_syn_ack_as_tshark_reads_them()
  local segments = options_of("fixtures/tcp-linux-handshake.pcap")
  local syn = assert(tcp_options.decode(segments[1]))
  test.equal(kinds(syn), "mss sack_permitted timestamps nop window_scale")
  test.equal(syn.mss, 1460)
  test.equal(syn.sack_permitted, true)
  test.equal(syn.timestamps.tsval, 747774703)
  test.equal(syn.timestamps.tsecr, 0)
  test.equal(syn.window_scale, 10)
  local syn_ack = assert(tcp_options.decode(segments[2]))
  test.equal(syn_ack.timestamps.tsval, 1388790717)
  test.equal(syn_ack.timestamps.tsecr, 747774703, "echoes the SYN's")
  local ack = assert(tcp_options.decode(segments[3]))
  test.equal(kinds(ack), "nop nop timestamps")
  test.equal(ack.mss, nil)
  test.equal(ack.sack_permitted, nil)
end

function test_scapy_sack_experimental_and_eol()
  local options = assert(tcp_options.decode(options_of("fixtures/tcp-options-scapy.pcap")[1]))
  test.equal(kinds(options), "nop nop timestamps nop nop sack 253 eol")
  test.equal(options.timestamps.tsval, 123456789)
  test.equal(options.timestamps.tsecr, 987654321)
  test.equal(#options.sack, 2)
  test.equal(options.sack[1].left, 5100)
  test.equal(options.sack[1].right, 5200)
  test.equal(options.sack[2].left, 5300)
  test.equal(options.sack[2].right, 5400)
  test.equal(options.list[7].data, "\18\52", "the experiment id 0x1234")
  test.equal(options.list[8].padding, "\0\0\0", "the zero bytes after EOL")
end

function test_captured_options_encode_byte_for_byte()
  for _, file in ipairs{"fixtures/tcp-linux-handshake.pcap", "fixtures/tcp-options-scapy.pcap"} do
    for i, bytes in ipairs(options_of(file)) do
      test.equal(hex(assert(tcp_options.encode(assert(tcp_options.decode(bytes))))), hex(bytes), file .. " #" .. i)
    end
  end
end

function test_named_options_as_linux_lays_them_out()
  -- The same bytes as the captured SYN: MSS, SACK-permitted and timestamps, NOP, window scale.
  local syn = options_of("fixtures/tcp-linux-handshake.pcap")[1]
  test.equal(hex(assert(tcp_options.encode{mss = 1460, sack_permitted = true, window_scale = 10,
                                           timestamps = {tsval = 747774703, tsecr = 0}})), hex(syn))
  -- Without timestamps Linux pads SACK-permitted with two NOPs (RFC 9293 3.2 lays out each kind).
  test.equal(hex(assert(tcp_options.encode{mss = 1460, sack_permitted = true, window_scale = 7})),
             hex(unhex "020405b4 01010402 01030307"))
  test.equal(hex(assert(tcp_options.encode{sack = {{left = 1, right = 2}}})), hex(unhex "0101050a 00000001 00000002"))
  test.equal(assert(tcp_options.encode{}), "", "no options")
end

function test_build_tcp_takes_what_encode_gives()
  local options = assert(tcp_options.encode{mss = 1400, window_scale = 2})
  local frame = tapir.build.eth{src = "02:00:00:00:00:01", dst = "02:00:00:00:00:02"}
      .. tapir.build.ip{src = "198.18.0.1", dst = "198.18.0.2", proto = 6,
                        payload = tapir.build.tcp{sport = 1, dport = 2, flags = "S", options = options}}
  local decoded = assert(tcp_options.decode(test.decode(frame).tcp.options))
  test.equal(decoded.mss, 1400)
  test.equal(decoded.window_scale, 2)
end

function test_odd_lengths_are_kept_as_numbered_kinds()
  local options = assert(tcp_options.decode(unhex "0203 05 0402 0502 0000"))
  test.equal(options.list[1].kind, 2, "an MSS of 3 bytes is not read as one")
  test.equal(options.list[1].data, "\5")
  test.equal(options.mss, nil)
  test.equal(options.list[2].kind, "sack_permitted")
  test.equal(options.list[3].kind, 5, "a SACK with no block")
  test.equal(hex(assert(tcp_options.encode(options))), "0203050402050200" .. "00")
end

function test_malformed_input_gives_nil_and_why()
  local cases = {
    {unhex "02", "option 2 at byte 1 has no length"},
    {unhex "0101 0801", "option 8 at byte 3: length 1, under 2"},
    {unhex "0204 05", "option 2 at byte 1: its 4 bytes run past the end"},
    {string.rep("\1", 41), "41 bytes of options, over 40"},
    {false, "bytes expected, got boolean"},
  }
  for _, case in ipairs(cases) do
    local options, why = tcp_options.decode(case[1])
    test.equal(options, nil)
    test.equal(why, case[2])
  end
end

function test_bad_tables_give_nil_and_why()
  local cases = {
    {{mss = 70000}, "mss option: field 'mss': an integer 0..65535 expected, got 70000"},
    {{timestamps = 5}, "field 'timestamps': {tsval =, tsecr =} expected, got number"},
    {{timestamps = {tsecr = 1}}, "timestamps option: field 'tsval': an integer 0..4294967295 expected, got nil"},
    {{sack = {}}, "sack option: field 'blocks': 1 to 4 blocks expected"},
    {{list = {{kind = "nope"}}}, "option kind nope: a kind name or a number 0..255 expected"},
    {{list = {{kind = 30, data = string.rep("x", 39)}}}, "option 30: field 'data': at most 38 bytes expected"},
    {{list = {{kind = "mss", mss = 1}, {kind = 30, data = string.rep("x", 36)}}}, "42 bytes of options, over 40"},
  }
  for _, case in ipairs(cases) do
    local bytes, why = tcp_options.encode(case[1])
    test.equal(bytes, nil)
    test.equal(why, case[2])
  end
end
