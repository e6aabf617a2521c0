/*
 * The network state, and its one writer: the routes of each family, what
 * each protocol's probe found, and the IPv4 NAT's external address with
 * the double-NAT verdict. The backends report through the host services
 * at the end (pm_host_engine); the mapping state machine asks through its
 * wants (pm_net_run_wants); public calls through the functions here.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "sys/route.h"

/* a lost mapping's request younger than this is not sent again when the
 * router is found answering (it will be answered too) */
#define PM_RESTART_AGE_MS 1000
/* a router reset is answered after a random wait of up to this */
#define PM_RESET_SPREAD_MS 5000
/* renewals hurried by a change the router confirmed are spread over this */
#define PM_HURRY_SPREAD_MS 1000
/* announcements are prompts: one check of a router at most this often */
#define PM_CHECK_INTERVAL_MS 1000

/* Renew soon every mapping in use of method (AUTO: all): a change the
 * router confirmed (a new address, a restart) that each mapping's reply
 * will tell, spread a little so they do not all go in one instant. */
static void hurry(portmap_client *c, int fam, portmap_method method, int64_t now)
{
    for (portmap_mapping *m = c->mappings; m; m = m->next) {
        int64_t at;
        if (m->state != PORTMAP_STATE_MAPPED || m->op != PM_OP_NONE || m->fam != fam ||
            (method && m->method != method))
            continue;
        at = now + (int64_t)(pm_rand_unit(&c->rng) * PM_HURRY_SPREAD_MS);
        if (at < m->refresh_at) {
            m->refresh_at = at;
            pm_mapping_kick(c, m);
        }
    }
}

/* The router gave addr, which no Internet host can have (kind): the
 * address is unknown, and that is said (ext_why). Not a sign of double
 * NAT either. What another protocol said before stays; the wait for an
 * address is over (it is known to be unknown). */
static void junk_external(portmap_client *c, uint32_t addr, const char *kind, int64_t now)
{
    char text[PORTMAP_ADDRSTRLEN];

    pm_addr_str(addr, text, sizeof(text));
    snprintf(c->ext_why, sizeof(c->ext_why),
             "the router gave %s as its external address, which is not an external address (%s)",
             text, kind);
    if (!c->ext_addr) {
        PM_WARN(c, "%s: the external address is unknown", c->ext_why);
        c->double_nat = 0;
    }
    c->ext_addr_at = PM_MAX(now, 1);
    pm_wake_waiters(c);
}

void pm_net_set_external(portmap_client *c, uint32_t addr, int64_t now)
{
    char text[PORTMAP_ADDRSTRLEN];
    /* our own address is never junk: no NAT (the verdict "direct"), which
     * a test on loopback shows with 127.0.0.1 */
    const char *junk = addr != pm_local4(c) ? pm_addr_not_external(addr) : NULL;

    if (junk) {
        junk_external(c, addr, junk, now);
        return;
    }
    c->ext_why[0] = '\0';
    if (addr && c->ext_addr && addr != c->ext_addr) {
        /* said by a reply to a request of ours: each mapping's renewal
         * brings the new address to its holder (CHANGED) */
        pm_addr_str(addr, text, sizeof(text));
        PM_INFO(c, "the router's external address is now %s", text);
        hurry(c, PM_V4, PORTMAP_METHOD_AUTO, now);
    }
    c->ext_addr = addr;
    c->ext_addr_at = PM_MAX(now, 1);
    c->double_nat = pm_addr_is_private(addr);
    pm_wake_waiters(c);
}

void pm_net_forget_external(portmap_client *c)
{
    c->ext_addr = 0;
    c->ext_addr_at = 0;
    c->double_nat = 0;
    c->ext_pending = 0;
    c->ext_why[0] = '\0';
}

static void external_pending(portmap_client *c, int pending)
{
    c->ext_pending = pending;
    pm_wake_waiters(c);
}

/* Ask fam's router now, in requests whose replies can be trusted, what
 * an announcement may have told: each protocol in use its own way
 * (pm_backend.check), or by the renewal of the one of its mappings due
 * soonest. A handful of requests, whatever the number of mappings. */
/* One lost mapping of method at fam retried now: one request that,
 * answered, brings the others back (restart_lost) */
static void retry_one_lost(portmap_client *c, int fam, portmap_method meth, int64_t now)
{
    portmap_mapping *one = NULL;

    if (!c->n_lost[fam])
        return;
    for (portmap_mapping *m = c->mappings; m && !one; m = m->next)
        if (m->fam == fam && m->method == meth && m->state == PORTMAP_STATE_LOST)
            one = m;
    if (!one || (one->op != PM_OP_NONE && now - one->op_started < PM_RESTART_AGE_MS))
        return; /* none, or its request is fresh */
    /* a request waiting out its backoff (or between resends) goes now */
    pm_mapping_stop_op(c, one);
    one->retry_at = now;
}

/* The router answered a request of ours in method: it is back, so every
 * mapping of method at fam it had lost is asked for again at once, not
 * at the end of its backoff (up to 30 s after a long outage). */
static void restart_lost(portmap_client *c, int fam, portmap_method meth,
                         const portmap_mapping *except, int64_t now)
{
    /* after every reply: the lost ones are counted, not looked for */
    if (!c->n_lost[fam])
        return;
    for (portmap_mapping *m = c->mappings; m; m = m->next) {
        if (m == except || m->fam != fam || m->method != meth || m->state != PORTMAP_STATE_LOST)
            continue;
        if (m->op != PM_OP_NONE && now - m->op_started < PM_RESTART_AGE_MS)
            continue;
        pm_mapping_stop_op(c, m);
        m->retry_at = now;
        m->backoff_ms = 0;
    }
}

static void check_router(portmap_client *c, int fam, int64_t now)
{
    for (unsigned i = 0; i < c->n_order; i++) {
        portmap_method meth = c->order[i];
        const pm_backend *b = c->backends[meth];
        portmap_mapping *soonest = NULL;
        if (!b || c->net[fam].avail[meth] != PM_AVAIL_YES)
            continue;
        retry_one_lost(c, fam, meth, now);
        if (b->check)
            b->check(c, fam, now);
        if (!b->check_by_renewal)
            continue;
        for (portmap_mapping *m = c->mappings; m; m = m->next)
            if (m->fam == fam && m->method == meth && m->state == PORTMAP_STATE_MAPPED &&
                (!soonest || m->refresh_at < soonest->refresh_at))
                soonest = m;
        if (soonest && soonest->op == PM_OP_NONE) {
            soonest->refresh_at = now; /* an exchange under way tells it already */
            pm_mapping_kick(c, soonest);
        }
    }
}

/* fam's router announced something: checked now, or, within a second of
 * the last check, once that second is over (any number of announcements
 * in between make one check). */
static void announced(portmap_client *c, int fam, int64_t now)
{
    pm_net *net = &c->net[fam];

    if (now < net->check_next_at) {
        net->check_due = 1;
        return;
    }
    net->check_due = 0;
    net->check_next_at = now + PM_CHECK_INTERVAL_MS;
    check_router(c, fam, now);
}

void pm_net_run_checks(portmap_client *c, int fam, int64_t now, int64_t *deadline)
{
    pm_net *net = &c->net[fam];

    if (!net->check_due)
        return;
    if (now >= net->check_next_at)
        announced(c, fam, now);
    else
        *deadline = PM_MIN(*deadline, net->check_next_at);
}

static void router_restarted(portmap_client *c, int fam, portmap_method method, int64_t now)
{
    hurry(c, fam, method, now);
}

/* Every backend listens to the router's announcements, whichever the
 * client uses: a restart announced in one protocol is a restart. */
static void listen_all(portmap_client *c, int fam)
{
    for (int i = 0; i < PORTMAP_METHOD_COUNT; i++) {
        const pm_backend *b = c->backends[i];
        if (b && b->listen && pm_backend_has_family(b, fam))
            b->listen(c, fam);
    }
}

/* Whether fam's router has been asked anything: a protocol's probe. */
static int asked(const pm_net *net)
{
    for (int i = 1; i < PORTMAP_METHOD_COUNT; i++)
        if (net->avail[i] != PM_AVAIL_UNKNOWN)
            return 1;
    return 0;
}

int pm_net_run_wants(portmap_client *c, int fam, int64_t now)
{
    pm_net *net = &c->net[fam];
    int did = 0, read = 0;

    if (net->want_route) {
        net->want_route = 0;
        pm_net_refresh_route(c, fam, now);
        did = read = 1;
    }
    if (net->want_probe) {
        unsigned what = (unsigned)net->want_probe - 1;
        int64_t deadline = net->want_probe_deadline;
        portmap_method behind = net->want_behind;
        net->want_probe = 0;
        net->want_probe_deadline = 0;
        net->want_behind = PORTMAP_METHOD_AUTO;
        if (net->route_ok)
            pm_net_probe_behind(c, fam, now, deadline, what, behind);
        did = 1;
    }
    if (net->listen_due && net->route_ok && !read && asked(net)) {
        /* a pass after the route's read, after its probes: a first
         * request's datagrams go before the listeners' sockets and group
         * joins; and none before a discovery or a request asks for the
         * router (a group join is a datagram: portmap_open() sends none) */
        net->listen_due = 0;
        listen_all(c, fam);
    }
    return did;
}

static void forget_gateway(portmap_client *c, int fam, int64_t now)
{
    pm_net *net = &c->net[fam];
    int remap = 0;

    for (int i = 0; i < PORTMAP_METHOD_COUNT; i++) {
        const pm_backend *b = c->backends[i];
        if (b)
            b->reset(c, fam); /* its sockets, and the epoch it kept */
        net->avail[i] = PM_AVAIL_UNKNOWN;
    }
    if (fam == PM_V4)
        pm_net_forget_external(c);
    memset(net->heard_at, 0, sizeof(net->heard_at));
    memset(net->verdict_at, 0, sizeof(net->verdict_at));
    net->refused = PORTMAP_METHOD_AUTO;
    net->held = 0;
    memset(net->why, 0, sizeof(net->why));
    net->orphans_claimed = net->orphans_due = 0;
    net->pcp_version = 0;
    net->upnp_version = 0;
    net->upnp_service[0] = '\0';
    /* Mappings made through the old gateway are gone for us: they are
     * made again once the new one has said what it speaks. */
    for (portmap_mapping *m = c->mappings; m; m = m->next)
        if (m->fam == fam)
            remap |= pm_mapping_network_changed(c, m, now);
    if (remap)
        pm_net_probe_all(c, fam, now, now + c->s.timeout_ms, PM_PROBE_UNKNOWN);
}

/* The family's gateway and our address towards it, now. */
static int read_route(portmap_client *c, int fam, pm_addr *gw, pm_addr *local, pm_v6_kind *kind,
                      char *ifname, size_t ifname_len)
{
    uint32_t gw4 = 0, local4 = 0, oif = 0;

    if (fam == PM_V6 && c->gateway_override) {
        pm_addr any;
        /* an IPv4 router was given: no IPv6 one */
        if (pm_addr_parse(c->gateway_override, gw) != 0 || gw->family != AF_INET6)
            return -1;
        if (IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)gw->u.v6)) {
            /* a router on this host (tests): spoken to from ::1 */
            *local = *gw;
            *kind = PM_V6_STABLE;
            snprintf(ifname, ifname_len, "lo");
            return 0;
        }
        /* a given router: our address on the link the route to it takes */
        if (pm_route_default6(&any, &oif, ifname, ifname_len) != 0)
            return -1;
        if (pm_addr_is_link_local(gw) && !gw->scope)
            gw->scope = oif;
        return pm_route_local6(oif, local, kind);
    }
    if (fam == PM_V6) {
        /* the route's interface, not the gateway's zone: a statically
         * configured router has a global address and no zone */
        if (pm_route_default6(gw, &oif, ifname, ifname_len) != 0)
            return -1;
        return pm_route_local6(oif, local, kind);
    }
    if (c->gateway_override) {
        struct in_addr a;
        if (inet_pton(AF_INET, c->gateway_override, &a) != 1)
            return -1;
        gw4 = a.s_addr;
    } else if (pm_route_default(&gw4, ifname, ifname_len) != 0) {
        return -1;
    }
    if (pm_route_local_for(gw4, &local4) != 0)
        return -1;
    *gw = pm_addr_from_v4(gw4);
    *local = pm_addr_from_v4(local4);
    *kind = PM_V6_STABLE;
    return 0;
}

/* The subnets of net's link, for requests naming another host of it: the
 * interface's own (a gateway set by hand leaves it unknown: then those
 * of the addresses that are our local one). Two netlink dumps: read only
 * for such a request, once per route read, not on every client's way to
 * its first mapping. */
void pm_net_read_lan(pm_net *net)
{
    pm_addr a[PM_LAN_MAX];
    uint8_t len[PM_LAN_MAX];
    int n = pm_route_prefixes(net->ifname, pm_fam_af(net->fam), a, len, PM_LAN_MAX);

    net->n_lan = 0;
    for (int i = 0; i < n; i++) {
        /* link-local subnets are every link's: no host to name there */
        if (pm_addr_is_link_local(&a[i]) || (!net->ifname[0] && !pm_addr_eq(&a[i], &net->local)))
            continue;
        net->lan[net->n_lan] = a[i];
        net->lan_len[net->n_lan++] = len[i];
    }
    n = net->fam == PM_V6 && net->ifname[0]
            ? pm_route_router_addrs(&net->gateway, net->ifname, net->rtr_addrs, PM_LAN_MAX) : 0;
    net->n_rtr_addrs = n > 0 ? (unsigned)n : 0;
    net->lan_read = 1;
}

int pm_net_refresh_route(portmap_client *c, int fam, int64_t now)
{
    pm_net *net = &c->net[fam];
    pm_addr gw = { 0 }, local = { 0 };
    pm_v6_kind kind = PM_V6_UNFIT;
    char ifname[sizeof(net->ifname)] = "";

    net->route_read_at = PM_MAX(now, 1);
    if (read_route(c, fam, &gw, &local, &kind, ifname, sizeof(ifname)) != 0) {
        if (net->route_ok)
            PM_WARN(c, "the %s default route is gone", fam == PM_V6 ? "IPv6" : "IPv4");
        net->route_ok = 0;
        return -1;
    }
    /* Compared with the last network that worked, not only while the
     * route stays: a host that moves loses its route (link down) before
     * it gets the new one. */
    if (pm_addr_is_set(&net->gateway) &&
        (!pm_addr_eq(&gw, &net->gateway) || !pm_addr_eq(&local, &net->local))) {
        char a[PM_ADDR_TEXT], b[PM_ADDR_TEXT];
        pm_addr_fmt(&gw, a, sizeof(a));
        pm_addr_fmt(&local, b, sizeof(b));
        PM_INFO(c, "network changed: gateway %s, local address %s; discovering again", a, b);
        net->gateway = gw;
        net->local = local;
        forget_gateway(c, fam, now);
    }
    if (fam == PM_V6 && (!net->route_ok || kind != net->local_kind)) {
        char a[PM_ADDR_TEXT];
        pm_addr_fmt(&local, a, sizeof(a));
        PM_DEBUG(c, "IPv6: using %s address %s on %s", pm_v6_kind_name(kind), a, ifname);
    }
    net->gateway = gw;
    net->local = local;
    net->local_kind = kind;
    snprintf(net->ifname, sizeof(net->ifname), "%s", ifname);
    net->lan_read = 0; /* read when a request for another host needs it */
    net->route_ok = 1;
    net->listen_due = 1; /* the engine's pass, after what it sends (pm_net_run_wants) */
    return 0;
}

/* Whether a protocol in this state is to be asked (PM_PROBE_* in what). */
static int wants_probe(pm_avail a, unsigned what)
{
    switch (a) {
    case PM_AVAIL_PROBING: return 0;
    case PM_AVAIL_UNKNOWN: return 1;
    case PM_AVAIL_NO: return (what & (PM_PROBE_FRESH | PM_PROBE_RETRY)) != 0;
    default: return (what & PM_PROBE_FRESH) != 0;
    }
}

/* Whether meth's probe waits behind a first request in behind: it is
 * served on another port of the router. */
static int held_back(const portmap_client *c, portmap_method meth, portmap_method behind)
{
    const pm_backend *b = pm_backend_of(c, meth), *r = pm_backend_of(c, behind);

    return behind != PORTMAP_METHOD_AUTO && meth != behind && b && r && b->port != r->port;
}

static void send_probe(portmap_client *c, int fam, portmap_method meth, int64_t now)
{
    const pm_backend *b = c->backends[meth];

    if (!pm_backend_has_family(b, fam))
        pm_net_probe_failed(c, fam, meth, now, "not spoken over IPv%d", fam == PM_V6 ? 6 : 4);
    else if (b->probe(c, fam, now) != 0)
        pm_net_probe_failed(c, fam, meth, now, "could not send (no socket)");
}

/* The held probes go now; their time starts with their datagrams. */
static void release_held(portmap_client *c, int fam, int64_t now)
{
    pm_net *net = &c->net[fam];
    unsigned held = net->held;

    net->held = 0;
    for (int i = 1; i < PORTMAP_METHOD_COUNT; i++) {
        if (!(held & PORTMAP_HAVE(i)) || net->avail[i] != PM_AVAIL_PROBING || !c->backends[i])
            continue;
        net->probe_started[i] = now;
        send_probe(c, fam, (portmap_method)i, now);
    }
}

void pm_net_probe_all(portmap_client *c, int fam, int64_t now, int64_t deadline, unsigned what)
{
    pm_net_probe_behind(c, fam, now, deadline, what, PORTMAP_METHOD_AUTO);
}

void pm_net_probe_behind(portmap_client *c, int fam, int64_t now, int64_t deadline, unsigned what,
                         portmap_method behind)
{
    pm_net *net = &c->net[fam];
    int started = 0, busy = !pm_net_all_probes_done(c, fam);
    unsigned held;

    /* asked with no request in front: nothing waits any more */
    if (net->held && behind == PORTMAP_METHOD_AUTO)
        release_held(c, fam, now);
    held = net->held;
    for (unsigned i = 0; i < c->n_order; i++) {
        portmap_method meth = c->order[i];
        const pm_backend *b = c->backends[meth];
        if (!b) {
            net->avail[meth] = PM_AVAIL_NO;
            continue;
        }
        if (!wants_probe(net->avail[meth], what))
            continue;
        net->avail[meth] = PM_AVAIL_PROBING;
        net->probe_started[meth] = now;
        net->heard_at[meth] = 0;
        net->why[meth][0] = '\0';
        started = 1;
        if (pm_backend_has_family(b, fam) && held_back(c, meth, behind)) {
            net->held |= PORTMAP_HAVE(meth);
            continue;
        }
        send_probe(c, fam, meth, now);
    }
    /* A probe runs its full course whoever asked: a caller that waits a
     * millisecond (a hint for a message) must not turn a router that
     * answers in 5 ms into a verdict of "unavailable" for everyone. */
    deadline = PM_MAX(deadline, now + c->s.timeout_ms);
    if (net->held && !held)
        net->held_until = now + PM_PROBE_HOLD_MS;
    if (started && !busy) {
        net->probe_deadline = deadline;
        net->refused = PORTMAP_METHOD_AUTO; /* of the round before */
    }
    else if (started || busy)
        net->probe_deadline = PM_MAX(net->probe_deadline, deadline);
}

void pm_net_heard(portmap_client *c, int fam, portmap_method method, int64_t now)
{
    pm_net *net = &c->net[fam];

    if (!net->heard_at[method])
        net->heard_at[method] = PM_MAX(now, 1);
}

void pm_net_probe_failed(portmap_client *c, int fam, portmap_method method, int64_t now,
                            const char *fmt, ...)
{
    pm_net *net = &c->net[fam];
    va_list ap;

    if (net->avail[method] == PM_AVAIL_NO)
        return; /* the first reason stands */
    va_start(ap, fmt);
    vsnprintf(net->why[method], sizeof(net->why[method]), fmt, ap);
    va_end(ap);
    pm_net_probe_done(c, fam, method, PM_AVAIL_NO, NULL, now);
}

/* Give up the probes that are over: past the deadline, or silent while
 * another protocol (or the other family's router) answered. */
void pm_net_end_probes(portmap_client *c, int fam, int64_t now, int64_t *deadline)
{
    pm_net *net = &c->net[fam];

    if (net->held && now >= net->held_until)
        release_held(c, fam, now);
    else if (net->held)
        *deadline = PM_MIN(*deadline, net->held_until);
    for (int i = 1; i < PORTMAP_METHOD_COUNT; i++) {
        int64_t silent;
        if (net->avail[i] != PM_AVAIL_PROBING || (net->held & PORTMAP_HAVE(i)))
            continue;
        silent = pm_net_silent_deadline(c, fam, (portmap_method)i);
        if (now >= net->probe_deadline && net->why[i][0]) {
            /* the backend said why it found nothing usable */
            pm_net_probe_done(c, fam, (portmap_method)i, PM_AVAIL_NO, NULL, now);
        } else if (now >= net->probe_deadline) {
            pm_net_probe_failed(c, fam, (portmap_method)i, now, "no answer within %.1f s",
                                   (double)(now - net->probe_started[i]) / 1000.0);
        } else if (now >= silent) {
            char who[64];
            pm_net_who_answered(c, fam, who, sizeof(who));
            pm_net_probe_failed(c, fam, (portmap_method)i, now, "no answer within %.1f s, while %s",
                                   (double)(now - net->probe_started[i]) / 1000.0, who);
        } else {
            *deadline = PM_MIN(*deadline, PM_MIN(net->probe_deadline, silent));
        }
    }
}

/* Protocols served on one port (PCP and NAT-PMP: 5351): nothing
 * listening there refuses them all, though ICMP rate limiting may let only
 * one refusal through. */
static void share_refusal(portmap_client *c, int fam, portmap_method method, int64_t now)
{
    const pm_backend *b = pm_backend_of(c, method);

    for (int i = 1; i < PORTMAP_METHOD_COUNT && b && b->port; i++) {
        const pm_backend *o = c->backends[i];
        if (i != (int)method && o && o->port == b->port &&
            c->net[fam].avail[i] == PM_AVAIL_PROBING && pm_backend_has_family(o, fam))
            pm_net_probe_failed(c, fam, (portmap_method)i, now, "%s", c->net[fam].why[method]);
    }
}

void pm_net_probe_done(portmap_client *c, int fam, portmap_method method, pm_avail result,
                       const char *why, int64_t now)
{
    pm_net *net = &c->net[fam];

    if (result == PM_AVAIL_NO && why && net->avail[method] == PM_AVAIL_NO)
        return; /* the first reason stands */
    if (result == PM_AVAIL_NO && why)
        snprintf(net->why[method], sizeof(net->why[method]), "%s", why);

    if (net->avail[method] != result)
        PM_DEBUG(c, "%s%s %s after %lld ms", portmap_method_name(method),
                 fam == PM_V6 ? " over IPv6" : "",
                 result == PM_AVAIL_YES ? "answered" : "is not available",
                 (long long)(now - net->probe_started[method]));
    if (result == PM_AVAIL_YES && net->avail[method] == PM_AVAIL_PROBING)
        net->probe_rtt[method] = now - net->probe_started[method];
    if (result == PM_AVAIL_YES) {
        restart_lost(c, fam, method, NULL, now); /* it answers again */
        pm_net_heard(c, fam, method, now);
        net->why[method][0] = '\0';
    } else if (result == PM_AVAIL_NO && !net->why[method][0]) {
        snprintf(net->why[method], sizeof(net->why[method]), "no answer");
    }
    if (result == PM_AVAIL_NO && !net->refused &&
        !strncmp(net->why[method], PM_WHY_REFUSED, strlen(PM_WHY_REFUSED)))
        net->refused = method;
    if (result != net->avail[method])
        net->verdict_at[method] = now;
    net->avail[method] = result;
    if (result == PM_AVAIL_YES && !c->s.keep_orphans &&
        !(net->orphans_claimed & PORTMAP_HAVE(method))) {
        /* the engine claims them from the journal, without the lock */
        net->orphans_claimed |= PORTMAP_HAVE(method);
        net->orphans_due |= PORTMAP_HAVE(method);
    }
    if (result != PM_AVAIL_NO)
        goto out;
    /* Exchanges that were waiting for this protocol move on (pending
     * mappings) or end (releases): none will be answered. */
    for (portmap_mapping *m = c->mappings; m; m = m->next)
        if (m->fam == fam && m->op != PM_OP_NONE && m->op_method == method)
            pm_mapping_protocol_gone(c, m);
    if (net->refused == method)
        share_refusal(c, fam, method, now);
out:
    pm_wake_waiters(c);
}

void pm_net_map_done(portmap_client *c, portmap_mapping *m, const pm_result *r, int64_t now)
{
    portmap_method method = m->op_method;
    int fam = m->fam;
    /* a refusal of a request (not of a delete, nor a late one) */
    int verdict = r->protocol_gone && r->err != PORTMAP_OK && m->op == PM_OP_MAP &&
                  m->state != PORTMAP_STATE_RELEASING;

    c->counters.responses++;
    if (r->err == PORTMAP_OK && pm_net_of(c, m)->avail[method] != PM_AVAIL_YES)
        pm_net_probe_done(c, fam, method, PM_AVAIL_YES, NULL, now);
    if (r->err == PORTMAP_OK && m->op == PM_OP_MAP && r->ext.family == AF_INET && r->ext.u.v4)
        pm_net_set_external(c, r->ext.u.v4, now);
    if (r->err == PORTMAP_OK && m->op == PM_OP_MAP)
        restart_lost(c, fam, method, m, now);
    pm_mapping_on_result(c, m, r, now);
    /* the router's verdict on the protocol, for every exchange in it (m's
     * own has ended: a pending request moves on to the next protocol) */
    if (verdict)
        pm_net_probe_failed(c, fam, method, now, "%s", r->detail[0] ? r->detail : "not spoken");
    pm_wake_waiters(c);
}

/* A router that lost its state (reboot) answers with a young epoch (the
 * backend keeps and checks it): every mapping made through that protocol
 * is gone and is made again. */
void pm_net_router_reset(portmap_client *c, int fam, portmap_method method, uint32_t epoch,
                         int64_t now)
{
    PM_WARN(c, "%s: the router's epoch went back to %u s: it lost its mappings; mapping again",
            portmap_method_name(method), epoch);
    for (portmap_mapping *m = c->mappings; m; m = m->next) {
        if (m->fam != fam || m->method != method)
            continue;
        /* RFC 6886 3.7: a random 0-5 s wait, so that every host of the
         * LAN does not come back at the same instant */
        if (pm_mapping_router_reset(c, m, now + (int64_t)(pm_rand_unit(&c->rng) * PM_RESET_SPREAD_MS)))
            pm_event_queue(c, m, PORTMAP_EVENT_LOST);
    }
}

const pm_host pm_host_engine = {
    .heard = pm_net_heard,
    .probe_done = pm_net_probe_done,
    .map_done = pm_net_map_done,
    .router_reset = pm_net_router_reset,
    .router_restarted = router_restarted,
    .announced = announced,
    .set_external = pm_net_set_external,
    .external_pending = external_pending,
    .each_mapping = pm_mappings_each,
    .each_op = pm_ops_each,
};
