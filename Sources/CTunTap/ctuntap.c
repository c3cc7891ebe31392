#define _GNU_SOURCE
#include "CTunTap.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

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
