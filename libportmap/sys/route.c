/*
 * The default gateways and our own addresses towards them, from the
 * kernel's tables; and a netlink socket that tells when they may change.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sys/route.h"
#include "sys/util.h"

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
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9) }; /* any port: nothing is sent */
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
    sa.nl_groups = RTMGRP_IPV4_ROUTE | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_ROUTE |
                   RTMGRP_IPV6_IFADDR | RTMGRP_LINK;
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

/* ---- IPv6: no /proc table gives flags and zones, so ask netlink ---- */

#define DUMP_WAIT_MS 200 /* the kernel answers a dump at once */

typedef void (*dump_fn)(const struct nlmsghdr *h, void *arg);

/* Send one dump request and feed every answer to fn, bounded in time. */
static int nl_dump(int type, int family, dump_fn fn, void *arg)
{
    struct {
        struct nlmsghdr h;
        struct rtgenmsg g;
    } req = { .h = { .nlmsg_len = sizeof(req), .nlmsg_type = (uint16_t)type,
                     .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
              .g = { .rtgen_family = (unsigned char)family } };
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
    char buf[16384];
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    int rc = -1;

    if (fd < 0)
        return -1;
    if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        goto out;
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;
        if (poll(&p, 1, DUMP_WAIT_MS) <= 0)
            goto out;
        n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            goto out;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE) {
                rc = 0;
                goto out;
            }
            if (h->nlmsg_type == NLMSG_ERROR)
                goto out;
            fn(h, arg);
        }
    }
out:
    close(fd);
    return rc;
}

typedef struct route6_best {
    int found;
    uint32_t metric;
    uint32_t oif;
    uint8_t gw[16];
} route6_best;

static void on_route6(const struct nlmsghdr *h, void *arg)
{
    route6_best *b = arg;
    const struct rtmsg *r = NLMSG_DATA(h);
    int len = (int)RTM_PAYLOAD(h);
    uint32_t metric = 0, oif = 0;
    const uint8_t *gw = NULL;

    if (h->nlmsg_type != RTM_NEWROUTE || r->rtm_family != AF_INET6 || r->rtm_dst_len != 0 ||
        r->rtm_table != RT_TABLE_MAIN || r->rtm_type != RTN_UNICAST)
        return;
    for (const struct rtattr *a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == 16)
            gw = RTA_DATA(a);
        else if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4)
            memcpy(&oif, RTA_DATA(a), 4);
        else if (a->rta_type == RTA_PRIORITY && RTA_PAYLOAD(a) == 4)
            memcpy(&metric, RTA_DATA(a), 4);
    }
    /* a default route without a router (a point-to-point link) has no
     * one to ask */
    if (!gw || !oif || (b->found && metric >= b->metric))
        return;
    b->found = 1;
    b->metric = metric;
    b->oif = oif;
    memcpy(b->gw, gw, 16);
}

int pm_route_default6(pm_addr *gateway, uint32_t *oif, char *ifname, size_t ifname_len)
{
    route6_best b = { 0 };
    char name[IF_NAMESIZE];

    if (nl_dump(RTM_GETROUTE, AF_INET6, on_route6, &b) != 0 || !b.found)
        return -1;
    *gateway = pm_addr_from_v6(b.gw, b.oif);
    /* the interface apart: a global gateway address carries no zone */
    *oif = b.oif;
    if (ifname && ifname_len)
        snprintf(ifname, ifname_len, "%s", if_indextoname(b.oif, name) ? name : "?");
    return 0;
}

typedef struct addr6_best {
    uint32_t ifindex;
    pm_v6_kind kind;
    uint8_t addr[16];
} addr6_best;

static void on_addr6(const struct nlmsghdr *h, void *arg)
{
    addr6_best *b = arg;
    const struct ifaddrmsg *ifa = NLMSG_DATA(h);
    int len = (int)IFA_PAYLOAD(h);
    uint32_t flags = ifa->ifa_flags;
    const uint8_t *addr = NULL;
    pm_v6_kind k;

    if (h->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET6 || ifa->ifa_index != b->ifindex)
        return;
    for (const struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == IFA_ADDRESS && RTA_PAYLOAD(a) == 16)
            addr = RTA_DATA(a);
        else if (a->rta_type == IFA_FLAGS && RTA_PAYLOAD(a) == 4)
            memcpy(&flags, RTA_DATA(a), 4); /* the full 32 bits */
    }
    if (!addr)
        return;
    k = pm_v6_kind_of(addr, flags);
    /* best kind first; among equals the first listed, which is stable
     * across dumps */
    if (k < b->kind) {
        b->kind = k;
        memcpy(b->addr, addr, 16);
    }
}

int pm_route_local6(uint32_t ifindex, pm_addr *local, pm_v6_kind *kind)
{
    addr6_best b = { .ifindex = ifindex, .kind = PM_V6_UNFIT };

    if (nl_dump(RTM_GETADDR, AF_INET6, on_addr6, &b) != 0 || b.kind == PM_V6_UNFIT)
        return -1;
    *local = pm_addr_from_v6(b.addr, 0);
    *kind = b.kind;
    return 0;
}

typedef struct prefixes {
    uint32_t ifindex;
    int family;
    pm_addr *addr;
    uint8_t *len;
    unsigned n, max;
} prefixes;

static void on_prefix(const struct nlmsghdr *h, void *arg)
{
    prefixes *p = arg;
    const struct ifaddrmsg *ifa = NLMSG_DATA(h);
    int len = (int)IFA_PAYLOAD(h);
    size_t alen = p->family == AF_INET6 ? 16 : 4;
    const uint8_t *addr = NULL;

    if (h->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != p->family ||
        (p->ifindex && ifa->ifa_index != p->ifindex) || p->n >= p->max)
        return;
    /* IFA_LOCAL is ours on a point-to-point link, where IFA_ADDRESS is
     * the peer's; elsewhere the two are one */
    for (const struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len))
        if ((a->rta_type == IFA_LOCAL || (a->rta_type == IFA_ADDRESS && !addr)) &&
            RTA_PAYLOAD(a) == alen)
            addr = RTA_DATA(a);
    if (!addr)
        return;
    if (p->family == AF_INET6) {
        p->addr[p->n] = pm_addr_from_v6(addr, 0);
    } else {
        uint32_t v4;
        memcpy(&v4, addr, 4);
        p->addr[p->n] = pm_addr_from_v4(v4);
    }
    p->len[p->n++] = ifa->ifa_prefixlen;
}

int pm_route_prefixes(const char *ifname, int family, pm_addr *addr, uint8_t *len, unsigned max)
{
    prefixes p = { .ifindex = ifname && ifname[0] ? if_nametoindex(ifname) : 0,
                   .family = family, .addr = addr, .len = len, .max = max };

    if ((ifname && ifname[0] && !p.ifindex) || nl_dump(RTM_GETADDR, family, on_prefix, &p) != 0)
        return -1;
    return (int)p.n;
}

typedef struct neigh_find {
    uint32_t ifindex;
    uint8_t addr[2][16];
    uint8_t ll[2][32];
    size_t ll_len[2];
} neigh_find;

/* A usable entry of ifindex's IPv6 neighbour table: its address and
 * link-layer address (at most max bytes). 0 for any other message. */
static int neigh_entry(const struct nlmsghdr *h, uint32_t ifindex, size_t max, const uint8_t **dst,
                       const uint8_t **ll, size_t *ll_len)
{
    const struct ndmsg *nd = NLMSG_DATA(h);
    int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*nd)));

    *dst = *ll = NULL;
    *ll_len = 0;
    if (h->nlmsg_type != RTM_NEWNEIGH || nd->ndm_family != AF_INET6 ||
        (uint32_t)nd->ndm_ifindex != ifindex || (nd->ndm_state & (NUD_FAILED | NUD_INCOMPLETE)))
        return 0;
    for (const struct rtattr *a = (const struct rtattr *)((const char *)nd + NLMSG_ALIGN(sizeof(*nd)));
         RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == 16)
            *dst = RTA_DATA(a);
        else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) <= max) {
            *ll = RTA_DATA(a);
            *ll_len = RTA_PAYLOAD(a);
        }
    }
    return *dst && *ll && *ll_len;
}

static void on_neigh(const struct nlmsghdr *h, void *arg)
{
    neigh_find *f = arg;
    const uint8_t *dst, *ll;
    size_t ll_len;

    if (!neigh_entry(h, f->ifindex, sizeof(f->ll[0]), &dst, &ll, &ll_len))
        return;
    for (int i = 0; i < 2; i++) {
        if (memcmp(dst, f->addr[i], 16) == 0) {
            memcpy(f->ll[i], ll, ll_len);
            f->ll_len[i] = ll_len;
        }
    }
}

typedef struct neigh_same {
    uint32_t ifindex;
    uint8_t ll[32];
    size_t ll_len;
    pm_addr *out;
    unsigned n, max;
} neigh_same;

static void on_neigh_same(const struct nlmsghdr *h, void *arg)
{
    neigh_same *f = arg;
    const uint8_t *dst, *ll;
    size_t ll_len;

    if (f->n < f->max && neigh_entry(h, f->ifindex, sizeof(f->ll), &dst, &ll, &ll_len) &&
        ll_len == f->ll_len && memcmp(ll, f->ll, ll_len) == 0)
        f->out[f->n++] = pm_addr_from_v6(dst, 0);
}

int pm_route_router_addrs(const pm_addr *gateway, const char *ifname, pm_addr *out, unsigned max)
{
    neigh_find g = { .ifindex = if_nametoindex(ifname) };
    neigh_same f = { .ifindex = g.ifindex, .out = out, .max = max };

    if (!g.ifindex || gateway->family != AF_INET6)
        return -1;
    memcpy(g.addr[0], gateway->u.v6, 16);
    memset(g.addr[1], 0xff, 16); /* matches no neighbour */
    if (nl_dump(RTM_GETNEIGH, AF_INET6, on_neigh, &g) != 0 || !g.ll_len[0])
        return -1;
    memcpy(f.ll, g.ll[0], g.ll_len[0]);
    f.ll_len = g.ll_len[0];
    if (nl_dump(RTM_GETNEIGH, AF_INET6, on_neigh_same, &f) != 0)
        return -1;
    return (int)f.n;
}

int pm_route_same_router(const pm_addr *gateway, const pm_addr *addr, const char *ifname)
{
    neigh_find f = { .ifindex = if_nametoindex(ifname) };

    if (!f.ifindex || gateway->family != AF_INET6 || addr->family != AF_INET6)
        return -1;
    memcpy(f.addr[0], gateway->u.v6, 16);
    memcpy(f.addr[1], addr->u.v6, 16);
    if (nl_dump(RTM_GETNEIGH, AF_INET6, on_neigh, &f) != 0 || !f.ll_len[0] || !f.ll_len[1])
        return -1;
    return f.ll_len[0] == f.ll_len[1] && memcmp(f.ll[0], f.ll[1], f.ll_len[0]) == 0;
}
