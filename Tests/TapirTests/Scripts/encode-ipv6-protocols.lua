-- For ProtocolsV6AgainstTsharkTests: writes a router advertisement (tapir.proto.ndp), a
-- packet too big quoting a 1,400-byte ping (tapir.proto.icmp_error) and a DHCPv6 Advertise
-- (tapir.proto.dhcpv6) to the replay's --out capture, for tshark to read back.
local ndp = require "tapir.proto.ndp"
local icmp_error = require "tapir.proto.icmp_error"
local dhcpv6 = require "tapir.proto.dhcpv6"
local dev = tapir.devices()[1]
local MAC, PEER = "02:54:41:50:52:01", "02:00:00:00:01:05"
local ROUTER = ndp.link_local(MAC)

dev:write(tapir.build.eth{src = MAC, dst = ndp.multicast_mac("ff02::1"), type = 0x86dd}
  .. tapir.build.ipv6{src = ROUTER, dst = "ff02::1", nxt = 58, hlim = 255, payload = assert(ndp.encode{
    type = ndp.ROUTER_ADVERTISEMENT, hop_limit = 64, managed = true, other = false, router_lifetime = 1800,
    source_lladdr = MAC, mtu = 1280, prefixes = {{prefix = "2001:2:0:1::", length = 64, valid = 86400, preferred = 14400}},
    servers = {"2001:2:0:1::53"}, domains = {"lab.test"}, dns_lifetime = 600})})

local ping = tapir.build.ipv6{src = "2001:2:0:1::5", dst = "2001:2:0:2::5", nxt = 58,
  payload = tapir.build.icmpv6{type = 128, id = 7, seq = 1, payload = string.rep("x", 1352)}}
dev:write(tapir.build.eth{src = MAC, dst = PEER, type = 0x86dd}
  .. assert(icmp_error.encode{datagram = ping, src = "2001:2:0:1::1", type = 2, mtu = 1280}))

dev:write(tapir.build.eth{src = MAC, dst = PEER, type = 0x86dd} .. tapir.build.ipv6{src = ROUTER, dst = "fe80::5", nxt = 17,
  payload = tapir.build.udp{sport = 547, dport = 546, payload = assert(dhcpv6.encode{
    type = dhcpv6.ADVERTISE, xid = 0x1b5da7, server_id = dhcpv6.duid_ll(MAC), client_id = dhcpv6.duid_ll(PEER),
    ia_na = {{iaid = 1, t1 = 900, t2 = 1440, addresses = {{address = "2001:2::1000", preferred = 1800, valid = 3600}}}},
    ia_pd = {{iaid = 2, t1 = 900, t2 = 1440, prefixes = {{prefix = "2001:2:0:100::", length = 64, preferred = 1800,
                                                          valid = 3600}}}},
    preference = 255, dns_servers = {"2001:2::53"}, domains = {"lab.test"}})}})
