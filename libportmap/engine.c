/*
 * The engine thread: one per client. It sleeps in poll() until a socket
 * is readable, a timer is due or a public call wakes it, so holding many
 * mappings costs no wake-ups between their deadlines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

/* a router reset is answered after a random wait of up to this */
#define PM_RESET_SPREAD_MS 5000

static const pm_backend *backends[PORTMAP_METHOD_COUNT] = {
    [PORTMAP_METHOD_PCP] = &pm_backend_pcp,
    [PORTMAP_METHOD_NATPMP] = &pm_backend_natpmp,
    [PORTMAP_METHOD_UPNP] = &pm_backend_upnp,
};

/* Unit tests put a scripted backend in place of a real one. */
void pm_backend_replace(portmap_method m, const pm_backend *b)
{
    if ((unsigned)m < PORTMAP_METHOD_COUNT)
        backends[m] = b;
}

const pm_backend *pm_backend_get(portmap_method m)
{
    if ((unsigned)m >= PORTMAP_METHOD_COUNT)
        return NULL;
    return backends[m];
}

int pm_engine_on_thread(portmap_client *c)
{
    return c->thread_started && pthread_equal(pthread_self(), c->thread);
}

void pm_engine_wake(portmap_client *c)
{
    uint64_t one = 1;
    ssize_t n = write(c->wake_fd, &one, sizeof(one));
    (void)n; /* EAGAIN means a wake-up is already pending */
}

void pm_engine_queue_event(portmap_client *c, portmap_mapping *m, portmap_event ev)
{
    pm_event *e;

    if (c->n_events == c->cap_events) {
        size_t cap = c->cap_events ? c->cap_events * 2 : 16;
        pm_event *n = realloc(c->events, cap * sizeof(*n));
        if (!n) {
            PM_ERR(c, "out of memory: dropped a %s event", portmap_event_name(ev));
            return;
        }
        c->events = n;
        c->cap_events = cap;
    }
    e = &c->events[c->n_events++];
    e->m = m;
    e->ev = ev;
    pm_mapping_ref(m);
    if (m->handle) /* delivered through it */
        pm_mapping_ref(m->handle);
    pm_mapping_fill_info(m, pm_now_ms(), &e->info);
    pthread_cond_broadcast(&c->cond);
}

/* Callbacks run without the lock, so they may call back into the API.
 * The queue is detached first: events queued by those calls wait for the
 * next round. */
static void deliver_events(portmap_client *c)
{
    while (c->n_events) {
        pm_event *evs = c->events;
        size_t n = c->n_events;

        c->events = NULL;
        c->n_events = c->cap_events = 0;
        pthread_mutex_unlock(&c->lock);
        for (size_t i = 0; i < n; i++) {
            if (evs[i].m->cb)
                evs[i].m->cb(pm_mapping_handle(evs[i].m), evs[i].ev, &evs[i].info,
                             evs[i].m->user);
        }
        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < n; i++) {
            portmap_mapping *h = evs[i].m->handle;
            pm_mapping_unref(evs[i].m);
            if (h)
                pm_mapping_unref(h);
        }
        free(evs);
    }
}

int pm_engine_all_probes_done(portmap_client *c, int fam)
{
    for (int i = 1; i < PORTMAP_METHOD_COUNT; i++)
        if (c->net[fam].avail[i] == PM_AVAIL_PROBING)
            return 0;
    return 1;
}

static void forget_gateway(portmap_client *c, int fam, int64_t now)
{
    pm_net *net = &c->net[fam];
    int remap = 0;

    for (int i = 0; i < PORTMAP_METHOD_COUNT; i++) {
        const pm_backend *b = backends[i];
        if (b)
            b->reset(c, fam);
        net->avail[i] = PM_AVAIL_UNKNOWN;
        memset(&net->epoch[i], 0, sizeof(net->epoch[i]));
    }
    if (fam == PM_V4) {
        c->ext_addr = 0;
        c->ext_addr_at = 0;
        c->double_nat = 0;
    }
    memset(net->heard_at, 0, sizeof(net->heard_at));
    memset(net->verdict_at, 0, sizeof(net->verdict_at));
    net->refused = PORTMAP_METHOD_AUTO;
    memset(net->why, 0, sizeof(net->why));
    net->orphans_claimed = 0;
    net->pcp_version = 0;
    net->upnp_version = 0;
    net->upnp_service[0] = '\0';
    /* Mappings made through the old gateway are gone for us: they are
     * made again once the new one has said what it speaks. */
    for (portmap_mapping *m = c->mappings; m; m = m->next)
        if (m->fam == fam)
            remap |= pm_mapping_network_changed(c, m, now);
    if (remap)
        pm_engine_probe_all(c, fam, now, now + c->s.timeout_ms, PM_PROBE_UNKNOWN);
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

int pm_engine_refresh_route(portmap_client *c, int fam, int64_t now)
{
    pm_net *net = &c->net[fam];
    pm_addr gw = { 0 }, local = { 0 };
    pm_v6_kind kind = PM_V6_UNFIT;
    char ifname[sizeof(net->ifname)] = "";

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
        /* The SSDP group was joined on the old route's interface, which
         * may be gone, and the membership with it. */
        if (fam == PM_V4 && c->notify_fd >= 0) {
            close(c->notify_fd);
            c->notify_fd = pm_announce_ssdp_open();
        }
    }
    if (fam == PM_V6 && (!net->route_ok || kind != net->local_kind)) {
        char a[PM_ADDR_TEXT];
        pm_addr_fmt(&local, a, sizeof(a));
        PM_DEBUG(c, "IPv6: using %s address %s on %s", pm_v6_kind_name(kind), a, ifname);
    }
    if (fam == PM_V6 && (c->ann6_fd < 0 || strcmp(ifname, net->ifname) != 0)) {
        /* announcements come on the router's link: listened to there */
        if (c->ann6_fd >= 0)
            close(c->ann6_fd);
        c->ann6_fd = pm_announce_open6(if_nametoindex(ifname));
    }
    net->gateway = gw;
    net->local = local;
    net->local_kind = kind;
    snprintf(net->ifname, sizeof(net->ifname), "%s", ifname);
    net->route_ok = 1;
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

void pm_engine_probe_all(portmap_client *c, int fam, int64_t now, int64_t deadline, unsigned what)
{
    pm_net *net = &c->net[fam];
    int started = 0, busy = !pm_engine_all_probes_done(c, fam);

    for (unsigned i = 0; i < c->n_order; i++) {
        portmap_method meth = c->order[i];
        const pm_backend *b = backends[meth];
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
        if (b->probe(c, fam, now) != 0)
            pm_engine_probe_failed(c, fam, meth, now, "%s",
                                   pm_method_has_family(meth, fam) ? "could not send (no socket)"
                                                                    : "not spoken over IPv6");
    }
    /* A probe runs its full course whoever asked: a caller that waits a
     * millisecond (a hint for a message) must not turn a router that
     * answers in 5 ms into a verdict of "unavailable" for everyone. */
    deadline = PM_MAX(deadline, now + c->s.timeout_ms);
    if (started && !busy) {
        net->probe_deadline = deadline;
        net->refused = PORTMAP_METHOD_AUTO; /* of the round before */
    }
    else if (started || busy)
        net->probe_deadline = PM_MAX(net->probe_deadline, deadline);
}

void pm_engine_heard(portmap_client *c, int fam, portmap_method method, int64_t now)
{
    pm_net *net = &c->net[fam];

    if (!net->heard_at[method])
        net->heard_at[method] = PM_MAX(now, 1);
}

void pm_engine_probe_failed(portmap_client *c, int fam, portmap_method method, int64_t now,
                            const char *fmt, ...)
{
    pm_net *net = &c->net[fam];
    va_list ap;

    if (net->avail[method] == PM_AVAIL_NO)
        return; /* the first reason stands */
    va_start(ap, fmt);
    vsnprintf(net->why[method], sizeof(net->why[method]), fmt, ap);
    va_end(ap);
    pm_engine_probe_done(c, fam, method, PM_AVAIL_NO, 0, now);
}

/* The first protocol, in the client's order, that a router of ours (of
 * either family) answered; AUTO when none has. */
static portmap_method first_answered(const portmap_client *c)
{
    for (int f = 0; f < PM_FAMS; f++)
        for (unsigned i = 0; i < c->n_order; i++)
            if (c->net[f].avail[c->order[i]] == PM_AVAIL_YES)
                return c->order[i];
    return PORTMAP_METHOD_AUTO;
}

/* Whether any router of ours answered in some protocol, or fam's router
 * refused one: then a protocol it has said nothing in is not waited for
 * long. */
static int anything_answered(const portmap_client *c, int fam)
{
    return c->net[fam].refused || first_answered(c) != PORTMAP_METHOD_AUTO;
}

int64_t pm_engine_silent_deadline(const portmap_client *c, int fam, portmap_method method)
{
    const pm_net *net = &c->net[fam];

    if (net->avail[method] != PM_AVAIL_PROBING || net->heard_at[method] || !anything_answered(c, fam))
        return PM_NEVER;
    /* A refusal alone is a weaker hint than an answer: the silent
     * protocol gets time for four transmissions (a lossy link) */
    return net->probe_started[method] +
           (first_answered(c) != PORTMAP_METHOD_AUTO ? PM_SILENT_GRACE_MS : PM_REFUSED_GRACE_MS);
}

/* What made a silent protocol not worth waiting for, for its reason:
 * "PCP answered", "the router refused PCP" */
static void who_answered(const portmap_client *c, int fam, char *buf, size_t len)
{
    portmap_method first = first_answered(c);

    if (first != PORTMAP_METHOD_AUTO)
        snprintf(buf, len, "%s answered", pm_method_label(first));
    else if (c->net[fam].refused)
        snprintf(buf, len, "the router refused %s", pm_method_label(c->net[fam].refused));
    else
        snprintf(buf, len, "another protocol answered");
}

/* Give up the probes that are over: past the deadline, or silent while
 * another protocol (or the other family's router) answered. */
static void end_probes(portmap_client *c, int fam, int64_t now, int64_t *deadline)
{
    pm_net *net = &c->net[fam];

    for (int i = 1; i < PORTMAP_METHOD_COUNT; i++) {
        int64_t silent;
        if (net->avail[i] != PM_AVAIL_PROBING)
            continue;
        silent = pm_engine_silent_deadline(c, fam, (portmap_method)i);
        if (now >= net->probe_deadline && net->why[i][0]) {
            /* the backend said why it found nothing usable */
            pm_engine_probe_done(c, fam, (portmap_method)i, PM_AVAIL_NO, 0, now);
        } else if (now >= net->probe_deadline) {
            pm_engine_probe_failed(c, fam, (portmap_method)i, now, "no answer within %.1f s",
                                   (double)(now - net->probe_started[i]) / 1000.0);
        } else if (now >= silent) {
            char who[64];
            who_answered(c, fam, who, sizeof(who));
            pm_engine_probe_failed(c, fam, (portmap_method)i, now, "no answer within %.1f s, while %s",
                                   (double)(now - net->probe_started[i]) / 1000.0, who);
        } else {
            *deadline = PM_MIN(*deadline, PM_MIN(net->probe_deadline, silent));
        }
    }
}

void pm_engine_probe_done(portmap_client *c, int fam, portmap_method method, pm_avail result,
                          uint32_t ext_addr, int64_t now)
{
    pm_net *net = &c->net[fam];

    if (net->avail[method] != result)
        PM_DEBUG(c, "%s%s %s after %lld ms", portmap_method_name(method),
                 fam == PM_V6 ? " over IPv6" : "",
                 result == PM_AVAIL_YES ? "answered" : "is not available",
                 (long long)(now - net->probe_started[method]));
    if (result == PM_AVAIL_YES && net->avail[method] == PM_AVAIL_PROBING)
        net->probe_rtt[method] = now - net->probe_started[method];
    if (result == PM_AVAIL_YES) {
        pm_engine_heard(c, fam, method, now);
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
        net->orphans_claimed |= PORTMAP_HAVE(method);
        pm_orphans_release(c, fam, method, now);
    }
    if (ext_addr && fam == PM_V4) {
        c->ext_addr = ext_addr;
        c->ext_addr_at = now;
        c->double_nat = pm_addr_is_private(ext_addr);
    }
    if (result != PM_AVAIL_NO)
        goto out;
    /* Exchanges that were waiting for this protocol move on (pending
     * mappings) or end (releases): none will be answered. */
    for (portmap_mapping *m = c->mappings; m; m = m->next)
        if (m->fam == fam && m->op != PM_OP_NONE && m->op_method == method)
            pm_mapping_protocol_gone(c, m);
    /* PCP and NAT-PMP share port 5351: nothing listening there refuses
     * both, though ICMP rate limiting may let only one refusal through. */
    if (net->refused == method && (method == PORTMAP_METHOD_PCP || method == PORTMAP_METHOD_NATPMP)) {
        portmap_method other =
            method == PORTMAP_METHOD_PCP ? PORTMAP_METHOD_NATPMP : PORTMAP_METHOD_PCP;
        if (net->avail[other] == PM_AVAIL_PROBING && pm_method_has_family(other, fam))
            pm_engine_probe_failed(c, fam, other, now, "%s", net->why[method]);
    }
out:
    pthread_cond_broadcast(&c->cond);
}

void pm_engine_map_done(portmap_client *c, portmap_mapping *m, const pm_result *r, int64_t now)
{
    c->counters.responses++;
    if (r->err == PORTMAP_OK && pm_net_of(c, m)->avail[m->op_method] != PM_AVAIL_YES)
        pm_engine_probe_done(c, m->fam, m->op_method, PM_AVAIL_YES, 0, now);
    pm_mapping_on_result(c, m, r, now);
    pthread_cond_broadcast(&c->cond);
}

/* Why fam has no router to ask, in words: no default route, or a
 * gateway setting of the other family. */
static void no_route_reason(const portmap_client *c, int fam, char *buf, size_t len)
{
    pm_addr gw;
    int other = c->gateway_override && pm_addr_parse(c->gateway_override, &gw) == 0 &&
                (gw.family == AF_INET6) != (fam == PM_V6);

    if (other)
        snprintf(buf, len, "the gateway was set to %s, which rules IPv%d out",
                 c->gateway_override, fam == PM_V6 ? 6 : 4);
    else if (fam == PM_V6)
        snprintf(buf, len, "no IPv6 default route, or no global or unique-local IPv6 address on "
                           "its link");
    else
        snprintf(buf, len, "no IPv4 default route%s", c->gateway_override ? " to that gateway" : "");
}

void pm_net_reason(portmap_client *c, int fam, portmap_method only, uint8_t allow_prefix,
                   char *buf, size_t len)
{
    const pm_net *net = &c->net[fam];
    char gw[PM_ADDR_TEXT + 20];
    size_t n;
    int parts = 0;

    if (!net->route_ok) {
        no_route_reason(c, fam, buf, len);
        return;
    }
    pm_addr_fmt(&net->gateway, gw, sizeof(gw));
    if (net->gateway.scope && net->ifname[0])
        snprintf(gw + strlen(gw), sizeof(gw) - strlen(gw), "%%%s", net->ifname);
    n = (size_t)snprintf(buf, len, "the %srouter at %s: ", fam == PM_V6 ? "IPv6 " : "", gw);
    for (unsigned i = 0; i < c->n_order && n < len; i++) {
        portmap_method meth = c->order[i];
        const char *label = pm_method_label(meth);
        if ((only && meth != only) || !pm_method_has_family(meth, fam))
            continue;
        if (!pm_method_can_allow(meth, allow_prefix))
            n += (size_t)snprintf(buf + n, len - n, "%s%s: cannot restrict who connects",
                                  parts++ ? "; " : "", label);
        else if (net->avail[meth] == PM_AVAIL_NO)
            n += (size_t)snprintf(buf + n, len - n, "%s%s: %s", parts++ ? "; " : "", label,
                                  net->why[meth][0] ? net->why[meth] : "no answer");
        else if (net->avail[meth] == PM_AVAIL_YES)
            n += (size_t)snprintf(buf + n, len - n, "%s%s: answered", parts++ ? "; " : "", label);
        else if (net->avail[meth] == PM_AVAIL_PROBING)
            n += (size_t)snprintf(buf + n, len - n, "%s%s: %s within %.1f s", parts++ ? "; " : "",
                                  label, net->heard_at[meth] ? "no full answer" : "no answer",
                                  (double)(pm_now_ms() - net->probe_started[meth]) / 1000.0);
        else
            n += (size_t)snprintf(buf + n, len - n, "%s%s: not asked", parts++ ? "; " : "",
                                  label);
    }
    if (!parts && n < len)
        snprintf(buf + n, len - n, "%s", only ? "that protocol has no such family"
                                              : "no protocol to ask");
}

/* A router that lost its state (reboot) answers with a young epoch:
 * every mapping made through that protocol is gone and is made again. */
void pm_engine_server_epoch(portmap_client *c, int fam, portmap_method method, uint32_t epoch,
                            int64_t now)
{
    pm_epoch *e = &c->net[fam].epoch[method];
    int ok = method == PORTMAP_METHOD_PCP ? pm_epoch_check_pcp(e, epoch, now)
                                          : pm_epoch_check_natpmp(e, epoch, now);
    if (ok)
        return;
    PM_WARN(c, "%s: the router's epoch went back to %u s: it lost its mappings; mapping again",
            portmap_method_name(method), epoch);
    for (portmap_mapping *m = c->mappings; m; m = m->next) {
        if (m->fam != fam || m->method != method || m->state != PORTMAP_STATE_MAPPED)
            continue;
        /* The reply under way may be the renewal that re-created the
         * mapping; it is kept, only scheduled ones are hurried. */
        if (m->op != PM_OP_NONE)
            continue;
        /* RFC 6886 3.7: a random 0-5 s wait, so that every host of the
         * LAN does not come back at the same instant */
        m->state = PORTMAP_STATE_LOST;
        m->retry_at = now + (int64_t)(pm_rand_unit(c) * PM_RESET_SPREAD_MS);
        m->lost_reported = 1;
        m->remap_after_reset = 1;
        pm_engine_queue_event(c, m, PORTMAP_EVENT_LOST);
    }
}

static size_t build_pollset(portmap_client *c, int64_t *deadline, size_t *first_backend)
{
    size_t need = 5, n = 0;

    for (int i = 0; i < PORTMAP_METHOD_COUNT; i++)
        if (backends[i])
            need += backends[i]->count_pollfds(c);
    if (need > c->cap_pfds) {
        struct pollfd *p = realloc(c->pfds, need * sizeof(*p));
        if (!p) {
            need = c->cap_pfds; /* run with what we have; retried next round */
        } else {
            c->pfds = p;
            c->cap_pfds = need;
        }
    }
    c->pfds[n++] = (struct pollfd){ .fd = c->wake_fd, .events = POLLIN };
    c->pfds[n++] = (struct pollfd){ .fd = c->nl_fd, .events = POLLIN };
    c->pfds[n++] = (struct pollfd){ .fd = c->ann_fd, .events = POLLIN };
    c->pfds[n++] = (struct pollfd){ .fd = c->notify_fd, .events = POLLIN };
    c->pfds[n++] = (struct pollfd){ .fd = c->ann6_fd, .events = POLLIN };
    *first_backend = n;
    for (int i = 0; i < PORTMAP_METHOD_COUNT; i++) {
        if (!backends[i])
            continue;
        n += backends[i]->add_pollfds(c, c->pfds + n, c->cap_pfds - n, deadline);
    }
    return n;
}

static void dispatch_backends(portmap_client *c, size_t first, size_t n, int64_t now)
{
    /* Each backend finds its own descriptors in the set: it added them in
     * order, and the count it adds is stable while the lock is held. */
    for (int i = 0; i < PORTMAP_METHOD_COUNT; i++) {
        if (backends[i])
            backends[i]->dispatch(c, c->pfds + first, n - first, now);
    }
}

void pm_mappings_each(portmap_client *c, void (*fn)(portmap_client *, portmap_mapping *, void *),
                      void *arg)
{
    portmap_mapping *m = c->mappings;

    while (m) {
        /* Hold the next one: fn may unlink the current one. */
        portmap_mapping *next = m->next;
        if (next)
            pm_mapping_ref(next);
        fn(c, m, arg);
        if (next)
            pm_mapping_unref(next);
        m = next;
    }
}

short pm_revents(const pm_dispatch *d, int fd)
{
    if (fd < 0)
        return 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->fds[i].fd == fd)
            return d->fds[i].revents;
    return 0;
}

typedef struct service_ctx {
    int64_t now;
    int64_t *deadline;
} service_ctx;

static void service_one(portmap_client *c, portmap_mapping *m, void *arg)
{
    service_ctx *s = arg;

    pm_mapping_service(c, m, s->now, s->deadline);
    if (m->op != PM_OP_NONE)
        c->ops_mask |= PORTMAP_HAVE(m->op_method);
    /* Finished mappings stay listed while the caller holds the handle,
     * so portmap_close() can free every handle. */
    if ((m->state == PORTMAP_STATE_RELEASED || m->state == PORTMAP_STATE_FAILED) &&
        m->handle_dropped && !(m->twin && pm_mapping_listed(c, m->twin)))
        pm_mapping_unlink(c, m);
}

static void service_all(portmap_client *c, int64_t now, int64_t *deadline)
{
    service_ctx ctx = { now, deadline };

    if (c->route_dirty) {
        c->route_dirty = 0;
        for (int fam = 0; fam < PM_FAMS; fam++)
            if (fam == PM_V4 || (c->fams_used & (1u << fam)))
                pm_engine_refresh_route(c, fam, now);
    }
    for (int fam = 0; fam < PM_FAMS; fam++)
        end_probes(c, fam, now, deadline);
    c->ops_mask = 0; /* recounted by the pass */
    pm_mappings_each(c, service_one, &ctx);
}

static void drain_wake(portmap_client *c)
{
    uint64_t v;
    ssize_t n = read(c->wake_fd, &v, sizeof(v));
    (void)n;
}

static void cancel_everything(portmap_client *c)
{
    for (portmap_mapping *m = c->mappings; m; m = m->next) {
        pm_mapping_stop_op(c, m);
        if (m->state == PORTMAP_STATE_RELEASED)
            continue;
        if (m->state == PORTMAP_STATE_PENDING) {
            m->last_error = PORTMAP_ERR_CANCELLED;
            m->state = PORTMAP_STATE_FAILED;
            pm_engine_queue_event(c, m, PORTMAP_EVENT_FAILED);
        }
        m->state = PORTMAP_STATE_RELEASED;
        pm_engine_queue_event(c, m, PORTMAP_EVENT_RELEASED);
    }
    for (int i = 0; i < PORTMAP_METHOD_COUNT; i++)
        for (int fam = 0; fam < PM_FAMS; fam++)
            if (backends[i])
                backends[i]->reset(c, fam);
}

/* The time left until deadline (monotonic ms), at most 10 minutes. To
 * the deadline itself: a timeout in whole ms from now would wake up to a
 * millisecond after it, since now is already past pm_now_ms(). */
static struct timespec until(int64_t deadline)
{
    struct timespec now;
    int64_t ns;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ns = deadline * 1000000 - ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
    ns = PM_MIN(PM_MAX(ns, 0), (int64_t)600 * 1000000000);
    return (struct timespec){ .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
}

void *pm_engine_main(void *arg)
{
    portmap_client *c = arg;

    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        int64_t now = pm_now_ms();
        int64_t deadline = PM_NEVER;
        size_t first, n;
        struct timespec ts;

        service_all(c, now, &deadline);
        deliver_events(c);
        if (c->stopping)
            break;
        n = build_pollset(c, &deadline, &first);
        pthread_cond_broadcast(&c->cond);
        if (deadline != PM_NEVER)
            ts = until(deadline);
        pthread_mutex_unlock(&c->lock);
        if (ppoll(c->pfds, n, deadline == PM_NEVER ? NULL : &ts, NULL) < 0 && errno != EINTR)
            usleep(10000); /* poll failing means a bad fd: do not spin */
        pthread_mutex_lock(&c->lock);
        if (c->pfds[0].revents)
            drain_wake(c);
        if (c->nl_fd >= 0 && c->pfds[1].revents && pm_route_netlink_drain(c->nl_fd))
            c->route_dirty = 1;
        if (c->ann_fd >= 0 && c->pfds[2].revents)
            pm_announce_read(c, PM_V4, pm_now_ms());
        if (c->notify_fd >= 0 && c->pfds[3].revents)
            pm_announce_ssdp_read(c, pm_now_ms());
        if (c->ann6_fd >= 0 && c->pfds[4].revents)
            pm_announce_read(c, PM_V6, pm_now_ms());
        dispatch_backends(c, first, n, pm_now_ms());
        deliver_events(c);
    }
    cancel_everything(c);
    deliver_events(c);
    c->closed = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}
