-- tapir.proto.ntp against real packets: fixtures/ntp-v4-sntp-chronyd.pcap is `sntp
-- 198.18.5.1` (ntpsec's sntp 4.2.8p15) and chronyd 4.3's answer, captured with tcpdump on
-- a veth between two namespaces; fixtures/ntp-v3-scapy-chronyd.pcap a version 3 request
-- from Scapy 2.8's NTP(version=3) and chronyd's version 3 answer. The expected values are
-- tshark's (tshark -T fields -e ntp.flags.li -e ntp.stratum -e ntp.xmt ...).
local ntp = require "tapir.proto.ntp"

local function payloads(file)
  local list = {}
  for i, frame in ipairs(test.pcap(file)) do list[i] = test.decode(frame).payload end
  return list
end

local hex = require("tapir.testing.hex").hex

local function near(actual, expected, message)
  test.expect(actual and math.abs(actual - expected) < 1e-6,
              (message or "") .. ": expected " .. string.format("%.9f", expected) .. ", got " .. tostring(actual))
end

-- 04:27:11 UTC on 6 December 2026, in Unix seconds.
local CAPTURED = 1796531231

function test_sntp_request_as_tshark_reads_it()
  local request = assert(ntp.decode(payloads("fixtures/ntp-v4-sntp-chronyd.pcap")[1]))
  test.equal(request.leap, 3, "unsynchronized")
  test.equal(request.version, 4)
  test.equal(request.mode, ntp.MODE.CLIENT)
  test.equal(request.stratum, 0)
  test.equal(request.poll, 0)
  test.equal(request.precision, 0)
  test.equal(request.root_delay, 0.0)
  test.equal(request.ref_id, "\0\0\0\0")
  test.equal(request.reference, 0)
  test.equal(request.origin, 0)
  test.equal(request.receive, 0)
  test.equal(string.format("%016x", request.transmit), "eebf629f2d67a000")
  near(ntp.time(request.transmit), CAPTURED + 0.177362442, "transmit")
  test.equal(ntp.time(request.receive), nil, "0 is not set")
  test.equal(request.key_id, nil)
  test.equal(request.extra, nil)
end

function test_chronyd_answer_as_tshark_reads_it()
  local answer = assert(ntp.decode(payloads("fixtures/ntp-v4-sntp-chronyd.pcap")[2]))
  test.equal(answer.leap, 0)
  test.equal(answer.version, 4)
  test.equal(answer.mode, ntp.MODE.SERVER)
  test.equal(answer.stratum, 3)
  test.equal(answer.precision, -26, "230 as a signed byte")
  test.equal(hex(answer.ref_id), "7f7f0101")
  near(ntp.time(answer.reference), CAPTURED - 2 + 0.446900871, "reference")
  near(ntp.time(answer.origin), CAPTURED + 0.177362442, "origin")
  near(ntp.time(answer.receive), CAPTURED + 0.177518093, "receive")
  near(ntp.time(answer.transmit), CAPTURED + 0.177596971, "transmit")
end

function test_version_3_both_ways()
  local packets = payloads("fixtures/ntp-v3-scapy-chronyd.pcap")
  local request, answer = assert(ntp.decode(packets[1])), assert(ntp.decode(packets[2]))
  test.equal(request.version, 3)
  test.equal(request.mode, ntp.MODE.CLIENT)
  test.equal(request.stratum, 2)
  test.equal(request.poll, 10)
  test.equal(hex(request.ref_id), "7f000001")
  test.equal(answer.version, 3, "chronyd answers in the version asked")
  test.equal(answer.mode, ntp.MODE.SERVER)
  test.equal(answer.poll, 10)
  test.equal(answer.origin, request.transmit)
  near(ntp.time(answer.transmit), CAPTURED + 14 + 0.420214382, "transmit")
end

function test_captured_packets_encode_byte_for_byte()
  for _, file in ipairs{"fixtures/ntp-v4-sntp-chronyd.pcap", "fixtures/ntp-v3-scapy-chronyd.pcap"} do
    for i, bytes in ipairs(payloads(file)) do
      test.equal(hex(assert(ntp.encode(assert(ntp.decode(bytes))))), hex(bytes), file .. " #" .. i)
    end
  end
end

function test_a_server_answer_built_from_a_table()
  local bytes = assert(ntp.encode{leap = 0, version = 4, mode = ntp.MODE.SERVER, stratum = 1, poll = 6,
                                  precision = -20, root_delay = 0.5, root_dispersion = 1 / 65536, ref_id = "GPS\0",
                                  reference = ntp.timestamp(CAPTURED), origin = 0x0102030405060708,
                                  receive = ntp.timestamp(CAPTURED + 0.25), transmit = ntp.timestamp(CAPTURED + 0.5)})
  -- Laid out by hand from RFC 5905 figure 8: LI 0, VN 4, mode 4; 1; 6; -20; 0.5 s; 2^-16 s;
  -- "GPS"; then 4005520031 s and fractions 0, 2^30, 2^31.
  test.equal(hex(bytes), "240106ec" .. "00008000" .. "00000001" .. "47505300"
             .. "eebf629f00000000" .. "0102030405060708" .. "eebf629f40000000" .. "eebf629f80000000")
end

function test_defaults_and_ipv4_ref_id()
  local packet = assert(ntp.decode(assert(ntp.encode{ref_id = "198.18.0.1"})))
  test.equal(packet.version, 4)
  test.equal(packet.mode, ntp.MODE.CLIENT)
  test.equal(packet.ref_id, "\198\18\0\1")
  test.equal(packet.transmit, 0)
end

function test_timestamps_and_unix_seconds()
  test.equal(ntp.timestamp(0), 2208988800 << 32, "the Unix epoch is 2208988800 s after 1900")
  test.equal(ntp.time(2208988800 << 32), 0.0)
  near(ntp.time(ntp.timestamp(CAPTURED + 0.123456789)), CAPTURED + 0.123456789, "round trip")
  -- 7 February 2036 06:28:16 UTC, where era 0 ends: 2^32 s after 1900.
  local era_end = 4294967296 - 2208988800
  test.equal(ntp.timestamp(era_end), 0, "era 1 begins at 0 seconds")
  test.equal(ntp.timestamp(era_end + 1), 1 << 32)
  test.equal(ntp.time(1 << 32), era_end + 1.0, "seconds under 2^31 are in era 1")
  test.equal(ntp.timestamp(CAPTURED + 0.9999999999), ntp.timestamp(CAPTURED + 1), "a fraction rounding up")
end

function test_a_mac_and_extension_bytes()
  local header = assert(ntp.encode{mode = ntp.MODE.CLIENT, transmit = 5})
  local with_mac = header .. "\0\0\0\7" .. string.rep("\171", 16)
  local packet = assert(ntp.decode(with_mac))
  test.equal(packet.key_id, 7)
  test.equal(packet.digest, string.rep("\171", 16))
  test.equal(ntp.encode(packet), with_mac)
  local nak = assert(ntp.decode(header .. "\0\0\0\0"))
  test.equal(nak.key_id, 0, "a crypto-NAK")
  test.equal(nak.digest, "")
  local extension = header .. "\0\4\0\16" .. string.rep("x", 12)
  packet = assert(ntp.decode(extension))
  test.equal(packet.extra, "\0\4\0\16" .. string.rep("x", 12))
  test.equal(ntp.encode(packet), extension)
end

function test_malformed_input_gives_nil_and_why()
  local cases = {
    {"", "0 bytes, shorter than an NTP header (48)"},
    {string.rep("\0", 47), "47 bytes, shorter than an NTP header (48)"},
    {42, "bytes expected, got number"},
  }
  for _, case in ipairs(cases) do
    local packet, why = ntp.decode(case[1])
    test.equal(packet, nil)
    test.equal(why, case[2])
  end
  for length = 48, 120 do
    test.expect(ntp.decode(string.rep("\255", length)), "any 48 bytes or more are a packet")
  end
end

function test_bad_tables_give_nil_and_why()
  local cases = {
    {{version = 8}, "field 'version': 8 is out of range 0..7"},
    {{stratum = "1"}, "field 'stratum': an integer expected, got string"},
    {{precision = -129}, "field 'precision': -129 is out of range -128..127"},
    {{transmit = 1.5}, "field 'transmit': an integer expected, got float"},
    {{root_delay = -1}, "field 'root_delay': seconds from 0 to 65535 expected, got -1"},
    {{ref_id = "GPS"}, "field 'ref_id': 4 bytes or IPv4 text expected, got 'GPS'"},
    {{ref_id = 1}, "field 'ref_id': 4 bytes or IPv4 text expected, got number"},
    {{extra = 1}, "field 'extra': bytes expected, got number"},
  }
  for _, case in ipairs(cases) do
    local bytes, why = ntp.encode(case[1])
    test.equal(bytes, nil)
    test.equal(why, case[2])
  end
  test.equal(select(2, ntp.encode("x")), "a table expected, got string")
end
