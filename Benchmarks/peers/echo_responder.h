/*
 * echo_responder.h: what the C reference responders (c_echo.c, c_echo_uring.c) share:
 * open_tap, and what they answer, in place in the frame they read:
 *   - ARP requests for 198.18.0.2, with the MAC 02:54:41:50:49:52;
 *   - UDP datagrams to 198.18.0.2 port 7, echoed: MACs, IPs and ports swapped, TTL reset,
 *     IP and UDP checksums recomputed.
 * answer_frame returns the reply's length, or 0 for a frame to ignore.
 */
#ifndef TAPIR_BENCH_ECHO_RESPONDER_H
#define TAPIR_BENCH_ECHO_RESPONDER_H

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

/* The tap named by the command line (IFF_TAP | IFF_NO_PI, blocking), made if missing;
   on a bad command line or a failure it says why, as `program`, and returns -1. */
static int open_tap(int argc, char **argv, const char *program) {
    if (argc != 2 || strlen(argv[1]) >= IFNAMSIZ) {
        fprintf(stderr, "usage: %s TAPNAME (at most %d bytes)\n", program, IFNAMSIZ - 1);
        return -1;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "%s: /dev/net/tun: %s\n", program, strerror(errno));
        return -1;
    }
    struct ifreq ifr = {0};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "%s: TUNSETIFF %s: %s\n", program, argv[1], strerror(errno));
        return -1;
    }
    return fd;
}

static const uint8_t host_mac[6] = {0x02, 0x54, 0x41, 0x50, 0x49, 0x52};
static const uint8_t host_ip[4] = {198, 18, 0, 2};

enum { ETH_HEADER = 14, ARP_BODY = 28, IP_MIN_HEADER = 20, UDP_HEADER = 8, ECHO_PORT = 7 };

static uint16_t read16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void write16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static void swap_bytes(uint8_t *a, uint8_t *b, size_t n) {
    uint8_t t[16];
    memcpy(t, a, n);
    memcpy(a, b, n);
    memcpy(b, t, n);
}

/* Ones'-complement sum of 16-bit big-endian words (odd length padded with zero). */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum) {
    for (; n > 1; p += 2, n -= 2) sum += read16(p);
    if (n) sum += (uint32_t)p[0] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Turns an ARP request for host_ip into its reply, in place; returns the frame length or 0. */
static size_t answer_arp(uint8_t *f, size_t n) {
    uint8_t *arp = f + ETH_HEADER;
    if (n < ETH_HEADER + ARP_BODY) return 0;
    if (read16(arp) != 1 || read16(arp + 2) != 0x0800 || arp[4] != 6 || arp[5] != 4) return 0;
    if (read16(arp + 6) != 1 || memcmp(arp + 24, host_ip, 4) != 0) return 0;
    memcpy(f, f + 6, 6);            /* eth dst = requester */
    memcpy(f + 6, host_mac, 6);
    write16(arp + 6, 2);            /* reply */
    memcpy(arp + 18, arp + 8, 10);  /* tha, tpa = sha, spa */
    memcpy(arp + 8, host_mac, 6);
    memcpy(arp + 14, host_ip, 4);
    return ETH_HEADER + ARP_BODY;
}

/* Turns a UDP datagram to host_ip:7 into its echo, in place; returns the frame length or 0. */
static size_t answer_udp(uint8_t *f, size_t n) {
    uint8_t *ip = f + ETH_HEADER;
    if (n < ETH_HEADER + IP_MIN_HEADER) return 0;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    size_t total = read16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < IP_MIN_HEADER || total < ihl + UDP_HEADER || ETH_HEADER + total > n) return 0;
    if (ip[9] != 17 || memcmp(ip + 16, host_ip, 4) != 0) return 0;
    if ((read16(ip + 6) & 0x3fff) != 0) return 0;  /* a fragment */
    uint8_t *udp = ip + ihl;
    size_t udp_length = read16(udp + 4);
    if (read16(udp + 2) != ECHO_PORT || udp_length < UDP_HEADER || udp_length > total - ihl) return 0;

    swap_bytes(f, f + 6, 6);
    swap_bytes(ip + 12, ip + 16, 4);
    swap_bytes(udp, udp + 2, 2);

    ip[8] = 64;
    write16(ip + 10, 0);
    write16(ip + 10, fold(sum16(ip, ihl, 0)));

    uint32_t pseudo = sum16(ip + 12, 8, 0) + 17 + (uint32_t)udp_length;
    write16(udp + 6, 0);
    uint16_t check = fold(sum16(udp, udp_length, pseudo));
    write16(udp + 6, check ? check : 0xffff);
    return ETH_HEADER + total;
}

static size_t answer_frame(uint8_t *f, size_t n) {
    if (n < ETH_HEADER) return 0;
    switch (read16(f + 12)) {
    case 0x0806: return answer_arp(f, n);
    case 0x0800: return answer_udp(f, n);
    }
    return 0;
}

#endif
