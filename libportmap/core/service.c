/*
 * When each mapping acts, the engine's pass over them: a pending request
 * picks its protocol (the first in the client's order that answered, or
 * the first not yet refused), gives up a silent one for one that
 * answered, fails when none can serve; held successes wait for the
 * external address; mapped ones renew, lost ones retry, releases end.
 * Like mapping.c: no I/O, nothing above it called.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"


/* Choose the protocol for a mapping without one. Returns AUTO to wait. */
static portmap_method pick_method(portmap_client *c, portmap_mapping *m, int *all_no)
{
    pm_net *net = pm_net_of(c, m);
    portmap_method only[1];
    const portmap_method *order = c->order;
    unsigned n = c->n_order;
    portmap_method candidate = PORTMAP_METHOD_AUTO;

    if (m->forced != PORTMAP_METHOD_AUTO) {
        only[0] = m->forced;
        order = only;
        n = 1;
    }
    *all_no = 1;
    for (unsigned i = 0; i < n; i++) {
        portmap_method meth = order[i];
        pm_avail a = net->avail[meth];
        /* not spoken, or it refused what m asks (m->reason says why) */
        if (a == PM_AVAIL_NO || !pm_method_has_family(c, meth, m->fam) ||
            (m->refused_methods & PORTMAP_HAVE(meth)))
            continue;
        if (pm_addr_is_set(&m->third) && !pm_method_third_party(c, meth, m->fam)) {
            /* it would map the port for this host, not the one named */
            if (!m->cannot_third)
                PM_INFO(c, "port %u: %s cannot map a port for another host; not using it",
                        m->internal_port, pm_method_label(c, meth));
            m->cannot_third = 1;
            continue;
        }
        if (!pm_method_can_allow(c, meth, m->allow_prefix)) {
            /* open to everyone is not what was asked: never this one */
            if (!m->cannot_allow)
                PM_WARN(c, "port %u: %s cannot restrict who connects as asked; not using it",
                        m->internal_port, portmap_method_name(meth));
            m->cannot_allow = 1;
            continue;
        }
        *all_no = 0;
        /* A protocol that answered is taken at once: a preferred one that
         * has not answered yet is not waited for (see switch_due for one
         * whose request is already out). */
        if (a == PM_AVAIL_YES)
            return meth;
        if (candidate == PORTMAP_METHOD_AUTO)
            candidate = meth;
    }
    return candidate;
}

/* The first protocol, in m's order, that answered and may serve m; AUTO
 * when none. */
static portmap_method answered_method(portmap_client *c, const portmap_mapping *m)
{
    const pm_net *net = pm_net_of(c, m);

    for (unsigned i = 0; i < c->n_order; i++) {
        portmap_method meth = c->order[i];
        if (net->avail[meth] == PM_AVAIL_YES && pm_method_has_family(c, meth, m->fam) &&
            pm_method_can_serve(c, meth, m))
            return meth;
    }
    return PORTMAP_METHOD_AUTO;
}

/*
 * When a first request in a protocol the router has said nothing in is
 * given up for the protocol that answered: as soon as that one answered,
 * but not before PM_SWITCH_FLOOR_MS after the request went out. The
 * router has then had as long to answer our request as it took to answer
 * the other protocol (every probe starts with or after the request): a
 * router that answers SSDP, a GET and nothing in PCP by then does not
 * speak PCP, or lost the request, and the other protocol serves as well.
 * Nothing waits for PCP to be declared unavailable (1 s, pm_net_end_probes).
 * The floor keeps the client's order where several answer: a router that
 * speaks the preferred protocol answers it within a round trip, long
 * before 50 ms, even when a fast SSDP answer comes first.
 */
#define PM_SWITCH_FLOOR_MS 50

static int64_t switch_at(portmap_client *c, const portmap_mapping *m)
{
    const pm_net *net = pm_net_of(c, m);
    portmap_method other = answered_method(c, m);
    int64_t answered = net->verdict_at[other] ? net->verdict_at[other] : m->op_started;

    return PM_MAX(m->op_started + PM_SWITCH_FLOOR_MS, answered);
}

/* A pending request whose protocol has been silent while another one
 * answered: 1 when it is time to give it up and take the other. */
static int switch_due(portmap_client *c, portmap_mapping *m, int64_t now, int64_t *deadline)
{
    const pm_net *net = pm_net_of(c, m);
    int64_t at;

    if (m->forced || m->op != PM_OP_MAP || net->avail[m->op_method] == PM_AVAIL_YES ||
        net->heard_at[m->op_method] || answered_method(c, m) == PORTMAP_METHOD_AUTO)
        return 0;
    at = switch_at(c, m);
    if (now < at) {
        *deadline = PM_MIN(*deadline, at);
        return 0;
    }
    return 1;
}

/* Give up m's request in a silent protocol; what the router may have
 * made of it is undone as far as the protocol allows without waiting. */
static void abandon_op(portmap_client *c, portmap_mapping *m, int64_t now)
{
    const pm_backend *b = pm_backend_of(c, m->op_method);

    PM_DEBUG(c, "port %u: %s has said nothing for %lld ms while %s answered; using that",
             m->internal_port, pm_method_label(c, m->op_method), (long long)(now - m->op_started),
             pm_method_label(c, answered_method(c, m)));
    if (m->op_sent && b && b->abandon)
        b->abandon(c, m);
    pm_mapping_stop_op(c, m);
}

/* Verdicts of "unavailable" reached before m was asked for are asked
 * again, once: a router that was down when an earlier request failed may
 * be up now, and a new process would ask it too. */
static int retry_old_verdicts(portmap_client *c, portmap_mapping *m, int64_t now)
{
    pm_net *net = pm_net_of(c, m);
    int old = 0;

    if (m->reprobed)
        return 0;
    for (int i = 1; i < PORTMAP_METHOD_COUNT; i++)
        old |= net->avail[i] == PM_AVAIL_NO && net->verdict_at[i] < m->created_at;
    if (!old)
        return 0;
    m->reprobed = 1;
    pm_mapping_want_probe(c, m->fam, PM_PROBE_RETRY, m->first_deadline);
    return 1;
}

/* "10.77.0.0/24": the first subnet of ours on the link, for a reason */
static void lan_net(const pm_net *net, char *buf, size_t len)
{
    pm_addr a = net->n_lan ? net->lan[0] : net->local;
    unsigned bits = net->n_lan ? net->lan_len[0] : a.family == AF_INET6 ? 128u : 32u;
    uint8_t *p = a.family == AF_INET6 ? a.u.v6 : (uint8_t *)&a.u.v4;
    unsigned size = a.family == AF_INET6 ? 16u : 4u;
    char text[INET6_ADDRSTRLEN];

    for (unsigned i = 0; i < size; i++)
        if (i * 8 >= bits)
            p[i] = 0;
        else if (i * 8 + 8 > bits)
            p[i] &= (uint8_t)(0xff << (8 - bits % 8));
    pm_addr_fmt(&a, text, sizeof(text));
    snprintf(buf, len, "%s/%u", text, bits);
}

/* The router's own address: the gateway's (without its zone), or for
 * IPv6 another of the router's, as the neighbour table knows them */
static int third_is_router(const pm_net *net, const pm_addr *a)
{
    if (a->family == AF_INET)
        return pm_addr_eq(a, &net->gateway);
    if (net->gateway.family == AF_INET6 && !memcmp(a->u.v6, net->gateway.u.v6, 16))
        return 1;
    for (unsigned i = 0; i < net->n_rtr_addrs; i++)
        if (!memcmp(a->u.v6, net->rtr_addrs[i].u.v6, 16))
            return 1;
    return 0;
}

/*
 * A request for another host (m->third), now that its network is known:
 * that host must be on our link's subnets, where the router can reach
 * it, and not the router. Our own address is this host's request. 0 when
 * it failed m.
 */
static int third_party_on_lan(portmap_client *c, portmap_mapping *m)
{
    pm_net *net = pm_net_of(c, m);
    char who[PM_ADDR_TEXT], lan[PM_ADDR_TEXT];

    if (!pm_addr_is_set(&m->third))
        return 1;
    if (pm_addr_eq(&m->third, &net->local)) {
        m->third = (pm_addr){ 0 };
        return 1;
    }
    pm_addr_fmt(&m->third, who, sizeof(who));
    if (third_is_router(net, &m->third)) {
        pm_mapping_set_reason(m, "the internal address %s is the router itself, "
                              "not a host behind it", who);
        pm_mapping_fail(c, m, PORTMAP_ERR_INVALID_ARGUMENT);
        return 0;
    }
    for (unsigned i = 0; i < net->n_lan; i++)
        if (pm_addr_in_prefix(&m->third, &net->lan[i], net->lan_len[i]))
            return 1;
    lan_net(net, lan, sizeof(lan));
    pm_mapping_set_reason(m, "the internal address %s is not on this host's LAN "
                          "(%s%s%s): the router maps ports only to hosts on its own link", who,
                          lan, net->ifname[0] ? " on " : "", net->ifname);
    pm_mapping_fail(c, m, PORTMAP_ERR_INVALID_ARGUMENT);
    return 0;
}

/* m's first request goes out in meth: its turn at the router has come. */
static void start_request(portmap_client *c, portmap_mapping *m, portmap_method meth, int64_t now)
{
    pm_net *net = pm_net_of(c, m);

    m->op_method = meth;
    m->local = pm_mapping_client(c, m);
    m->local_kind = net->local_kind;
    m->retry_at = PM_NEVER;
    pm_mapping_start_op(c, m, PM_OP_MAP, now);
    /* Then probe whatever nobody has asked yet. The mapping's request goes
     * first because a router answers in turn: a fresh client maps in one
     * round trip, not behind its own probes, and the probes on another
     * port of the router are held a moment (pm_net_probe_behind). A
     * probe that cannot even start ends this request's exchange
     * (pm_mapping_protocol_gone). */
    pm_mapping_want_probe_behind(c, m->fam, PM_PROBE_UNKNOWN, m->first_deadline, meth);
}

static void service_pending(portmap_client *c, portmap_mapping *m, int64_t now, int64_t *deadline)
{
    pm_net *net = pm_net_of(c, m);
    int all_no;
    portmap_method meth;

    if (m->op != PM_OP_NONE) {
        if (now >= m->op_deadline) {
            pm_mapping_on_timeout(c, m, now);
            return;
        }
        if (!switch_due(c, m, now, deadline)) {
            *deadline = PM_MIN(*deadline, m->op_deadline);
            return;
        }
        abandon_op(c, m, now);
    }
    if (now >= m->first_deadline) {
        int answered = 0, usable = 0;
        for (int i = 1; i < PORTMAP_METHOD_COUNT; i++) {
            answered |= net->avail[i] == PM_AVAIL_YES;
            usable |= net->avail[i] == PM_AVAIL_YES &&
                      pm_method_can_serve(c, (portmap_method)i, m);
        }
        /* the router answered only in protocols that cannot honour allow */
        pm_mapping_fail(c, m, m->last_error        ? m->last_error
                         : answered && !usable ? PORTMAP_ERR_UNSUPPORTED
                         : answered            ? PORTMAP_ERR_TIMEOUT
                                               : PORTMAP_ERR_NO_GATEWAY);
        return;
    }
    if (m->retry_at != PM_NEVER && now < m->retry_at) {
        *deadline = PM_MIN(*deadline, PM_MIN(m->retry_at, m->first_deadline));
        return;
    }
    if (!net->route_ok && net->route_read_at < m->created_at) {
        /* the routes are read again before this request fails for want
         * of one: the engine's pass does it and comes back (no deadline:
         * a round at once would find nothing to do) */
        net->want_route = 1;
        return;
    }
    if (!net->route_ok) {
        m->no_route = 1;
        pm_mapping_fail(c, m, PORTMAP_ERR_NO_GATEWAY);
        return;
    }
    if (!third_party_on_lan(c, m))
        return;
    meth = pick_method(c, m, &all_no);
    if (all_no && retry_old_verdicts(c, m, now))
        return; /* the pass starts the probes and comes back */
    if (all_no) {
        pm_mapping_fail(c, m, m->last_error ? m->last_error
                         : m->forced || m->cannot_allow || m->cannot_third
                             ? PORTMAP_ERR_UNSUPPORTED
                                                        : PORTMAP_ERR_NO_GATEWAY);
        return;
    }
    if (meth == PORTMAP_METHOD_AUTO) {
        *deadline = PM_MIN(*deadline, PM_MIN(now + 100, m->first_deadline));
        return;
    }
    if (c->n_ops_fam[m->fam] >= PM_INFLIGHT_MAX) {
        /* the router has enough to answer: an answer's round (or a
         * timeout's) brings this one's turn (a pending request is
         * serviced every pass) */
        *deadline = PM_MIN(*deadline, m->first_deadline);
        return;
    }
    start_request(c, m, meth, now);
}

int pm_mapping_start_at_once(portmap_client *c, portmap_mapping *m, int64_t now)
{
    pm_net *net = pm_net_of(c, m);
    const pm_backend *b;
    portmap_method meth;
    int all_no;

    /* what service_pending would find before it picks a protocol; another
     * host's request is checked against the LAN by the engine first */
    if (m->state != PORTMAP_STATE_PENDING || m->op != PM_OP_NONE || m->held ||
        pm_addr_is_set(&m->third) ||
        m->retry_at != PM_NEVER || now >= m->first_deadline || !net->route_ok ||
        c->route_dirty || c->n_ops_fam[m->fam] >= PM_INFLIGHT_MAX)
        return 0;
    /* A fresh client's first request too (the router not yet asked: the
     * engine read the route when the client opened): its probes follow
     * from the engine's pass (start_request's want). */
    meth = pick_method(c, m, &all_no);
    b = pm_backend_of(c, meth);
    if (all_no || meth == PORTMAP_METHOD_AUTO || !b || !b->start_sends)
        return 0;
    start_request(c, m, meth, now);
    return 1;
}

/* Release a held success once the address is known or the hold is over. */
static int service_held(portmap_client *c, portmap_mapping *m, int64_t now, int64_t *deadline)
{
    pm_result r;

    if (!m->held)
        return 0;
    if (!pm_ext_addr_known(c) && now < m->held_until) {
        *deadline = PM_MIN(*deadline, m->held_until);
        return 1;
    }
    r = *m->held_result;
    if (c->ext_addr)
        r.ext = pm_addr_from_v4(c->ext_addr);
    pm_mapping_drop_held(m);
    pm_mapping_on_result(c, m, &r, now);
    return 0; /* the state it led to has its own deadline (the refresh) */
}

/* After a change of network, a mapping of no protocol in particular waits
 * for the new gateway's answers and takes what it prefers, which need not
 * be what the old one spoke. 0 while waiting. */
static int rediscovered(portmap_client *c, portmap_mapping *m, int64_t now, int64_t *deadline)
{
    portmap_method meth;
    int all_no;

    if (!m->forced && !pm_net_all_probes_done(c, m->fam)) {
        *deadline = PM_MIN(*deadline, pm_net_of(c, m)->probe_deadline);
        return 0;
    }
    m->rediscover = 0;
    if (!third_party_on_lan(c, m))
        return 0; /* the other host is not on the new network: failed */
    meth = pick_method(c, m, &all_no);
    if (!all_no && meth != PORTMAP_METHOD_AUTO)
        m->op_method = meth;
    return 1;
}

/*
 * Renewals due together (NAT-PMP's all at half the lease, PCP's on one
 * grid point) go out as first requests do, up to PM_INFLIGHT_MAX under
 * way at the router, the others as answers come: a thousand at once
 * overflow its socket buffer, and each one dropped would wait out a
 * resend. A renewal waits its turn at most PM_TURN_WAIT_MS (exchanges
 * that do not end, a lost mapping's, must not hold renewals back): 1
 * when it may go now.
 */
static int renewal_turn(portmap_client *c, portmap_mapping *m, int64_t now, int64_t *deadline)
{
    int64_t latest = m->refresh_at + PM_TURN_WAIT_MS;

    if (c->n_ops_fam[m->fam] < PM_INFLIGHT_MAX || now >= latest)
        return 1;
    m->waits_turn = 1; /* serviced every pass until then */
    *deadline = PM_MIN(*deadline, latest);
    return 0;
}

int pm_mapping_watched(const portmap_mapping *m)
{
    switch (m->state) {
    case PORTMAP_STATE_PENDING:
        return 1;
    case PORTMAP_STATE_LOST:
        return m->held || (m->rediscover && m->op == PM_OP_NONE);
    case PORTMAP_STATE_MAPPED:
        return m->held || m->waits_turn;
    case PORTMAP_STATE_RELEASING:
        return m->held || (m->waits_turn && m->op == PM_OP_NONE);
    default:
        /* a finished one whose handle is dropped waits for its twin to
         * be unlisted before it is (see the engine's service_one) */
        return m->handle_dropped;
    }
}

void pm_mapping_service(portmap_client *c, portmap_mapping *m, int64_t now, int64_t *deadline)
{
    if (service_held(c, m, now, deadline))
        return;
    switch (m->state) {
    case PORTMAP_STATE_PENDING:
        service_pending(c, m, now, deadline);
        break;
    case PORTMAP_STATE_MAPPED:
        m->waits_turn = 0;
        if (m->op == PM_OP_NONE && now >= m->refresh_at && !renewal_turn(c, m, now, deadline))
            break;
        if (m->op == PM_OP_NONE && now >= m->refresh_at) {
            m->op_method = m->method;
            pm_mapping_start_op(c, m, PM_OP_MAP, now);
        }
        if (m->op != PM_OP_NONE && now >= m->op_deadline) {
            pm_mapping_on_timeout(c, m, now);
            break;
        }
        *deadline = PM_MIN(*deadline, m->op != PM_OP_NONE ? m->op_deadline : m->refresh_at);
        break;
    case PORTMAP_STATE_LOST:
        if (m->op != PM_OP_NONE && now >= m->op_deadline) {
            pm_mapping_on_timeout(c, m, now); /* a renewal that went unanswered */
            break;
        }
        if (m->op != PM_OP_NONE) {
            *deadline = PM_MIN(*deadline, m->op_deadline);
            break;
        }
        if (now < m->retry_at) {
            *deadline = PM_MIN(*deadline, m->retry_at);
            break;
        }
        m->op_method = m->method;
        if (m->rediscover && !rediscovered(c, m, now, deadline))
            break;
        pm_mapping_start_op(c, m, PM_OP_MAP, now);
        break;
    case PORTMAP_STATE_RELEASING:
        if (m->waits_turn && m->op == PM_OP_NONE && now < m->op_deadline)
            pm_mapping_start_delete(c, m, now);
        if (m->waits_turn && m->op == PM_OP_NONE && now < m->op_deadline) {
            *deadline = PM_MIN(*deadline, PM_MIN(m->op_deadline, m->turn_since + PM_TURN_WAIT_MS));
            break;
        }
        if (m->op == PM_OP_NONE || now >= m->op_deadline)
            pm_mapping_set_released(c, m, m->op == PM_OP_NONE ? PORTMAP_OK : PORTMAP_ERR_TIMEOUT);
        else
            *deadline = PM_MIN(*deadline, m->op_deadline);
        break;
    case PORTMAP_STATE_FAILED:
    case PORTMAP_STATE_RELEASED:
        break;
    }
}
