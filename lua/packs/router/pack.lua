return {
  name = "router",
  version = "1.1.0",
  description = "IPv4 and IPv6 router between its devices: static routes, TTL and hop limit, ICMP and ICMPv6 errors, "
                .. "ARP, NDP and router advertisements on tap ports",
  api = 1,
  handlers = {"arp.lua", "neighbour_discovery.lua", "forward.lua", "forward6.lua"},
  config = {
    ports = {type = "list", of = "string", default = {"198.18.1.254/24", "198.18.2.254/24"},
             help = "the router's ADDRESS/PREFIX on each device, in device order (--dev order)"},
    ports6 = {type = "list", of = "string", default = {},
              help = "the router's IPv6 ADDRESS/PREFIX on each device, in device order ('none': no IPv6 on that "
                     .. "port); empty: the router is IPv4 only"},
    routes = {type = "list", of = "string", default = {"198.19.0.0/16 via 198.18.2.1"},
              help = "static routes, 'PREFIX via GATEWAY' or 'PREFIX dev N' (N: a port number), IPv4 or IPv6; "
                     .. "each port's network is routed to it without a line here"},
    mac = {type = "mac", default = "02:54:41:50:52:01",
           help = "port 1's MAC address on a tap device; port N gets this plus N-1"},
    mtu = {type = "list", of = "integer", default = {},
           help = "the MTU of each port, in device order (0: the device's); longer IPv6 datagrams get packet too big, "
                  .. "longer IPv4 ones with DF fragmentation needed"},
    arp_ageing = {type = "integer", default = 60, min = 1, help = "seconds a learned neighbour is used before it is asked again"},
    arp_queue = {type = "integer", default = 8, min = 1,
                 help = "datagrams kept per next hop while its ARP or NDP answer is awaited (the oldest go first)"},
    icmp_limit = {type = "integer", default = 100, min = 0, help = "ICMP and ICMPv6 errors sent per second at most (0: no limit)"},
    ra = {type = "boolean", default = true,
          help = "send router advertisements on tap ports with an IPv6 prefix, periodically and to solicitations"},
    ra_interval = {type = "integer", default = 200, min = 4, max = 1800,
                   help = "the longest time in seconds between periodic advertisements (RFC 4861 MaxRtrAdvInterval; "
                          .. "the shortest is a third of it)"},
    ra_lifetime = {type = "integer", default = 1800, min = 0, max = 9000,
                   help = "router lifetime in seconds: how long hosts keep the router as a default route (0: not one)"},
    ra_managed = {type = "boolean", default = false, help = "the M flag: addresses come from DHCPv6"},
    ra_other = {type = "boolean", default = false, help = "the O flag: other settings (DNS) come from DHCPv6"},
    ra_autonomous = {type = "boolean", default = true,
                     help = "the A flag on each port's prefix: hosts make their own address in it (SLAAC; a /64 only)"},
    ra_valid = {type = "integer", default = 86400, min = 0, help = "the prefix's valid lifetime in seconds"},
    ra_preferred = {type = "integer", default = 14400, min = 0, help = "the prefix's preferred lifetime in seconds"},
    ra_dns = {type = "list", of = "ipv6", default = {}, help = "recursive DNS servers advertised (RDNSS, RFC 8106)"},
    ra_search = {type = "list", of = "string", default = {}, help = "DNS search domains advertised (DNSSL, RFC 8106)"},
  },
  permissions = {},
}
