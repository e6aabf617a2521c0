/*
 * The per-mapping state machine. Every function here runs with the
 * client's lock held and takes the time as an argument, so the unit tests
 * drive it with a fake clock. It does no I/O and calls nothing above it
 * (see core.h): journal writes are queued, events too, and what only the
 * engine can do (read the routes, probe) is asked through pm_net's wants.
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

#include "core/core.h"

/* A lost mapping is retried sooner than RFC 6887's 1024 s cap: the user
 * wants the port back as soon as the router answers again. */
static const pm_retx_params retx_lost = { 1000, 30000, 0, 0 };
/* The first lost mapping of a router asks on at this pace: a router that
 * comes back without a word (a link that went silent, no reboot, no
 * announcement) is found within it, and its answer brings the others,
 * backing off up to 30 s, back at once (restart_lost in net.c). */
static const pm_retx_params retx_scout = { 1000, 2000, 0, 0 };

#define PM_BACKOFF_MIN_MS 1000
#define PM_BACKOFF_MAX_MS 60000
#define PM_REFRESH_GRID_MS 1000
/* the shortest interval between a renewal's sends */
#define PM_RENEW_RT_MIN_MS 250

/*
 * When to renew a lease granted at now. PCP leaves a window (1/2 to 5/8 of
 * the lease); in it the time is put on a grid of 1/16 of the lease, at
 * most PM_REFRESH_GRID_MS, so that the mappings a client made around the
 * same time are renewed in one round of the engine, not one round (and one
 * wake-up) each. A time whose grid point falls before the window goes to
 * the next point (left where it was, a third of a 20 s lease's renewals
 * went out one by one). Clients' grids differ with their clocks, so the
 * jitter between hosts stays.
 */
int64_t pm_mapping_refresh_time(const portmap_client *c, portmap_method method, uint32_t lifetime,
                                int64_t now, double unit_rand)
{
    const pm_backend *b = pm_backend_of(c, method);
    int64_t (*delay)(uint32_t, double) = b && b->refresh_delay_ms ? b->refresh_delay_ms : NULL;
    int64_t at, earliest, latest, on_grid;

    /* without a policy of its own: at half the lease */
    at = now + (delay ? delay(lifetime, unit_rand) : (int64_t)lifetime * 500);
    earliest = now + (delay ? delay(lifetime, 0.0) : (int64_t)lifetime * 500);
    latest = now + (delay ? delay(lifetime, 1.0) : (int64_t)lifetime * 500);
    int64_t grid = PM_MIN((int64_t)lifetime * 1000 / 16, PM_REFRESH_GRID_MS);

    if (grid <= 0)
        return at;
    on_grid = at - at % grid;
    if (on_grid < earliest)
        on_grid += grid;
    return on_grid <= latest ? on_grid : at;
}

void pm_mapping_stop_op(portmap_client *c, portmap_mapping *m)
{
    pm_mapping_drop_held(m); /* a new exchange or a cancellation supersedes it */
    pm_mapping_kick(c, m); /* what it waited on is over: its pass decides */
    if (m->op == PM_OP_NONE)
        return;
    /* the backend the exchange started in */
    const pm_backend *b = pm_backend_of(c, m->op_listed ? m->op_listed : m->op_method);
    if (b)
        b->stop(c, m);
    pm_ops_remove(c, m);
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
        .pid = c->pid,
        .allow_addr = m->allow_addr,
        .allow_prefix = m->allow_prefix,
        .has_pinhole = m->has_pinhole,
        .pinhole_id = m->pinhole_id,
    };
    if (m->internal)
        return;
    /* another host's: its orphans are ours, by the address we made it from */
    if (pm_addr_is_set(&m->third))
        e.by = pm_net_of(c, m)->local;
    memcpy(e.nonce, m->nonce, sizeof(e.nonce));
    e.expires_unix = (int64_t)time(NULL) + (m->expires_at - now) / 1000;
    /* a permanent lease is written before MAPPED is told (jqueue.c) */
    pm_jq_put(c, &e, m->permanent);
    m->journaled = 1;
}

static void journal_drop(portmap_client *c, portmap_mapping *m)
{
    if (!m->journaled)
        return;
    pm_jq_remove(c, m->proto, m->internal_port, &m->local);
    m->journaled = 0;
}

void pm_mapping_fail(portmap_client *c, portmap_mapping *m, portmap_error err)
{
    pm_mapping_stop_op(c, m);
    pm_mapping_set_state(c, m, PORTMAP_STATE_FAILED);
    m->last_error = err;
    m->refresh_at = m->retry_at = PM_NEVER;
    if (!pm_mapping_reason(m)[0] &&
        (err == PORTMAP_ERR_NO_GATEWAY || err == PORTMAP_ERR_UNSUPPORTED)) {
        char why[PM_REASON_LEN];
        pm_net_reason_third(c, m->fam, m->forced, m->allow_prefix, pm_addr_is_set(&m->third),
                            why, sizeof(why));
        pm_mapping_set_reason(m, "%s", why);
    }
    if (!pm_mapping_reason(m)[0] && err == PORTMAP_ERR_TIMEOUT)
        pm_mapping_set_reason(m, "%s answered the router's probe but not the "
                 "request within the timeout", pm_method_label(c, m->op_method));
    journal_drop(c, m);
    PM_WARN(c, "%s %s/%u failed: %s%s%s", m->fam == PM_V6 ? "IPv6 pinhole" : "mapping",
            m->proto == PORTMAP_TCP ? "tcp" : "udp", m->internal_port, portmap_strerror(err),
            pm_mapping_reason(m)[0] ? ": " : "", pm_mapping_reason(m));
    pm_event_queue(c, m, PORTMAP_EVENT_FAILED);
}

void pm_mapping_set_released(portmap_client *c, portmap_mapping *m, portmap_error err)
{
    pm_mapping_stop_op(c, m);
    pm_mapping_set_state(c, m, PORTMAP_STATE_RELEASED);
    m->release_done = 1;
    m->release_err = err;
    m->last_error = err; /* the RELEASED event tells whether the router confirmed */
    m->refresh_at = m->retry_at = m->expires_at = PM_NEVER;
    /* A release the router never confirmed (it went silent) leaves the
     * entry, under our pid, for the next client once we are gone, or a
     * cleanup; so does an orphan the router would not release. */
    if (!err || err == PORTMAP_ERR_NOT_FOUND || (!m->orphan_of && err != PORTMAP_ERR_TIMEOUT))
        journal_drop(c, m);
    if (m->orphan_of && (!err || err == PORTMAP_ERR_NOT_FOUND))
        PM_INFO(c, "released %s port %u, left on the router by process %ld, which died",
                m->proto == PORTMAP_TCP ? "tcp" : "udp", m->internal_port, m->orphan_of);
    pm_event_queue(c, m, PORTMAP_EVENT_RELEASED);
}

/* m is its router and protocol's scout: the first of their lost mappings
 * to ask, until it is lost no more (kept, not looked for among them). */
static int is_scout(portmap_client *c, const portmap_mapping *m)
{
    portmap_mapping **scout;

    if ((unsigned)m->method >= PORTMAP_METHOD_COUNT)
        return 0;
    scout = &c->scout[m->fam][m->method];
    if (!*scout || (*scout)->state != PORTMAP_STATE_LOST || (*scout)->method != m->method)
        *scout = (portmap_mapping *)m;
    return *scout == m;
}

/*
 * A renewal's retransmissions, fitted to the time the lease has left:
 * RFC 6887's 3 s doubling gives a 30 s lease renewed at 15 s three sends
 * before it runs out, and at 30 % loss one renewal in 40 lapses. At least
 * about 16 sends fit in what is left (a send a second or so for a short
 * lease); long leases keep the RFC's pace.
 */
static pm_retx_params renewal_retx(int64_t left_ms)
{
    pm_retx_params p = pm_retx_rfc6887;

    p.irt_ms = PM_MAX(PM_RENEW_RT_MIN_MS, PM_MIN(p.irt_ms, left_ms / 32));
    p.mrt_ms = PM_MAX(p.irt_ms, PM_MIN(p.mrt_ms, left_ms / 16));
    return p;
}

void pm_mapping_start_op(portmap_client *c, portmap_mapping *m, pm_op op, int64_t now)
{
    const pm_retx_params *p = &pm_retx_fast;
    pm_retx_params renewal;
    const pm_backend *b;

    pm_mapping_stop_op(c, m);
    m->op = op;
    m->op_sent = 0;
    m->op_started = now;
    pm_ops_add(c, m);
    m->op_lifetime = op == PM_OP_DELETE ? 0 : m->want_lifetime;
    if (m->state == PORTMAP_STATE_PENDING) {
        m->op_deadline = m->first_deadline;
    } else if (m->state == PORTMAP_STATE_MAPPED) {
        /* a permanent entry's check gets one refresh period */
        m->op_deadline = m->expires_at != PM_NEVER ? m->expires_at
                         : now + (int64_t)m->want_lifetime * 500;
        renewal = renewal_retx(m->op_deadline - now);
        p = &renewal;
    } else if (m->state == PORTMAP_STATE_LOST) {
        p = is_scout(c, m) ? &retx_scout : &retx_lost;
        m->op_deadline = PM_NEVER;
    }
    /* RELEASING: the caller set op_deadline before calling. */
    pm_retx_start(&m->retx, p, now, pm_rand_unit, &c->rng);
    if (m->op_deadline != PM_NEVER) {
        m->retx.p.mrd_ms = PM_MAX(1, m->op_deadline - now);
    }
    b = pm_backend_of(c, m->op_method);
    if (!b || b->start(c, m, now) != 0) {
        /* Could not even send (no socket, no route): the retransmission
         * timer retries; the deadline still bounds it. */
        PM_DEBUG(c, "%s: first send for port %u failed; will retry", b ? b->name : "?",
                 m->internal_port);
    }
}

int pm_mapping_network_changed(portmap_client *c, portmap_mapping *m, int64_t now)
{
    pm_mapping_kick(c, m);
    switch (m->state) {
    case PORTMAP_STATE_PENDING:
        /* asked of the old gateway from the old address: picked again */
        pm_mapping_stop_op(c, m);
        return 1;
    case PORTMAP_STATE_MAPPED:
    case PORTMAP_STATE_LOST:
        pm_mapping_stop_op(c, m);
        pm_mapping_set_state(c, m, PORTMAP_STATE_LOST);
        m->expires_at = PM_NEVER;
        m->retry_at = now;
        m->backoff_ms = 0;
        m->local = pm_mapping_client(c, m);
        m->local_kind = pm_net_of(c, m)->local_kind;
        m->has_pinhole = 0; /* the old router's */
        m->rediscover = 1;
        /* Recorded again once made: an entry under the old address stays
         * for a client on that network to release once we are gone. */
        m->journaled = 0;
        if (!m->lost_reported) {
            m->lost_reported = 1;
            pm_event_queue(c, m, PORTMAP_EVENT_LOST);
        }
        return 1;
    default:
        return 0;
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
    m->refresh_at = pm_mapping_refresh_time(c, m->method, r->lifetime, now, pm_rand_unit(&c->rng));
    m->retry_at = PM_NEVER;
    m->backoff_ms = 0;
    m->last_error = PORTMAP_OK;
    pm_mapping_clear_reason(m);
    pm_mapping_set_state(c, m, PORTMAP_STATE_MAPPED);
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
        pm_event_queue(c, m, PORTMAP_EVENT_MAPPED);
        return;
    }
    if (prev == PORTMAP_STATE_LOST) {
        m->lost_reported = 0;
        if (m->remap_after_reset)
            c->counters.remaps_after_reset++;
        m->remap_after_reset = 0;
        PM_INFO(c, "mapping of port %u restored", m->internal_port);
        pm_event_queue(c, m, PORTMAP_EVENT_RESTORED);
    }
    if (moved) {
        PM_INFO(c, "mapping of port %u moved to external port %u", m->internal_port, m->ext_port);
        pm_event_queue(c, m, PORTMAP_EVENT_CHANGED);
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
        pm_mapping_fail(c, m, r->err);
        return;
    }
    if (m->state == PORTMAP_STATE_MAPPED)
        m->refresh_at = m->retry_at;
}

/* A request (or renewal) ends the mapping, but the router may hold one all
 * the same: its answer was lost, or the refusal that came was forged by
 * another host that saw the request. What may exist is deleted (PCP: with
 * the request's nonce), once, without waiting, rather than left open for
 * the rest of its lease. */
static void undo_request(portmap_client *c, portmap_mapping *m)
{
    const pm_backend *b = pm_backend_of(c, m->op_method);

    if (m->op == PM_OP_MAP && m->op_sent && m->state != PORTMAP_STATE_RELEASING && b &&
        b->abandon) {
        PM_DEBUG(c, "port %u: deleting what the failed request may have made", m->internal_port);
        b->abandon(c, m);
    }
}

void pm_mapping_on_result(portmap_client *c, portmap_mapping *m, const pm_result *r, int64_t now)
{
    pm_op op = m->op;
    char prev[PM_REASON_LEN];

    pm_mapping_kick(c, m);
    if (r->err && (unsigned)r->err < sizeof(c->counters.errors) / sizeof(c->counters.errors[0]))
        c->counters.errors[r->err]++;
    /* a refusal that ends the mapping (not one retried with the same
     * nonce, nor "this protocol is not spoken", which made nothing, nor a
     * renewal's lost port, asked again) */
    if (r->err && !r->protocol_gone && !retryable(r->err) && !m->held &&
        !(r->err == PORTMAP_ERR_PORT_IN_USE && m->state != PORTMAP_STATE_PENDING))
        undo_request(c, m);
    pm_mapping_stop_op(c, m);
    if (op == PM_OP_DELETE) {
        if (r->err)
            PM_WARN(c, "release of port %u: %s%s%s", m->internal_port, portmap_strerror(r->err),
                    r->detail[0] ? ": " : "", r->detail);
        pm_mapping_set_reason(m, "%s", r->err ? r->detail : "");
        pm_mapping_set_released(c, m, r->err);
        return;
    }
    if (m->state == PORTMAP_STATE_RELEASING) /* a late MAP reply */
        return;
    /* IPv6 has no translation: the pinhole's outside address is ours */
    if (r->err == PORTMAP_OK && op == PM_OP_MAP && m->fam == PM_V4 && !pm_addr_is_set(&r->ext) &&
        !pm_ext_addr_known(c)) {
        /* out of memory: told now, without the address */
        if ((m->held_result = malloc(sizeof(*r)))) {
            m->held = 1;
            m->held_until = now + PM_HOLD_FOR_ADDR_MS;
            *m->held_result = *r;
            return;
        }
    }
    if (r->err == PORTMAP_OK) {
        on_success(c, m, r, now);
        return;
    }
    m->last_error = r->err;
    /* after protocols that refused what m asks, their reasons first */
    snprintf(prev, sizeof(prev), "%s", m->refused_methods ? pm_mapping_reason(m) : "");
    pm_mapping_set_reason(m, "%.170s%s%s%s%.200s", prev, prev[0] ? "; " : "",
                          pm_method_label(c, m->op_method), r->detail[0] ? ": " : " refused",
                          r->detail);
    PM_INFO(c, "%s refused port %u: %s%s%s%s", portmap_method_name(m->op_method), m->internal_port,
            portmap_strerror(r->err), r->detail[0] ? " (" : "", r->detail,
            r->detail[0] ? ")" : "");
    if (r->cannot_serve && m->state == PORTMAP_STATE_PENDING && !m->forced) {
        /* the next protocol in the order may serve it (pick_method);
         * the error and reason stand should none */
        m->refused_methods |= PORTMAP_HAVE(m->op_method);
        return;
    }
    if (r->protocol_gone) {
        /* (the verdict on the protocol, for every exchange in it, is the
         * caller's: pm_net_map_done) */
        if (m->state == PORTMAP_STATE_PENDING) {
            m->last_error = PORTMAP_OK; /* let the next protocol decide */
            pm_mapping_clear_reason(m);
            if (m->forced)
                pm_mapping_fail(c, m, PORTMAP_ERR_UNSUPPORTED);
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
            pm_mapping_set_state(c, m, PORTMAP_STATE_LOST);
            m->expires_at = PM_NEVER;
            if (!m->lost_reported) {
                m->lost_reported = 1;
                pm_event_queue(c, m, PORTMAP_EVENT_LOST);
            }
        }
        schedule_retry(c, m, r, now);
        return;
    }
    pm_mapping_fail(c, m, r->err);
}

void pm_mapping_on_timeout(portmap_client *c, portmap_mapping *m, int64_t now)
{
    switch (m->state) {
    case PORTMAP_STATE_PENDING:
        undo_request(c, m);
        pm_mapping_stop_op(c, m);
        pm_mapping_fail(c, m, m->last_error ? m->last_error
                         : pm_net_of(c, m)->avail[m->op_method] == PM_AVAIL_YES
                             ? PORTMAP_ERR_TIMEOUT
                         : PORTMAP_ERR_NO_GATEWAY);
        break;
    case PORTMAP_STATE_MAPPED:
        /* The lease ran out while renewals went unanswered. */
        pm_mapping_set_state(c, m, PORTMAP_STATE_LOST);
        m->last_error = PORTMAP_ERR_TIMEOUT;
        m->expires_at = PM_NEVER;
        if (!m->lost_reported) {
            m->lost_reported = 1;
            PM_WARN(c, "mapping of port %u lost: the router stopped answering; retrying",
                    m->internal_port);
            pm_event_queue(c, m, PORTMAP_EVENT_LOST);
        }
        m->op_method = m->method;
        pm_mapping_start_op(c, m, PM_OP_MAP, now);
        break;
    case PORTMAP_STATE_RELEASING:
        pm_mapping_set_released(c, m, PORTMAP_ERR_TIMEOUT);
        break;
    default:
        pm_mapping_stop_op(c, m);
        break;
    }
}

/* Releases asked for together (a client closing with a thousand) go out
 * as renewals do (service.c): up to PM_INFLIGHT_MAX under way at the
 * router, the others as answers come, each at the latest PM_TURN_WAIT_MS
 * after it was asked for. */
void pm_mapping_start_delete(portmap_client *c, portmap_mapping *m, int64_t now)
{
    if (!m->waits_turn) {
        m->waits_turn = 1;
        m->turn_since = now;
    }
    if (c->n_ops_fam[m->fam] >= PM_INFLIGHT_MAX && now < m->turn_since + PM_TURN_WAIT_MS) {
        pm_mapping_kick(c, m); /* its pass waits with it (pm_mapping_watched) */
        return;
    }
    m->waits_turn = 0;
    pm_mapping_start_op(c, m, PM_OP_DELETE, now);
}

int pm_mapping_start_release(portmap_client *c, portmap_mapping *m, int64_t deadline, int64_t now)
{
    /* a pending request that has not left (e.g. UPnP still looking for
     * the router's description) cannot have made anything */
    int in_flight = (m->op != PM_OP_NONE && m->op_sent) || m->held;
    int on_router = m->state == PORTMAP_STATE_MAPPED || m->state == PORTMAP_STATE_LOST ||
                    (m->state == PORTMAP_STATE_PENDING && in_flight);

    pm_mapping_kick(c, m); /* released, or its handle dropped: its pass decides */
    if (m->state == PORTMAP_STATE_RELEASING || m->state == PORTMAP_STATE_RELEASED)
        return 0;
    if (m->state == PORTMAP_STATE_PENDING) {
        /* The request is cancelled; what the router may already hold for
         * it is still deleted below. */
        portmap_method tried = m->op_method;
        pm_mapping_stop_op(c, m);
        m->last_error = PORTMAP_ERR_CANCELLED;
        pm_mapping_set_state(c, m, PORTMAP_STATE_FAILED);
        pm_event_queue(c, m, PORTMAP_EVENT_FAILED);
        if (in_flight) {
            pm_mapping_set_state(c, m, PORTMAP_STATE_RELEASING);
            m->op_deadline = deadline;
            m->method = m->op_method = tried;
            m->waits_turn = 0; /* a renewal's wait is not the delete's */
            pm_mapping_start_delete(c, m, now);
            return 1;
        }
    }
    if (!on_router) {
        pm_mapping_stop_op(c, m);
        pm_mapping_set_state(c, m, PORTMAP_STATE_RELEASED);
        m->release_done = 1;
        pm_event_queue(c, m, PORTMAP_EVENT_RELEASED);
        return 1;
    }
    pm_mapping_set_state(c, m, PORTMAP_STATE_RELEASING);
    m->op_deadline = deadline;
    m->op_method = m->method;
    m->waits_turn = 0; /* a renewal's wait is not the delete's */
    pm_mapping_start_delete(c, m, now);
    return 1;
}

void pm_mapping_protocol_gone(portmap_client *c, portmap_mapping *m)
{
    pm_net *net = pm_net_of(c, m);

    pm_mapping_kick(c, m);
    if (m->state == PORTMAP_STATE_PENDING) {
        pm_mapping_stop_op(c, m);
        if (m->forced) {
            m->last_error = PORTMAP_ERR_UNSUPPORTED;
            pm_mapping_set_reason(m, "%s: %s", pm_method_label(c, m->op_method),
                     net->why[m->op_method]);
        }
        return;
    }
    if (m->state == PORTMAP_STATE_RELEASING) {
        pm_mapping_set_reason(m, "%s: %s", pm_method_label(c, m->op_method),
                 net->why[m->op_method]);
        PM_WARN(c, "release of port %u: %s", m->internal_port, pm_mapping_reason(m));
        pm_mapping_set_released(c, m, PORTMAP_ERR_UNSUPPORTED);
    }
}

int pm_mapping_router_reset(portmap_client *c, portmap_mapping *m, int64_t retry_at)
{
    if (m->state != PORTMAP_STATE_MAPPED)
        return 0;
    pm_mapping_kick(c, m);
    /* A renewal under way (often the one whose reply told the reset) is
     * kept: its success re-creates the mapping (RESTORED); the others are
     * made again after retry_at. */
    pm_mapping_set_state(c, m, PORTMAP_STATE_LOST);
    m->retry_at = retry_at;
    m->lost_reported = 1;
    m->remap_after_reset = 1;
    return 1;
}

void pm_mapping_want_probe(portmap_client *c, int fam, unsigned what, int64_t deadline)
{
    pm_mapping_want_probe_behind(c, fam, what, deadline, PORTMAP_METHOD_AUTO);
}

void pm_mapping_want_probe_behind(portmap_client *c, int fam, unsigned what, int64_t deadline,
                                  portmap_method behind)
{
    pm_net *net = &c->net[fam];

    /* held behind a request only when every ask of the pass says so */
    net->want_behind = !net->want_probe || net->want_behind == behind ? behind
                                                                       : PORTMAP_METHOD_AUTO;
    /* the widest ask of the pass, by the latest deadline */
    if (!net->want_probe || (unsigned)net->want_probe - 1 < what)
        net->want_probe = (int)what + 1;
    net->want_probe_deadline = PM_MAX(net->want_probe_deadline, deadline);
}
