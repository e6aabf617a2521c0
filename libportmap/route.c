/*
 * The default IPv4 gateway and our own address towards it, from the
 * kernel's tables; and a netlink socket that tells when they may change.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* /proc/net/route lists hex fields in host order of the kernel's
 * __be32, i.e. the bytes as they are in memory: scanf into a uint32_t
 * gives the network-order value directly on any endianness. */
int pm_route_default(uint32_t *gateway, char *ifname, size_t ifname_len)
{
    FILE *f = fopen("/proc/net/route", "re");
    char line[256];
    unsigned best_metric = ~0u;
    int found = 0;

    if (!f)
        return -1;
    if (!fgets(line, sizeof(line), f)) { /* header */
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char ifn[64];
        unsigned dest, gw, flags, refcnt, use, metric, mask;
        if (sscanf(line, "%63s %x %x %x %u %u %u %x", ifn, &dest, &gw, &flags, &refcnt, &use,
                   &metric, &mask) != 8)
            continue;
        /* RTF_UP (1) and RTF_GATEWAY (2), destination 0/0 */
        if (dest != 0 || mask != 0 || (flags & 3) != 3 || gw == 0)
            continue;
        if (found && metric >= best_metric)
            continue;
        found = 1;
        best_metric = metric;
        *gateway = gw;
        if (ifname && ifname_len) {
            snprintf(ifname, ifname_len, "%s", ifn);
        }
    }
    fclose(f);
    return found ? 0 : -1;
}

/* connect() on a UDP socket picks the source address without sending. */
int pm_route_local_for(uint32_t gateway, uint32_t *local)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PM_PCP_PORT) };
    struct sockaddr_in me;
    socklen_t len = sizeof(me);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rc = -1;

    if (fd < 0)
        return -1;
    sa.sin_addr.s_addr = gateway;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&me, &len) == 0 && me.sin_addr.s_addr != 0) {
        *local = me.sin_addr.s_addr;
        rc = 0;
    }
    close(fd);
    return rc;
}

int pm_route_netlink_open(void)
{
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

    if (fd < 0)
        return -1;
    sa.nl_groups = RTMGRP_IPV4_ROUTE | RTMGRP_IPV4_IFADDR | RTMGRP_LINK;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads what is queued; we do not parse routes here, we only learn that
 * the tables changed and re-read them the portable way. */
int pm_route_netlink_drain(int fd)
{
    char buf[8192];
    int changed = 0;

    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == ENOBUFS) { /* overflowed: assume a change */
                changed = 1;
                continue;
            }
            break;
        }
        if (n == 0)
            break;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n)) {
            switch (h->nlmsg_type) {
            case RTM_NEWROUTE: case RTM_DELROUTE:
            case RTM_NEWADDR: case RTM_DELADDR:
            case RTM_NEWLINK: case RTM_DELLINK:
                changed = 1;
                break;
            default:
                break;
            }
        }
    }
    return changed;
}
