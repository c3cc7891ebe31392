/*
 * c_echo: the reference responder of scripts/bench, the near-physical limit of one thread.
 *
 * Opens a tap (IFF_TAP | IFF_NO_PI) and, with a blocking read/write loop, answers what
 * echo_answer.h answers (ARP for 198.18.0.2, UDP echo on port 7): one read and one write
 * per packet. Everything else is ignored.
 *
 * Usage: c_echo TAPNAME
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "echo_answer.h"

int main(int argc, char **argv) {
    if (argc != 2 || strlen(argv[1]) >= IFNAMSIZ) {
        fprintf(stderr, "usage: c_echo TAPNAME (at most %d bytes)\n", IFNAMSIZ - 1);
        return 2;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "c_echo: /dev/net/tun: %s\n", strerror(errno));
        return 1;
    }
    struct ifreq ifr = {0};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "c_echo: TUNSETIFF %s: %s\n", argv[1], strerror(errno));
        return 1;
    }

    static uint8_t frame[65536];
    for (;;) {
        ssize_t n = read(fd, frame, sizeof frame);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "c_echo: read: %s\n", strerror(errno));
            return 1;
        }
        size_t reply = answer_frame(frame, (size_t)n);
        if (reply && write(fd, frame, reply) < 0 && errno != EINTR)
            fprintf(stderr, "c_echo: write: %s\n", strerror(errno));
    }
}
