return {
  name = "switch",
  version = "1.0.0",
  description = "A learning Ethernet switch across every tap device the host serves",
  api = 1,
  handlers = {"switch.lua"},
  config = {
    ageing = {type = "integer", default = 300,
              help = "seconds a learned MAC address is kept without traffic from it (0: learn nothing, flood all, a hub)"},
    max_macs = {type = "integer", default = 4096,
                help = "MAC addresses the table holds; past that, new ones are flooded to, not learned"},
    report = {type = "integer", default = 0,
              help = "seconds between log lines with each port's counters (0: only when the switch stops)"},
  },
  permissions = {},
}
