-- What the router did, counted in tapir.state (so a reload keeps counting) and logged
-- when the host stops as one line of name=value pairs (require "counters").
local NAMES = {
  "forwarded",        -- datagrams written out of an egress port
  "echo_replies",     -- pings to the router's own addresses answered
  "ttl_expired",      -- datagrams whose TTL ran out here (time exceeded sent unless suppressed)
  "no_route",         -- datagrams with no route (net unreachable sent unless suppressed)
  "host_unreachable", -- datagrams dropped because their next hop never answered ARP
  "too_big",          -- datagrams with DF set longer than the egress device's MTU
  "icmp_errors",      -- ICMP errors sent
  "tcp_resets",       -- resets sent for TCP segments to the router's own addresses (no port is open)
  "icmp_suppressed",  -- ICMP errors not sent: about an ICMP error, a broadcast, a later fragment, or over icmp_limit
  "arp_requests",     -- ARP requests sent for next hops
  "arp_replies",      -- ARP replies sent for the router's addresses
  "arp_failed",       -- next hops that did not answer ARP
  "arp_queue_dropped",-- datagrams dropped waiting for ARP: a full queue, or 64 next hops awaited already
  "bad_header",       -- datagrams dropped for a bad version, length or header checksum
  "dropped",          -- other datagrams not forwarded: broadcast/multicast/martian addresses, for the router but not a ping, UDP or TCP
  "write_failed",     -- writes refused at once (too big, device gone); a later kernel refusal is in tapir.stats() write_errors
}

tapir.state.counters = tapir.state.counters or {}
local counters = tapir.state.counters
for _, name in ipairs(NAMES) do counters[name] = counters[name] or 0 end

-- "router: forwarded=12 echo_replies=3 ..." in NAMES order.
local function line()
  local parts = {}
  for i, name in ipairs(NAMES) do parts[i] = name .. "=" .. counters[name] end
  return "router: " .. table.concat(parts, " ")
end

tapir.on_stop(function() tapir.log.info(line()) end)

return counters
