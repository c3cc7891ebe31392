/*
 * c_echo_uring: c_echo's answers (echo_responder.h) with io_uring instead of read/write, the
 * measured try of whether submitting many tap reads and writes per system call passes
 * the plain loop on this kernel.
 *
 * SLOTS buffers, each with a read of the tap outstanding; a read that brings a frame to
 * answer becomes a write from the same buffer, whose completion queues the buffer's next
 * read. One io_uring_enter per batch of completions submits every read and write they
 * made. The tap and the buffers are registered (fixed file, fixed buffers); the ring is
 * single-issuer with deferred task work where the kernel has them (6.1 on).
 *
 * Usage: c_echo_uring TAPNAME
 */
#define _GNU_SOURCE
#include <liburing.h>
#include <stdio.h>
#include <unistd.h>

#include "echo_responder.h"

enum { SLOTS = 128, FRAME_SIZE = 2048, RING_ENTRIES = 2 * SLOTS };
enum { READING = 0, WRITING = 1 };

static uint8_t frames[SLOTS][FRAME_SIZE];

static void queue(struct io_uring *ring, unsigned slot, int kind, size_t length) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe) {  /* the submission queue is full: hand it to the kernel, then there is room */
        io_uring_submit(ring);
        sqe = io_uring_get_sqe(ring);
    }
    if (kind == READING)
        io_uring_prep_read_fixed(sqe, 0, frames[slot], FRAME_SIZE, 0, (int)slot);
    else
        io_uring_prep_write_fixed(sqe, 0, frames[slot], (unsigned)length, 0, (int)slot);
    sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, (uint64_t)slot << 1 | (uint64_t)kind);
}

static int setup_ring(struct io_uring *ring) {
#if defined(IORING_SETUP_SINGLE_ISSUER) && defined(IORING_SETUP_DEFER_TASKRUN)
    if (io_uring_queue_init(RING_ENTRIES, ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN) == 0)
        return 0;
#endif
    return io_uring_queue_init(RING_ENTRIES, ring, 0);
}

int main(int argc, char **argv) {
    int fd = open_tap(argc, argv, "c_echo_uring");
    if (fd < 0) return argc != 2 ? 2 : 1;

    struct io_uring ring;
    int status = setup_ring(&ring);
    if (status < 0) {
        fprintf(stderr, "c_echo_uring: io_uring_queue_init: %s\n", strerror(-status));
        return 1;
    }
    struct iovec buffers[SLOTS];
    for (unsigned i = 0; i < SLOTS; i++) buffers[i] = (struct iovec){ frames[i], FRAME_SIZE };
    if ((status = io_uring_register_files(&ring, &fd, 1)) < 0
        || (status = io_uring_register_buffers(&ring, buffers, SLOTS)) < 0) {
        fprintf(stderr, "c_echo_uring: io_uring_register: %s\n", strerror(-status));
        return 1;
    }
    for (unsigned slot = 0; slot < SLOTS; slot++) queue(&ring, slot, READING, 0);

    for (;;) {
        status = io_uring_submit_and_wait(&ring, 1);
        if (status < 0 && status != -EINTR && status != -EAGAIN && status != -EBUSY) {
            fprintf(stderr, "c_echo_uring: io_uring_enter: %s\n", strerror(-status));
            return 1;
        }
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            unsigned slot = (unsigned)(cqe->user_data >> 1);
            int kind = (int)(cqe->user_data & 1);
            int result = cqe->res;
            if (kind == WRITING) {
                if (result < 0) fprintf(stderr, "c_echo_uring: write: %s\n", strerror(-result));
                queue(&ring, slot, READING, 0);
                continue;
            }
            if (result < 0 && result != -EINTR && result != -EAGAIN) {
                fprintf(stderr, "c_echo_uring: read: %s\n", strerror(-result));
                return 1;
            }
            size_t reply = result > 0 ? answer_frame(frames[slot], (size_t)result) : 0;
            queue(&ring, slot, reply ? WRITING : READING, reply);
        }
        io_uring_cq_advance(&ring, seen);
    }
}
