/*
 * c_echo: the reference responder of scripts/bench, the near-physical limit of one thread.
 *
 * Opens a tap (IFF_TAP | IFF_NO_PI) and, with a blocking read/write loop, answers what
 * echo_responder.h answers (ARP for 198.18.0.2, UDP echo on port 7): one read and one write
 * per packet. Everything else is ignored.
 *
 * Usage: c_echo TAPNAME
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

#include "echo_responder.h"

int main(int argc, char **argv) {
    int fd = open_tap(argc, argv, "c_echo");
    if (fd < 0) return argc != 2 ? 2 : 1;

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
