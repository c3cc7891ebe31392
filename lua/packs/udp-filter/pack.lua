return {
  name = "udp-filter",
  version = "1.0.0",
  description = "A bump in the wire between two devices that drops, or only lets through, UDP matching pcap-filter rules",
  api = 1,
  handlers = {"filter.lua"},
  config = {
    mode = {type = "string", default = "deny",
            help = "deny: drop what a rule matches; allow: UDP passes only when a rule matches (other frames always pass)"},
    rules = {type = "string", default = "",
             help = "pcap-filter expressions separated by ';', e.g. 'udp port 9; udp dst port 53 and src host 198.18.0.1'"},
    rate = {type = "integer", default = 0,
            help = "UDP datagrams per second forwarded from one IP source address (0: no limit)"},
    burst = {type = "integer", default = 0,
             help = "datagrams a source may send at once before the rate applies (0: as many as rate)"},
  },
  permissions = {},
}
