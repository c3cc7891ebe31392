-- tapir.proto.dhcp, the codec the server is built on: a DISCOVER laid out by hand from
-- RFC 2131 2 and RFC 2132, decoded field by field and built again byte for byte; the typed
-- option values against the RFCs' own examples.
local dhcp = require "tapir.proto.dhcp"
local client = require "support.client"

local DISCOVER = client.unhex([[
  01 01 06 00  c0 ff ee 01  00 03 80 00
  00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00
  02 00 00 00 d0 01  00 00 00 00 00 00 00 00 00 00]])
  .. string.rep("\0", 192)
  .. client.unhex([[63 82 53 63
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
  test.equal(client.hex(bytes:sub(1, #DISCOVER)), client.hex(DISCOVER))
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
  test.equal(client.hex(assert(dhcp.classless_routes{
    {prefix = "0.0.0.0", length = 0, router = "198.18.0.1"},
    {prefix = "10.0.0.0", length = 8, router = "198.18.0.1"},
    {prefix = "129.210.177.128", length = 25, router = "198.18.0.1"},
  })), "00c6120001" .. "080ac6120001" .. "1981d2b180c6120001")
  local routes = assert(dhcp.read_classless_routes(client.unhex("1981d2b180c6120001")))
  test.equal(routes[1].prefix, "129.210.177.128")
  test.equal(routes[1].length, 25)
  -- RFC 3397's example names, uncompressed; its compressed form read back
  test.equal(assert(dhcp.search_list{"eng.apple.com", "marketing.apple.com"}),
             "\3eng\5apple\3com\0\9marketing\5apple\3com\0")
  local names = assert(dhcp.read_search_list("\3eng\5apple\3com\0\9marketing\xc0\4"))
  test.equal(names[2], "marketing.apple.com")
  test.equal(client.hex(assert(dhcp.addresses{"198.18.0.1", "198.18.0.2"})), "c6120001c6120002")
end

function test_bad_messages_are_refused_with_a_reason()
  test.equal(select(2, dhcp.decode(DISCOVER:sub(1, 239))), "239 bytes, shorter than a header and magic cookie (240)")
  test.equal(select(2, dhcp.decode(DISCOVER:sub(1, 236) .. "junk" .. DISCOVER:sub(241))), "bad magic cookie")
  test.equal(select(2, dhcp.decode(DISCOVER:sub(1, 240) .. "\50\9\1")), "option 50 (length 9) runs past the end")
  test.equal(select(2, dhcp.encode{ciaddr = "1.2.3"}), "'ciaddr' = 1.2.3 is not an IPv4 address")
end
