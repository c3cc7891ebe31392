-- tapir.proto.vxlan against real packets: fixtures/vxlan-linux.pcap is Linux's vxlan
-- device (`ip link add ... type vxlan id 42 dstport 4789`) carrying an ARP exchange and a
-- ping between two namespaces; fixtures/vxlan-scapy.pcap two from Scapy 2.8's VXLAN
-- encoder, VNI 0xabcdef and a group policy (GBP) header. Expected values are tshark's
-- (-e vxlan.vni -e vxlan.flags -e vxlan.gpid).
local vxlan = require "tapir.proto.vxlan"

local hex = require("tapir.testing.hex").hex

local function payloads(file)
  local list = {}
  for i, frame in ipairs(test.pcap(file)) do
    local outer = test.decode(frame)
    test.equal(outer.udp.dport, vxlan.PORT)
    list[i] = outer.payload
  end
  return list
end

function test_linux_vxlan_as_tshark_reads_it()
  local inner_layers = {"eth:arp", "eth:arp", "eth:ip:icmp", "eth:ip:icmp"}
  for i, bytes in ipairs(payloads("fixtures/vxlan-linux.pcap")) do
    local packet = assert(vxlan.decode(bytes))
    test.equal(packet.flags, vxlan.FLAG.VNI)
    test.equal(packet.group_policy, 0)
    test.equal(packet.vni, 42)
    test.equal(packet.reserved, 0)
    local inner = test.decode(packet.payload)
    test.equal(inner.layers, inner_layers[i], "the inner frame #" .. i)
    if inner.ip then
      test.equal(inner.ip.src, i == 3 and "198.18.6.2" or "198.18.6.1")
    end
  end
end

function test_scapy_vni_and_group_policy()
  local packets = payloads("fixtures/vxlan-scapy.pcap")
  local plain, gbp = assert(vxlan.decode(packets[1])), assert(vxlan.decode(packets[2]))
  test.equal(plain.vni, 0xabcdef)
  test.equal(plain.flags, vxlan.FLAG.VNI)
  test.equal(gbp.vni, 7)
  test.equal(gbp.flags, vxlan.FLAG.GBP | vxlan.FLAG.VNI)
  test.equal(gbp.group_policy, 0x1234)
  test.equal(test.decode(gbp.payload).payload, "inner")
  test.equal(test.decode(gbp.payload).udp.dport, 5678)
end

function test_captured_packets_encode_byte_for_byte()
  for _, file in ipairs{"fixtures/vxlan-linux.pcap", "fixtures/vxlan-scapy.pcap"} do
    for i, bytes in ipairs(payloads(file)) do
      test.equal(hex(assert(vxlan.encode(assert(vxlan.decode(bytes))))), hex(bytes), file .. " #" .. i)
    end
  end
end

function test_a_header_from_a_table()
  -- RFC 7348 5: flags with the I bit, 24 reserved bits, the VNI, 8 reserved bits.
  test.equal(hex(assert(vxlan.encode{vni = 42, payload = "x"})), "08000000" .. "00002a00" .. "78")
  test.equal(hex(assert(vxlan.encode{vni = 0xffffff})), "08000000ffffff00")
end

function test_malformed_input_gives_nil_and_why()
  for length = 0, 7 do
    local packet, why = vxlan.decode(string.rep("\8", length))
    test.equal(packet, nil)
    test.equal(why, length .. " bytes, shorter than a VXLAN header (8)")
  end
  test.equal(select(2, vxlan.decode(nil)), "bytes expected, got nil")
  local header_only = assert(vxlan.decode("\8\0\0\0\0\0\1\0"))
  test.equal(header_only.payload, "")
end

function test_bad_tables_give_nil_and_why()
  local cases = {
    {{}, "field 'vni': an integer 0..16777215 expected, got nil"},
    {{vni = 1 << 24}, "field 'vni': an integer 0..16777215 expected, got 16777216"},
    {{vni = 1, flags = -1}, "field 'flags': an integer 0..65535 expected, got -1"},
    {{vni = 1, payload = {}}, "field 'payload': bytes expected, got table"},
  }
  for _, case in ipairs(cases) do
    local bytes, why = vxlan.encode(case[1])
    test.equal(bytes, nil)
    test.equal(why, case[2])
  end
end
