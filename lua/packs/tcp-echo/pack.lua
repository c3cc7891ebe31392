return {
  name = "tcp-echo",
  version = "1.0.0",
  description = "RFC 862 echo, RFC 863 discard and RFC 864 chargen over TCP, IPv4 and IPv6, on the host's TCP engine",
  api = 1,
  handlers = {"services.lua"},
  config = {
    ip = {type = "ipv4", default = "198.18.0.2", help = "the IPv4 address served"},
    ipv6 = {type = "ipv6", default = "2001:2::2", help = "the IPv6 address served"},
    mac = {type = "mac", default = "02:54:41:50:49:52", help = "the MAC address given in ARP and NDP replies"},
    echo = {type = "list", of = "port", default = {7}, help = "ports that echo what they receive (RFC 862)"},
    discard = {type = "list", of = "port", default = {9}, help = "ports that read and drop everything (RFC 863)"},
    chargen = {type = "list", of = "port", default = {19}, help = "ports that send the character pattern until the client closes (RFC 864)"},
    idle = {type = "integer", default = 300000, help = "milliseconds a connection may be idle before it is closed (0: never)"},
  },
  permissions = {},
}
