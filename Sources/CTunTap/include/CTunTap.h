#ifndef TAPIR_CTUNTAP_H
#define TAPIR_CTUNTAP_H

// The tun/tap ioctls, which Swift cannot call (ioctl is variadic).
// Every function returns a non-negative value on success and -errno on failure;
// none of them prints.

#include <stdint.h>
#include <sys/types.h>

#define TAPIR_IFNAMSIZ 16

// Flags for tapir_tun_open.
#define TAPIR_TUN_MODE_TAP     0x1  // Ethernet frames (IFF_TAP); without it IP datagrams (IFF_TUN)
#define TAPIR_TUN_NO_PI        0x2  // no 4-byte packet-information header (IFF_NO_PI)
#define TAPIR_TUN_MULTI_QUEUE  0x4  // one more queue of a multi-queue device (IFF_MULTI_QUEUE)
#define TAPIR_TUN_VNET_HDR     0x8  // a struct virtio_net_hdr before every frame (IFF_VNET_HDR)

// Offloads for tapir_tun_set_offload (TUN_F_*): what the kernel may hand over unfinished.
#define TAPIR_OFFLOAD_CSUM     0x01 // partial transport checksums
#define TAPIR_OFFLOAD_TSO4     0x02 // TCP super-segments over IPv4
#define TAPIR_OFFLOAD_TSO6     0x04 // TCP super-segments over IPv6
#define TAPIR_OFFLOAD_TSO_ECN  0x08 // ... with CWR set

// Which step of tapir_tun_open failed, so errno can be read in context.
#define TAPIR_TUN_STEP_OPEN    1    // open("/dev/net/tun")
#define TAPIR_TUN_STEP_SETIFF  2    // ioctl(TUNSETIFF)

/// Opens /dev/net/tun (O_RDWR|O_NONBLOCK|O_CLOEXEC) and attaches it to the device `name`
/// (created when missing; a name holding "%d" lets the kernel number it).
/// On success returns the fd and writes the kernel's name (NUL-terminated) to `out_name`.
/// On failure returns -errno and writes the failing step to `*failed_step`.
int tapir_tun_open(const char *name, int flags, char out_name[TAPIR_IFNAMSIZ], int *failed_step);

/// TUNSETOFFLOAD with TAPIR_OFFLOAD_* flags (the device must have IFF_VNET_HDR).
int tapir_tun_set_offload(int fd, unsigned int offloads);

/// TUNSETPERSIST: keep the device when its last fd closes (1) or not (0).
int tapir_tun_set_persist(int fd, int persist);
/// TUNSETOWNER / TUNSETGROUP.
int tapir_tun_set_owner(int fd, uid_t owner);
int tapir_tun_set_group(int fd, gid_t group);

/// SIOCGIFMTU: the MTU of interface `name`.
int tapir_if_get_mtu(const char *name);
/// SIOCGIFHWADDR: the 6-byte hardware address of interface `name`.
int tapir_if_get_hwaddr(const char *name, uint8_t out_mac[6]);
/// SIOCSIFFLAGS: sets IFF_UP on interface `name`.
int tapir_if_set_up(const char *name);
/// if_nametoindex: the ifindex of `name`.
int tapir_if_index(const char *name);

// Following a tun/tap's link (its MTU) wherever its network namespace is:
// The namespace the device of `tun_fd` is in now (TUNGETDEVNETNS): a descriptor, or -errno.
int tapir_tun_netns(int tun_fd);
// The device's current name (TUNGETIFF), or -errno.
int tapir_tun_name(int tun_fd, char out_name[TAPIR_IFNAMSIZ]);
// A netlink socket subscribed to link changes (RTMGRP_LINK) and a socket for interface
// ioctls, both made in the namespace `netns_fd` (entered by this thread for the time it
// takes, then left), or in the caller's own when `netns_fd` is negative. Returns the
// netlink descriptor and puts the other in *ioctl_fd, or -errno (EPERM once privileges
// are dropped and another namespace is asked for).
int tapir_link_sockets_in(int netns_fd, int *ioctl_fd);
// MTU and ifindex of `name` through `ioctl_fd`: 0, or -errno.
int tapir_link_mtu_and_index(int ioctl_fd, const char *name, int *mtu, int *index);
// Reads every waiting message of `netlink_fd`: for link `index`, *mtu gets its MTU from a
// RTM_NEWLINK, *removed is set on a RTM_DELLINK (it left the namespace, or was deleted).
// Returns the number of messages read, or -errno.
int tapir_link_read_changes(int netlink_fd, int index, int *mtu, int *removed);

#include "CTunTapRing.h"

#endif
