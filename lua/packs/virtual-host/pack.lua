return {
  name = "virtual-host",
  version = "1.0.0",
  description = "One IP and MAC behaving like a small host: ARP, NDP, ping, UDP and TCP echo, port unreachable, TCP RST",
  api = 1,
  handlers = {"neighbours.lua", "ping.lua", "udp_echo.lua", "tcp_echo.lua", "closed_ports.lua"},
  config = {
    ip = {type = "ipv4", default = "198.18.0.2", help = "the host's IPv4 address"},
    ipv6 = {type = "ipv6", default = "2001:2::2", help = "the host's IPv6 address"},
    mac = {type = "mac", default = "02:54:41:50:49:52", help = "the host's MAC address (locally administered)"},
    udp_echo_ports = {type = "list", of = "port", default = {7},
                      help = "UDP ports that echo (RFC 862); other UDP ports are closed"},
    tcp_echo_ports = {type = "list", of = "port", default = {7},
                      help = "TCP ports that echo (RFC 862), on the host's TCP engine; other TCP ports are closed"},
    tcp_idle = {type = "integer", default = 300000,
                help = "milliseconds a TCP echo connection may wait for data before it is closed (0: never)"},
  },
  permissions = {},
}
