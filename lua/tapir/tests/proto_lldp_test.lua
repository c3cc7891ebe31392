-- tapir.proto.lldp against real frames: fixtures/lldp-lldpd.pcap is lldpd 1.0.16's first
-- LLDPDU on a veth (`lldpd -d -I ta-v0 -m 198.18.5.1 -S "Tapir test system"`) and its
-- shutdown LLDPDU (TTL 0) when stopped; fixtures/lldp-scapy.pcap one from Scapy 2.8's
-- contrib.lldp encoders with the subtypes lldpd does not send (a locally assigned chassis,
-- an interface name, an IPv6 management address with an OID, an 802.1 port VLAN id). The
-- expected values are tshark's (tshark -V -O lldp).
local lldp = require "tapir.proto.lldp"

local hex, unhex = require("tapir.testing.hex").hex, require("tapir.testing.hex").unhex

-- The LLDPDUs of a capture: what follows each frame's Ethernet header.
local function lldpdus(file)
  local list = {}
  for i, frame in ipairs(test.pcap(file)) do
    test.equal(test.decode(frame).eth.type, lldp.ETHERTYPE)
    test.equal(test.decode(frame).eth.dst, lldp.MULTICAST)
    list[i] = frame:sub(15)
  end
  return list
end

function test_lldpd_frame_as_tshark_reads_it()
  local unit = assert(lldp.decode(lldpdus("fixtures/lldp-lldpd.pcap")[1]))
  test.equal(unit.chassis_subtype, lldp.CHASSIS.MAC)
  test.equal(unit.chassis_id, "ea:80:40:df:16:01")
  test.equal(unit.port_subtype, lldp.PORT.MAC)
  test.equal(unit.port_id, "ea:80:40:df:16:01")
  test.equal(unit.ttl, 120)
  test.equal(unit.system_name, "vm")
  test.equal(unit.system_description, "Tapir test system")
  test.equal(unit.port_description, "ta-v0")
  test.equal(unit.capabilities.supported, 0x009c)
  test.equal(unit.capabilities.enabled, 0x0080)
  test.equal(unit.capabilities.enabled & lldp.CAPABILITY.STATION, lldp.CAPABILITY.STATION)
  test.equal(#unit.management, 1)
  test.equal(unit.management[1].address, "198.18.5.1")
  test.equal(unit.management[1].interface_subtype, 2, "ifIndex")
  test.equal(unit.management[1].interface, 2)
  test.equal(unit.management[1].oid, "")
  -- lldpd's IEEE 802.3 TLVs: link aggregation (subtype 3), MAC/PHY (1), maximum frame size (4).
  test.expect(#unit.org >= 2, "802.3 TLVs")
  test.equal(unit.org[1].oui, 0x00120f)
  test.equal(unit.org[1].subtype, 3)
  test.equal(hex(unit.org[1].data), "0100000000", "aggregation capable, not enabled, port 0")
  test.equal(unit.org[2].subtype, 1)
  local order = {}
  for i, tlv in ipairs(unit.tlvs) do order[i] = tostring(tlv.type) end
  test.equal(table.concat(order, " ", 1, 8),
             "chassis_id port_id ttl system_name system_description capabilities management_address port_description",
             "as lldpd sent them")
  test.equal(unit.tlvs[#unit.tlvs].type, "end")
end

function test_lldpd_shutdown_frame()
  local unit = assert(lldp.decode(lldpdus("fixtures/lldp-lldpd.pcap")[2]))
  test.equal(unit.ttl, 0, "a shutdown LLDPDU")
  test.equal(unit.chassis_id, "ea:80:40:df:16:01")
  test.equal(#unit.tlvs, 4)
end

function test_scapy_frame_as_tshark_reads_it()
  local unit = assert(lldp.decode(lldpdus("fixtures/lldp-scapy.pcap")[1]))
  test.equal(unit.chassis_subtype, lldp.CHASSIS.LOCAL)
  test.equal(unit.chassis_id, "switch-1")
  test.equal(unit.port_subtype, lldp.PORT.INTERFACE_NAME)
  test.equal(unit.port_id, "eth0")
  test.equal(unit.ttl, 90)
  test.equal(unit.port_description, "uplink to core")
  test.equal(unit.system_name, "sw1.example.test")
  test.equal(unit.system_description, nil)
  test.equal(unit.capabilities.supported, lldp.CAPABILITY.BRIDGE | lldp.CAPABILITY.ROUTER)
  test.equal(unit.capabilities.enabled, lldp.CAPABILITY.BRIDGE)
  local management = unit.management[1]
  test.equal(management.address, "2001:2::1")
  test.equal(management.interface_subtype, 3, "system port number")
  test.equal(management.interface, 7)
  test.equal(hex(management.oid), "2b060102010202010107", "1.3.6.1.2.1.2.2.1.1.7")
  test.equal(unit.org[1].oui, 0x0080c2)
  test.equal(unit.org[1].subtype, 1, "port VLAN id")
  test.equal(string.unpack(">I2", unit.org[1].data), 100)
end

function test_captured_units_encode_byte_for_byte()
  for _, file in ipairs{"fixtures/lldp-lldpd.pcap", "fixtures/lldp-scapy.pcap"} do
    for i, bytes in ipairs(lldpdus(file)) do
      -- The frames are padded to 60 bytes after the end TLV; the LLDPDU ends there.
      local unit = assert(lldp.decode(bytes))
      local encoded = assert(lldp.encode(unit))
      test.equal(hex(encoded), hex(bytes:sub(1, #encoded)), file .. " #" .. i)
      test.expect(bytes:sub(#encoded + 1):match("^%z*$"), "only padding after the end TLV")
    end
  end
end

function test_a_beacon_from_named_fields()
  local bytes = assert(lldp.encode{chassis_id = "02:54:41:50:49:52", port_id = "tap0", ttl = 120,
                                   system_name = "tapir", capabilities = {supported = 0x14, enabled = 0x10},
                                   management = {{address = "198.18.0.2", interface_subtype = 2, interface = 3}},
                                   org = {{oui = 0x0080c2, subtype = 1, data = "\0\100"}}})
  -- Laid out by hand from IEEE 802.1AB-2016 8.5: each TLV a 7-bit type and 9-bit length.
  test.equal(hex(bytes), hex(unhex [[
    0207 04 025441504952
    0405 05 74617030
    0602 0078
    0a05 7461706972
    0e04 0014 0010
    100c 05 01 c6120002 02 00000003 00
    fe06 0080c2 01 0064
    0000
  ]]))
end

function test_ids_pick_their_subtype()
  local unit = assert(lldp.decode(assert(lldp.encode{chassis_id = "198.18.0.2", port_id = "02:00:00:00:00:01"})))
  test.equal(unit.chassis_subtype, lldp.CHASSIS.NETWORK_ADDRESS)
  test.equal(unit.chassis_id, "198.18.0.2")
  test.equal(unit.port_subtype, lldp.PORT.MAC)
  test.equal(unit.ttl, 120, "the default TTL")
  unit = assert(lldp.decode(assert(lldp.encode{chassis_id = "rack-4", chassis_subtype = lldp.CHASSIS.INTERFACE_NAME,
                                               port_id = "2001:2::2"})))
  test.equal(unit.chassis_subtype, lldp.CHASSIS.INTERFACE_NAME)
  test.equal(unit.port_subtype, lldp.PORT.NETWORK_ADDRESS)
  test.equal(unit.port_id, "2001:2::2")
end

function test_odd_values_are_kept_raw_and_unknown_types_as_they_are()
  -- A MAC chassis id of 5 bytes, a MAC port id of 2, a TTL of 3 bytes, a type the standard
  -- does not name (9).
  local unit = assert(lldp.decode(unhex [[
    0206 04 0102030405
    0403 03 6162
    0603 000000
    1203 010203
    0000
  ]]))
  test.equal(unit.tlvs[1].raw, "\4\1\2\3\4\5")
  test.equal(unit.chassis_id, "\4\1\2\3\4\5")
  test.equal(unit.tlvs[2].raw, "\3ab", "a MAC port id of 2 bytes")
  test.equal(unit.tlvs[3].raw, "\0\0\0")
  test.equal(unit.tlvs[4].type, 9)
  test.equal(unit.tlvs[4].value, "\1\2\3")
  test.equal(hex(assert(lldp.encode(unit))), "0206040102030405" .. "0403036162" .. "0603000000" .. "1203010203" .. "0000")
end

function test_malformed_input_gives_nil_and_why()
  local cases = {
    {unhex "02", "a TLV header cut short at byte 1"},
    {unhex "0207 04 0254", "TLV type 1 at byte 1: its 7 bytes run past the end"},
    {unhex "0602 0078 0a05 7461", "TLV type 5 at byte 5: its 5 bytes run past the end"},
    {42, "bytes expected, got number"},
  }
  for _, case in ipairs(cases) do
    local unit, why = lldp.decode(case[1])
    test.equal(unit, nil)
    test.equal(why, case[2])
  end
  local empty = assert(lldp.decode(""))
  test.equal(#empty.tlvs, 0, "no TLVs")
  -- A management address whose lengths disagree is kept raw, not misread.
  local unit = assert(lldp.decode(unhex "1008 05 01 c6120002 02 00"))
  test.equal(unit.tlvs[1].raw, unhex "05 01 c6120002 02 00")
end

function test_bad_tables_give_nil_and_why()
  local cases = {
    {{chassis_id = "02:00:00:00:00:01", chassis_subtype = lldp.CHASSIS.MAC, port_id = 1},
     "field 'port_id': a non-empty string expected, got number"},
    {{chassis_id = "nope", chassis_subtype = lldp.CHASSIS.MAC, port_id = "x"},
     "chassis_id TLV: field 'id': a MAC address expected, got 'nope'"},
    {{chassis_id = "a", port_id = "b", ttl = 70000}, "ttl TLV: field 'ttl': an integer 0..65535 expected, got number"},
    {{chassis_id = "a", port_id = "b", management = {{address = "x", interface_subtype = 1, interface = 1}}},
     "management_address TLV: field 'address': an IPv4 or IPv6 address expected, got 'x'"},
    {{tlvs = {{type = "system_name", text = string.rep("x", 512)}}}, "TLV type system_name: 512 bytes, over 511"},
    {{tlvs = {{type = "nonsense"}}}, "TLV type nonsense: a type name or a number 0..127 expected"},
    {{tlvs = 5}, "field 'tlvs': a list of TLVs expected, got number"},
  }
  for _, case in ipairs(cases) do
    local bytes, why = lldp.encode(case[1])
    test.equal(bytes, nil)
    test.equal(why, case[2])
  end
end
