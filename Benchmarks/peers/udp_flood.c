/*
 * udp_flood: sends 64-byte UDP datagrams to an address as fast as the kernel takes them
 * (sendmmsg, 64 a call), for scripts/bench's forwarding rows: what crosses a bump in the
 * wire is then limited by the bump, and counted on the far side.
 *
 * Usage: udp_flood [--addr A] [--port P] [--duration S]   (A: IPv4, or IPv6 with a colon)
 * Output: sent=N per_s=R
 * A send the kernel refuses for a moment (ENOBUFS, EAGAIN, ECONNREFUSED after an ICMP
 * error) is not counted and the flood goes on.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64
#define PAYLOAD 64

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void) {
    fprintf(stderr, "usage: udp_flood [--addr A] [--port P] [--duration S]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *addr = "198.18.0.2";
    int port = 9;
    double duration_s = 10;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) usage();
        if (strcmp(argv[i], "--addr") == 0) addr = argv[i + 1];
        else if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--duration") == 0) duration_s = atof(argv[i + 1]);
        else usage();
    }
    if (duration_s <= 0 || port < 1 || port > 65535) usage();

    /* IPv4, or IPv6 when the address has a colon */
    struct sockaddr_in to4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
    int ipv6 = strchr(addr, ':') != NULL;
    if (ipv6 ? inet_pton(AF_INET6, addr, &to6.sin6_addr) != 1 : inet_pton(AF_INET, addr, &to4.sin_addr) != 1) {
        fprintf(stderr, "udp_flood: bad address %s\n", addr);
        return 2;
    }
    int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) { perror("udp_flood: socket"); return 1; }
    int connected = ipv6 ? connect(fd, (struct sockaddr *)&to6, sizeof to6) : connect(fd, (struct sockaddr *)&to4, sizeof to4);
    if (connected < 0) { perror("udp_flood: connect"); return 1; }

    static char payload[PAYLOAD];
    memset(payload, 'x', sizeof payload);
    struct iovec iov = { .iov_base = payload, .iov_len = sizeof payload };
    struct mmsghdr messages[BATCH];
    memset(messages, 0, sizeof messages);
    for (int i = 0; i < BATCH; i++) { messages[i].msg_hdr.msg_iov = &iov; messages[i].msg_hdr.msg_iovlen = 1; }

    uint64_t sent = 0;
    double start = now_s(), end = start + duration_s;
    while (now_s() < end) {
        int n = sendmmsg(fd, messages, BATCH, 0);
        if (n > 0) sent += (uint64_t)n;
        else if (n < 0 && errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED && errno != EINTR) {
            perror("udp_flood: sendmmsg");
            return 1;
        }
    }
    printf("sent=%llu per_s=%.0f\n", (unsigned long long)sent, (double)sent / (now_s() - start));
    return 0;
}
