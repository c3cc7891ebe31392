// TCP peers for scripts/bench's TCP section, run on the kernel's side of a tap (or of a
// veth pair, for the kernel-to-kernel reference):
//   tcp_peer send HOST PORT SECONDS      bulk: writes 64 KiB blocks for SECONDS, then closes;
//                                        prints "bytes=N seconds=S mbit_per_s=M"
//   tcp_peer receive HOST PORT SECONDS   bulk the other way: reads for SECONDS (from a
//                                        chargen port), then closes; prints as send does
//   tcp_peer sink PORT                   accepts connections one after another and reads
//                                        and drops everything (the kernel receiver)
//   tcp_peer connects HOST PORT SECONDS  connect, send "x\n", read the line back, close,
//                                        again and again; prints "connections=N seconds=S
//                                        per_s=R failed=F"
// IPv4 only; addresses are the caller's (198.18.0.0/15 in the bench).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct sockaddr_in address(const char *host, const char *port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(port));
    if (host != NULL && inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "tcp_peer: bad address %s\n", host);
        exit(2);
    }
    return a;
}

static int connected(struct sockaddr_in *a) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)a, sizeof *a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_bulk(const char *host, const char *port, double seconds) {
    struct sockaddr_in a = address(host, port);
    int fd = connected(&a);
    if (fd < 0) { perror("tcp_peer: connect"); return 1; }
    static char block[65536];
    memset(block, 'x', sizeof block);
    double start = now(), end = start + seconds;
    long long bytes = 0;
    while (now() < end) {
        ssize_t n = write(fd, block, sizeof block);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("tcp_peer: write");
            return 1;
        }
        bytes += n;
    }
    shutdown(fd, SHUT_WR);
    char drain[4096];
    while (read(fd, drain, sizeof drain) > 0) {}
    double elapsed = now() - start;
    close(fd);
    printf("bytes=%lld seconds=%.3f mbit_per_s=%.1f\n", bytes, elapsed, (double)bytes * 8 / elapsed / 1e6);
    return 0;
}

static int receive_bulk(const char *host, const char *port, double seconds) {
    struct sockaddr_in a = address(host, port);
    int fd = connected(&a);
    if (fd < 0) { perror("tcp_peer: connect"); return 1; }
    static char buffer[1 << 16];
    double start = now(), end = start + seconds;
    long long bytes = 0;
    while (now() < end) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("tcp_peer: read");
            return 1;
        }
        if (n == 0) break;
        bytes += n;
    }
    double elapsed = now() - start;
    close(fd);
    printf("bytes=%lld seconds=%.3f mbit_per_s=%.1f\n", bytes, elapsed, (double)bytes * 8 / elapsed / 1e6);
    return 0;
}

static int sink(const char *port) {
    struct sockaddr_in a = address(NULL, port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(listener, (struct sockaddr *)&a, sizeof a) != 0 || listen(listener, 16) != 0) {
        perror("tcp_peer: listen");
        return 1;
    }
    static char buffer[1 << 16];
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        while (read(fd, buffer, sizeof buffer) > 0) {}
        close(fd);
    }
}

static int connects(const char *host, const char *port, double seconds) {
    struct sockaddr_in a = address(host, port);
    double start = now(), end = start + seconds;
    long long done = 0, failed = 0;
    while (now() < end) {
        int fd = connected(&a);
        if (fd < 0) { failed++; continue; }
        int on = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        char reply[64];
        if (write(fd, "x\n", 2) != 2) { failed++; close(fd); continue; }
        ssize_t got = 0, n;
        while (got < 2 && (n = read(fd, reply + got, sizeof reply - (size_t)got)) > 0) got += n;
        if (got >= 2 && reply[got - 1] == '\n') done++; else failed++;
        close(fd);
    }
    double elapsed = now() - start;
    printf("connections=%lld seconds=%.3f per_s=%.1f failed=%lld\n", done, elapsed, (double)done / elapsed, failed);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "send") == 0) return send_bulk(argv[2], argv[3], atof(argv[4]));
    if (argc == 5 && strcmp(argv[1], "receive") == 0) return receive_bulk(argv[2], argv[3], atof(argv[4]));
    if (argc == 3 && strcmp(argv[1], "sink") == 0) return sink(argv[2]);
    if (argc == 5 && strcmp(argv[1], "connects") == 0) return connects(argv[2], argv[3], atof(argv[4]));
    fprintf(stderr, "usage: tcp_peer send HOST PORT SECONDS | receive HOST PORT SECONDS | sink PORT | connects HOST PORT SECONDS\n");
    return 2;
}
