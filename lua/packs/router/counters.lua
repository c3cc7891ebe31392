-- What the router did, counted by tapir.counters in tapir.state (so a reload keeps
-- counting) and logged when the host stops as one line of name=value pairs
-- (require "counters").
local NAMES = {
  "forwarded",        -- datagrams (IPv4 and IPv6) written out of an egress port
  "echo_replies",     -- pings to the router's own addresses answered (both families)
  "ttl_expired",      -- datagrams whose TTL or hop limit ran out here (time exceeded sent unless suppressed)
  "no_route",         -- datagrams with no route (net unreachable sent unless suppressed)
  "host_unreachable", -- datagrams dropped because their next hop never answered ARP or NDP
  "too_big",          -- datagrams over the egress port's MTU: IPv4 with DF set, and IPv6
  "icmp_errors",      -- ICMP and ICMPv6 errors sent
  "tcp_resets",       -- resets sent for TCP segments to the router's own addresses (no port is open)
  "icmp_suppressed",  -- ICMP errors not sent: about an ICMP error, a broadcast, a later fragment, or over icmp_limit
  "arp_requests",     -- ARP requests sent for next hops
  "arp_replies",      -- ARP replies sent for the router's addresses
  "arp_failed",       -- next hops that did not answer ARP
  "arp_queue_dropped",-- datagrams dropped waiting for ARP: a full queue, or 64 next hops awaited already
  "bad_header",       -- datagrams dropped for a bad version, length or header checksum
  "dropped",          -- other datagrams not forwarded: broadcast/multicast/martian addresses, for the router but not a ping, UDP or TCP
  "write_failed",     -- writes refused at once (too big, device gone); a later kernel refusal is in tapir.stats() write_errors
  "nd_requests",      -- neighbor solicitations sent for IPv6 next hops
  "nd_replies",       -- neighbor advertisements sent for the router's IPv6 addresses
  "nd_failed",        -- IPv6 next hops that did not answer
  "nd_queue_dropped", -- IPv6 datagrams dropped waiting for a neighbor advertisement
  "ra_sent",          -- router advertisements sent, periodic and solicited
  "rs_received",      -- router solicitations answered
}

return require("tapir.counters").new{names = NAMES, prefix = "router", log_at_stop = true}
