/*
 * The per-mapping state machine. Every function here runs with the
 * client's lock held and takes the time as an argument, so the unit tests
 * drive it with a fake clock.
 *
 *   PENDING --ok--> MAPPED --renew ok--> MAPPED (CHANGED if the router moved it)
 *      |              |  \--expired without reply / router reset--> LOST --ok--> MAPPED (RESTORED)
 *      +--refused/timeout--> FAILED
 *   any --release--> RELEASING --> RELEASED
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* A lost mapping is retried sooner than RFC 6887's 1024 s cap: the user
 * wants the port back as soon as the router answers again. */
static const pm_retx_params retx_lost = { 1000, 30000, 0, 0 };

#define PM_HOLD_FOR_ADDR_MS 2000
#define PM_BACKOFF_MIN_MS 1000
#define PM_BACKOFF_MAX_MS 60000
#define PM_REFRESH_GRID_MS 1000

void pm_mapping_ref(portmap_mapping *m)
{
    m->refs++;
}

void pm_mapping_unref(portmap_mapping *m)
{
    if (--m->refs > 0)
        return;
    if (m->twin) {
        /* the handle held its twin's caller reference */
        m->twin->handle = NULL;
        m->twin->cb = NULL;
        pm_mapping_unref(m->twin);
    }
    free(m->op_data);
    free(m);
}

int64_t pm_mapping_refresh_delay_ms(portmap_method method, uint32_t lifetime, double unit_rand)
{
    int64_t life_ms = (int64_t)lifetime * 1000;
    if (method == PORTMAP_METHOD_PCP) /* RFC 6887 11.2.1: between 1/2 and 5/8 */
        return life_ms / 2 + (int64_t)((double)(life_ms / 8) * unit_rand);
    return life_ms / 2; /* RFC 6886 3.3 and UPnP leases: at half */
}

/*
 * When to renew a lease granted at now. PCP leaves a window (1/2 to 5/8 of
 * the lease); in it the time is put on a grid of 1/16 of the lease, at
 * most PM_REFRESH_GRID_MS, so that the mappings a client made around the
 * same time are renewed in one round of the engine, not one round (and one
 * pass over every mapping) each. Clients' grids differ with their clocks,
 * so the jitter between hosts stays.
 */
static int64_t refresh_time(portmap_method method, uint32_t lifetime, int64_t now,
                            double unit_rand)
{
    int64_t at = now + pm_mapping_refresh_delay_ms(method, lifetime, unit_rand);
    int64_t earliest = now + pm_mapping_refresh_delay_ms(method, lifetime, 0.0);
    int64_t grid = PM_MIN((int64_t)lifetime * 1000 / 16, PM_REFRESH_GRID_MS);

    if (grid <= 0 || at - at % grid < earliest)
        return at;
    return at - at % grid;
}

void pm_mapping_fill_info(const portmap_mapping *m, int64_t now, portmap_mapping_info *info)
{
    memset(info, 0, sizeof(*info));
    info->state = m->state;
    info->method = m->state == PORTMAP_STATE_PENDING && !m->ever_mapped ? m->op_method : m->method;
    info->protocol = m->proto;
    info->internal_port = m->internal_port;
    info->external_port = m->ext_port;
    pm_addr_fmt(&m->local, info->internal_address, sizeof(info->internal_address));
    pm_addr_fmt(&m->ext, info->external_address, sizeof(info->external_address));
    info->family = m->fam == PM_V6 ? PORTMAP_IPV6 : PORTMAP_IPV4;
    if (m->fam == PM_V6 && pm_addr_is_set(&m->local))
        info->address_kind = pm_address_kind(m->local_kind);
    info->lifetime = m->lifetime;
    info->refresh_in_ms = -1;
    info->expires_in_ms = -1;
    if (m->state == PORTMAP_STATE_MAPPED || m->state == PORTMAP_STATE_LOST) {
        int64_t next = m->op != PM_OP_NONE ? now : m->refresh_at;
        if (m->state == PORTMAP_STATE_LOST)
            next = m->op != PM_OP_NONE ? m->retx.next_ms : m->retry_at;
        info->refresh_in_ms = next == PM_NEVER ? -1 : PM_MAX(0, next - now);
        if (m->expires_at != PM_NEVER)
            info->expires_in_ms = PM_MAX(0, m->expires_at - now);
    }
    info->last_error = m->last_error;
    info->renewals = m->renewals;
    info->permanent = m->permanent;
    info->no_route = m->state == PORTMAP_STATE_FAILED && m->no_route;
    info->double_nat = m->ext.family == AF_INET && m->ext.u.v4 ? pm_addr_is_private(m->ext.u.v4) : 0;
}

void pm_mapping_stop_op(portmap_client *c, portmap_mapping *m)
{
    m->held = 0; /* a new exchange or a cancellation supersedes it */
    if (m->op == PM_OP_NONE)
        return;
    const pm_backend *b = pm_backend_get(m->op_method);
    if (b)
        b->stop(c, m);
    m->op = PM_OP_NONE;
}

static void journal_update(portmap_client *c, portmap_mapping *m, int64_t now)
{
    pm_journal_entry e = {
        .method = m->method,
        .proto = m->proto,
        .internal_port = m->internal_port,
        .external_port = m->ext_port,
        .gateway = pm_net_of(c, m)->gateway,
        .local = m->local,
        .pid = (long)getpid(),
        .allow_addr = m->allow_addr,
        .allow_prefix = m->allow_prefix,
        .has_pinhole = m->has_pinhole,
        .pinhole_id = m->pinhole_id,
    };
    if (m->internal)
        return;
    memcpy(e.nonce, m->nonce, sizeof(e.nonce));
    e.expires_unix = (int64_t)time(NULL) + (m->expires_at - now) / 1000;
    if (pm_journal_put(c->state_dir, &e) == 0)
        m->journaled = 1;
    else
        PM_DEBUG(c, "journal: cannot record mapping of port %u in %s", m->internal_port, c->state_dir);
}

static void journal_drop(portmap_client *c, portmap_mapping *m)
{
    if (!m->journaled)
        return;
    pm_journal_remove(c->state_dir, m->proto, m->internal_port, &m->local);
    m->journaled = 0;
}

static void set_failed(portmap_client *c, portmap_mapping *m, portmap_error err)
{
    pm_mapping_stop_op(c, m);
    m->state = PORTMAP_STATE_FAILED;
    m->last_error = err;
    m->refresh_at = m->retry_at = PM_NEVER;
    if (!m->reason[0] && (err == PORTMAP_ERR_NO_GATEWAY || err == PORTMAP_ERR_UNSUPPORTED))
        pm_net_reason(c, m->fam, m->forced, m->allow_prefix, m->reason, sizeof(m->reason));
    if (!m->reason[0] && err == PORTMAP_ERR_TIMEOUT)
        snprintf(m->reason, sizeof(m->reason), "%s answered the router's probe but not the "
                 "request within the timeout", pm_method_label(m->op_method));
    journal_drop(c, m);
    PM_WARN(c, "%s %s/%u failed: %s%s%s", m->fam == PM_V6 ? "IPv6 pinhole" : "mapping",
            m->proto == PORTMAP_TCP ? "tcp" : "udp", m->internal_port, portmap_strerror(err),
            m->reason[0] ? ": " : "", m->reason);
    pm_engine_queue_event(c, m, PORTMAP_EVENT_FAILED);
}

int pm_mapping_listed(const portmap_client *c, const portmap_mapping *m)
{
    (void)c;
    return m->in_list;
}

void pm_mapping_link(portmap_client *c, portmap_mapping *m)
{
    m->next = c->mappings;
    m->in_list = 1;
    c->mappings = m;
}

void pm_mapping_unlink(portmap_client *c, portmap_mapping *m)
{
    if (!m->in_list)
        return;
    for (portmap_mapping **pp = &c->mappings; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            m->next = NULL;
            m->in_list = 0;
            pm_mapping_unref(m); /* the list's reference */
            return;
        }
    }
}

static void set_released(portmap_client *c, portmap_mapping *m, portmap_error err)
{
    pm_mapping_stop_op(c, m);
    m->state = PORTMAP_STATE_RELEASED;
    m->release_done = 1;
    m->release_err = err;
    m->last_error = err; /* the RELEASED event tells whether the router confirmed */
    m->refresh_at = m->retry_at = m->expires_at = PM_NEVER;
    /* an orphan that could not be released stays for the next client */
    if (!m->orphan_of || !err || err == PORTMAP_ERR_NOT_FOUND)
        journal_drop(c, m);
    if (m->orphan_of && (!err || err == PORTMAP_ERR_NOT_FOUND))
        PM_INFO(c, "released %s port %u, left on the router by process %ld, which died",
                m->proto == PORTMAP_TCP ? "tcp" : "udp", m->internal_port, m->orphan_of);
    pm_engine_queue_event(c, m, PORTMAP_EVENT_RELEASED);
}

void pm_mapping_start_op(portmap_client *c, portmap_mapping *m, pm_op op, int64_t now)
{
    const pm_retx_params *p = &pm_retx_fast;
    const pm_backend *b;

    pm_mapping_stop_op(c, m);
    m->op = op;
    m->op_sent = 0;
    m->op_started = now;
    c->ops_mask |= PORTMAP_HAVE(m->op_method);
    m->op_lifetime = op == PM_OP_DELETE ? 0 : m->want_lifetime;
    if (m->state == PORTMAP_STATE_PENDING) {
        m->op_deadline = m->first_deadline;
    } else if (m->state == PORTMAP_STATE_MAPPED) {
        p = &pm_retx_rfc6887;
        /* a permanent entry's check gets one refresh period */
        m->op_deadline = m->expires_at != PM_NEVER ? m->expires_at
                         : now + (int64_t)m->want_lifetime * 500;
    } else if (m->state == PORTMAP_STATE_LOST) {
        p = &retx_lost;
        m->op_deadline = PM_NEVER;
    }
    /* RELEASING: the caller set op_deadline before calling. */
    pm_retx_start(&m->retx, p, now, pm_rand_unit, c);
    if (m->op_deadline != PM_NEVER) {
        m->retx.p.mrd_ms = PM_MAX(1, m->op_deadline - now);
    }
    b = pm_backend_get(m->op_method);
    if (!b || b->start(c, m, now) != 0) {
        /* Could not even send (no socket, no route): the retransmission
         * timer retries; the deadline still bounds it. */
        PM_DEBUG(c, "%s: first send for port %u failed; will retry", b ? b->name : "?",
                 m->internal_port);
    }
}

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
        if (a == PM_AVAIL_NO || !pm_method_has_family(meth, m->fam))
            continue;
        if (!pm_method_can_allow(meth, m->allow_prefix)) {
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
        if (net->avail[meth] == PM_AVAIL_YES && pm_method_has_family(meth, m->fam) &&
            pm_method_can_allow(meth, m->allow_prefix))
            return meth;
    }
    return PORTMAP_METHOD_AUTO;
}

/*
 * How long a first request in a protocol the router has said nothing in
 * waits once another protocol answered: eight times the quickest first
 * word from this router, within 50 ms to 1 s. A router that answers SSDP
 * in 1 ms and keeps silent in PCP for 50 ms does not speak PCP (or lost
 * the request, and the other protocol serves as well).
 */
static int64_t switch_grace(const pm_net *net)
{
    int64_t fastest = PM_NEVER;

    for (int i = 1; i < PORTMAP_METHOD_COUNT; i++)
        if (net->heard_at[i] && net->heard_at[i] >= net->probe_started[i])
            fastest = PM_MIN(fastest, net->heard_at[i] - net->probe_started[i]);
    if (fastest == PM_NEVER)
        return PM_SILENT_GRACE_MS;
    return PM_MIN(PM_MAX(8 * fastest, 50), PM_SILENT_GRACE_MS);
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
    at = m->op_started + switch_grace(net);
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
    const pm_backend *b = pm_backend_get(m->op_method);

    PM_DEBUG(c, "port %u: %s has said nothing for %lld ms while %s answered; using that",
             m->internal_port, pm_method_label(m->op_method), (long long)(now - m->op_started),
             pm_method_label(answered_method(c, m)));
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
    pm_engine_probe_all(c, m->fam, now, m->first_deadline, PM_PROBE_RETRY);
    return 1;
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
                      pm_method_can_allow((portmap_method)i, m->allow_prefix);
        }
        /* the router answered only in protocols that cannot honour allow */
        set_failed(c, m, m->last_error        ? m->last_error
                         : answered && !usable ? PORTMAP_ERR_UNSUPPORTED
                         : answered            ? PORTMAP_ERR_TIMEOUT
                                               : PORTMAP_ERR_NO_GATEWAY);
        return;
    }
    if (m->retry_at != PM_NEVER && now < m->retry_at) {
        *deadline = PM_MIN(*deadline, PM_MIN(m->retry_at, m->first_deadline));
        return;
    }
    if (!net->route_ok)
        pm_engine_refresh_route(c, m->fam, now);
    if (!net->route_ok) {
        m->no_route = 1;
        set_failed(c, m, PORTMAP_ERR_NO_GATEWAY);
        return;
    }
    meth = pick_method(c, m, &all_no);
    if (all_no && retry_old_verdicts(c, m, now)) {
        *deadline = now;
        return;
    }
    if (all_no) {
        set_failed(c, m, m->last_error ? m->last_error
                         : m->forced || m->cannot_allow ? PORTMAP_ERR_UNSUPPORTED
                                                        : PORTMAP_ERR_NO_GATEWAY);
        return;
    }
    if (meth == PORTMAP_METHOD_AUTO) {
        *deadline = PM_MIN(*deadline, PM_MIN(now + 100, m->first_deadline));
        return;
    }
    m->op_method = meth;
    m->local = net->local;
    m->local_kind = net->local_kind;
    m->retry_at = PM_NEVER;
    pm_mapping_start_op(c, m, PM_OP_MAP, now);
    /* Then probe whatever nobody has asked yet. The mapping's request goes
     * first because a router answers in turn: a fresh client maps in one
     * round trip, not behind its own probes. */
    pm_engine_probe_all(c, m->fam, now, m->first_deadline, PM_PROBE_UNKNOWN);
    if (net->avail[meth] == PM_AVAIL_NO) { /* its probe could not even start */
        pm_mapping_stop_op(c, m);
        *deadline = now;
    }
}

static int ext_addr_known(const portmap_client *c)
{
    return c->ext_addr || c->ext_addr_at;
}

/* Release a held success once the address is known or the hold is over. */
static int service_held(portmap_client *c, portmap_mapping *m, int64_t now, int64_t *deadline)
{
    pm_result r;

    if (!m->held)
        return 0;
    if (!ext_addr_known(c) && now < m->held_until) {
        *deadline = PM_MIN(*deadline, m->held_until);
        return 1;
    }
    r = m->held_result;
    if (c->ext_addr)
        r.ext = pm_addr_from_v4(c->ext_addr);
    m->held = 0;
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

    if (!m->forced && !pm_engine_all_probes_done(c, m->fam)) {
        *deadline = PM_MIN(*deadline, pm_net_of(c, m)->probe_deadline);
        return 0;
    }
    m->rediscover = 0;
    meth = pick_method(c, m, &all_no);
    if (!all_no && meth != PORTMAP_METHOD_AUTO)
        m->op_method = meth;
    return 1;
}

int pm_mapping_network_changed(portmap_client *c, portmap_mapping *m, int64_t now)
{
    switch (m->state) {
    case PORTMAP_STATE_PENDING:
        /* asked of the old gateway from the old address: picked again */
        pm_mapping_stop_op(c, m);
        return 1;
    case PORTMAP_STATE_MAPPED:
    case PORTMAP_STATE_LOST:
        pm_mapping_stop_op(c, m);
        m->state = PORTMAP_STATE_LOST;
        m->expires_at = PM_NEVER;
        m->retry_at = now;
        m->backoff_ms = 0;
        m->local = pm_net_of(c, m)->local;
        m->local_kind = pm_net_of(c, m)->local_kind;
        m->has_pinhole = 0; /* the old router's */
        m->rediscover = 1;
        /* Recorded again once made: an entry under the old address stays
         * for a client on that network to release once we are gone. */
        m->journaled = 0;
        if (!m->lost_reported) {
            m->lost_reported = 1;
            pm_engine_queue_event(c, m, PORTMAP_EVENT_LOST);
        }
        return 1;
    default:
        return 0;
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
        if (m->op != PM_OP_NONE)
            break;
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
        if (m->op == PM_OP_NONE || now >= m->op_deadline)
            set_released(c, m, m->op == PM_OP_NONE ? PORTMAP_OK : PORTMAP_ERR_TIMEOUT);
        else
            *deadline = PM_MIN(*deadline, m->op_deadline);
        break;
    case PORTMAP_STATE_FAILED:
    case PORTMAP_STATE_RELEASED:
        break;
    }
}

static int retryable(portmap_error e)
{
    return e == PORTMAP_ERR_NO_RESOURCES || e == PORTMAP_ERR_NETWORK;
}

static void on_success(portmap_client *c, portmap_mapping *m, const pm_result *r, int64_t now)
{
    portmap_state prev = m->state;
    int moved = m->ever_mapped && (!pm_addr_eq(&m->ext, &r->ext) || m->ext_port != r->ext_port);

    m->method = m->op_method;
    m->ext = r->ext;
    m->ext_port = r->ext_port;
    m->permanent = r->permanent;
    m->lifetime = r->permanent ? 0 : r->lifetime;
    /* A permanent entry never expires by itself; it is checked as often as
     * a lease of the requested length would be renewed. */
    m->expires_at = r->permanent ? PM_NEVER : now + (int64_t)r->lifetime * 1000;
    m->refresh_at = refresh_time(m->method, r->lifetime, now, pm_rand_unit(c));
    m->retry_at = PM_NEVER;
    m->backoff_ms = 0;
    m->last_error = PORTMAP_OK;
    m->reason[0] = '\0';
    m->state = PORTMAP_STATE_MAPPED;
    if (r->ext.family == AF_INET && r->ext.u.v4)
        c->ext_addr = r->ext.u.v4;
    /* The journal names the mapping, not its lease: plain renewals do not
     * rewrite it. */
    if (!m->journaled || moved)
        journal_update(c, m, now);

    if (prev == PORTMAP_STATE_PENDING && !m->ever_mapped) {
        m->ever_mapped = 1;
        PM_INFO(c, "%s %s/%u -> external port %u via %s, lifetime %u s",
                m->fam == PM_V6 ? "opened IPv6 pinhole" : "mapped",
                m->proto == PORTMAP_TCP ? "tcp" : "udp", m->internal_port, m->ext_port,
                portmap_method_name(m->method), m->lifetime);
        pm_engine_queue_event(c, m, PORTMAP_EVENT_MAPPED);
        return;
    }
    if (prev == PORTMAP_STATE_LOST) {
        m->lost_reported = 0;
        if (m->remap_after_reset)
            c->counters.remaps_after_reset++;
        m->remap_after_reset = 0;
        PM_INFO(c, "mapping of port %u restored", m->internal_port);
        pm_engine_queue_event(c, m, PORTMAP_EVENT_RESTORED);
    }
    if (moved) {
        PM_INFO(c, "mapping of port %u moved to external port %u", m->internal_port, m->ext_port);
        pm_engine_queue_event(c, m, PORTMAP_EVENT_CHANGED);
    }
    if (prev == PORTMAP_STATE_MAPPED) {
        m->renewals++;
        c->counters.renewals++;
    }
}

static void schedule_retry(portmap_client *c, portmap_mapping *m, const pm_result *r, int64_t now)
{
    int64_t hint = (int64_t)PM_MIN(r->lifetime, 3600u) * 1000;

    m->backoff_ms = m->backoff_ms ? PM_MIN(m->backoff_ms * 2, PM_BACKOFF_MAX_MS) : PM_BACKOFF_MIN_MS;
    m->retry_at = now + PM_MAX(m->backoff_ms, hint);
    if (m->state == PORTMAP_STATE_PENDING && m->retry_at >= m->first_deadline) {
        set_failed(c, m, r->err);
        return;
    }
    if (m->state == PORTMAP_STATE_MAPPED)
        m->refresh_at = m->retry_at;
}

void pm_mapping_on_result(portmap_client *c, portmap_mapping *m, const pm_result *r, int64_t now)
{
    pm_op op = m->op;

    if (r->err && (unsigned)r->err < sizeof(c->counters.errors) / sizeof(c->counters.errors[0]))
        c->counters.errors[r->err]++;
    pm_mapping_stop_op(c, m);
    if (op == PM_OP_DELETE) {
        if (r->err)
            PM_WARN(c, "release of port %u: %s%s%s", m->internal_port, portmap_strerror(r->err),
                    r->detail[0] ? ": " : "", r->detail);
        snprintf(m->reason, sizeof(m->reason), "%s", r->err ? r->detail : "");
        set_released(c, m, r->err);
        return;
    }
    if (m->state == PORTMAP_STATE_RELEASING) /* a late MAP reply */
        return;
    /* IPv6 has no translation: the pinhole's outside address is ours */
    if (r->err == PORTMAP_OK && op == PM_OP_MAP && m->fam == PM_V4 && !pm_addr_is_set(&r->ext) &&
        !ext_addr_known(c)) {
        m->held = 1;
        m->held_until = now + PM_HOLD_FOR_ADDR_MS;
        m->held_result = *r;
        return;
    }
    if (r->err == PORTMAP_OK) {
        on_success(c, m, r, now);
        return;
    }
    m->last_error = r->err;
    snprintf(m->reason, sizeof(m->reason), "%s%s%.140s", pm_method_label(m->op_method),
             r->detail[0] ? ": " : " refused", r->detail);
    PM_INFO(c, "%s refused port %u: %s%s%s%s", portmap_method_name(m->op_method), m->internal_port,
            portmap_strerror(r->err), r->detail[0] ? " (" : "", r->detail,
            r->detail[0] ? ")" : "");
    if (r->protocol_gone) {
        /* the router's verdict on the protocol, for every exchange in it */
        pm_engine_probe_failed(c, m->fam, m->op_method, now, "%s",
                               r->detail[0] ? r->detail : "not spoken");
        if (m->state == PORTMAP_STATE_PENDING) {
            m->last_error = PORTMAP_OK; /* let the next protocol decide */
            m->reason[0] = '\0';
            if (m->forced)
                set_failed(c, m, PORTMAP_ERR_UNSUPPORTED);
            return;
        }
    }
    if (retryable(r->err) || r->protocol_gone) {
        schedule_retry(c, m, r, now);
        return;
    }
    /* PORT_IN_USE on a renewal: the router gave our port away; ask again
     * for any port rather than lose the service. */
    if (r->err == PORTMAP_ERR_PORT_IN_USE && m->state != PORTMAP_STATE_PENDING) {
        m->ext_port = 0;
        if (m->state == PORTMAP_STATE_MAPPED) {
            /* the port is someone else's now: peers cannot reach us */
            m->state = PORTMAP_STATE_LOST;
            m->expires_at = PM_NEVER;
            if (!m->lost_reported) {
                m->lost_reported = 1;
                pm_engine_queue_event(c, m, PORTMAP_EVENT_LOST);
            }
        }
        schedule_retry(c, m, r, now);
        return;
    }
    set_failed(c, m, r->err);
}

void pm_mapping_on_timeout(portmap_client *c, portmap_mapping *m, int64_t now)
{
    switch (m->state) {
    case PORTMAP_STATE_PENDING:
        pm_mapping_stop_op(c, m);
        set_failed(c, m, m->last_error ? m->last_error
                         : pm_net_of(c, m)->avail[m->op_method] == PM_AVAIL_YES
                             ? PORTMAP_ERR_TIMEOUT
                         : PORTMAP_ERR_NO_GATEWAY);
        break;
    case PORTMAP_STATE_MAPPED:
        /* The lease ran out while renewals went unanswered. */
        m->state = PORTMAP_STATE_LOST;
        m->last_error = PORTMAP_ERR_TIMEOUT;
        m->expires_at = PM_NEVER;
        if (!m->lost_reported) {
            m->lost_reported = 1;
            PM_WARN(c, "mapping of port %u lost: the router stopped answering; retrying",
                    m->internal_port);
            pm_engine_queue_event(c, m, PORTMAP_EVENT_LOST);
        }
        m->op_method = m->method;
        pm_mapping_start_op(c, m, PM_OP_MAP, now);
        break;
    case PORTMAP_STATE_RELEASING:
        set_released(c, m, PORTMAP_ERR_TIMEOUT);
        break;
    default:
        pm_mapping_stop_op(c, m);
        break;
    }
}

int pm_mapping_start_release(portmap_client *c, portmap_mapping *m, int64_t deadline, int64_t now)
{
    /* a pending request that has not left (e.g. UPnP still looking for
     * the router's description) cannot have made anything */
    int in_flight = (m->op != PM_OP_NONE && m->op_sent) || m->held;
    int on_router = m->state == PORTMAP_STATE_MAPPED || m->state == PORTMAP_STATE_LOST ||
                    (m->state == PORTMAP_STATE_PENDING && in_flight);

    if (m->state == PORTMAP_STATE_RELEASING || m->state == PORTMAP_STATE_RELEASED)
        return 0;
    if (m->state == PORTMAP_STATE_PENDING) {
        /* The request is cancelled; what the router may already hold for
         * it is still deleted below. */
        portmap_method tried = m->op_method;
        pm_mapping_stop_op(c, m);
        m->last_error = PORTMAP_ERR_CANCELLED;
        m->state = PORTMAP_STATE_FAILED;
        pm_engine_queue_event(c, m, PORTMAP_EVENT_FAILED);
        if (in_flight) {
            m->state = PORTMAP_STATE_RELEASING;
            m->op_deadline = deadline;
            m->method = m->op_method = tried;
            pm_mapping_start_op(c, m, PM_OP_DELETE, now);
            return 1;
        }
    }
    if (!on_router) {
        pm_mapping_stop_op(c, m);
        m->state = PORTMAP_STATE_RELEASED;
        m->release_done = 1;
        pm_engine_queue_event(c, m, PORTMAP_EVENT_RELEASED);
        return 1;
    }
    m->state = PORTMAP_STATE_RELEASING;
    m->op_deadline = deadline;
    m->op_method = m->method;
    pm_mapping_start_op(c, m, PM_OP_DELETE, now);
    return 1;
}

void pm_mapping_protocol_gone(portmap_client *c, portmap_mapping *m)
{
    pm_net *net = pm_net_of(c, m);

    if (m->state == PORTMAP_STATE_PENDING) {
        pm_mapping_stop_op(c, m);
        if (m->forced) {
            m->last_error = PORTMAP_ERR_UNSUPPORTED;
            snprintf(m->reason, sizeof(m->reason), "%s: %s", pm_method_label(m->op_method),
                     net->why[m->op_method]);
        }
        return;
    }
    if (m->state == PORTMAP_STATE_RELEASING) {
        snprintf(m->reason, sizeof(m->reason), "%s: %s", pm_method_label(m->op_method),
                 net->why[m->op_method]);
        PM_WARN(c, "release of port %u: %s", m->internal_port, m->reason);
        set_released(c, m, PORTMAP_ERR_UNSUPPORTED);
    }
}
