/*
 * c_ring_echo: the reference responder for a packet-socket device (scripts/bench).
 *
 * Serves an existing interface (one end of a veth pair) through the same AF_PACKET code
 * Tapir's packet device uses (Sources/CPacket/cpacket.c, compiled in): a TPACKET_V3
 * (or, with RING_V3=1, a TPACKET_V3 one), poll only when the ring is empty, each answer sent
 * with send() and PACKET_QDISC_BYPASS (or, with RING_TX=1, into a TPACKET_V2 transmit ring
 * flushed with one send() when the receive ring is empty). It answers what echo_responder.h answers (ARP for 198.18.0.2,
 * UDP echo on port 7), copying each frame out of the ring to answer it in place.
 *
 * Usage: c_ring_echo IFNAME
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "echo_responder.h"
#include "../../Sources/CPacket/cpacket.c"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: c_ring_echo IFNAME\n");
        return 2;
    }
    (void)open_tap;
    // RING_TX=1: answers go into a transmit ring, one flushing send() per burst (when the
    // receive ring is empty); else one send() each.
    int tx_ring = getenv("RING_TX") != NULL;
    int error = 0, step = 0;
    tapir_packet_socket *s = tapir_packet_open(argv[1], (getenv("RING_V3") ? TAPIR_PACKET_BLOCKS_V3 : 0) | (tx_ring ? TAPIR_PACKET_TX_RING : 0), 1 << 16, 64, 2048, &error, &step);
    if (!s) {
        fprintf(stderr, "c_ring_echo: %s: step %d: %s\n", argv[1], step, strerror(-error));
        return 1;
    }
    static uint8_t frame[65536];
    struct pollfd waiting = { .fd = tapir_packet_fd(s), .events = POLLIN };
    for (;;) {
        const uint8_t *in;
        uint32_t length;
        int truncated;
        if (!tapir_packet_next(s, &in, &length, &truncated)) {
            if (tx_ring) {
                long flushed = tapir_packet_flush(s);
                if (flushed < 0 && flushed != -EAGAIN && flushed != -ENOBUFS)
                    fprintf(stderr, "c_ring_echo: flush: %s\n", strerror((int)-flushed));
            }
            if (poll(&waiting, 1, -1) < 0 && errno != EINTR) {
                fprintf(stderr, "c_ring_echo: poll: %s\n", strerror(errno));
                return 1;
            }
            continue;
        }
        memcpy(frame, in, length);
        size_t reply = answer_frame(frame, length);
        if (reply && tx_ring) {
            if (tapir_packet_queue(s, frame, reply) == -EAGAIN) {
                tapir_packet_flush(s);
                tapir_packet_queue(s, frame, reply);
            }
        } else if (reply) {
            long sent = tapir_packet_send(s, frame, reply);
            if (sent < 0 && sent != -EAGAIN && sent != -ENOBUFS)
                fprintf(stderr, "c_ring_echo: send: %s\n", strerror((int)-sent));
        }
    }
}
