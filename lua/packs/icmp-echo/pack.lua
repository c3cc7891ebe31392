return {
  name = "icmp-echo",
  version = "1.0.0",
  description = "Answers IPv4 and IPv6 echo requests (ping), with the ARP and neighbour discovery it needs",
  api = 1,
  handlers = {"host.lua"},
  config = {
    ip = {type = "ipv4", default = "198.18.0.2", help = "the IPv4 address answered"},
    ipv6 = {type = "ipv6", default = "2001:2::2", help = "the IPv6 address answered"},
    mac = {type = "mac", default = "02:54:41:50:49:52", help = "the MAC address of ip and ipv6"},
    neighbours = {type = "boolean", default = true,
                  help = "answer ARP and neighbour solicitations for ip and ipv6 (off when another pack does)"},
  },
  permissions = {},
}
