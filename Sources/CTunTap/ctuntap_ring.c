#define _GNU_SOURCE
#include "CTunTapRing.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>

struct tapir_tap_ring {
    struct io_uring uring;
    int fd;
    unsigned slots;
    unsigned slot_size;
    unsigned capacity;
    uint8_t *buffers;
    int abandoned;  /* a read is still out: its buffer is never freed */
};

tapir_tap_ring *tapir_tap_ring_open(int fd, unsigned slots, unsigned slot_size, int *error) {
    tapir_tap_ring *ring = calloc(1, sizeof *ring);
    if (ring == NULL) {
        *error = -ENOMEM;
        return NULL;
    }
    ring->fd = fd;
    ring->slots = slots;
    ring->slot_size = slot_size;
    ring->buffers = malloc((size_t)slots * slot_size);
    // Room for a whole batch of reads, or of writes, plus the cancellations of a read batch.
    unsigned entries = 1;
    while (entries < 2 * slots) entries <<= 1;
    int status = ring->buffers == NULL ? -ENOMEM : io_uring_queue_init(entries, &ring->uring, 0);
    if (status < 0) {
        free(ring->buffers);
        free(ring);
        *error = status;
        return NULL;
    }
    ring->capacity = slots;
    return ring;
}

unsigned tapir_tap_ring_capacity(const tapir_tap_ring *ring) { return ring->capacity; }

const uint8_t *tapir_tap_ring_slot(const tapir_tap_ring *ring, unsigned index) {
    return ring->buffers + (size_t)index * ring->slot_size;
}

#define CANCELLATION UINT64_MAX  /* the user data of a cancellation's own completion */

/* Takes every completion there is: results[user_data] = res. Returns how many. */
static unsigned reap(tapir_tap_ring *ring, unsigned count, int *results) {
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0, taken = 0;
    io_uring_for_each_cqe(&ring->uring, head, cqe) {
        seen++;
        uint64_t index = io_uring_cqe_get_data64(cqe);
        if (index < count) {
            results[index] = cqe->res;
            taken++;
        }
    }
    io_uring_cq_advance(&ring->uring, seen);
    return taken;
}

/* Hands the kernel what is queued, waiting for `wait` completions. A failure, or a batch
   the kernel took only part of, leaves the ring abandoned: never used again, its read
   buffers never freed (a request may still be out). */
static int submit(tapir_tap_ring *ring, unsigned wait) {
    int status;
    do status = io_uring_submit_and_wait(&ring->uring, wait);
    while (status == -EINTR);
    if (status >= 0 && io_uring_sq_ready(&ring->uring) > 0) status = -EAGAIN;
    if (status < 0) ring->abandoned = 1;
    return status < 0 ? status : 0;
}

/* Waits, a second at most each, until `done` reaches `count`. On a timeout the ring is
   abandoned: a kernel that cannot finish or cancel a request must not see its buffer freed. */
static int wait_for(tapir_tap_ring *ring, unsigned count, int *results, unsigned done) {
    while (done < count) {
        struct __kernel_timespec second = { .tv_sec = 1, .tv_nsec = 0 };
        struct io_uring_cqe *cqe;
        int status;
        do status = io_uring_wait_cqe_timeout(&ring->uring, &cqe, &second);
        while (status == -EINTR);
        if (status < 0) {
            ring->abandoned = 1;
            return status;
        }
        done += reap(ring, count, results);
    }
    return 0;
}

int tapir_tap_ring_read(tapir_tap_ring *ring, unsigned count, int *results) {
    if (ring->abandoned) return -EBADFD;
    if (count > ring->capacity) count = ring->capacity;
    for (unsigned i = 0; i < count; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->uring);
        io_uring_prep_read(sqe, ring->fd, ring->buffers + (size_t)i * ring->slot_size, ring->slot_size, 0);
        sqe->rw_flags = RWF_NOWAIT;
        io_uring_sqe_set_data64(sqe, i);
        results[i] = -EAGAIN;
    }
    int status = submit(ring, 0);
    if (status < 0) return status;
    // Reads that do not wait complete during the submission; one the kernel kept (it
    // would have waited for a frame) is cancelled, so that nothing is left outstanding.
    unsigned done = reap(ring, count, results);
    if (done < count) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->uring);
        io_uring_prep_cancel_fd(sqe, ring->fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, CANCELLATION);
        if ((status = submit(ring, 0)) < 0) return status;
        // A kernel that cannot cancel it leaves the read waiting for a frame: the ring is
        // given up after a second rather than wait for traffic.
        if ((status = wait_for(ring, count, results, done)) < 0) return status;
        for (unsigned i = 0; i < count; i++)
            if (results[i] == -ECANCELED || results[i] == -EINTR) results[i] = -EAGAIN;
    }
    return 0;
}

int tapir_tap_ring_write(tapir_tap_ring *ring, const struct iovec *vectors, unsigned per_frame,
                         unsigned count, int *results) {
    if (ring->abandoned) return -EBADFD;
    if (count > ring->capacity) return -EINVAL;
    for (unsigned i = 0; i < count; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->uring);
        io_uring_prep_writev(sqe, ring->fd, vectors + (size_t)i * per_frame, per_frame, 0);
        sqe->rw_flags = RWF_NOWAIT;  /* as write(2) on the non-blocking descriptor: EAGAIN, not a wait */
        io_uring_sqe_set_data64(sqe, i);
        results[i] = -EIO;
    }
    int status = submit(ring, count);
    if (status < 0) {
        // Part of the batch may be out: it reads the caller's frames, so wait for it.
        wait_for(ring, count, results, reap(ring, count, results) + io_uring_sq_ready(&ring->uring));
        return status;
    }
    return wait_for(ring, count, results, reap(ring, count, results));
}

void tapir_tap_ring_close(tapir_tap_ring *ring) {
    if (ring == NULL) return;
    io_uring_queue_exit(&ring->uring);
    if (!ring->abandoned) free(ring->buffers);
    free(ring);
}
