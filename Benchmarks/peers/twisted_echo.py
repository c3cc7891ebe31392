"""twisted_echo: the Twisted Pair responder of scripts/bench.

The same echo as c_echo.c, written the Twisted Pair way: a TuntapPort carrying an
EthernetProtocol, with IPProtocol -> RawUDPProtocol -> an echo DatagramProtocol on port 7,
and an ARP responder on EtherType 0x0806.

Twisted Pair answers no ARP, and RawUDPProtocol hands up neither MAC addresses nor the
destination IP, so:
  - EthernetProtocol is subclassed to remember the frame being dispatched (its source MAC
    and IP destination are read from it);
  - the ARP answer and the reply frame (Ethernet + IPv4 + UDP, checksums computed) are
    built here and written to the port.

Usage: python twisted_echo.py TAPNAME
"""

import socket
import struct
import sys

from twisted.internet import protocol, reactor
from twisted.pair import ethernet, ip, raw, rawudp, tuntap
from twisted.python import log
from zope.interface import implementer

HOST_MAC = bytes.fromhex("025441504952")
HOST_IP = socket.inet_aton("198.18.0.2")
ECHO_PORT = 7
ETH_IPV4 = struct.pack("!H", 0x0800)


def checksum(data):
    """The Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class RememberingEthernetProtocol(ethernet.EthernetProtocol):
    """EthernetProtocol that keeps the frame it is dispatching, for the layers above."""

    frame = b""

    def datagramReceived(self, data, partial=0):
        self.frame = data
        super().datagramReceived(data, partial)


@implementer(raw.IRawPacketProtocol)
class ARPResponder(protocol.AbstractDatagramProtocol):
    """Answers ARP requests for HOST_IP with HOST_MAC."""

    def __init__(self, port):
        self.port = port

    def addProto(self, num, proto):
        raise NotImplementedError("ARP carries no protocols")

    def datagramReceived(self, data, partial, dest, source, protocol):
        if len(data) < 28:
            return
        htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", data[:8])
        if (htype, ptype, hlen, plen, op) != (1, 0x0800, 6, 4, 1) or data[24:28] != HOST_IP:
            return
        sha, spa = data[8:14], data[14:18]
        reply = (
            source + HOST_MAC + struct.pack("!H", 0x0806)
            + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2)
            + HOST_MAC + HOST_IP + sha + spa
        )
        self.port.write(reply)


class UDPEcho(protocol.DatagramProtocol):
    """Echoes each datagram back to its sender, building the whole frame."""

    def __init__(self, ethernet_protocol, port):
        self.eth = ethernet_protocol
        self.port = port
        self.ip_id = 0

    def datagramReceived(self, data, addr):
        frame = self.eth.frame
        if frame[30:34] != HOST_IP:
            return
        peer_ip, peer_port = socket.inet_aton(addr[0]), addr[1]
        udp_length = 8 + len(data)
        pseudo = HOST_IP + peer_ip + struct.pack("!BBH", 0, 17, udp_length)
        udp_header = struct.pack("!HHHH", ECHO_PORT, peer_port, udp_length, 0)
        udp_check = checksum(pseudo + udp_header + data) or 0xFFFF
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        ip_header = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + udp_length, self.ip_id, 0x4000, 64, 17, 0, HOST_IP, peer_ip
        )
        ip_header = ip_header[:10] + struct.pack("!H", checksum(ip_header)) + ip_header[12:]
        self.port.write(
            frame[6:12] + HOST_MAC + ETH_IPV4
            + ip_header
            + udp_header[:6] + struct.pack("!H", udp_check)
            + data
        )


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: twisted_echo.py TAPNAME")
    log.startLogging(sys.stderr, setStdout=False)
    eth = RememberingEthernetProtocol()
    port = tuntap.TuntapPort(sys.argv[1].encode(), eth, reactor=reactor)

    udp = rawudp.RawUDPProtocol()
    udp.addProto(ECHO_PORT, UDPEcho(eth, port))
    ipv4 = ip.IPProtocol()
    ipv4.addProto(17, udp)
    eth.addProto(0x0800, ipv4)
    eth.addProto(0x0806, ARPResponder(port))

    port.startListening()
    reactor.run()


if __name__ == "__main__":
    main()
