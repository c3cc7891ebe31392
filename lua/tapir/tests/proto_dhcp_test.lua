-- tapir.proto.dhcp, the codec the server is built on: a DISCOVER laid out by hand from
-- RFC 2131 2 and RFC 2132, decoded field by field and built again byte for byte; the typed
-- option values against the RFCs' own examples.
local dhcp = require "tapir.proto.dhcp"

local hex, unhex = require("tapir.testing.hex").hex, require("tapir.testing.hex").unhex

local DISCOVER = unhex([[
  01 01 06 00  c0 ff ee 01  00 03 80 00
  00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00
  02 00 00 00 d0 01  00 00 00 00 00 00 00 00 00 00]])
  .. string.rep("\0", 192)
  .. unhex([[63 82 53 63
  35 01 01
  32 04 c6 12 00 07
  37 05 01 03 06 79 2a
  0c 03 61 62 63
  ff]])

function test_a_discover_decodes_field_by_field()
  local msg = assert(dhcp.decode(DISCOVER))
  test.equal(msg.op, 1)
  test.equal(msg.htype, 1)
  test.equal(msg.hlen, 6)
  test.equal(msg.xid, 0xc0ffee01)
  test.equal(msg.secs, 3)
  test.equal(msg.broadcast, true)
  test.equal(msg.ciaddr, "0.0.0.0")
  test.equal(msg.mac, "02:00:00:00:d0:01")
  test.equal(msg.type, dhcp.DISCOVER)
  test.equal(msg.options[50], "\198\18\0\7")
  test.equal(msg.options[55], "\1\3\6\121\42")
  test.equal(msg.options[12], "abc")
  test.equal(table.concat(msg.order, " "), "53 50 55 12")
end

function test_a_discover_encodes_byte_for_byte()
  local bytes = assert(dhcp.encode{
    op = 1, xid = 0xc0ffee01, secs = 3, broadcast = true, mac = "02:00:00:00:d0:01", type = dhcp.DISCOVER,
    options = {[50] = "\198\18\0\7", [55] = "\1\3\6\121\42", [12] = "abc"}, order = {50, 55, 12},
  })
  test.equal(hex(bytes:sub(1, #DISCOVER)), hex(DISCOVER))
  test.equal(#bytes, 300, "padded to 300 bytes")
  test.equal(bytes:sub(#DISCOVER + 1), string.rep("\0", 300 - #DISCOVER))
end

function test_round_trips_and_long_options()
  local msg = assert(dhcp.decode(DISCOVER))
  local again = assert(dhcp.decode(assert(dhcp.encode(msg))))
  for _, field in ipairs({"op", "xid", "secs", "flags", "mac", "type", "ciaddr", "giaddr"}) do
    test.equal(again[field], msg[field], field)
  end
  local long = string.rep("x", 300)
  local split = assert(dhcp.decode(assert(dhcp.encode{op = 2, mac = "02:00:00:00:00:01", options = {[43] = long}})))
  test.equal(split.options[43], long, "over 255 bytes: several options, joined again (RFC 3396)")
end

function test_typed_values_match_the_rfcs()
  -- RFC 3442's table: 0/0 -> 1 byte, 10/8 -> 2, 192.168.0.0/16 -> 3, 129.210.177.132/25 -> 5
  test.equal(hex(assert(dhcp.classless_routes{
    {prefix = "0.0.0.0", length = 0, router = "198.18.0.1"},
    {prefix = "10.0.0.0", length = 8, router = "198.18.0.1"},
    {prefix = "129.210.177.128", length = 25, router = "198.18.0.1"},
  })), "00c6120001" .. "080ac6120001" .. "1981d2b180c6120001")
  local routes = assert(dhcp.read_classless_routes(unhex("1981d2b180c6120001")))
  test.equal(routes[1].prefix, "129.210.177.128")
  test.equal(routes[1].length, 25)
  -- RFC 3397's example names, uncompressed; its compressed form read back
  test.equal(assert(dhcp.search_list{"eng.apple.com", "marketing.apple.com"}),
             "\3eng\5apple\3com\0\9marketing\5apple\3com\0")
  local names = assert(dhcp.read_search_list("\3eng\5apple\3com\0\9marketing\xc0\4"))
  test.equal(names[2], "marketing.apple.com")
  test.equal(hex(assert(dhcp.addresses{"198.18.0.1", "198.18.0.2"})), "c6120001c6120002")
end

function test_bad_messages_are_refused_with_a_reason()
  test.equal(select(2, dhcp.decode(DISCOVER:sub(1, 239))), "239 bytes, shorter than a header and magic cookie (240)")
  test.equal(select(2, dhcp.decode(DISCOVER:sub(1, 236) .. "junk" .. DISCOVER:sub(241))), "bad magic cookie")
  test.equal(select(2, dhcp.decode(DISCOVER:sub(1, 240) .. "\50\9\1")), "option 50 (length 9) runs past the end")
  test.equal(select(2, dhcp.encode{ciaddr = "1.2.3"}), "'ciaddr' = 1.2.3 is not an IPv4 address")
end

-- Real clients and a real encoder: fixtures/dhcp-udhcpc-dhclient.pcap holds the DISCOVERs
-- of BusyBox udhcpc 1.35 (`udhcpc -x hostname:tapirtest`) and ISC dhclient 4.4 on a veth;
-- fixtures/dhcp-scapy-offer.pcap an OFFER from Scapy 2.8's BOOTP/DHCP encoders. Expected
-- values are tshark's (tshark -V -O dhcp).
local function payloads(file)
  local list = {}
  for i, frame in ipairs(test.pcap(file)) do list[i] = test.decode(frame).payload end
  return list
end

function test_udhcpc_and_dhclient_discovers_as_tshark_reads_them()
  local discovers = payloads("fixtures/dhcp-udhcpc-dhclient.pcap")
  local udhcpc, dhclient = assert(dhcp.decode(discovers[1])), assert(dhcp.decode(discovers[2]))
  test.equal(udhcpc.type, dhcp.DISCOVER)
  test.equal(udhcpc.xid, 0xcff62a1b)
  test.equal(udhcpc.broadcast, false)
  test.equal(udhcpc.mac, "62:50:72:10:fb:00")
  test.equal(table.concat(udhcpc.order, " "), "53 57 55 12 60 61")
  test.equal(string.unpack(">I2", udhcpc.options[dhcp.OPTION.MAX_SIZE]), 576)
  test.equal(hex(udhcpc.options[dhcp.OPTION.PARAMETERS]), "0103060c0f1c2a")
  test.equal(udhcpc.options[dhcp.OPTION.HOST_NAME], "tapirtest")
  test.equal(udhcpc.options[60], "udhcp 1.35.0", "vendor class")
  test.equal(udhcpc.options[dhcp.OPTION.CLIENT_ID], "\1" .. unhex "625072 10fb00", "type 1 and the MAC")
  test.equal(dhclient.type, dhcp.DISCOVER)
  test.equal(dhclient.xid, 0x7845c155)
  test.equal(table.concat(dhclient.order, " "), "53 12 55")
  test.equal(hex(dhclient.options[dhcp.OPTION.PARAMETERS]), "011c02030f06770c2c2f1a792a", "13 items, 119 and 121 among them")
end

function test_scapy_offer_as_tshark_reads_it()
  local offer = assert(dhcp.decode(payloads("fixtures/dhcp-scapy-offer.pcap")[1]))
  test.equal(offer.op, 2)
  test.equal(offer.type, dhcp.OFFER)
  test.equal(offer.broadcast, true)
  test.equal(offer.yiaddr, "198.18.5.50")
  test.equal(offer.siaddr, "198.18.5.1")
  test.equal(offer.mac, "62:6f:7d:2a:1b:2c")
  test.equal(dhcp.read_addresses(offer.options[dhcp.OPTION.SERVER_ID])[1], "198.18.5.1")
  test.equal(string.unpack(">I4", offer.options[dhcp.OPTION.LEASE_TIME]), 3600)
  test.equal(table.concat(dhcp.read_addresses(offer.options[dhcp.OPTION.DNS]), " "), "198.18.5.1 198.18.5.2")
  test.equal(offer.options[dhcp.OPTION.DOMAIN], "example.test")
  test.equal(string.unpack(">I4", offer.options[dhcp.OPTION.RENEWAL_TIME]), 1800)
end

function test_captured_messages_encode_byte_for_byte()
  for _, file in ipairs{"fixtures/dhcp-udhcpc-dhclient.pcap", "fixtures/dhcp-scapy-offer.pcap"} do
    for i, bytes in ipairs(payloads(file)) do
      local encoded = assert(dhcp.encode(assert(dhcp.decode(bytes))))
      -- Scapy does not pad to 300 bytes (RFC 1542 2.1); encode does.
      test.equal(hex(encoded:sub(1, #bytes)), hex(bytes), file .. " #" .. i)
      test.equal(encoded:sub(#bytes + 1), string.rep("\0", #encoded - #bytes))
    end
  end
end

function test_every_truncation_of_a_real_discover_is_refused_or_read()
  local discover = payloads("fixtures/dhcp-udhcpc-dhclient.pcap")[1]
  for length = 0, #discover - 1 do
    local msg, why = dhcp.decode(discover:sub(1, length))
    test.expect(msg or type(why) == "string", "length " .. length)
  end
  test.equal(select(2, dhcp.decode(discover:sub(1, 239))), "239 bytes, shorter than a header and magic cookie (240)")
end

function test_the_message_type_stays_where_it_came()
  -- Option 53 after another option: kept there by a round trip (found by the fuzz target:
  -- encode used to write `type` first), and one of two bytes kept whole.
  for _, value in ipairs{"\1", "\1\9"} do
    local msg = assert(dhcp.decode(assert(dhcp.encode{op = 1, mac = "02:00:00:00:00:01",
                                                      options = {[12] = "host", [53] = value}, order = {12, 53}})))
    test.equal(table.concat(msg.order, " "), "12 53")
    test.equal(msg.type, #value == 1 and dhcp.DISCOVER or nil, "a type only from one byte")
    local again = assert(dhcp.decode(assert(dhcp.encode(msg))))
    test.equal(table.concat(again.order, " "), "12 53", "#53 = " .. #value)
    test.equal(again.options[53], value)
  end
  -- A type given alone is written first, as before.
  local built = assert(dhcp.decode(assert(dhcp.encode{op = 1, mac = "02:00:00:00:00:01", type = dhcp.REQUEST,
                                                      options = {[12] = "host"}, order = {12}})))
  test.equal(table.concat(built.order, " "), "53 12")
  test.equal(built.type, dhcp.REQUEST)
  test.equal(select(2, dhcp.encode{type = 300}), "'type' must be an integer 0 to 255")
end
