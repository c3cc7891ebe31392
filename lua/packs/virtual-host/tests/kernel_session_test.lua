-- The session was recorded with the host at 02:00:00:00:00:0b: the frames the kernel sent
-- went to that MAC, and a host ignores frames to another unicast MAC.
test.settings{mac = "02:00:00:00:00:0b"}

-- What the Linux kernel sent in a recorded session (tests/kernel-frames.pcap): ARP, ping,
-- a DNS query and a TCP SYN to closed ports, NDP, ping -6, multicast chatter, fragments,
-- pings to other hosts. The host answers exactly what a host would: the fragmented pings
-- (IPv4, then IPv6) last, once their fragments are reassembled.
function test_a_recorded_kernel_session_gets_a_hosts_answers()
  local kinds = {}
  for _, frame in ipairs(test.pcap("kernel-frames.pcap")) do
    if test.decode(frame).eth.src == "02:00:00:00:00:0a" then
      test.inject(frame)
      for _, written in ipairs(test.written()) do
        local reply = test.decode(written)
        local kind = reply.arp and "arp" or reply.tcp and "tcp-reset"
                     or reply.icmp and ("icmp-" .. reply.icmp.type .. "/" .. reply.icmp.code)
                     or reply.icmpv6 and ("icmpv6-" .. reply.icmpv6.type) or "other"
        kinds[#kinds + 1] = kind
      end
    end
  end
  test.equal(table.concat(kinds, " "), "arp arp icmp-0/0 icmp-3/3 tcp-reset icmpv6-136 icmpv6-129 icmp-0/0 icmpv6-129")
end
