/*
 * Finding the IGD: SSDP M-SEARCH to the gateway and to the group, the
 * answers (from the gateway only), the ICMP errors that say at once that
 * nothing listens, and the NOTIFY that says the device restarted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/upnp/upnp.h"
#include "sys/mcast.h"
#include "sys/route.h"

/* ---- discovery ---- */

static int ssdp_open4(portmap_client *c, upnp_state *st)
{
    struct sockaddr_in me = { .sin_family = AF_INET };
    struct in_addr ifaddr = { .s_addr = pm_local4(c) };
    unsigned char ttl = 2, loop = 0;

    st->ssdp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (st->ssdp_fd < 0)
        return -1;
    me.sin_addr.s_addr = pm_local4(c);
    if (bind(st->ssdp_fd, (struct sockaddr *)&me, sizeof(me)) < 0)
        return -1;
    /* the gateway's ICMP port unreachable for our unicast search says at
     * once that it has no SSDP server (see read_errors) */
    setsockopt(st->ssdp_fd, IPPROTO_IP, IP_RECVERR, &(int){ 1 }, sizeof(int));
    /* Multicast leaves only through the interface that holds our address. */
    setsockopt(st->ssdp_fd, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof(ifaddr));
    setsockopt(st->ssdp_fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
    setsockopt(st->ssdp_fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop));
    return 0;
}

/* From the address pinholes are for: the router answers to it, and
 * the kernel would otherwise speak from a temporary address. */
static int ssdp_open6(portmap_client *c, upnp_state *st)
{
    pm_net *net = &c->net[PM_V6];
    struct sockaddr_storage me;
    socklen_t ml = pm_addr_sockaddr(&net->local, 0, &me);
    unsigned ifindex = if_nametoindex(net->ifname);
    int hops = 1, loop = 0;

    st->ssdp_fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (st->ssdp_fd < 0 || !ml || !ifindex)
        return -1;
    if (bind(st->ssdp_fd, (struct sockaddr *)&me, ml) < 0)
        return -1;
    setsockopt(st->ssdp_fd, IPPROTO_IPV6, IPV6_RECVERR, &(int){ 1 }, sizeof(int));
    setsockopt(st->ssdp_fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex));
    setsockopt(st->ssdp_fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops));
    setsockopt(st->ssdp_fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof(loop));
    return 0;
}

static int ssdp_open(portmap_client *c, upnp_state *st)
{
    if (st->ssdp_fd >= 0)
        return 0;
    if ((st->fam == PM_V6 ? ssdp_open6 : ssdp_open4)(c, st) == 0)
        return 0;
    if (st->ssdp_fd >= 0)
        close(st->ssdp_fd);
    st->ssdp_fd = -1;
    return -1;
}

static void ssdp_send_to(portmap_client *c, upnp_state *st, const pm_addr *to, const char *host,
                         int version)
{
    struct sockaddr_storage ss;
    socklen_t sl = pm_addr_sockaddr(to, SSDP_PORT, &ss);
    char msg[512];
    size_t n = pm_ssdp_msearch(msg, sizeof(msg), host, version);

    if (!n || !sl)
        return;
    sendto(st->ssdp_fd, msg, n, 0, (struct sockaddr *)&ss, sl);
    c->counters.requests_sent++;
}

/*
 * To the gateway itself, then to the group: a router may answer either.
 * Older devices answer only a search for every root device (or for
 * everything): from the second round of a probe on, within its deadline,
 * those are asked too; the IGD searches went first, so an IGD that
 * answers them is read first. The search for everything goes to the
 * gateway alone: every device on the LAN would answer it many times.
 */
void pm_upnp_ssdp_send(portmap_client *c, upnp_state *st)
{
    const pm_addr *gw = &c->net[st->fam].gateway;
    char host[PM_ADDR_TEXT], group_host[PM_ADDR_TEXT];
    pm_addr group;
    int loopback = st->fam == PM_V4 && (ntohl(gw->u.v4) >> 24) == 127;
    int fallback = st->checking ? st->by_root : ++st->rounds > 1;

    pm_addr_parse(st->fam == PM_V6 ? "ff02::c" : "239.255.255.250", &group);
    pm_addr_url_host(gw, host, sizeof(host));
    pm_addr_url_host(&group, group_host, sizeof(group_host));
    for (int v = 2; v >= (fallback ? -1 : 1); v--) { /* IGD v2, v1, root devices, all */
        ssdp_send_to(c, st, gw, host, v);
        if (loopback || v < 0)
            continue; /* a test gateway on loopback: nothing to multicast to */
        ssdp_send_to(c, st, &group, group_host, v);
    }
}

int pm_upnp_probe(portmap_client *c, int fam, int64_t now)
{
    upnp_state *st = pm_upnp_state(c, fam);

    if (!st || ssdp_open(c, st) != 0)
        return -1;
    st->have_igd = 0;
    st->answers = 0;
    st->searching = 1;
    memset(st->cand, 0, sizeof(st->cand));
    st->refused = 0;
    st->refused_until = PM_NEVER;
    st->why[0] = '\0';
    st->rounds = 0;
    st->by_root = 0;
    pm_http_reset(&st->desc);
    pm_http_reset(&st->extip);
    pm_retx_start(&st->ssdp_retx, &pm_retx_fast, now, pm_rand_unit, &c->rng);
    pm_upnp_ssdp_send(c, st);
    return 0;
}

/*
 * Whether addr is the gateway. On IPv4 that is its one address. An IPv6
 * router is known by its link-local address but serves UPnP on a global
 * one: that one counts when the kernel's neighbour table gives it the
 * gateway's link-layer address (known once we have spoken to it).
 */
int pm_upnp_on_gateway(portmap_client *c, int fam, const pm_addr *addr)
{
    const pm_net *net = &c->net[fam];

    if (pm_addr_eq(addr, &net->gateway))
        return 1;
    return fam == PM_V6 && pm_route_same_router(&net->gateway, addr, net->ifname) == 1;
}

/*
 * An answer's LOCATION, parsed (path of cap 256): 0 when it may be read;
 * -1, counted and logged, when it is not an http:// URL of st's family;
 * 1, counted, when it is not on the gateway. IPv4: the LOCATION must be
 * the gateway's address (see SECURITY.md: any host on the LAN can send a
 * datagram from that address, so an answer is believed only as far as it
 * points at the gateway). IPv6: its global address is checked against
 * the gateway's link-layer address once connected (finish_description).
 */
static int location_of(portmap_client *c, upnp_state *st, const pm_ssdp_answer *a, pm_addr *host,
                       uint16_t *port, char *path)
{
    if (pm_url_parse(a->location, host, port, path, 256) != 0 ||
        host->family != pm_fam_af(st->fam)) {
        st->dropped++;
        c->counters.dropped_malformed++;
        PM_WARN(c, "upnp: ignored an answer with an unusable LOCATION %.80s", a->location);
        return -1;
    }
    if (pm_addr_is_link_local(host))
        host->scope = c->net[st->fam].gateway.scope;
    if (st->fam == PM_V4 && !pm_upnp_on_gateway(c, st->fam, host)) {
        st->dropped++;
        c->counters.dropped_wrong_source++;
        return 1;
    }
    return 0;
}

static void start_description(portmap_client *c, upnp_state *st, const pm_ssdp_answer *a,
                              int64_t now, int64_t until)
{
    pm_net *net = &c->net[st->fam];
    pm_addr host;
    uint16_t port;
    char path[256], hosts[PM_ADDR_TEXT], req[512];
    size_t n;

    if (location_of(c, st, a, &host, &port, path) != 0)
        return; /* never read elsewhere, whoever asks */
    pm_addr_url_host(&host, hosts, sizeof(hosts));
    n = pm_http_get(req, sizeof(req), hosts, port, path);
    snprintf(st->location, sizeof(st->location), "%s", a->location);
    st->desc_host = host;
    if (!n || pm_http_start_from(&st->desc, st->fam == PM_V6 ? &net->local : NULL, &host, port,
                                 req, n, PM_UPNP_DESC_MAX, until) != 0)
        PM_DEBUG(c, "upnp: cannot fetch %s", a->location);
}

static upnp_cand *cand_of(upnp_state *st, const char *location)
{
    for (int i = 0; i < UPNP_CANDIDATES; i++)
        if (st->cand[i].state != CAND_FREE && !strcmp(st->cand[i].location, location))
            return &st->cand[i];
    return NULL;
}

/* An answer pointed elsewhere than the router: if no usable one comes,
 * the probe ends with why once the grace is over (UPNP_REFUSED_GRACE_MS) */
static void refused(portmap_client *c, upnp_state *st, const char *why, int64_t now)
{
    pm_net *net = &c->net[st->fam];

    st->refused++;
    if (why != st->why)
        snprintf(st->why, sizeof(st->why), "%s", why);
    /* the reason at the deadline too */
    snprintf(net->why[PORTMAP_METHOD_UPNP], sizeof(net->why[PORTMAP_METHOD_UPNP]), "%s", st->why);
    if (st->refused_until == PM_NEVER)
        st->refused_until = PM_MAX(now, net->probe_started[PORTMAP_METHOD_UPNP] +
                                            UPNP_REFUSED_GRACE_MS);
}

/* A probe's answer: its description is to be read once, unless it is
 * not on the router (location_of) */
static void take_answer(portmap_client *c, upnp_state *st, const pm_ssdp_answer *a, int64_t now)
{
    pm_addr host;
    uint16_t port;
    char path[256];
    upnp_cand *slot;
    int where_to = location_of(c, st, a, &host, &port, path);

    if (where_to < 0)
        return;
    if (where_to > 0) {
        char where[PM_ADDR_TEXT], why[sizeof(st->why)];
        if (!st->refused)
            PM_WARN(c, "upnp: ignored an answer whose LOCATION %.80s is not on the gateway",
                    a->location);
        pm_addr_fmt(&host, where, sizeof(where));
        snprintf(why, sizeof(why), "answers, but its description is on %s, which is not the "
                 "gateway: refused (see SECURITY.md)", where);
        refused(c, st, why, now);
        return;
    }
    if (cand_of(st, a->location))
        return; /* told already: read once */
    for (slot = st->cand; slot < st->cand + UPNP_CANDIDATES && slot->state != CAND_FREE; slot++)
        ;
    if (slot == st->cand + UPNP_CANDIDATES)
        return;
    slot->state = CAND_PENDING;
    snprintf(slot->location, sizeof(slot->location), "%s", a->location);
    slot->bootid = a->bootid;
    slot->root = a->igd_version == 0; /* a search for root devices found it */
}

int pm_upnp_next_description(portmap_client *c, upnp_state *st, int64_t now)
{
    pm_net *net = &c->net[st->fam];
    int unusable = 0;

    if (st->have_igd || pm_http_active(&st->desc))
        return 0;
    for (int i = 0; i < UPNP_CANDIDATES; i++) {
        upnp_cand *k = &st->cand[i];
        pm_ssdp_answer a = { .bootid = k->bootid };
        unusable += k->state == CAND_UNUSABLE;
        if (k->state != CAND_PENDING)
            continue;
        k->state = CAND_READING;
        snprintf(a.location, sizeof(a.location), "%s", k->location);
        PM_DEBUG(c, "upnp: reading %s%s after %lld ms", k->location,
                 st->fam == PM_V6 ? " over IPv6" : "",
                 (long long)(now - net->probe_started[PORTMAP_METHOD_UPNP]));
        st->bootid = k->bootid;
        st->by_root = k->root;
        start_description(c, st, &a, now,
                          PM_MIN(now + HTTP_MAX_MS, PM_MAX(net->probe_deadline, now + 1)));
        if (pm_http_active(&st->desc))
            return 0;
        k->state = CAND_FREE; /* could not even start: a later answer may tell it */
    }
    /* The router answered, and every answer is known unusable: no
     * waiting for the deadline, and the user is told why. What the
     * router's own description said (over TCP, from its address) ends
     * the probe now; answers pointing elsewhere, which anyone could
     * forge, once their grace is over. */
    if (st->searching && (unusable || (st->refused && now >= st->refused_until)))
        pm_upnp_unavailable(c, st, now, st->why);
    return -1;
}

void pm_upnp_refused_expired(portmap_client *c, upnp_state *st, int64_t now)
{
    if (st->searching && !st->have_igd && now >= st->refused_until)
        pm_upnp_next_description(c, st, now);
}

void pm_upnp_desc_failed(portmap_client *c, upnp_state *st, enum desc_verdict v, const char *why,
                         int64_t now)
{
    upnp_cand *k = cand_of(st, st->location);

    pm_http_reset(&st->desc);
    if (v == DESC_ELSEWHERE)
        refused(c, st, why, now);
    else if (why && why != st->why)
        snprintf(st->why, sizeof(st->why), "%s", why);
    if (k && k->state == CAND_READING)
        k->state = v == DESC_UNUSABLE ? CAND_UNUSABLE : v == DESC_ELSEWHERE ? CAND_ELSEWHERE
                                                                          : CAND_FREE;
    if (st->why[0])
        snprintf(c->net[st->fam].why[PORTMAP_METHOD_UPNP],
                 sizeof(c->net[st->fam].why[PORTMAP_METHOD_UPNP]), "%s", st->why);
    pm_upnp_next_description(c, st, now);
}

/* UPnP is not to be had at fam's router, and why. */
void pm_upnp_unavailable(portmap_client *c, upnp_state *st, int64_t now, const char *why)
{
    st->searching = 0;
    pm_http_reset(&st->desc);
    if (c->net[st->fam].avail[PORTMAP_METHOD_UPNP] == PM_AVAIL_PROBING)
        pm_host_unavailable(c, st->fam, PORTMAP_METHOD_UPNP, now, "%s", why);
}

/* What an ICMP error queued on the SSDP socket says of our unicast
 * search to the gateway: 1 port unreachable (no SSDP server), 2 the
 * gateway itself unreachable, 0 nothing we act on. */
static int icmp_verdict(portmap_client *c, upnp_state *st, const struct msghdr *msg)
{
    const pm_addr *gw = &c->net[st->fam].gateway;
    pm_addr dst, off;
    uint16_t port = 0;

    /* the datagram the error is about: it went to the gateway's 1900 */
    if (pm_addr_from_sockaddr(msg->msg_name, msg->msg_namelen, &dst, &port) != 0 ||
        port != SSDP_PORT || !pm_addr_eq(&dst, gw))
        return 0;
    for (const struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm;
         cm = CMSG_NXTHDR((struct msghdr *)msg, (struct cmsghdr *)cm)) {
        const struct sock_extended_err *ee = (const void *)CMSG_DATA(cm);
        const struct sockaddr *who = SO_EE_OFFENDER(ee);
        int v6 = cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_RECVERR;
        if (!v6 && !(cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_RECVERR))
            continue;
        if (ee->ee_errno == EHOSTUNREACH || ee->ee_errno == ENETUNREACH)
            return 2; /* from our own stack (no ARP/ND answer) or the router */
        if (ee->ee_errno != ECONNREFUSED)
            continue;
        /* the port unreachable must come from the gateway itself; the
         * error's own address is that of the host that sent it */
        if (pm_addr_from_sockaddr(who, v6 ? sizeof(struct sockaddr_in6)
                                          : sizeof(struct sockaddr_in), &off, NULL) == 0 &&
            pm_addr_eq(&off, gw))
            return 1;
        if (v6 && who->sa_family == AF_INET6 && pm_addr_is_link_local(gw) &&
            memcmp(((const struct sockaddr_in6 *)who)->sin6_addr.s6_addr, gw->u.v6, 16) == 0)
            return 1; /* a link-local offender comes without its zone */
    }
    return 0;
}

static void read_errors(portmap_client *c, upnp_state *st, int64_t now)
{
    for (int i = 0; i < 8 && st->ssdp_fd >= 0; i++) {
        char ctl[512], data[64];
        struct sockaddr_storage to;
        struct iovec iov = { data, sizeof(data) };
        struct msghdr msg = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov,
                              .msg_iovlen = 1, .msg_control = ctl,
                              .msg_controllen = sizeof(ctl) };
        int v;

        if (recvmsg(st->ssdp_fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
            return;
        v = icmp_verdict(c, st, &msg);
        if (v == 1)
            pm_upnp_unavailable(c, st, now, PM_WHY_REFUSED_SSDP);
        else if (v == 2)
            pm_upnp_unavailable(c, st, now, PM_WHY_UNREACHABLE);
    }
}

/* The router's answer to our check's search: a new BOOTID (or a new
 * description URL) says it restarted, which only a reply to a search of
 * ours is believed to say. Its mappings are renewed soon; a new URL is
 * read again first. */
static void checked(portmap_client *c, upnp_state *st, const pm_ssdp_answer *a, int64_t now)
{
    int moved = strcmp(a->location, st->location) != 0;
    pm_addr host;
    uint16_t port;
    char path[256];

    /* a description moved off the router: a forgery (counted), and the
     * router's own answer may still come */
    if (moved && location_of(c, st, a, &host, &port, path) != 0)
        return;
    st->checking = 0;
    if (!moved && (a->bootid < 0 || st->bootid < 0 || a->bootid == st->bootid))
        return;
    PM_INFO(c, "upnp: the router restarted (BOOTID %ld -> %ld%s)", st->bootid, a->bootid,
            moved ? ", new description URL" : "");
    st->bootid = a->bootid;
    if (moved) {
        st->have_igd = 0; /* requests wait for the new control URL */
        start_description(c, st, a, now, now + HTTP_MAX_MS);
    }
    pm_host_router_restarted(c, st->fam, PORTMAP_METHOD_UPNP, now);
}

/* What an announcement may have told, asked of the router: a search
 * (its answer carries the BOOTID) and, over IPv4, the external address.
 * Two requests whatever the number of mappings. */
void pm_upnp_check(portmap_client *c, int fam, int64_t now)
{
    upnp_state *st = pm_upnp_state_if_any(c, fam);

    if (!st || !st->have_igd || ssdp_open(c, st) != 0)
        return;
    st->checking = 1;
    st->answers = 0;
    pm_upnp_ssdp_send(c, st);
    if (fam == PM_V4 && !pm_http_active(&st->extip))
        pm_upnp_start_extip(c, st, now);
}

void pm_upnp_read_ssdp(portmap_client *c, upnp_state *st, int64_t now)
{
    int rc;

    read_errors(c, st, now);
    for (int i = 0; i < 16 && st->ssdp_fd >= 0; i++) {
        char buf[2048];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        pm_ssdp_answer a;
        pm_addr src;
        ssize_t n = recvfrom(st->ssdp_fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);

        if (n < 0)
            break;
        if (!st->searching && !st->checking)
            continue; /* drained, not looked at */
        if (pm_addr_from_sockaddr((struct sockaddr *)&from, fl, &src, NULL) != 0 ||
            (st->fam == PM_V4 && !pm_upnp_on_gateway(c, st->fam, &src))) {
            st->dropped++;
            c->counters.dropped_wrong_source++;
            PM_DEBUG(c, "upnp: dropped an SSDP answer from a host that is not the gateway");
            continue;
        }
        if (++st->answers > SSDP_MAX_ANSWERS)
            continue; /* the gateway's own, beyond what one probe reads */
        buf[n] = '\0';
        if ((rc = pm_ssdp_parse(buf, (size_t)n, &a)) == 1)
            continue; /* of another type: not ours to read */
        if (rc != 0 || a.is_notify) {
            st->dropped++;
            c->counters.dropped_malformed++;
            continue;
        }
        pm_host_heard(c, st->fam, PORTMAP_METHOD_UPNP, now);
        if (st->checking && st->have_igd) {
            checked(c, st, &a, now);
            continue;
        }
        if (!st->have_igd && st->searching)
            take_answer(c, st, &a, now);
    }
    /* this batch's answers are all in: the first usable one is read */
    if (st->searching && !st->have_igd)
        pm_upnp_next_description(c, st, now);
}

/* ---- the router's table, read on the caller's thread ---- */


/* The IGD's restarts (IPv4), joined on the route's interface of the time
 * (a new network resets this). */
void pm_upnp_listen(portmap_client *c, int fam)
{
    upnp_state *st = fam == PM_V4 ? pm_upnp_state(c, fam) : NULL;

    if (st && st->notify_fd < 0)
        st->notify_fd = pm_mcast_open_ssdp4();
}

/*
 * A UPnP device says it has restarted with an SSDP NOTIFY carrying a new
 * BOOTID.UPNP.ORG (UDA 1.1), which miniupnpd sends when it starts. Anyone
 * on the LAN can send one from the gateway's address, so it is only a
 * prompt: pm_upnp_check asks the router itself. Searches and notifies of
 * every other device on the LAN land here too: only those from the
 * gateway's address are looked at.
 */
void pm_upnp_read_notify(portmap_client *c, upnp_state *st, int64_t now)
{
    for (int i = 0; i < 16; i++) { /* bounded: a flood cannot keep the engine here */
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        char buf[2048];
        pm_ssdp_answer a;
        ssize_t n = recvfrom(st->notify_fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return;
        if (fl != sizeof(from) || !pm_gw4(c) || from.sin_addr.s_addr != pm_gw4(c))
            continue;
        buf[n] = '\0';
        if (pm_ssdp_parse(buf, (size_t)n, &a) != 0 || !a.is_notify || a.byebye || !st->have_igd ||
            (a.igd_version == 0 && !st->by_root))
            continue;
        /* its BOOTID says nothing we can trust: the check asks */
        c->counters.announcements++;
        pm_host_announced(c, PM_V4, now);
    }
}
