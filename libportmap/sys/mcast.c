/*
 * Sockets that listen to the router's multicast announcements: PCP and
 * NAT-PMP on 224.0.0.1:5350 and [ff02::1]:5350, SSDP NOTIFY on
 * 239.255.255.250:1900. SO_REUSEPORT, so every client on the host (and
 * every backend of one client) hears each datagram.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sys/mcast.h"

#define PM_ANNOUNCE_PORT 5350

/* A socket bound to the IPv4 group group_be:port and joined to it; with
 * join_optional, a failed join is not fatal (a group every interface has
 * joined already). */
static int open_group4(uint32_t group_be, uint16_t port, int join_optional)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                              .sin_addr.s_addr = group_be };
    struct ip_mreqn mr = { .imr_multiaddr.s_addr = group_be,
                           .imr_address.s_addr = htonl(INADDR_ANY) };
    int one = 1, fd;

    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 && !join_optional)) {
        close(fd);
        return -1;
    }
    return fd;
}

int pm_mcast_open_announce4(void)
{
    /* RFC 6886 3.2.1: bound to the group address, so that unicast to 5350
     * is not taken. All-hosts is joined by every interface already:
     * asking again only makes it explicit, and its failure changes
     * nothing. */
    return open_group4(htonl(0xE0000001), PM_ANNOUNCE_PORT, 1); /* 224.0.0.1 */
}

/* IPv6: a PCP server announces itself to ff02::1 (all nodes, joined by
 * every interface) on the link of the IPv6 router; bound to that group so
 * unicast to 5350 is not taken. */
int pm_mcast_open_announce6(uint32_t ifindex)
{
    struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(PM_ANNOUNCE_PORT),
                               .sin6_scope_id = ifindex };
    int one = 1, fd;

    inet_pton(AF_INET6, "ff02::1", &sa.sin6_addr);
    fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int pm_mcast_open_ssdp4(void)
{
    return open_group4(htonl(0xEFFFFFFA), 1900, 0); /* 239.255.255.250 */
}
