-- For ProtocolsAgainstTsharkTests: writes one frame of each codec's encoding (NTP, LLDP,
-- VXLAN, TCP options) to the replay's --out capture, for tshark to read back.
local ntp = require "tapir.proto.ntp"
local lldp = require "tapir.proto.lldp"
local vxlan = require "tapir.proto.vxlan"
local tcp_options = require "tapir.proto.tcp_options"
local dev = tapir.devices()[1]
local MAC, PEER = "02:54:41:50:49:52", "02:00:00:00:00:01"
local function udp(sport, dport, payload)
  return tapir.build.eth{src = MAC, dst = PEER} .. tapir.build.ip{src = "198.18.0.2", dst = "198.18.0.1", proto = 17,
    payload = tapir.build.udp{sport = sport, dport = dport, payload = payload}}
end
assert(dev:write(udp(123, 40000, assert(ntp.encode{mode = ntp.MODE.SERVER, stratum = 1, ref_id = "GPS\0", precision = -20,
  poll = 6, root_delay = 0.5, transmit = ntp.timestamp(1796531231.5)}))))
dev:write(tapir.build.eth{src = MAC, dst = lldp.MULTICAST, type = lldp.ETHERTYPE} .. assert(lldp.encode{
  chassis_id = MAC, port_id = "tap0", ttl = 120, system_name = "tapir", system_description = "proto test",
  capabilities = {supported = 0x14, enabled = 0x10}, management = {{address = "198.18.0.2", interface_subtype = 2, interface = 3}}}))
dev:write(udp(50000, vxlan.PORT, assert(vxlan.encode{vni = 4242, payload = udp(1, 2, "inner")})))
dev:write(tapir.build.eth{src = MAC, dst = PEER} .. tapir.build.ip{src = "198.18.0.2", dst = "198.18.0.1", proto = 6,
  payload = tapir.build.tcp{sport = 80, dport = 40000, flags = "S.", options = assert(tcp_options.encode{mss = 1400,
  sack_permitted = true, window_scale = 7, timestamps = {tsval = 12345, tsecr = 678}})}})
