#define _GNU_SOURCE
#include "CPacket.h"

#include <errno.h>
#include <linux/if.h>   // IFNAMSIZ (not <net/if.h>: the bench peer includes this file beside <linux/if.h>)
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

unsigned int if_nametoindex(const char *name);  // <net/if.h>
char *if_indextoname(unsigned int index, char *name);

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

struct tapir_packet_socket {
    int fd;
    int ifindex;
    int blocks;             // TPACKET_V3
    uint8_t *ring;
    size_t ring_size;
    uint32_t block_size;
    uint32_t block_count;
    // V2: the slot a previous call handed out (given back on the next call), the next to look at.
    uint32_t frame_size;
    uint32_t frame_count;
    uint32_t slot;
    int holding_slot;
    // V3: the block being read (its status is TP_STATUS_USER while frames of it remain),
    // the next frame in it and how many frames of it are left.
    uint32_t block;
    struct tpacket3_hdr *frame;
    uint32_t frames_left;
    int holding_block;
    // The transmit ring (TAPIR_PACKET_TX_RING), mapped after the receive ring: V2 slots.
    uint8_t *tx_ring;
    uint32_t tx_count;
    uint32_t tx_next;
    uint32_t tx_queued;
    // PACKET_VNET_HDR: the header of the frame handed out last.
    int vnet;
    uint8_t offload[10];
};

static struct tpacket_block_desc *block_at(const tapir_packet_socket *s, uint32_t index) {
    return (struct tpacket_block_desc *)(s->ring + (size_t)index * s->block_size);
}

static int fail(tapir_packet_socket *s, int *error, int *failed_step, int step) {
    int err = errno;
    if (s->ring) munmap(s->ring, s->ring_size);
    if (s->fd >= 0) close(s->fd);
    free(s);
    *error = -err;
    *failed_step = step;
    return 0;
}

tapir_packet_socket *tapir_packet_open(const char *name, int flags, uint32_t block_size, uint32_t block_count,
                                       uint32_t frame_size, int *error, int *failed_step) {
    tapir_packet_socket *s = calloc(1, sizeof *s);
    if (!s) { *error = -ENOMEM; *failed_step = TAPIR_PACKET_STEP_SOCKET; return NULL; }
    s->fd = -1;
    if (strlen(name) >= IFNAMSIZ) { errno = ENAMETOOLONG; fail(s, error, failed_step, TAPIR_PACKET_STEP_INDEX); return NULL; }
    s->ifindex = (int)if_nametoindex(name);
    if (s->ifindex == 0) { fail(s, error, failed_step, TAPIR_PACKET_STEP_INDEX); return NULL; }
    // Protocol 0 until bound: no frame is queued before the ring and the options are in place.
    s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) { fail(s, error, failed_step, TAPIR_PACKET_STEP_SOCKET); return NULL; }

    int one = 1;
    if (setsockopt(s->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0 ||
        (!(flags & TAPIR_PACKET_NO_QDISC_BYPASS) &&
         setsockopt(s->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0)) {
        fail(s, error, failed_step, TAPIR_PACKET_STEP_OPTION);
        return NULL;
    }

    s->vnet = (flags & TAPIR_PACKET_VNET_HDR) != 0;
    if (s->vnet && ((flags & (TAPIR_PACKET_BLOCKS_V3 | TAPIR_PACKET_TX_RING)) ||
                    setsockopt(s->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0)) {
        if (flags & (TAPIR_PACKET_BLOCKS_V3 | TAPIR_PACKET_TX_RING)) errno = EINVAL;
        fail(s, error, failed_step, TAPIR_PACKET_STEP_OPTION);
        return NULL;
    }
    s->blocks = (flags & TAPIR_PACKET_BLOCKS_V3) != 0;
    int version = s->blocks ? TPACKET_V3 : TPACKET_V2;
    struct tpacket_req3 request;   // a tpacket_req with V3's three fields after it
    memset(&request, 0, sizeof request);
    request.tp_block_size = block_size;
    request.tp_block_nr = block_count;
    request.tp_frame_size = frame_size;   // V3: only a hint, frames are packed
    request.tp_frame_nr = (unsigned)((uint64_t)block_size * block_count / frame_size);
    request.tp_retire_blk_tov = 1;        // V3, ms: a block that is not full is handed over this soon
    if (setsockopt(s->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0 ||
        setsockopt(s->fd, SOL_PACKET, PACKET_RX_RING, &request,
                   s->blocks ? sizeof request : sizeof(struct tpacket_req)) < 0) {
        fail(s, error, failed_step, TAPIR_PACKET_STEP_RING);
        return NULL;
    }
    s->frame_size = frame_size;
    s->frame_count = request.tp_frame_nr;
    size_t tx_size = 0;
    if (flags & TAPIR_PACKET_TX_RING) {
        // The transmit ring is always V2 slots here (a V3 socket's TX ring is V3 frames,
        // which this code does not write): only offered with a V2 receive ring.
        struct tpacket_req tx;
        memset(&tx, 0, sizeof tx);
        tx.tp_block_size = block_size;
        tx.tp_block_nr = block_count / 4 ? block_count / 4 : 1;
        tx.tp_frame_size = frame_size;
        tx.tp_frame_nr = (unsigned)((uint64_t)tx.tp_block_size * tx.tp_block_nr / frame_size);
        if (s->blocks) { errno = EINVAL; fail(s, error, failed_step, TAPIR_PACKET_STEP_RING); return NULL; }
        if (setsockopt(s->fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof tx) < 0) {
            fail(s, error, failed_step, TAPIR_PACKET_STEP_RING);
            return NULL;
        }
        s->tx_count = tx.tp_frame_nr;
        tx_size = (size_t)tx.tp_block_size * tx.tp_block_nr;
    }
    s->block_size = block_size;
    s->block_count = block_count;
    s->ring_size = (size_t)block_size * block_count + tx_size;
    void *ring = mmap(NULL, s->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED | MAP_POPULATE, s->fd, 0);
    if (ring == MAP_FAILED) ring = mmap(NULL, s->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
    if (ring == MAP_FAILED) { fail(s, error, failed_step, TAPIR_PACKET_STEP_RING); return NULL; }
    s->ring = ring;
    if (tx_size) s->tx_ring = s->ring + (size_t)block_size * block_count;

    struct sockaddr_ll address;
    memset(&address, 0, sizeof address);
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ALL);
    address.sll_ifindex = s->ifindex;
    if (bind(s->fd, (struct sockaddr *)&address, sizeof address) < 0) {
        fail(s, error, failed_step, TAPIR_PACKET_STEP_BIND);
        return NULL;
    }

    if (flags & TAPIR_PACKET_PROMISC) {
        struct packet_mreq membership;
        memset(&membership, 0, sizeof membership);
        membership.mr_ifindex = s->ifindex;
        membership.mr_type = PACKET_MR_PROMISC;
        if (setsockopt(s->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &membership, sizeof membership) < 0) {
            fail(s, error, failed_step, TAPIR_PACKET_STEP_OPTION);
            return NULL;
        }
    }
    return s;
}

int tapir_packet_join_fanout(tapir_packet_socket *s, int group) {
    if (group > 0xffff) return -EINVAL;
    int type_flags = PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG;
    // The kernel keeps UNIQUEID on the first socket only: the others join with the same
    // type and flags without it, and the id.
    if (group < 0) type_flags |= PACKET_FANOUT_FLAG_UNIQUEID;
    int value = (group < 0 ? 0 : group) | (type_flags << 16);
    if (setsockopt(s->fd, SOL_PACKET, PACKET_FANOUT, &value, sizeof value) < 0) return -errno;
    int joined = 0;
    socklen_t length = sizeof joined;
    if (getsockopt(s->fd, SOL_PACKET, PACKET_FANOUT, &joined, &length) < 0) return -errno;
    return joined & 0xffff;
}

int tapir_packet_fd(const tapir_packet_socket *s) { return s->fd; }
int tapir_packet_ifindex(const tapir_packet_socket *s) { return s->ifindex; }

static void release_block(tapir_packet_socket *s) {
    struct tpacket_block_desc *block = block_at(s, s->block);
    __atomic_store_n(&block->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    s->holding_block = 0;
    s->block = (s->block + 1) % s->block_count;
}

// A VLAN tag the kernel took out of the frame (into the ring's header) is put back in
// front of the EtherType, as libpcap does, in the padding before the frame: the slot is
// ours until it is given back. The frame then starts 4 bytes earlier.
static const uint8_t *with_vlan_tag(uint8_t *frame, uint32_t *length, uint32_t *original, uint16_t tci, uint16_t tpid) {
    uint8_t *start = frame - 4;
    memmove(start, frame, 12);
    start[12] = (uint8_t)(tpid >> 8);
    start[13] = (uint8_t)tpid;
    start[14] = (uint8_t)(tci >> 8);
    start[15] = (uint8_t)tci;
    *length += 4;
    *original += 4;
    return start;
}

static uint32_t ring_sum16(const uint8_t *p, size_t n, uint32_t sum) {
    for (; n > 1; p += 2, n -= 2) sum += (uint32_t)(p[0] << 8 | p[1]);
    if (n) sum += (uint32_t)p[0] << 8;
    return sum;
}

// A frame sent by this machine's own stack (a veth peer, a bridge) may arrive with its
// TCP or UDP checksum left to the hardware (TP_STATUS_CSUMNOTREADY): the field holds only
// the pseudo-header's sum. Fill it in, for IPv4 and IPv6 with TCP or UDP right after the
// fixed header, behind up to two VLAN tags (802.1Q, 802.1ad and the older 0x9100, as the
// decoder takes them), as the receiving NIC would have checked it.
void tapir_packet_complete_checksum(uint8_t *f, uint32_t n) {
    uint32_t at = 14;
    if (n < at) return;
    uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
    for (int tags = 0; tags < 2 && (type == 0x8100 || type == 0x88a8 || type == 0x9100) && n >= at + 4; tags++) {
        type = (uint16_t)(f[at + 2] << 8 | f[at + 3]);
        at += 4;
    }
    uint8_t *ip = f + at;
    uint32_t protocol, l4_length, pseudo;
    uint8_t *l4;
    if (type == 0x0800 && n >= at + 20 && (ip[0] >> 4) == 4) {
        uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4, total = (uint32_t)(ip[2] << 8 | ip[3]);
        if (ihl < 20 || total < ihl || at + total > n || (ip[6] & 0x3f) || ip[7]) return;  // fragments: leave
        protocol = ip[9];
        l4 = ip + ihl;
        l4_length = total - ihl;
        pseudo = ring_sum16(ip + 12, 8, 0);
    } else if (type == 0x86DD && n >= at + 40) {
        uint32_t payload = (uint32_t)(ip[4] << 8 | ip[5]);
        if (at + 40 + payload > n) return;
        protocol = ip[6];
        l4 = ip + 40;
        l4_length = payload;
        pseudo = ring_sum16(ip + 8, 32, 0);
    } else {
        return;
    }
    uint32_t field;
    if (protocol == 6 && l4_length >= 20) field = 16;
    else if (protocol == 17 && l4_length >= 8) field = 6;
    else return;
    l4[field] = 0;
    l4[field + 1] = 0;
    uint32_t sum = ring_sum16(l4, l4_length, pseudo + protocol + l4_length);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    uint16_t check = (uint16_t)~sum;
    if (protocol == 17 && check == 0) check = 0xffff;
    l4[field] = (uint8_t)(check >> 8);
    l4[field + 1] = (uint8_t)check;
}

static int next_in_blocks(tapir_packet_socket *s, const uint8_t **frame, uint32_t *length, int *truncated) {
    if (s->holding_block && s->frames_left == 0) release_block(s);
    if (!s->holding_block) {
        struct tpacket_block_desc *block = block_at(s, s->block);
        if (!(__atomic_load_n(&block->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) return 0;
        s->holding_block = 1;
        s->frames_left = block->hdr.bh1.num_pkts;
        s->frame = (struct tpacket3_hdr *)((uint8_t *)block + block->hdr.bh1.offset_to_first_pkt);
        if (s->frames_left == 0) {   // a block retired empty: hand it back, look at the next
            release_block(s);
            return next_in_blocks(s, frame, length, truncated);
        }
    }
    struct tpacket3_hdr *header = s->frame;
    uint32_t original = header->tp_len;
    *length = header->tp_snaplen;
    *frame = (const uint8_t *)header + header->tp_mac;
    if ((header->tp_status & TP_STATUS_VLAN_VALID) && *length >= 12)
        *frame = with_vlan_tag((uint8_t *)header + header->tp_mac, length, &original, header->hv1.tp_vlan_tci,
                               (header->tp_status & TP_STATUS_VLAN_TPID_VALID) ? header->hv1.tp_vlan_tpid : ETH_P_8021Q);
    *truncated = *length < original;
    if ((header->tp_status & TP_STATUS_CSUMNOTREADY) && !*truncated) tapir_packet_complete_checksum((uint8_t *)*frame, *length);
    s->frames_left -= 1;
    if (s->frames_left > 0) s->frame = (struct tpacket3_hdr *)((uint8_t *)header + header->tp_next_offset);
    return 1;
}

static struct tpacket2_hdr *slot_at(const tapir_packet_socket *s, uint32_t index) {
    uint32_t per_block = s->block_size / s->frame_size;
    return (struct tpacket2_hdr *)(s->ring + (size_t)(index / per_block) * s->block_size
                                   + (size_t)(index % per_block) * s->frame_size);
}

static int next_in_slots(tapir_packet_socket *s, const uint8_t **frame, uint32_t *length, int *truncated) {
    if (s->holding_slot) {
        __atomic_store_n(&slot_at(s, s->slot)->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        s->holding_slot = 0;
        s->slot = (s->slot + 1) % s->frame_count;
    }
    struct tpacket2_hdr *header = slot_at(s, s->slot);
    if (!(__atomic_load_n(&header->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) return 0;
    s->holding_slot = 1;
    uint32_t original = header->tp_len;
    *length = header->tp_snaplen;
    *frame = (const uint8_t *)header + header->tp_mac;
    // The kernel put the virtio_net_hdr just before the frame, where a VLAN tag goes back.
    if (s->vnet) memcpy(s->offload, (const uint8_t *)*frame - sizeof s->offload, sizeof s->offload);
    if ((header->tp_status & TP_STATUS_VLAN_VALID) && *length >= 12) {
        *frame = with_vlan_tag((uint8_t *)header + header->tp_mac, length, &original, header->tp_vlan_tci,
                               (header->tp_status & TP_STATUS_VLAN_TPID_VALID) ? header->tp_vlan_tpid : ETH_P_8021Q);
        if (s->vnet && (s->offload[0] & 1)) {   // VIRTIO_NET_HDR_F_NEEDS_CSUM: csum_start (LE) moves by the tag
            uint16_t start = (uint16_t)(s->offload[6] | s->offload[7] << 8) + 4;
            s->offload[6] = (uint8_t)start;
            s->offload[7] = (uint8_t)(start >> 8);
        }
    }
    *truncated = *length < original;
    if (s->vnet && *truncated) memset(s->offload, 0, sizeof s->offload);
    // With the header, a partial checksum is said there and finished by the reader.
    if ((header->tp_status & TP_STATUS_CSUMNOTREADY) && !*truncated && !s->vnet)
        tapir_packet_complete_checksum((uint8_t *)*frame, *length);
    return 1;
}

int tapir_packet_next(tapir_packet_socket *s, const uint8_t **frame, uint32_t *length, int *truncated) {
    if (!s->ring) return 0;   // a failed tapir_packet_resize_slots
    return s->blocks ? next_in_blocks(s, frame, length, truncated) : next_in_slots(s, frame, length, truncated);
}

const uint8_t *tapir_packet_offload(const tapir_packet_socket *s) { return s->vnet ? s->offload : NULL; }

long tapir_packet_send(tapir_packet_socket *s, const uint8_t *frame, size_t length) {
    if (s->vnet) {
        static const uint8_t finished[10];   // an ordinary frame: nothing for the kernel to do
        struct iovec parts[2] = {{(void *)finished, sizeof finished}, {(void *)frame, length}};
        struct msghdr message;
        memset(&message, 0, sizeof message);
        message.msg_iov = parts;
        message.msg_iovlen = 2;
        ssize_t sent = sendmsg(s->fd, &message, MSG_DONTWAIT);
        return sent < 0 ? -errno : (long)length;
    }
    ssize_t sent = send(s->fd, frame, length, MSG_DONTWAIT);
    return sent < 0 ? -errno : (long)sent;
}

long tapir_packet_queue(tapir_packet_socket *s, const uint8_t *frame, size_t length) {
    if (!s->tx_ring) return -EINVAL;
    // Slots are laid out as in the receive ring: frame_size each, block after block.
    uint32_t per_block = s->block_size / s->frame_size;
    struct tpacket2_hdr *slot = (struct tpacket2_hdr *)(s->tx_ring + (size_t)(s->tx_next / per_block) * s->block_size
                                                       + (size_t)(s->tx_next % per_block) * s->frame_size);
    size_t offset = TPACKET2_HDRLEN - sizeof(struct sockaddr_ll);
    if (length > s->frame_size - offset) return -EMSGSIZE;
    uint32_t status = __atomic_load_n(&slot->tp_status, __ATOMIC_ACQUIRE);
    if (status != TP_STATUS_AVAILABLE) {
        if (status & TP_STATUS_WRONG_FORMAT) __atomic_store_n(&slot->tp_status, TP_STATUS_AVAILABLE, __ATOMIC_RELEASE);
        return -EAGAIN;
    }
    memcpy((uint8_t *)slot + offset, frame, length);
    slot->tp_len = (uint32_t)length;
    __atomic_store_n(&slot->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
    s->tx_next = (s->tx_next + 1) % s->tx_count;
    s->tx_queued += 1;
    return (long)length;
}

long tapir_packet_flush(tapir_packet_socket *s) {
    if (s->tx_queued == 0) return 0;
    s->tx_queued = 0;
    ssize_t sent = send(s->fd, NULL, 0, MSG_DONTWAIT);
    return sent < 0 ? -errno : (long)sent;
}

int tapir_packet_set_filter(tapir_packet_socket *s, const void *instructions, uint32_t count) {
    if (count == 0) {
        int dummy = 0;
        if (setsockopt(s->fd, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof dummy) < 0 && errno != ENOENT) return -errno;
        return 0;
    }
    struct sock_fprog program = { .len = (unsigned short)count, .filter = (struct sock_filter *)instructions };
    if (count > 0xFFFF) return -EINVAL;
    if (setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) < 0) return -errno;
    return 0;
}

int tapir_packet_statistics(tapir_packet_socket *s, uint64_t *received, uint64_t *dropped) {
    struct tpacket_stats_v3 stats;
    socklen_t size = sizeof stats;
    memset(&stats, 0, sizeof stats);
    if (getsockopt(s->fd, SOL_PACKET, PACKET_STATISTICS, &stats, &size) < 0) return -errno;
    *received = stats.tp_packets;
    *dropped = stats.tp_drops;
    return 0;
}

int tapir_packet_clear_error(tapir_packet_socket *s, int *error) {
    socklen_t size = sizeof *error;
    *error = 0;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, error, &size) < 0) return -errno;
    char name[IFNAMSIZ];
    return if_indextoname((unsigned)s->ifindex, name) != NULL;
}

int tapir_packet_interface_exists(tapir_packet_socket *s) {
    char name[IFNAMSIZ];
    return if_indextoname((unsigned)s->ifindex, name) != NULL;
}

// Asks for a V2 receive ring of `frame_size` slots in the socket's blocks and maps it.
static int map_slots(tapir_packet_socket *s, uint32_t frame_size) {
    struct tpacket_req request;
    memset(&request, 0, sizeof request);
    request.tp_block_size = s->block_size;
    request.tp_block_nr = s->block_count;
    request.tp_frame_size = frame_size;
    request.tp_frame_nr = (unsigned)((uint64_t)s->block_size * s->block_count / frame_size);
    if (setsockopt(s->fd, SOL_PACKET, PACKET_RX_RING, &request, sizeof request) < 0) return -errno;
    void *ring = mmap(NULL, s->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED | MAP_POPULATE, s->fd, 0);
    if (ring == MAP_FAILED) ring = mmap(NULL, s->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
    if (ring == MAP_FAILED) {
        int err = errno;
        memset(&request, 0, sizeof request);
        (void)setsockopt(s->fd, SOL_PACKET, PACKET_RX_RING, &request, sizeof request);
        return -err;
    }
    s->ring = ring;
    s->frame_size = frame_size;
    s->frame_count = request.tp_frame_nr;
    s->slot = 0;
    s->holding_slot = 0;
    return 0;
}

int tapir_packet_resize_slots(tapir_packet_socket *s, uint32_t frame_size) {
    if (s->blocks || s->tx_ring || !s->ring) return -EINVAL;
    if (frame_size == s->frame_size) return 0;
    uint32_t old_size = s->frame_size;
    // The kernel frees a ring only when it is not mapped, on a request with no blocks.
    munmap(s->ring, s->ring_size);
    s->ring = NULL;
    struct tpacket_req none;
    memset(&none, 0, sizeof none);
    if (setsockopt(s->fd, SOL_PACKET, PACKET_RX_RING, &none, sizeof none) < 0) {
        int err = errno;   // the old ring is still the kernel's: map it again
        void *ring = mmap(NULL, s->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
        s->ring = ring == MAP_FAILED ? NULL : ring;
        return -err;
    }
    int result = map_slots(s, frame_size);
    if (result != 0 && map_slots(s, old_size) != 0) s->ring = NULL;
    return result;
}

void tapir_packet_close(tapir_packet_socket *s) {
    if (!s) return;
    if (s->ring) munmap(s->ring, s->ring_size);
    close(s->fd);
    free(s);
}
