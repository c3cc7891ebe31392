return {
  name = "dns-responder",
  version = "1.0.0",
  description = "Authoritative DNS over UDP and TCP for zones from a zone file or settings",
  api = 1,
  handlers = {"responder.lua"},
  config = {
    ip = {type = "ipv4", default = "198.18.0.2", help = "the IPv4 address answered on"},
    ipv6 = {type = "ipv6", default = "2001:2::2", help = "the IPv6 address answered on"},
    mac = {type = "mac", default = "02:54:41:50:49:52", help = "the MAC address given in ARP and NDP replies"},
    port = {type = "port", default = 53, help = "the UDP and TCP port answered on"},
    tcp = {type = "boolean", default = true, help = "answer over TCP too (RFC 7766), where truncated UDP answers are asked again"},
    transfer = {type = "string", default = "",
                help = "clients allowed a zone transfer (AXFR, and IXFR answered as AXFR, over TCP):"
                       .. " IPv4 or IPv6 addresses separated by commas; '': none"},
    tcp_idle = {type = "integer", default = 10000, help = "milliseconds a TCP connection may wait for its next query before it is closed"},
    records = {type = "string", default = "",
               help = "records, 'NAME [TTL] [IN] TYPE DATA; ...' (A, AAAA, NS, CNAME, PTR, MX, TXT, SRV, SOA, CAA)"},
    zone = {type = "file", default = "example.zone",
            help = "a zone file in the RFC 1035 master-file format (the default: the pack's example.test zone; '' for none)"},
    include_dir = {type = "string", default = "",
                   help = "the zone file's folder, where $INCLUDE reads (needs --allow io); '': $INCLUDE refused"},
    soa = {type = "string", default = "ns hostmaster 1 3600 900 604800 300",
           help = "the SOA of zones made for records under no SOA: MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM"
                  .. " (names relative to the zone)"},
    ttl = {type = "integer", default = 300, help = "the TTL of records that give none"},
    synthesize_ptr = {type = "boolean", default = true,
                      help = "answer PTR queries for the addresses of A and AAAA records that have no PTR"},
    arp = {type = "boolean", default = true,
           help = "answer ARP and neighbour solicitations for ip and ipv6, so the pack works alone"},
  },
  permissions = {"io"},   -- only for $INCLUDE, with --allow io
}
