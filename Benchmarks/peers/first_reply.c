/*
 * first_reply: how long a responder takes from its start to its first answer.
 *
 * Sends a UDP datagram to ADDR:PORT every millisecond until one comes back, then prints
 *
 *   startup_ms=…
 *
 * the time from --since (CLOCK_REALTIME nanoseconds, taken by the caller just before it
 * started the responder: `date +%s%N`) to the reply. The caller gives the kernel a
 * static neighbour entry for ADDR, so no ARP timer sits in the measurement.
 *
 * Usage: first_reply --since NS [--addr A] [--port P] [--timeout S]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(void) {
    fprintf(stderr, "usage: first_reply --since NS [--addr A] [--port P] [--timeout S]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *addr = "198.18.0.2";
    int port = 7;
    double timeout_s = 10;
    uint64_t since = 0;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) usage();
        if (strcmp(argv[i], "--since") == 0) since = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--addr") == 0) addr = argv[i + 1];
        else if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--timeout") == 0) timeout_s = atof(argv[i + 1]);
        else usage();
    }
    if (since == 0) usage();

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) { perror("first_reply: socket"); return 1; }
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, addr, &to.sin_addr) != 1) { fprintf(stderr, "first_reply: bad address %s\n", addr); return 2; }
    if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0) { perror("first_reply: connect"); return 1; }

    uint64_t deadline = realtime_ns() + (uint64_t)(timeout_s * 1e9);
    char reply[64];
    while (realtime_ns() < deadline) {
        /* ECONNREFUSED and the like before the responder is up are expected: keep trying. */
        (void)send(fd, "tapir?", 6, 0);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 1) > 0 && recv(fd, reply, sizeof reply, 0) > 0) {
            printf("startup_ms=%.1f\n", (double)(realtime_ns() - since) / 1e6);
            return 0;
        }
    }
    fprintf(stderr, "first_reply: no reply from %s:%d within %.0f s\n", addr, port, timeout_s);
    return 1;
}
