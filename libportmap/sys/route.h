/*
 * The kernel's routes and addresses, over netlink: our default gateways,
 * our address towards each, and a socket that tells when they change.
 */
#ifndef PM_SYS_ROUTE_H
#define PM_SYS_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "sys/addr.h"

/* The default IPv4 gateway and our address towards it */
int pm_route_default(uint32_t *gateway, char *ifname, size_t ifname_len);
int pm_route_local_for(uint32_t gateway, uint32_t *local);
/* The IPv6 default router (zone set for a link-local one) and its
 * interface, from a netlink dump of the main table. */
int pm_route_default6(pm_addr *gateway, uint32_t *oif, char *ifname, size_t ifname_len);
/* The fittest IPv6 address of ours on ifindex to open to the outside
 * (see pm_v6_kind); -1 when there is none fit. */
int pm_route_local6(uint32_t ifindex, pm_addr *local, pm_v6_kind *kind);
/* The addresses of ours of family (AF_INET, AF_INET6) on ifname (NULL
 * or "": on any interface) and their prefix lengths, up to max: the
 * subnets the link reaches without a router. Their number, or -1. */
int pm_route_prefixes(const char *ifname, int family, pm_addr *addr, uint8_t *len, unsigned max);
/* 1 when the kernel's neighbour table on ifname gives addr the link-layer
 * address of gateway (one router, two addresses); 0 when not, -1 when
 * either is not in the table. */
int pm_route_same_router(const pm_addr *gateway, const pm_addr *addr, const char *ifname);
/* The IPv6 addresses the kernel's neighbour table on ifname gives the
 * link-layer address of gateway (the router's other addresses, as far as
 * the table knows them), up to max: their number, or -1. */
int pm_route_router_addrs(const pm_addr *gateway, const char *ifname, pm_addr *out, unsigned max);
int pm_route_netlink_open(void);
int pm_route_netlink_drain(int fd); /* 1 when an address/route message was seen */

#endif
