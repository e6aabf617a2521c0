/*
 * UPnP-IGD client backend (WANIPConnection v1/v2, WANPPPConnection).
 *
 * miniupnpc parses the device description and SOAP replies, behind the
 * pure functions of upnp_reply.c. The exchanges themselves run here,
 * non-blocking inside the engine's poll loop, because miniupnpc's calls
 * block with no overall deadline: a router that drips a byte a second
 * would hold a thread for as long as it liked.
 *
 * Safety: SSDP answers count only from the gateway's address; LOCATION and
 * the control URL must point at the gateway; answers read per search, the
 * description and SOAP replies are capped; every exchange has a deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <miniupnpc/upnperrors.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "internal.h"
#include "upnp_reply.h"
#include "upnp_wire.h"

#define SSDP_PORT 1900
#define SSDP_MAX_ANSWERS 64            /* per search */
#define HTTP_MAX_MS 5000               /* any one HTTP exchange */
#define MAX_CONFLICT_TRIES 8

typedef struct upnp_state {
    int fam;                   /* PM_V4: WANIPConnection; PM_V6: WANIPv6FirewallControl */
    int ssdp_fd;
    int searching;
    pm_retx ssdp_retx;
    int answers;
    pm_http desc;
    pm_addr desc_host;         /* where the description came from */
    char location[256];
    int have_igd;
    pm_addr ctl_addr;
    uint16_t ctl_port;
    char ctl_path[256];
    char service[sizeof(((pm_igd_desc *)0)->service)];
    int igd_version;
    char service_name[48];
    pm_http extip;             /* IPv4: GetExternalIPAddress; IPv6: GetFirewallStatus */
    unsigned long dropped;
    long bootid;               /* BOOTID.UPNP.ORG of the answer we use, -1 none */
} upnp_state;

/* The IPv4 IGD and the IPv6 one are found apart: over SSDP on
 * 239.255.255.250 and on ff02::c. */
typedef struct upnp_states {
    upnp_state fam[PM_FAMS];
} upnp_states;

enum xstep {
    X_WAIT_IGD, X_ADD, X_ADD_ANY, X_CHECK, X_DELETE, X_OWNER,
    /* IPv6 pinholes (WANIPv6FirewallControl:1) */
    X_PH_ADD, X_PH_UPDATE, X_PH_DELETE, X_PH_FIND,
};

typedef struct upnp_xchg {
    pm_http h;
    enum xstep step;
    uint16_t try_port;
    uint32_t lease;
    unsigned conflicts;
    int tried_lease0, tried_same_port;
    int64_t retry_at;          /* after a failed exchange; PM_NEVER none */
} upnp_xchg;

/* WANIPv6FirewallControl:1 takes leases of 1 to 86400 s */
#define PINHOLE_MAX_LEASE 86400

static upnp_state *state(portmap_client *c, int fam)
{
    if (!c->upnp) {
        upnp_states *all = calloc(1, sizeof(*all));
        if (!all)
            return NULL;
        for (int f = 0; f < PM_FAMS; f++) {
            upnp_state *st = &all->fam[f];
            st->fam = f;
            st->ssdp_fd = -1;
            st->desc.fd = -1;
            st->extip.fd = -1;
            st->bootid = -1;
        }
        c->upnp = all;
    }
    return &((upnp_states *)c->upnp)->fam[fam];
}

static upnp_state *state_if_any(portmap_client *c, int fam)
{
    return c->upnp ? &((upnp_states *)c->upnp)->fam[fam] : NULL;
}

static const char *proto_str(portmap_transport p)
{
    return p == PORTMAP_TCP ? "TCP" : "UDP";
}

/* ---- SOAP ---- */

static int soap_start(portmap_client *c, upnp_state *st, pm_http *h, const char *action,
                      const pm_soap_arg *args, size_t n, int64_t now, int64_t deadline)
{
    char host[PM_ADDR_TEXT], req[6144];
    size_t len;

    c->counters.requests_sent++;
    pm_addr_url_host(&st->ctl_addr, host, sizeof(host));
    len = pm_soap_request(req, sizeof(req), host, st->ctl_port, st->ctl_path, st->service, action,
                          args, n);
    if (!len)
        return -1;
    /* IPv6: from the address the pinholes are for (see pm_http_start_from) */
    return pm_http_start_from(h, st->fam == PM_V6 ? &c->net[PM_V6].local : NULL, &st->ctl_addr,
                              st->ctl_port, req, len, PM_UPNP_SOAP_MAX,
                              PM_MIN(deadline, now + HTTP_MAX_MS));
}

/* UPnP error code of a failed SOAP reply, 0 for success, -1 when the
 * exchange itself failed. Values named in want are copied out. */
static int soap_result(pm_http *h, const char *want, char *out, size_t out_len)
{
    if (h->state != PM_HTTPC_DONE)
        return -1;
    return pm_soap_result(h->resp.body, h->resp.body_len, h->resp.status, want, out, out_len);
}

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

/* To the gateway itself, then to the group: a router may answer either. */
static void ssdp_send(portmap_client *c, upnp_state *st)
{
    const pm_addr *gw = &c->net[st->fam].gateway;
    char host[PM_ADDR_TEXT], group_host[PM_ADDR_TEXT];
    pm_addr group;
    int loopback = st->fam == PM_V4 && (ntohl(gw->u.v4) >> 24) == 127;

    pm_addr_parse(st->fam == PM_V6 ? "ff02::c" : "239.255.255.250", &group);
    pm_addr_url_host(gw, host, sizeof(host));
    pm_addr_url_host(&group, group_host, sizeof(group_host));
    for (int v = 2; v >= 1; v--) {
        ssdp_send_to(c, st, gw, host, v);
        if (loopback)
            continue; /* a test gateway on loopback: nothing to multicast to */
        ssdp_send_to(c, st, &group, group_host, v);
    }
}

static int upnp_probe(portmap_client *c, int fam, int64_t now)
{
    upnp_state *st = state(c, fam);

    if (!st || ssdp_open(c, st) != 0)
        return -1;
    st->have_igd = 0;
    st->answers = 0;
    st->searching = 1;
    pm_http_reset(&st->desc);
    pm_http_reset(&st->extip);
    pm_retx_start(&st->ssdp_retx, &pm_retx_fast, now, pm_rand_unit, c);
    ssdp_send(c, st);
    return 0;
}

/*
 * Whether addr is the gateway. On IPv4 that is its one address. An IPv6
 * router is known by its link-local address but serves UPnP on a global
 * one: that one counts when the kernel's neighbour table gives it the
 * gateway's link-layer address (known once we have spoken to it).
 */
static int on_gateway(portmap_client *c, int fam, const pm_addr *addr)
{
    const pm_net *net = &c->net[fam];

    if (pm_addr_eq(addr, &net->gateway))
        return 1;
    return fam == PM_V6 && pm_route_same_router(&net->gateway, addr, net->ifname) == 1;
}

static void start_description(portmap_client *c, upnp_state *st, const pm_ssdp_answer *a,
                              int64_t now)
{
    pm_net *net = &c->net[st->fam];
    pm_addr host;
    uint16_t port;
    char path[256], hosts[PM_ADDR_TEXT], req[512];
    size_t n;

    if (pm_url_parse(a->location, &host, &port, path, sizeof(path)) != 0 ||
        host.family != pm_fam_af(st->fam)) {
        st->dropped++;
        c->counters.dropped_malformed++;
        PM_WARN(c, "upnp: ignored an answer with an unusable LOCATION %.80s", a->location);
        return;
    }
    if (pm_addr_is_link_local(&host))
        host.scope = net->gateway.scope;
    /* IPv6: the global address is checked against the gateway's
     * link-layer address once connected (finish_description) */
    if (st->fam == PM_V4 && !on_gateway(c, st->fam, &host)) {
        char where[PM_ADDR_TEXT];
        st->dropped++;
        c->counters.dropped_wrong_source++;
        pm_addr_fmt(&host, where, sizeof(where));
        /* kept waiting for a usable answer; if none comes, this is why */
        snprintf(net->why[PORTMAP_METHOD_UPNP], sizeof(net->why[PORTMAP_METHOD_UPNP]),
                 "answered with a description on %s, which is not the router: refused "
                 "(see SECURITY.md)", where);
        PM_WARN(c, "upnp: ignored an answer whose LOCATION %.80s is not on the gateway", a->location);
        return;
    }
    pm_addr_url_host(&host, hosts, sizeof(hosts));
    n = pm_http_get(req, sizeof(req), hosts, port, path);
    snprintf(st->location, sizeof(st->location), "%s", a->location);
    st->desc_host = host;
    if (!n || pm_http_start_from(&st->desc, st->fam == PM_V6 ? &net->local : NULL, &host, port,
                                 req, n, PM_UPNP_DESC_MAX,
                            PM_MIN(now + HTTP_MAX_MS, PM_MAX(net->probe_deadline, now + 1))) != 0)
        PM_DEBUG(c, "upnp: cannot fetch %s", a->location);
}

/* UPnP is not to be had at fam's router, and why. */
static void unavailable(portmap_client *c, upnp_state *st, int64_t now, const char *why)
{
    st->searching = 0;
    pm_http_reset(&st->desc);
    if (c->net[st->fam].avail[PORTMAP_METHOD_UPNP] == PM_AVAIL_PROBING)
        pm_engine_probe_failed(c, st->fam, PORTMAP_METHOD_UPNP, now, "%s", why);
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
            unavailable(c, st, now, PM_WHY_REFUSED_SSDP);
        else if (v == 2)
            unavailable(c, st, now, PM_WHY_UNREACHABLE);
    }
}

static void read_ssdp(portmap_client *c, upnp_state *st, int64_t now)
{
    pm_net *net = &c->net[st->fam];

    read_errors(c, st, now);
    for (int i = 0; i < 16 && st->ssdp_fd >= 0; i++) {
        char buf[2048];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        pm_ssdp_answer a;
        pm_addr src;
        ssize_t n = recvfrom(st->ssdp_fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);

        if (n < 0)
            return;
        if (!st->searching || ++st->answers > SSDP_MAX_ANSWERS)
            continue; /* drained, not looked at */
        if (pm_addr_from_sockaddr((struct sockaddr *)&from, fl, &src, NULL) != 0 ||
            (st->fam == PM_V4 && !on_gateway(c, st->fam, &src))) {
            st->dropped++;
            c->counters.dropped_wrong_source++;
            PM_DEBUG(c, "upnp: dropped an SSDP answer from a host that is not the gateway");
            continue;
        }
        buf[n] = '\0';
        if (pm_ssdp_parse(buf, (size_t)n, &a) != 0 || a.is_notify) {
            st->dropped++;
            c->counters.dropped_malformed++;
            continue;
        }
        pm_engine_heard(c, st->fam, PORTMAP_METHOD_UPNP, now);
        if (!pm_http_active(&st->desc) && !st->have_igd) {
            PM_DEBUG(c, "upnp: IGD v%d answered the search%s after %lld ms", a.igd_version,
                     st->fam == PM_V6 ? " over IPv6" : "",
                     (long long)(now - net->probe_started[PORTMAP_METHOD_UPNP]));
            st->bootid = a.bootid;
            start_description(c, st, &a, now);
        }
    }
}

static void start_waiting_mappings(portmap_client *c, int fam, int64_t now);

static void start_extip(portmap_client *c, upnp_state *st, int64_t now)
{
    if (soap_start(c, st, &st->extip, "GetExternalIPAddress", NULL, 0, now, now + HTTP_MAX_MS) != 0)
        PM_DEBUG(c, "upnp: GetExternalIPAddress could not start");
    else
        c->ext_pending = 1;
}

/* The description's service for this family into st; 0 when it has one
 * on the gateway. -1 with *why set: the router offers none we can use;
 * -1 with *why NULL: the description is not the gateway's (IPv6). */
static int take_service(portmap_client *c, upnp_state *st, const pm_igd_desc *d,
                        const char **why)
{
    pm_addr addr = st->fam == PM_V6 ? d->fw_addr : d->ctl_addr;
    const char *what = st->fam == PM_V6 ? "WANIPv6FirewallControl" : "WANIPConnection or WANPPPConnection";

    *why = NULL;
    if (st->fam == PM_V6 && !on_gateway(c, st->fam, &st->desc_host)) {
        PM_WARN(c, "upnp: the description %s is not on the IPv6 router; ignored", st->location);
        c->counters.dropped_wrong_source++;
        return -1;
    }
    if (st->fam == PM_V6 ? !d->has_fw : !d->has_wan) {
        PM_WARN(c, "upnp: %s describes no %s", st->location, what);
        *why = st->fam == PM_V6 ? "answers, but offers no IPv6 pinholes (no "
                                  "WANIPv6FirewallControl: an IGD v1 device?)"
                                : "answers, but offers no port-mapping service (no "
                                  "WANIPConnection or WANPPPConnection)";
        return -1;
    }
    if (pm_addr_is_link_local(&addr))
        addr.scope = c->net[st->fam].gateway.scope;
    /* the control point must be the router that answered, not elsewhere */
    if (!on_gateway(c, st->fam, &addr)) {
        PM_WARN(c, "upnp: the control URL of %s is not on the gateway; ignored", st->location);
        c->counters.dropped_wrong_source++;
        *why = "answers, but its control URL is on another host: refused (see SECURITY.md)";
        return -1;
    }
    st->ctl_addr = addr;
    if (st->fam == PM_V6) {
        st->ctl_port = d->fw_port;
        snprintf(st->ctl_path, sizeof(st->ctl_path), "%s", d->fw_path);
        snprintf(st->service, sizeof(st->service), "%s", d->fw_service);
        snprintf(st->service_name, sizeof(st->service_name), "WANIPv6FirewallControl:1");
    } else {
        st->ctl_port = d->ctl_port;
        snprintf(st->ctl_path, sizeof(st->ctl_path), "%s", d->ctl_path);
        snprintf(st->service, sizeof(st->service), "%s", d->service);
        snprintf(st->service_name, sizeof(st->service_name), "%s", d->service_name);
    }
    st->igd_version = d->version;
    return 0;
}

static void finish_description(portmap_client *c, upnp_state *st, int64_t now)
{
    pm_net *net = &c->net[st->fam];
    const char *why;
    pm_igd_desc d;

    if (st->desc.state != PM_HTTPC_DONE || st->desc.resp.status != 200) {
        const char *what = st->desc.state == PM_HTTPC_FAILED ? st->desc.why : "HTTP error";
        PM_DEBUG(c, "upnp: description fetch failed: %s", what);
        snprintf(net->why[PORTMAP_METHOD_UPNP], sizeof(net->why[PORTMAP_METHOD_UPNP]),
                 "answered, but its description %.70s could not be read (%.30s)", st->location,
                 st->desc.state == PM_HTTPC_FAILED ? st->desc.why : "an HTTP error status");
        /* nothing listens where the router said: it will not get better */
        if (st->desc.state == PM_HTTPC_FAILED && !strcmp(st->desc.why, "connection refused") &&
            (st->fam == PM_V4 || on_gateway(c, st->fam, &st->desc_host)))
            unavailable(c, st, now, net->why[PORTMAP_METHOD_UPNP]);
        return; /* a later SSDP answer may do better; the probe deadline ends it */
    }
    pm_upnp_desc_parse(st->desc.resp.body, st->desc.resp.body_len, st->location, &d);
    pm_http_reset(&st->desc);
    if (take_service(c, st, &d, &why) != 0) {
        /* the router's own description: it offers nothing else */
        if (why)
            unavailable(c, st, now, why);
        return;
    }
    snprintf(net->upnp_service, sizeof(net->upnp_service), "%s", st->service_name);
    net->upnp_version = st->fam == PM_V6 ? 1 : d.version;
    st->searching = 0;
    PM_DEBUG(c, "upnp: %s at %s", st->service_name, st->location);
    if (st->fam == PM_V6) {
        /* usable once the firewall says it lets pinholes in */
        if (soap_start(c, st, &st->extip, "GetFirewallStatus", NULL, 0, now, now + HTTP_MAX_MS) != 0)
            unavailable(c, st, now, "GetFirewallStatus could not be sent");
        return;
    }
    st->have_igd = 1;
    pm_engine_probe_done(c, st->fam, PORTMAP_METHOD_UPNP, PM_AVAIL_YES, 0, now);
    start_extip(c, st, now);
    start_waiting_mappings(c, st->fam, now);
}

static void finish_fw_status(portmap_client *c, upnp_state *st, int64_t now)
{
    int enabled = 0, inbound = 0;
    int code = st->extip.state == PM_HTTPC_DONE
                   ? pm_upnp_fw_status_parse(st->extip.resp.body, st->extip.resp.body_len,
                                             st->extip.resp.status, &enabled, &inbound)
                   : -1;

    pm_http_reset(&st->extip);
    if (code != 0 || !enabled || !inbound) {
        /* A disabled firewall lets everything in already; one that takes
         * no pinholes cannot help: either way not ours to use. */
        const char *why = code != 0 ? "answers, but did not say its IPv6 firewall's status"
                          : !enabled ? "answers, but its IPv6 firewall is disabled: it needs no "
                                       "pinholes (nothing is blocked)"
                                     : "answers, but its IPv6 firewall does not allow inbound pinholes";
        PM_WARN(c, "upnp: the router %s", why);
        unavailable(c, st, now, why);
        return;
    }
    st->have_igd = 1;
    pm_engine_probe_done(c, st->fam, PORTMAP_METHOD_UPNP, PM_AVAIL_YES, 0, now);
    start_waiting_mappings(c, st->fam, now);
}

static void finish_extip(portmap_client *c, upnp_state *st, int64_t now)
{
    char addr[64];
    struct in_addr a;
    int code;

    if (st->fam == PM_V6) {
        finish_fw_status(c, st, now);
        return;
    }
    code = soap_result(&st->extip, "NewExternalIPAddress", addr, sizeof(addr));
    c->ext_pending = 0;
    pthread_cond_broadcast(&c->cond);
    if (code != 0) {
        PM_DEBUG(c, "upnp: GetExternalIPAddress failed (%d)", code);
        pm_http_reset(&st->extip);
        return;
    }
    pm_http_reset(&st->extip);
    /* 0.0.0.0 (not connected) is kept as "known but useless": the verdict
     * double NAT comes from it, and nobody waits for it any longer. */
    if (inet_pton(AF_INET, addr, &a) != 1)
        a.s_addr = 0;
    c->ext_addr = a.s_addr ? a.s_addr : c->ext_addr;
    c->ext_addr_at = now;
    c->double_nat = pm_addr_is_private(a.s_addr);
    pthread_cond_broadcast(&c->cond);
}

/* ---- mappings ---- */

/* A port derived from our address and the internal port, so a restarted
 * program asks for the same one again after a conflict. */
static uint16_t alt_port(const pm_addr *local, uint16_t internal, unsigned attempt)
{
    uint32_t h = 2166136261u;
    uint8_t b[8];
    memcpy(b, &local->u.v4, 4);
    b[4] = (uint8_t)(internal >> 8);
    b[5] = (uint8_t)internal;
    b[6] = (uint8_t)attempt;
    b[7] = 0x5a;
    for (size_t i = 0; i < sizeof(b); i++)
        h = (h ^ b[i]) * 16777619u;
    return (uint16_t)(1024 + h % (65535 - 1024));
}

/* The arguments of a pinhole action into a; returns the action. */
static const char *pinhole_args(const portmap_mapping *m, const upnp_xchg *x, pm_soap_arg *a,
                                size_t *n, char *client, size_t client_len, char *in, char *lease,
                                char *uid)
{
    pm_addr_fmt(&m->local, client, client_len);
    snprintf(uid, 8, "%u", m->pinhole_id);
    switch (x->step) {
    case X_PH_UPDATE:
        a[(*n)++] = (pm_soap_arg){ "UniqueID", uid };
        a[(*n)++] = (pm_soap_arg){ "NewLeaseTime", lease };
        return "UpdatePinhole";
    case X_PH_DELETE:
        a[(*n)++] = (pm_soap_arg){ "UniqueID", uid };
        return "DeletePinhole";
    default: /* X_PH_ADD, X_PH_FIND: any remote host and port (empty and 0) */
        a[(*n)++] = (pm_soap_arg){ "RemoteHost", "" };
        a[(*n)++] = (pm_soap_arg){ "RemotePort", "0" };
        a[(*n)++] = (pm_soap_arg){ "InternalClient", client };
        a[(*n)++] = (pm_soap_arg){ "InternalPort", in };
        a[(*n)++] = (pm_soap_arg){ "Protocol", m->proto == PORTMAP_TCP ? "6" : "17" };
        a[(*n)++] = (pm_soap_arg){ "LeaseTime", lease };
        return "AddPinhole";
    }
}

static int send_step(portmap_client *c, portmap_mapping *m, int64_t now)
{
    upnp_state *st = state_if_any(c, m->fam);
    upnp_xchg *x = m->op_data;
    char ext[8], in[8], lease[16], client[PM_ADDR_TEXT], remote[PORTMAP_ADDRSTRLEN + 4], uid[8];
    int64_t deadline = m->op_deadline == PM_NEVER ? now + HTTP_MAX_MS : m->op_deadline;
    pm_soap_arg a[8];
    const char *action;
    size_t n = 0;

    if (!st || !st->have_igd) {
        /* no timer: finish_description() sends it */
        x->step = X_WAIT_IGD;
        x->retry_at = PM_NEVER;
        return 0;
    }
    snprintf(ext, sizeof(ext), "%u", x->try_port);
    snprintf(in, sizeof(in), "%u", m->internal_port);
    snprintf(lease, sizeof(lease), "%u", x->lease);
    if (m->fam == PM_V6) {
        action = pinhole_args(m, x, a, &n, client, sizeof(client), in, lease, uid);
        goto send;
    }
    pm_addr_fmt(&m->local, client, sizeof(client));
    /* one host (a /32) or anyone: pick_method() sees to it */
    pm_allow_str(m->allow_addr, m->allow_prefix, remote, sizeof(remote));
    a[n++] = (pm_soap_arg){ "NewRemoteHost", remote };
    a[n++] = (pm_soap_arg){ "NewExternalPort", ext };
    a[n++] = (pm_soap_arg){ "NewProtocol", proto_str(m->proto) };
    switch (x->step) {
    case X_ADD:
    case X_ADD_ANY:
        a[n++] = (pm_soap_arg){ "NewInternalPort", in };
        a[n++] = (pm_soap_arg){ "NewInternalClient", client };
        a[n++] = (pm_soap_arg){ "NewEnabled", "1" };
        a[n++] = (pm_soap_arg){ "NewPortMappingDescription", m->desc };
        a[n++] = (pm_soap_arg){ "NewLeaseDuration", lease };
        action = x->step == X_ADD_ANY ? "AddAnyPortMapping" : "AddPortMapping";
        break;
    case X_DELETE:
        action = "DeletePortMapping";
        break;
    default: /* X_CHECK, X_OWNER */
        action = "GetSpecificPortMappingEntry";
        break;
    }
send:
    if (soap_start(c, st, &x->h, action, a, n, now, deadline) != 0) {
        x->retry_at = now + 1000;
        return -1;
    }
    m->op_sent = 1;
    x->retry_at = PM_NEVER;
    return 0;
}

/* A pinhole: added, renewed by its id, deleted by its id (found first by
 * adding it again when only the journal's port is known: a router
 * answers a second AddPinhole of the same pinhole with its id). */
static void first_pinhole_step(portmap_mapping *m, upnp_xchg *x)
{
    x->try_port = m->internal_port; /* no translation */
    x->lease = PM_MIN(PM_MAX(m->want_lifetime, 1u), (uint32_t)PINHOLE_MAX_LEASE);
    if (m->op == PM_OP_DELETE)
        x->step = m->has_pinhole ? X_PH_DELETE : X_PH_FIND;
    else
        x->step = m->has_pinhole && m->state != PORTMAP_STATE_PENDING ? X_PH_UPDATE : X_PH_ADD;
}

static void first_step(portmap_client *c, portmap_mapping *m)
{
    upnp_xchg *x = m->op_data;

    if (m->fam == PM_V6) {
        first_pinhole_step(m, x);
        return;
    }
    x->lease = m->permanent ? 0 : m->want_lifetime;
    if (m->op == PM_OP_DELETE) {
        x->try_port = m->ext_port ? m->ext_port : m->internal_port;
        x->step = m->verify_owner ? X_OWNER : X_DELETE;
    } else if (m->state == PORTMAP_STATE_MAPPED && m->permanent) {
        x->try_port = m->ext_port;
        x->step = X_CHECK; /* a permanent entry: check it is still there */
    } else if (m->ext_port) {
        x->try_port = m->ext_port; /* renew what we hold */
        x->step = X_ADD;
    } else {
        /* Never external port 0: IGDv2 picks one for us, v1 gets ours. */
        x->try_port = m->want_ext_port ? m->want_ext_port : m->internal_port;
        x->step = c->net[PM_V4].upnp_version == 2 && !m->want_ext_port ? X_ADD_ANY : X_ADD;
    }
}

static int upnp_start(portmap_client *c, portmap_mapping *m, int64_t now)
{
    upnp_xchg *x = m->op_data;

    if (!x) {
        x = calloc(1, sizeof(*x));
        if (!x)
            return -1;
        x->h.fd = -1;
        x->retry_at = PM_NEVER;
        m->op_data = x;
    }
    pm_http_reset(&x->h);
    x->conflicts = 0;
    x->tried_lease0 = x->tried_same_port = 0;
    first_step(c, m);
    return send_step(c, m, now);
}

static void upnp_stop(portmap_client *c, portmap_mapping *m)
{
    upnp_xchg *x = m->op_data;
    (void)c;
    if (x)
        pm_http_reset(&x->h);
    free(x);
    m->op_data = NULL;
}

static void start_waiting_mappings(portmap_client *c, int fam, int64_t now)
{
    for (portmap_mapping *m = c->mappings; m; m = m->next) {
        upnp_xchg *x = m->op_data;
        if (m->fam == fam && m->op != PM_OP_NONE && m->op_method == PORTMAP_METHOD_UPNP && x &&
            x->step == X_WAIT_IGD) {
            first_step(c, m);
            send_step(c, m, now);
        }
    }
}

static void done(portmap_client *c, portmap_mapping *m, portmap_error err, const char *detail,
                 int64_t now)
{
    upnp_xchg *x = m->op_data;
    pm_result r = { .err = err };

    if (detail)
        pm_result_detail(&r, "%s", detail);

    if (err == PORTMAP_OK && m->op == PM_OP_MAP) {
        r.ext_port = x->try_port;
        r.lifetime = x->lease ? x->lease : m->want_lifetime;
        r.permanent = x->lease == 0;
        /* unset while GetExternalIPAddress, run alongside, has not
         * answered: the engine then holds "mapped" until it has. A
         * pinhole opens our own address. */
        if (m->fam == PM_V6)
            r.ext = m->local;
        else if (c->ext_addr)
            r.ext = pm_addr_from_v4(c->ext_addr);
    }
    pm_engine_map_done(c, m, &r, now);
}

static portmap_error map_upnp_error(int code, int *retry_later)
{
    *retry_later = 0;
    switch (code) {
    case 606: return PORTMAP_ERR_NOT_AUTHORIZED;
    case 726: return PORTMAP_ERR_UNSUPPORTED; /* RemoteHostOnlySupportsWildcard */
    case 718:
    case 729: return PORTMAP_ERR_PORT_IN_USE;
    case 728: *retry_later = 1; return PORTMAP_ERR_NO_RESOURCES;
    case 501: *retry_later = 1; return PORTMAP_ERR_REFUSED;
    default: return PORTMAP_ERR_REFUSED;
    }
}

static void handle_add_error(portmap_client *c, portmap_mapping *m, int code, int64_t now)
{
    upnp_xchg *x = m->op_data;
    int later;
    portmap_error err;
    char detail[96];

    if ((code == 725 || code == 402) && x->lease && !x->tried_lease0) {
        PM_WARN(c, "upnp: the router answered error %d (%s) to a %u s lease: "
                   "retrying with a permanent one, released on exit",
                code, strupnperror(code) ? strupnperror(code) : "?", x->lease);
        x->tried_lease0 = 1;
        x->lease = 0;
        m->permanent = 1;
        send_step(c, m, now);
        return;
    }
    if (code == 401 && x->step == X_ADD_ANY) { /* no AddAnyPortMapping after all */
        x->step = X_ADD;
        send_step(c, m, now);
        return;
    }
    if ((code == 718 || code == 729) && m->state == PORTMAP_STATE_PENDING &&
        x->conflicts < MAX_CONFLICT_TRIES) {
        x->try_port = alt_port(&m->local, m->internal_port, x->conflicts++);
        x->step = X_ADD;
        PM_INFO(c, "upnp: external port taken (error %d); trying %u", code, x->try_port);
        send_step(c, m, now);
        return;
    }
    if (code == 724 && !x->tried_same_port) {
        x->tried_same_port = 1;
        x->try_port = m->internal_port;
        x->step = X_ADD;
        send_step(c, m, now);
        return;
    }
    err = map_upnp_error(code, &later);
    snprintf(detail, sizeof(detail), "UPnP error %d: %s", code,
             strupnperror(code) ? strupnperror(code) : "unknown");
    PM_WARN(c, "upnp: port %u: %s", m->internal_port, detail);
    if (later) {
        pm_result r = { .err = PORTMAP_ERR_NO_RESOURCES };
        pm_result_detail(&r, "%s", detail);
        pm_engine_map_done(c, m, &r, now);
        return;
    }
    done(c, m, err, detail, now);
}

static void pinhole_failed(portmap_client *c, portmap_mapping *m, const char *action, int code,
                           int64_t now)
{
    char detail[128];
    const char *why = NULL;
    portmap_error err = pm_upnp_pinhole_error(code, &why);

    snprintf(detail, sizeof(detail), "%s: UPnP error %d: %s", action, code, why ? why : "?");
    PM_WARN(c, "upnp: IPv6 port %u: %s", m->internal_port, detail);
    done(c, m, err, detail, now);
}

static void handle_pinhole_reply(portmap_client *c, portmap_mapping *m, int code,
                                 const char *value, int64_t now)
{
    upnp_xchg *x = m->op_data;
    uint16_t uid;

    switch (x->step) {
    case X_PH_ADD:
    case X_PH_FIND:
        if (code != 0) {
            pinhole_failed(c, m, "AddPinhole", code, now);
        } else if (pm_upnp_unique_id(value, &uid) != 0) {
            done(c, m, PORTMAP_ERR_PROTOCOL, "AddPinhole returned no UniqueID", now);
        } else if (x->step == X_PH_FIND) {
            m->pinhole_id = uid;
            m->has_pinhole = 1;
            x->step = X_PH_DELETE;
            send_step(c, m, now);
        } else {
            if (m->has_pinhole && uid != m->pinhole_id)
                m->journaled = 0; /* a new id: the journal must learn it */
            m->pinhole_id = uid;
            m->has_pinhole = 1;
            done(c, m, PORTMAP_OK, NULL, now);
        }
        break;
    case X_PH_UPDATE:
        if (code == 0) {
            done(c, m, PORTMAP_OK, NULL, now);
        } else if (code == 704 || code == 402) {
            /* NoSuchEntry, or (miniupnpd) InvalidArgs for an id it does
             * not know: the router lost it, e.g. in a restart */
            PM_INFO(c, "upnp: the router lost the IPv6 pinhole of port %u; adding it again",
                    m->internal_port);
            m->has_pinhole = 0;
            x->step = X_PH_ADD;
            send_step(c, m, now);
        } else {
            pinhole_failed(c, m, "UpdatePinhole", code, now);
        }
        break;
    case X_PH_DELETE:
        /* 704 (or 402 for an id unknown to miniupnpd): already gone,
         * which is what we wanted */
        if (code == 0 || code == 704 || code == 402)
            done(c, m, PORTMAP_OK, NULL, now);
        else
            pinhole_failed(c, m, "DeletePinhole", code, now);
        break;
    default:
        break;
    }
}

static void handle_reply(portmap_client *c, portmap_mapping *m, int64_t now)
{
    upnp_xchg *x = m->op_data;
    char value[64] = "";
    int code;

    if (x->h.state == PM_HTTPC_FAILED) {
        PM_DEBUG(c, "upnp: exchange for port %u failed: %s", m->internal_port, x->h.why);
        pm_http_reset(&x->h);
        x->retry_at = now + 1000; /* within the op's own deadline */
        return;
    }
    if (m->fam == PM_V6) {
        int add = x->step == X_PH_ADD || x->step == X_PH_FIND;
        code = soap_result(&x->h, add ? "UniqueID" : NULL, value, sizeof(value));
        pm_http_reset(&x->h);
        handle_pinhole_reply(c, m, code, value, now);
        return;
    }
    code = soap_result(&x->h, x->step == X_ADD_ANY ? "NewReservedPort"
                              : x->step == X_OWNER  ? "NewInternalClient" : NULL,
                       value, sizeof(value));
    pm_http_reset(&x->h);
    switch (x->step) {
    case X_ADD_ANY:
        if (code == 0) {
            uint16_t p = pm_upnp_port(value);
            if (!p) {
                done(c, m, PORTMAP_ERR_PROTOCOL, "AddAnyPortMapping returned no port", now);
                return;
            }
            x->try_port = p;
        }
        /* fall through */
    case X_ADD:
        if (code == 0)
            done(c, m, PORTMAP_OK, NULL, now);
        else
            handle_add_error(c, m, code, now);
        break;
    case X_CHECK:
        if (code == 0) {
            done(c, m, PORTMAP_OK, NULL, now);
        } else { /* 714: the router lost our permanent entry: add it again */
            PM_INFO(c, "upnp: the router lost port %u (error %d); adding it again", x->try_port, code);
            x->step = X_ADD;
            send_step(c, m, now);
        }
        break;
    case X_OWNER: {
        char mine[PM_ADDR_TEXT];
        pm_addr_fmt(&m->local, mine, sizeof(mine));
        if (code == 714) {
            done(c, m, PORTMAP_ERR_NOT_FOUND, "no such mapping on the router", now);
        } else if (code != 0 || strcmp(value, mine) != 0) {
            done(c, m, PORTMAP_ERR_NOT_AUTHORIZED, "the mapping belongs to another host", now);
        } else {
            x->step = X_DELETE;
            send_step(c, m, now);
        }
        break;
    }
    case X_DELETE:
        /* 714: already gone, which is what we wanted */
        done(c, m, code == 0 || code == 714 ? PORTMAP_OK : PORTMAP_ERR_REFUSED,
             code ? "DeletePortMapping failed" : NULL, now);
        break;
    default:
        break;
    }
}

static void step_mapping(portmap_client *c, portmap_mapping *m, short revents, int64_t now)
{
    upnp_xchg *x = m->op_data;

    if (x->step == X_WAIT_IGD)
        return;
    if (!pm_http_active(&x->h)) {
        if (x->retry_at != PM_NEVER && now >= x->retry_at)
            send_step(c, m, now);
        return;
    }
    if (pm_http_step(&x->h, revents, now))
        handle_reply(c, m, now);
}

/* ---- poll plumbing ---- */

static int op_active(const portmap_mapping *m)
{
    return m->op != PM_OP_NONE && m->op_method == PORTMAP_METHOD_UPNP && m->op_data;
}

static size_t upnp_count(portmap_client *c)
{
    size_t n = 3 * PM_FAMS;
    for (portmap_mapping *m = pm_ops_mappings(c, PORTMAP_METHOD_UPNP); m; m = m->next)
        n += op_active(m);
    return n;
}

static size_t add_http(pm_http *h, struct pollfd *fds, size_t i, size_t max, int64_t *deadline)
{
    if (!pm_http_active(h) || i >= max)
        return 0;
    fds[i] = (struct pollfd){ .fd = h->fd, .events = pm_http_events(h) };
    *deadline = PM_MIN(*deadline, h->deadline);
    return 1;
}

static size_t upnp_add_pollfds(portmap_client *c, struct pollfd *fds, size_t max, int64_t *deadline)
{
    size_t n = 0;

    if (!c->upnp)
        return 0;
    for (int fam = 0; fam < PM_FAMS; fam++) {
        upnp_state *st = state_if_any(c, fam);
        if (st->ssdp_fd >= 0 && n < max) {
            fds[n++] = (struct pollfd){ .fd = st->ssdp_fd, .events = POLLIN };
            if (st->searching && c->net[fam].avail[PORTMAP_METHOD_UPNP] == PM_AVAIL_PROBING)
                *deadline = PM_MIN(*deadline, st->ssdp_retx.next_ms);
        }
        n += add_http(&st->desc, fds, n, max, deadline);
        n += add_http(&st->extip, fds, n, max, deadline);
    }
    for (portmap_mapping *m = pm_ops_mappings(c, PORTMAP_METHOD_UPNP); m; m = m->next) {
        upnp_xchg *x;
        if (!op_active(m))
            continue;
        x = m->op_data;
        if (!pm_http_active(&x->h) && x->retry_at != PM_NEVER)
            *deadline = PM_MIN(*deadline, x->retry_at);
        n += add_http(&x->h, fds, n, max, deadline);
    }
    return n;
}

static void dispatch_one(portmap_client *c, portmap_mapping *m, void *arg)
{
    pm_dispatch *d = arg;

    if (op_active(m))
        step_mapping(c, m, pm_revents(d, ((upnp_xchg *)m->op_data)->h.fd), d->now);
}

static void dispatch_fam(portmap_client *c, upnp_state *st, const pm_dispatch *d)
{
    int64_t now = d->now;

    if (st->ssdp_fd >= 0 && pm_revents(d, st->ssdp_fd))
        read_ssdp(c, st, now);
    if (st->searching && c->net[st->fam].avail[PORTMAP_METHOD_UPNP] == PM_AVAIL_PROBING &&
        now >= st->ssdp_retx.next_ms && !pm_http_active(&st->desc)) {
        pm_retx_advance(&st->ssdp_retx, now, pm_rand_unit, c);
        ssdp_send(c, st);
    }
    if (pm_http_active(&st->desc) && pm_http_step(&st->desc, pm_revents(d, st->desc.fd), now))
        finish_description(c, st, now);
    if (pm_http_active(&st->extip) && pm_http_step(&st->extip, pm_revents(d, st->extip.fd), now))
        finish_extip(c, st, now);
}

static void upnp_dispatch(portmap_client *c, struct pollfd *fds, size_t n, int64_t now)
{
    pm_dispatch d = { fds, n, now };

    for (int fam = 0; fam < PM_FAMS && c->upnp; fam++)
        dispatch_fam(c, state_if_any(c, fam), &d);
    if (c->upnp && pm_ops_maybe(c, PORTMAP_METHOD_UPNP))
        pm_mappings_each(c, dispatch_one, &d);
}

static void upnp_reset(portmap_client *c, int fam)
{
    upnp_state *st = state_if_any(c, fam);

    if (!st)
        return;
    if (st->ssdp_fd >= 0)
        close(st->ssdp_fd);
    pm_http_reset(&st->desc);
    pm_http_reset(&st->extip);
    memset(st, 0, sizeof(*st));
    st->fam = fam;
    st->ssdp_fd = st->desc.fd = st->extip.fd = -1;
    st->bootid = -1;
    if (fam == PM_V4)
        c->ext_pending = 0;
    c->net[fam].upnp_version = 0;
    c->net[fam].upnp_service[0] = '\0';
    for (int f = 0; f < PM_FAMS; f++)
        if (state_if_any(c, f)->ssdp_fd >= 0)
            return;
    free(c->upnp); /* neither family in use */
    c->upnp = NULL;
}

const pm_backend pm_backend_upnp = {
    .method = PORTMAP_METHOD_UPNP,
    .name = "upnp",
    .start = upnp_start,
    .stop = upnp_stop,
    .probe = upnp_probe,
    .add_pollfds = upnp_add_pollfds,
    .count_pollfds = upnp_count,
    .dispatch = upnp_dispatch,
    .reset = upnp_reset,
};

/* ---- the router's table, read on the caller's thread ---- */

/* A NOTIFY from the gateway: 1 when it says the device restarted (a new
 * BOOTID.UPNP.ORG, or a new description URL), so its table is to be
 * checked. */
int pm_upnp_notified(portmap_client *c, const pm_ssdp_answer *a)
{
    upnp_state *st = state_if_any(c, PM_V4);
    int rebooted;

    if (!st || !st->have_igd || a->byebye)
        return 0;
    rebooted = (a->bootid >= 0 && st->bootid >= 0 && a->bootid != st->bootid) ||
               strcmp(a->location, st->location) != 0;
    if (rebooted)
        PM_INFO(c, "upnp: the router restarted (BOOTID %ld -> %ld%s)", st->bootid, a->bootid,
                strcmp(a->location, st->location) ? ", new description URL" : "");
    if (a->bootid >= 0)
        st->bootid = a->bootid;
    return rebooted;
}

int pm_upnp_get_control(portmap_client *c, pm_upnp_control *out)
{
    upnp_state *st = state_if_any(c, PM_V4);

    if (!st || !st->have_igd)
        return -1;
    out->addr = st->ctl_addr;
    out->port = st->ctl_port;
    snprintf(out->path, sizeof(out->path), "%s", st->ctl_path);
    snprintf(out->service, sizeof(out->service), "%s", st->service);
    return 0;
}

/* Run one SOAP exchange to completion with poll(), bounded by deadline. */
static int soap_blocking(const pm_upnp_control *ctl, pm_http *h, const char *action,
                         const pm_soap_arg *args, size_t n, int64_t deadline)
{
    char host[PM_ADDR_TEXT], req[4096];
    size_t len;

    pm_addr_url_host(&ctl->addr, host, sizeof(host));
    len = pm_soap_request(req, sizeof(req), host, ctl->port, ctl->path, ctl->service, action, args, n);
    if (!len || pm_http_start(h, &ctl->addr, ctl->port, req, len, PM_UPNP_SOAP_MAX,
                              PM_MIN(deadline, pm_now_ms() + HTTP_MAX_MS)) != 0)
        return -1;
    while (pm_http_active(h)) {
        struct pollfd p = { .fd = h->fd, .events = pm_http_events(h) };
        int64_t left = h->deadline - pm_now_ms();
        if (poll(&p, 1, (int)PM_MAX(0, PM_MIN(left, 1000))) < 0 && errno != EINTR)
            break;
        pm_http_step(h, p.revents, pm_now_ms());
    }
    return h->state == PM_HTTPC_DONE ? 0 : -1;
}

int pm_upnp_list(const pm_upnp_control *ctl, uint32_t local, int64_t deadline,
                 portmap_router_entry **out, size_t *count)
{
    portmap_router_entry *all = NULL;
    size_t n = 0, cap = 0;
    char mine[PORTMAP_ADDRSTRLEN];
    int rc = PORTMAP_OK;
    pm_http h = { .fd = -1 };

    pm_addr_str(local, mine, sizeof(mine));
    for (unsigned idx = 0; idx < 4096; idx++) {
        char index[16];
        pm_soap_arg arg = { "NewPortMappingIndex", index };
        int code;

        snprintf(index, sizeof(index), "%u", idx);
        if (pm_now_ms() >= deadline) {
            rc = PORTMAP_ERR_TIMEOUT;
            break;
        }
        if (soap_blocking(ctl, &h, "GetGenericPortMappingEntry", &arg, 1, deadline) != 0) {
            rc = PORTMAP_ERR_TIMEOUT;
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            portmap_router_entry *p = realloc(all, nc * sizeof(*p));
            if (!p) {
                rc = PORTMAP_ERR_NO_MEMORY;
                break;
            }
            all = p;
            cap = nc;
        }
        code = pm_upnp_entry_parse(h.resp.body, h.resp.body_len, h.resp.status, mine, &all[n]);
        if (code != 0) {
            /* 713 SpecifiedArrayIndexInvalid (and 714 on some) ends the table */
            if (code != 713 && code != 714)
                rc = PORTMAP_ERR_REFUSED;
            break;
        }
        n++;
    }
    pm_http_reset(&h);
    if (rc != PORTMAP_OK) {
        free(all);
        return rc;
    }
    *out = all;
    *count = n;
    return PORTMAP_OK;
}
