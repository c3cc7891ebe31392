#ifndef TAPIR_CTUNTAP_RING_H
#define TAPIR_CTUNTAP_RING_H

// Batches of tun/tap reads and writes through an io_uring: one io_uring_enter for a run
// of reads, one for a run of writes, where read(2) and write(2) cost a system call each.
// Every function returns a non-negative value on success and -errno on failure; none of
// them prints. One thread at a time.

#include <stdint.h>
#include <sys/uio.h>

typedef struct tapir_tap_ring tapir_tap_ring;

/// A ring for the non-blocking tun/tap descriptor `fd` (not taken over: the caller closes
/// it after tapir_tap_ring_close), with `slots` read buffers of `slot_size` bytes. NULL
/// with -errno in *error when the kernel has no io_uring or refuses it (ENOSYS, EPERM
/// under kernel.io_uring_disabled, ENOMEM).
tapir_tap_ring *tapir_tap_ring_open(int fd, unsigned slots, unsigned slot_size, int *error);

/// Reads into slots 0 ..< count (count <= slots) in one submission, none of them waiting:
/// results[i] is the length read into slot i, or -errno (-EAGAIN: nothing was there).
/// A read the kernel would have kept waiting is cancelled and says -EAGAIN. Returns 0, or
/// -errno when the batch could not be submitted (nothing was read) or a read could not be
/// cancelled within a second (-ETIME: the ring is not to be used again).
int tapir_tap_ring_read(tapir_tap_ring *ring, unsigned count, int *results);

/// Slot `index`'s buffer.
const uint8_t *tapir_tap_ring_slot(const tapir_tap_ring *ring, unsigned index);

/// Writes `count` frames in one submission, frame i gathered from the `per_frame` vectors
/// at vectors[i * per_frame]; results[i] is its length written, or -errno. The vectors and
/// what they point to are read before this returns. Returns 0, or -errno when the batch
/// could not be submitted (nothing was written).
int tapir_tap_ring_write(tapir_tap_ring *ring, const struct iovec *vectors, unsigned per_frame,
                         unsigned count, int *results);

/// The largest `count` a read or write batch takes.
unsigned tapir_tap_ring_capacity(const tapir_tap_ring *ring);

void tapir_tap_ring_close(tapir_tap_ring *ring);

#endif
