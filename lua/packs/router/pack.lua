return {
  name = "router",
  version = "1.0.0",
  description = "IPv4 router between its devices: static routes, TTL, ICMP errors, ARP on tap ports",
  api = 1,
  handlers = {"arp.lua", "forward.lua"},
  config = {
    ports = {type = "list", of = "string", default = {"198.18.1.254/24", "198.18.2.254/24"},
             help = "the router's ADDRESS/PREFIX on each device, in device order (--dev order)"},
    routes = {type = "list", of = "string", default = {"198.19.0.0/16 via 198.18.2.1"},
              help = "static routes, 'PREFIX via GATEWAY' or 'PREFIX dev N' (N: a port number); "
                     .. "each port's network is routed to it without a line here"},
    mac = {type = "mac", default = "02:54:41:50:52:01",
           help = "port 1's MAC address on a tap device; port N gets this plus N-1"},
    arp_ageing = {type = "integer", default = 60, help = "seconds a learned neighbour is used before it is asked again"},
    arp_queue = {type = "integer", default = 8,
                 help = "datagrams kept per next hop while its ARP answer is awaited (the oldest go first)"},
    icmp_limit = {type = "integer", default = 100, help = "ICMP errors sent per second at most (0: no limit)"},
  },
  permissions = {},
}
