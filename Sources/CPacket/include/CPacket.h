#ifndef TAPIR_CPACKET_H
#define TAPIR_CPACKET_H

// An AF_PACKET socket bound to one existing interface, with a memory-mapped receive ring,
// TPACKET_V2 (one slot per frame, each handed over as it arrives) or TPACKET_V3 (the
// kernel fills blocks of frames and hands a block over when it is full or 1 ms old; a block
// goes back to it once every frame in it was read), and writes through send() with
// PACKET_QDISC_BYPASS. The ring's status words are
// shared with the kernel and need memory barriers, which is why this lives in C.
// Every function returns a non-negative value on success and -errno on failure; none prints.

#include <stddef.h>
#include <stdint.h>

// Flags for tapir_packet_open.
#define TAPIR_PACKET_PROMISC        0x1  // PACKET_MR_PROMISC on the interface for as long as the socket lives
#define TAPIR_PACKET_NO_QDISC_BYPASS 0x2 // writes go through the interface's queueing discipline
#define TAPIR_PACKET_BLOCKS_V3      0x4  // a TPACKET_V3 (block) receive ring; without it TPACKET_V2
#define TAPIR_PACKET_TX_RING        0x8  // a TPACKET_V2 transmit ring as well (tapir_packet_queue, tapir_packet_flush)
#define TAPIR_PACKET_VNET_HDR       0x10 // PACKET_VNET_HDR, TPACKET_V2 only: GSO super-frames and partial checksums
                                         // arrive as the sender left them, described by a virtio_net_hdr
                                         // (tapir_packet_offload); tapir_packet_send puts an empty one before each frame

// Which step of tapir_packet_open failed.
#define TAPIR_PACKET_STEP_SOCKET  1   // socket(AF_PACKET)
#define TAPIR_PACKET_STEP_INDEX   2   // if_nametoindex: no such interface
#define TAPIR_PACKET_STEP_RING    3   // PACKET_VERSION / PACKET_RX_RING / mmap
#define TAPIR_PACKET_STEP_BIND    4   // bind to the interface
#define TAPIR_PACKET_STEP_OPTION  5   // PACKET_IGNORE_OUTGOING, PACKET_QDISC_BYPASS, promiscuous mode

typedef struct tapir_packet_socket tapir_packet_socket;

/// Opens a non-blocking, close-on-exec AF_PACKET socket on interface `name` (all
/// EtherTypes), its receive ring `block_size` x `block_count` bytes (block_size a multiple
/// of the page size); a V2 ring's slots are `frame_size` bytes each (a multiple of 16 that
/// divides block_size), which bounds the longest frame kept whole. On failure returns NULL with -errno in *error and the step in *failed_step.
tapir_packet_socket *tapir_packet_open(const char *name, int flags, uint32_t block_size, uint32_t block_count,
                                       uint32_t frame_size,
                                       int *error, int *failed_step);
/// Puts the socket in a PACKET_FANOUT group of type PACKET_FANOUT_HASH with
/// PACKET_FANOUT_FLAG_DEFRAG (an IP datagram's fragments are joined first, so they reach
/// one socket): the kernel hands each frame to one socket of the group by its flow hash.
/// A negative `group` makes a new group whose id the kernel picks (PACKET_FANOUT_FLAG_UNIQUEID,
/// so no other process's group can be joined by chance); another socket on the same interface
/// then joins it with that id. Returns the group's id (0 to 65535; the kernel's first is 0),
/// or -errno.
int tapir_packet_join_fanout(tapir_packet_socket *socket, int group);
/// The socket's descriptor (poll it for readability).
int tapir_packet_fd(const tapir_packet_socket *socket);
/// The interface's index.
int tapir_packet_ifindex(const tapir_packet_socket *socket);

/// The next frame of the ring: 1 with *frame and *length set (valid until the next call),
/// 0 when the ring is empty (poll, then call again). The frame a previous call returned is
/// given back to the kernel here (its whole block once every frame in it was read).
/// *truncated is set when the frame was longer than what the ring kept (snaplen).
int tapir_packet_next(tapir_packet_socket *socket, const uint8_t **frame, uint32_t *length, int *truncated);

/// Fills in the TCP or UDP checksum of an Ethernet frame whose field holds only the
/// pseudo-header's sum (what a frame the ring marks TP_STATUS_CSUMNOTREADY carries): IPv4
/// or IPv6 with the transport header right after the fixed one, behind up to two VLAN tags
/// (0x8100, 0x88a8, 0x9100). Any other frame, an IPv4 fragment or one shorter than its
/// lengths say, is left as it is.
void tapir_packet_complete_checksum(uint8_t *frame, uint32_t length);

/// Sends one frame (send() on the bound socket): its length, or -errno.
long tapir_packet_send(tapir_packet_socket *socket, const uint8_t *frame, size_t length);

/// With TAPIR_PACKET_TX_RING: copies one frame into the next free slot of the transmit
/// ring (sent at the next flush): its length, -EAGAIN when the ring is full (flush, then
/// try again), -EMSGSIZE when it is longer than a slot.
long tapir_packet_queue(tapir_packet_socket *socket, const uint8_t *frame, size_t length);
/// Sends every queued frame with one send(): the bytes sent, or -errno.
long tapir_packet_flush(tapir_packet_socket *socket);

/// Replaces the socket's kernel filter (SO_ATTACH_FILTER) with `count` classic BPF
/// instructions (struct sock_filter, 8 bytes each), then drops what the ring holds that
/// arrived before it (those frames were taken under the old filter, and are read as usual).
/// count 0 removes the filter (SO_DETACH_FILTER; a missing one is not an error).
int tapir_packet_set_filter(tapir_packet_socket *socket, const void *instructions, uint32_t count);

/// PACKET_STATISTICS: frames the socket took in (passed its filter) and frames the
/// kernel dropped for want of room in the ring, since the last call (the kernel resets
/// them on read). 0 or -errno.
int tapir_packet_statistics(tapir_packet_socket *socket, uint64_t *received, uint64_t *dropped);

/// After the poller said the socket has an error: reads and clears it (SO_ERROR; the
/// kernel sets ENETDOWN when the interface goes down or away). Returns 1 when the
/// interface still exists (it went down, and frames come again once it is up), 0 when it
/// is gone, or -errno.
int tapir_packet_clear_error(tapir_packet_socket *socket, int *error);

/// Whether the socket's interface still exists (looked up by its index): 1 or 0.
int tapir_packet_interface_exists(tapir_packet_socket *socket);

/// With TAPIR_PACKET_VNET_HDR: the 10-byte virtio_net_hdr of the frame the last
/// tapir_packet_next handed out (its csum_start counts a VLAN tag put back in front);
/// all zero for a frame cut short. NULL without the flag.
const uint8_t *tapir_packet_offload(const tapir_packet_socket *socket);

/// Makes a TPACKET_V2 receive ring again with slots of `frame_size` bytes (the same
/// blocks, so fewer or more slots), for an interface whose MTU grew past a slot: frames
/// waiting in the old ring are lost, and a frame handed out before is no longer valid.
/// 0, or -errno: EINVAL for a TPACKET_V3 ring or one with a transmit ring. If the new
/// ring cannot be made the old size is made again; if that fails too the socket has no
/// ring (reads find nothing) and the error is returned.
int tapir_packet_resize_slots(tapir_packet_socket *socket, uint32_t frame_size);

/// Unmaps the ring and closes the socket (the kernel ends promiscuous mode with it).
void tapir_packet_close(tapir_packet_socket *socket);

#endif
