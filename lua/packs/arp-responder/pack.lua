return {
  name = "arp-responder",
  version = "1.0.0",
  description = "Answers ARP requests for a list of IPv4 addresses with its MAC",
  api = 1,
  handlers = {"arp.lua"},
  config = {
    addresses = {type = "list", of = "ipv4", default = {"198.18.0.2"},
                 help = "the IPv4 addresses answered for (comma-separated)"},
    mac = {type = "mac", default = "02:54:41:50:49:52", help = "the MAC address the replies give"},
    gratuitous = {type = "boolean", default = true,
                  help = "announce each address with a gratuitous ARP at start and 1 s later"},
  },
  permissions = {},
}
