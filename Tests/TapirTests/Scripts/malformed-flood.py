# Sends malformed Ethernet frames out of a device as fast as one core can, for SECONDS:
# truncated and inconsistent IPv4, IPv6, ARP, UDP, TCP and ICMP headers, runts and random
# bytes. Run inside the test's namespace: python3 malformed-flood.py DEVICE SECONDS
# Prints the number of frames sent.
import os, random, socket, struct, sys, time

device, seconds = sys.argv[1], float(sys.argv[2])
dst = bytes.fromhex("025441504952")
src = bytes.fromhex("020000000001")

def eth(ethertype, body):
    return dst + src + struct.pack("!H", ethertype) + body

def ipv4(proto, body, ihl=5, total=None):
    length = total if total is not None else 20 + len(body)
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, length & 0xffff, 1, 0, 64, proto, 0,
                         bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]))
    return header + body

random.seed(7)
frames = [
    eth(0x0800, b""),                                         # no IPv4 header at all
    eth(0x0800, ipv4(17, b"")[:12]),                          # half an IPv4 header
    eth(0x0800, ipv4(17, b"\x00" * 8, ihl=15)),               # IHL past the end
    eth(0x0800, ipv4(17, b"\x00" * 8, ihl=3)),                # IHL below 5
    eth(0x0800, ipv4(17, b"\x00" * 8, total=1400)),           # total length past the end
    eth(0x0800, ipv4(17, b"\x00\x07")),                       # a UDP header cut short
    eth(0x0800, ipv4(17, struct.pack("!HHHH", 1, 7, 4000, 0) + b"x")),  # UDP length past the end
    eth(0x0800, ipv4(6, b"\x00\x50\x00\x50" + b"\x00" * 8)),  # a TCP header cut short
    eth(0x0800, ipv4(6, b"\x00\x50\x00\x50" + b"\x00" * 8 + b"\xf0\x02" + b"\x00" * 6)),  # data offset 60
    eth(0x0800, ipv4(1, b"\x08")),                            # an ICMP header cut short
    eth(0x86dd, b"\x60" + b"\x00" * 20),                      # half an IPv6 header
    eth(0x86dd, b"\x60\x00\x00\x00\x05\xdc\x11\x40" + b"\x00" * 32),  # payload length past the end
    eth(0x86dd, b"\x60\x00\x00\x00\x00\x08\x00\x40" + b"\x00" * 32 + b"\x11\xff" + b"\x00" * 6),  # hop-by-hop too long
    eth(0x0806, b"\x00\x01\x08\x00\x06\x04\x00\x01"),         # ARP cut short
    eth(0x0806, b"\x00\x01\x08\x00\x20\x20\x00\x01" + b"\x00" * 20),  # ARP address lengths past the end
    eth(0x8100, b"\x00\x01"),                                 # a VLAN tag cut short
    eth(0x8100, b"\x00\x01\x81\x00" * 8),                     # VLAN tags to the end
    dst + src,                                                # a runt: no EtherType
] + [eth(random.choice([0x0800, 0x86dd, 0x0806, 0x8100]), os.urandom(random.randint(0, 80))) for _ in range(32)]

sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((device, 0))
sent, deadline = 0, time.monotonic() + seconds
while time.monotonic() < deadline:
    for frame in frames:
        try:
            sock.send(frame)
            sent += 1
        except OSError:
            pass  # ENOBUFS while the queue is full: keep flooding
print(sent)
