#!/bin/sh
# Makes kernel-frames.pcap: real frames the Linux kernel sent between two private network
# namespaces joined by a veth pair, captured on side A. Run once, as root; the pcap is
# committed, tests only read it. Addresses: 198.18.0.0/15 and 2001:2::/48 only; nothing
# leaves the namespaces, which are deleted at the end (also on failure).
#
#   A (tapir-fix-a-$$)  vethA 198.18.0.1/24 2001:2::1/64
#   B (tapir-fix-b-$$)  vethB 198.18.0.2/24 2001:2::2/64, forwards IPv4: 198.19.0.0/25
#                       via a gateway that is not there (a TTL 1 ping gets time exceeded),
#                       no route to 198.19.0.128/25 (net unreachable)
#
# VLAN-tagged frames: this kernel has neither 8021q nor bridge VLAN filtering, so the two
# tagged frames (an 802.1Q ICMP echo request, a QinQ 802.1ad+802.1Q ARP request) are
# written by /usr/bin/python3 through an AF_PACKET socket on vethA inside namespace A.
# Where 8021q exists, `ip link add link vethA name vethA.100 type vlan id 100` and a ping
# over it gives the same kind of frame.
set -eu
OUT=${1:-$(dirname "$0")/kernel-frames.pcap}
A=tapir-fix-a-$$
B=tapir-fix-b-$$
TCPDUMP_PID=
cleanup() {
    [ -n "$TCPDUMP_PID" ] && kill "$TCPDUMP_PID" 2>/dev/null || true
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

ip netns add "$A"
ip netns add "$B"
ip -n "$A" link add vethA type veth peer name vethB netns "$B"
ip -n "$A" link set lo up
ip -n "$B" link set lo up
ip -n "$A" link set vethA address 02:00:00:00:00:0a
ip -n "$B" link set vethB address 02:00:00:00:00:0b
ip -n "$A" addr add 198.18.0.1/24 dev vethA
ip -n "$B" addr add 198.18.0.2/24 dev vethB
ip -n "$A" addr add 2001:2::1/64 dev vethA nodad
ip -n "$B" addr add 2001:2::2/64 dev vethB nodad
ip netns exec "$B" sysctl -qw net.ipv4.ip_forward=1
# veth leaves TCP/UDP checksums to "hardware" (a partial sum on the wire); turn that off
# (ETHTOOL_STXCSUM through SIOCETHTOOL, what `ethtool -K DEV tx off` does) so the capture
# holds the full checksums.
tx_checksum_off() {
    ip netns exec "$1" /usr/bin/python3 - "$2" <<'PY'
import ctypes, fcntl, socket, struct, sys
value = ctypes.create_string_buffer(struct.pack('II', 0x17, 0), 8)
request = struct.pack('16sP', sys.argv[1].encode(), ctypes.addressof(value)) + bytes(16)
fcntl.ioctl(socket.socket(), 0x8946, request)
PY
}
tx_checksum_off "$A" vethA
tx_checksum_off "$B" vethB
# A sends a router solicitation when its link comes up (B is not a router: no answer).
ip netns exec "$A" sysctl -qw net.ipv6.conf.vethA.router_solicitations=1
ip netns exec "$A" sysctl -qw net.ipv6.conf.vethA.router_solicitation_delay=0

# vethA up first (no carrier while vethB is down) so tcpdump can open it, then vethB:
# A's link-local set-up (DAD neighbour solicitation, MLD report with a Hop-by-Hop
# header, router solicitation) is captured.
ip -n "$A" link set vethA up
ip netns exec "$A" tcpdump -i vethA -w "$OUT" -U -s 0 -Z root >/dev/null 2>&1 &
TCPDUMP_PID=$!
sleep 1
ip -n "$B" link set vethB up
ip -n "$A" route add 198.19.0.0/24 via 198.18.0.2
ip -n "$B" route add 198.19.0.0/25 via 198.18.0.3
sleep 3

ip netns exec "$A" arping -c 1 -w 2 -I vethA 198.18.0.2 >/dev/null || true
ip netns exec "$A" ping -c 1 -W 2 198.18.0.2 >/dev/null
ip netns exec "$A" dig @198.18.0.2 +tries=1 +time=1 example.test A >/dev/null || true
ip netns exec "$A" nc -z -w 1 198.18.0.2 9 || true
ip netns exec "$A" ping -6 -c 1 -W 2 2001:2::2 >/dev/null
ip netns exec "$A" /usr/bin/python3 - <<'PY'
import socket, struct
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
src, dst = bytes.fromhex('02000000000a'), bytes.fromhex('02000000000b')
icmp = struct.pack('!BBHHH', 8, 0, 0, 0x1234, 1) + b'tapir vlan 100'
icmp = icmp[:2] + struct.pack('!H', csum(icmp)) + icmp[4:]
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(icmp), 0x4242, 0x4000, 64, 1, 0,
                 socket.inet_aton('198.18.100.1'), socket.inet_aton('198.18.100.2'))
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
dot1q = dst + src + struct.pack('!HHH', 0x8100, 100, 0x0800) + ip + icmp
arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, src, socket.inet_aton('198.18.200.1'),
                  bytes(6), socket.inet_aton('198.18.200.2'))
qinq = b'\xff' * 6 + src + struct.pack('!HHHHH', 0x88a8, 0x2000 | 200, 0x8100, 100, 0x0806) + arp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('vethA', 0))
for frame in (dot1q, qinq):
    s.send(frame + bytes(max(0, 60 - len(frame))))
PY
ip netns exec "$A" ping -c 1 -W 2 -s 3000 198.18.0.2 >/dev/null
ip netns exec "$A" ping -6 -c 1 -W 2 -s 2000 2001:2::2 >/dev/null
ip netns exec "$A" ping -c 1 -W 1 -t 1 198.19.0.9 >/dev/null || true
ip netns exec "$A" ping -c 1 -W 1 198.19.0.200 >/dev/null || true
sleep 1
kill "$TCPDUMP_PID"
wait "$TCPDUMP_PID" 2>/dev/null || true
TCPDUMP_PID=
echo "wrote $OUT ($(wc -c <"$OUT") bytes)"
