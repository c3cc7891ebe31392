/*
 * c_pcap_echo: the echo of c_ring_echo through libpcap instead of Tapir's ring code, to
 * say by measurement whether the packet device should use libpcap (scripts/bench).
 *
 * pcap_create on the interface, immediate mode (libpcap then takes a TPACKET_V2 ring: V3
 * would hold frames until a block is full or times out), pcap_dispatch for every frame
 * waiting, each answer sent with pcap_inject (a send() on the same socket). It answers
 * what echo_responder.h answers (ARP for 198.18.0.2, UDP echo on port 7).
 *
 * Usage: c_pcap_echo IFNAME
 */
#define _GNU_SOURCE
#include <pcap/pcap.h>
#include <stdio.h>

#include "echo_responder.h"

static void answer(u_char *user, const struct pcap_pkthdr *header, const u_char *bytes) {
    pcap_t *pcap = (pcap_t *)user;
    static uint8_t frame[65536];
    if (header->caplen > sizeof frame) return;
    memcpy(frame, bytes, header->caplen);
    size_t reply = answer_frame(frame, header->caplen);
    if (reply && pcap_inject(pcap, frame, reply) < 0) fprintf(stderr, "c_pcap_echo: %s\n", pcap_geterr(pcap));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: c_pcap_echo IFNAME\n");
        return 2;
    }
    (void)open_tap;
    char error[PCAP_ERRBUF_SIZE];
    pcap_t *pcap = pcap_create(argv[1], error);
    if (!pcap) {
        fprintf(stderr, "c_pcap_echo: %s\n", error);
        return 1;
    }
    pcap_set_immediate_mode(pcap, 1);
    pcap_set_snaplen(pcap, 65535);
    pcap_set_buffer_size(pcap, 4 << 20);
    if (pcap_activate(pcap) < 0 || pcap_setdirection(pcap, PCAP_D_IN) < 0) {
        fprintf(stderr, "c_pcap_echo: %s\n", pcap_geterr(pcap));
        return 1;
    }
    for (;;) {
        if (pcap_dispatch(pcap, -1, answer, (u_char *)pcap) < 0) {
            fprintf(stderr, "c_pcap_echo: %s\n", pcap_geterr(pcap));
            return 1;
        }
    }
}
