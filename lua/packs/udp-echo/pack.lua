return {
  name = "udp-echo",
  version = "1.0.0",
  description = "RFC 862 UDP echo over IPv4 and IPv6 on configurable ports, answering ARP and NDP for its addresses",
  api = 1,
  handlers = {"echo.lua"},
  config = {
    ip = {type = "ipv4", default = "198.18.0.2", help = "the IPv4 address echoed on"},
    ipv6 = {type = "ipv6", default = "2001:2::2", help = "the IPv6 address echoed on"},
    mac = {type = "mac", default = "02:54:41:50:49:52", help = "the MAC address given in ARP and NDP replies"},
    ports = {type = "list", of = "port", default = {7}, help = "the UDP ports echoed (comma-separated)"},
    arp = {type = "boolean", default = true,
           help = "answer ARP for ip and neighbour solicitations for ipv6, so the pack works alone (off when another pack does)"},
  },
  permissions = {},
}
