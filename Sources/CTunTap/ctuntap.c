#define _GNU_SOURCE
#include "CTunTap.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sched.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

int tapir_tun_open(const char *name, int flags, char out_name[TAPIR_IFNAMSIZ], int *failed_step) {
    if (strlen(name) >= IFNAMSIZ) {
        *failed_step = TAPIR_TUN_STEP_SETIFF;
        return -ENAMETOOLONG;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *failed_step = TAPIR_TUN_STEP_OPEN;
        return -errno;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = (flags & TAPIR_TUN_MODE_TAP) ? IFF_TAP : IFF_TUN;
    if (flags & TAPIR_TUN_NO_PI) ifr.ifr_flags |= IFF_NO_PI;
    if (flags & TAPIR_TUN_MULTI_QUEUE) ifr.ifr_flags |= IFF_MULTI_QUEUE;
    if (flags & TAPIR_TUN_VNET_HDR) ifr.ifr_flags |= IFF_VNET_HDR;
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int err = errno;
        close(fd);
        *failed_step = TAPIR_TUN_STEP_SETIFF;
        return -err;
    }
    memcpy(out_name, ifr.ifr_name, IFNAMSIZ);
    out_name[IFNAMSIZ - 1] = '\0';
    return fd;
}

int tapir_tun_set_offload(int fd, unsigned int offloads) {
    unsigned long kernel = 0;
    if (offloads & TAPIR_OFFLOAD_CSUM) kernel |= TUN_F_CSUM;
    if (offloads & TAPIR_OFFLOAD_TSO4) kernel |= TUN_F_TSO4;
    if (offloads & TAPIR_OFFLOAD_TSO6) kernel |= TUN_F_TSO6;
    if (offloads & TAPIR_OFFLOAD_TSO_ECN) kernel |= TUN_F_TSO_ECN;
    return ioctl(fd, TUNSETOFFLOAD, kernel) < 0 ? -errno : 0;
}

int tapir_tun_set_persist(int fd, int persist) {
    return ioctl(fd, TUNSETPERSIST, (unsigned long)(persist ? 1 : 0)) < 0 ? -errno : 0;
}

int tapir_tun_set_owner(int fd, uid_t owner) {
    return ioctl(fd, TUNSETOWNER, (unsigned long)owner) < 0 ? -errno : 0;
}

int tapir_tun_set_group(int fd, gid_t group) {
    return ioctl(fd, TUNSETGROUP, (unsigned long)group) < 0 ? -errno : 0;
}

// Interface ioctls go through any socket of the current network namespace.
static int interface_request(const char *name, unsigned long request, struct ifreq *ifr) {
    if (strlen(name) >= IFNAMSIZ) return -ENAMETOOLONG;
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return -errno;
    strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
    int result = ioctl(sock, request, ifr) < 0 ? -errno : 0;
    close(sock);
    return result;
}

int tapir_if_get_mtu(const char *name) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    int result = interface_request(name, SIOCGIFMTU, &ifr);
    return result < 0 ? result : ifr.ifr_mtu;
}

int tapir_if_get_hwaddr(const char *name, uint8_t out_mac[6]) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    int result = interface_request(name, SIOCGIFHWADDR, &ifr);
    if (result < 0) return result;
    memcpy(out_mac, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
}

int tapir_if_set_up(const char *name) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    int result = interface_request(name, SIOCGIFFLAGS, &ifr);
    if (result < 0) return result;
    /* Already up: nothing to ask (setting flags needs CAP_NET_ADMIN, which a user
       running on a device it owns does not have). */
    if (ifr.ifr_flags & IFF_UP) return 0;
    ifr.ifr_flags |= IFF_UP;
    return interface_request(name, SIOCSIFFLAGS, &ifr);
}

int tapir_if_index(const char *name) {
    unsigned int index = if_nametoindex(name);
    return index == 0 ? -errno : (int)index;
}

int tapir_tun_netns(int tun_fd) {
    int fd = ioctl(tun_fd, TUNGETDEVNETNS);
    return fd < 0 ? -errno : fd;
}

int tapir_tun_name(int tun_fd, char out_name[TAPIR_IFNAMSIZ]) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (ioctl(tun_fd, TUNGETIFF, &ifr) < 0) return -errno;
    memcpy(out_name, ifr.ifr_name, IFNAMSIZ);
    out_name[IFNAMSIZ - 1] = '\0';
    return 0;
}

static int link_sockets_here(int *ioctl_fd) {
    int link = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    int control = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int err = (link < 0 || control < 0) ? errno : 0;
    if (!err) {
        struct sockaddr_nl address;
        memset(&address, 0, sizeof address);
        address.nl_family = AF_NETLINK;
        address.nl_groups = RTMGRP_LINK;
        if (bind(link, (struct sockaddr *)&address, sizeof address) < 0) err = errno;
    }
    if (err) {
        if (link >= 0) close(link);
        if (control >= 0) close(control);
        return -err;
    }
    *ioctl_fd = control;
    return link;
}

int tapir_link_sockets_in(int netns_fd, int *ioctl_fd) {
    if (netns_fd < 0) return link_sockets_here(ioctl_fd);
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0) return -errno;
    if (setns(netns_fd, CLONE_NEWNET) < 0) {
        int err = errno;
        close(home);
        return -err;
    }
    int result = link_sockets_here(ioctl_fd);
    /* Back home whatever happened: the loop's thread must not stay in another namespace,
       where every later socket and device would be made. Entering our own namespace again
       cannot fail but by a bug (a bad descriptor), so failing is fatal, as EBADF is. */
    if (setns(home, CLONE_NEWNET) < 0) {
        static const char message[] = "tapir: cannot return to its own network namespace after following a device's link\n";
        (void)!write(STDERR_FILENO, message, sizeof message - 1);
        abort();
    }
    close(home);
    return result;
}

int tapir_link_mtu_and_index(int ioctl_fd, const char *name, int *mtu, int *index) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(ioctl_fd, SIOCGIFMTU, &ifr) < 0) return -errno;
    *mtu = ifr.ifr_mtu;
    if (ioctl(ioctl_fd, SIOCGIFINDEX, &ifr) < 0) return -errno;
    *index = ifr.ifr_ifindex;
    return 0;
}

int tapir_link_read_changes(int netlink_fd, int index, int *mtu, int *removed) {
    char buffer[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
    int messages = 0;
    for (;;) {
        ssize_t length = recv(netlink_fd, buffer, sizeof buffer, 0);
        if (length < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return messages;
            /* ENOBUFS: events were lost; the caller reads the MTU again. */
            return -errno;
        }
        if (length == 0) return messages;
        for (struct nlmsghdr *message = (struct nlmsghdr *)buffer; NLMSG_OK(message, (size_t)length);
             message = NLMSG_NEXT(message, length)) {
            messages++;
            if (message->nlmsg_type != RTM_NEWLINK && message->nlmsg_type != RTM_DELLINK) continue;
            if (message->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg))) continue;
            struct ifinfomsg *info = NLMSG_DATA(message);
            if (info->ifi_index != index) continue;
            if (message->nlmsg_type == RTM_DELLINK) {
                *removed = 1;
                continue;
            }
            int attributes_length = (int)message->nlmsg_len - (int)NLMSG_LENGTH(sizeof *info);
            for (struct rtattr *attribute = IFLA_RTA(info); RTA_OK(attribute, attributes_length);
                 attribute = RTA_NEXT(attribute, attributes_length)) {
                if (attribute->rta_type == IFLA_MTU && RTA_PAYLOAD(attribute) >= sizeof(uint32_t)) {
                    uint32_t value;
                    memcpy(&value, RTA_DATA(attribute), sizeof value);
                    *mtu = (int)value;
                }
            }
        }
    }
}
