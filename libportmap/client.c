/*
 * Public entry points. Each takes the client lock, does its small piece
 * of work (or waits on the condition variable with a deadline) and wakes
 * the engine; the engine thread does the network work.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define PM_DEFAULT_LIFETIME 7200
#define PM_DEFAULT_TIMEOUT_MS 10000
#define PM_DEFAULT_CLOSE_TIMEOUT_MS 2000
#define PM_VERDICT_LEAD_MS 1

PORTMAP_API const char *portmap_version(void)
{
    return PORTMAP_VERSION_STRING;
}

PORTMAP_API unsigned portmap_version_api(void)
{
    return PORTMAP_API_VERSION;
}

PORTMAP_API void portmap_default_settings(portmap_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    s->default_lifetime = PM_DEFAULT_LIFETIME;
    s->timeout_ms = PM_DEFAULT_TIMEOUT_MS;
    s->release_on_close = 1;
    s->close_timeout_ms = PM_DEFAULT_CLOSE_TIMEOUT_MS;
    s->log_level = PORTMAP_LOG_WARNING;
}

PORTMAP_API void portmap_request_init(portmap_request *r)
{
    if (!r)
        return;
    memset(r, 0, sizeof(*r));
    r->protocol = PORTMAP_UDP;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static int set_order(portmap_client *c, const portmap_method *methods)
{
    static const portmap_method def[] = { PORTMAP_METHOD_PCP, PORTMAP_METHOD_NATPMP,
                                          PORTMAP_METHOD_UPNP };
    unsigned seen = 0;

    c->n_order = 0;
    for (unsigned i = 0; i < PORTMAP_METHOD_COUNT && methods[i] != PORTMAP_METHOD_AUTO; i++) {
        portmap_method m = methods[i];
        if ((unsigned)m >= PORTMAP_METHOD_COUNT || (seen & (1u << m)))
            return -1;
        seen |= 1u << m;
        c->order[c->n_order++] = m;
    }
    if (c->n_order == 0) {
        memcpy(c->order, def, sizeof(def));
        c->n_order = PM_ARRAY_SIZE(def);
    }
    return 0;
}

static int validate_settings(const portmap_settings *s)
{
    pm_addr a;

    if (!all_zero(s->reserved, sizeof(s->reserved)))
        return -1;
    if (s->timeout_ms < 0 || s->close_timeout_ms < 0 || s->log_level > PORTMAP_LOG_DEBUG)
        return -1;
    if (s->gateway && pm_addr_parse(s->gateway, &a) != 0)
        return -1;
    return 0;
}

/* Every mapping still listed, and the twins that only their handle
 * holds: in two passes, so that no pass reads a mapping it has freed. */
static void free_mappings(portmap_client *c)
{
    portmap_mapping *m, *next;

    for (m = c->mappings; m; m = m->next) {
        /* a twin already done is held by its handle alone */
        if (m->twin && !m->twin->in_list) {
            free(m->twin->op_data);
            free(m->twin);
            m->twin = NULL;
        }
    }
    for (m = c->mappings; m; m = next) {
        next = m->next;
        free(m->op_data);
        free(m);
    }
    c->mappings = NULL;
}

static void free_client(portmap_client *c)
{
    free_mappings(c);
    if (c->wake_fd >= 0)
        close(c->wake_fd);
    if (c->nl_fd >= 0)
        close(c->nl_fd);
    if (c->ann_fd >= 0)
        close(c->ann_fd);
    if (c->notify_fd >= 0)
        close(c->notify_fd);
    if (c->ann6_fd >= 0)
        close(c->ann6_fd);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c->events);
    free(c->pfds);
    free(c->gateway_override);
    free(c->state_dir);
    free(c);
}

static int init_cond(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int rc;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

PORTMAP_API int portmap_open(portmap_client **out, const portmap_settings *s)
{
    portmap_settings defaults;
    portmap_client *c;

    if (!out)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!s) {
        portmap_default_settings(&defaults);
        s = &defaults;
    }
    if (validate_settings(s) != 0)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    c = calloc(1, sizeof(*c));
    if (!c)
        return PORTMAP_ERR_NO_MEMORY;
    c->s = *s;
    c->wake_fd = -1;
    c->nl_fd = -1;
    c->ann_fd = -1;
    c->notify_fd = -1;
    c->ann6_fd = -1;
    if (!c->s.default_lifetime)
        c->s.default_lifetime = PM_DEFAULT_LIFETIME;
    if (!c->s.timeout_ms)
        c->s.timeout_ms = PM_DEFAULT_TIMEOUT_MS;
    c->s.gateway = NULL;
    c->s.state_dir = NULL;
    if (set_order(c, s->methods) != 0) {
        free(c);
        return PORTMAP_ERR_INVALID_ARGUMENT;
    }
    pthread_mutex_init(&c->lock, NULL);
    init_cond(&c->cond);
    c->gateway_override = s->gateway ? strdup(s->gateway) : NULL;
    c->state_dir = s->state_dir ? strdup(s->state_dir) : pm_journal_default_dir();
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    c->nl_fd = pm_route_netlink_open(); /* optional: without it we re-read on demand */
    c->ann_fd = pm_announce_open();     /* optional: without it, renewals find resets */
    c->notify_fd = pm_announce_ssdp_open();
    if (pm_random_bytes(c->rng_state, sizeof(c->rng_state)) != 0)
        c->rng_state[0] = (uint64_t)pm_now_ms() | 1;
    c->rng_state[1] |= 1;
    for (int fam = 0; fam < PM_FAMS; fam++)
        c->net[fam].fam = fam;
    if ((s->gateway && !c->gateway_override) || !c->state_dir || c->wake_fd < 0) {
        int rc = c->wake_fd < 0 ? PORTMAP_ERR_SYSTEM : PORTMAP_ERR_NO_MEMORY;
        free_client(c); /* c is gone: the verdict is taken first */
        return rc;
    }
    if (pthread_create(&c->thread, NULL, pm_engine_main, c) != 0) {
        free_client(c);
        return PORTMAP_ERR_SYSTEM;
    }
    c->thread_started = 1;
    *out = c;
    return PORTMAP_OK;
}

/* Absolute CLOCK_MONOTONIC time timeout_ms from now, for cond waits. */
static struct timespec abs_deadline(int64_t deadline_ms)
{
    struct timespec ts = { .tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000 };
    return ts;
}

/* Wait for a change or the deadline. Returns 0 on timeout. Lock held. */
static int wait_until(portmap_client *c, int64_t deadline)
{
    struct timespec ts;
    if (pm_now_ms() >= deadline)
        return 0;
    ts = abs_deadline(deadline);
    pthread_cond_timedwait(&c->cond, &c->lock, &ts);
    return pm_now_ms() < deadline;
}

static void waiter_enter(portmap_client *c)
{
    c->waiters++;
}

static void waiter_leave(portmap_client *c)
{
    if (--c->waiters == 0)
        pthread_cond_broadcast(&c->cond);
}

/* Start of a blocking public call: lock, refuse on the engine thread
 * (the callback would wait for itself), count the waiter so close()
 * keeps the client alive until it has left. */
static int blocking_enter(portmap_client *c)
{
    pthread_mutex_lock(&c->lock);
    if (pm_engine_on_thread(c)) {
        pthread_mutex_unlock(&c->lock);
        return PORTMAP_ERR_WOULD_DEADLOCK;
    }
    waiter_enter(c);
    return PORTMAP_OK;
}

static void blocking_leave(portmap_client *c)
{
    waiter_leave(c);
    pthread_mutex_unlock(&c->lock);
}

static void wait_released(portmap_client *c, int64_t deadline)
{
    for (;;) {
        int busy = 0;
        for (portmap_mapping *m = c->mappings; m; m = m->next)
            busy |= m->state == PORTMAP_STATE_RELEASING;
        if (!busy || c->closed || !wait_until(c, deadline))
            return;
    }
}

PORTMAP_API int portmap_close(portmap_client **pc)
{
    portmap_client *c;
    int64_t now;

    if (!pc || !*pc)
        return PORTMAP_OK;
    c = *pc;
    pthread_mutex_lock(&c->lock);
    if (pm_engine_on_thread(c)) {
        pthread_mutex_unlock(&c->lock);
        return PORTMAP_ERR_WOULD_DEADLOCK;
    }
    now = pm_now_ms();
    if (c->s.release_on_close) {
        for (portmap_mapping *m = c->mappings; m; m = m->next)
            pm_mapping_start_release(c, m, now + c->s.close_timeout_ms, now);
    } else {
        /* Mappings left on the router are marked as nobody's, so a later
         * cleanup may take them (and `portmap-cli release` can). */
        pm_journal_detach_pid(c->state_dir, (long)getpid());
    }
    /* Every release under way finishes first, ours or one started earlier
     * (e.g. the external-IP probe's), within close_timeout_ms. */
    pm_engine_wake(c);
    wait_released(c, now + c->s.close_timeout_ms);
    c->stopping = 1;
    pthread_cond_broadcast(&c->cond);
    pm_engine_wake(c);
    pthread_mutex_unlock(&c->lock);

    /* Joined without the lock: the engine delivers its last callbacks. */
    pthread_join(c->thread, NULL);

    pthread_mutex_lock(&c->lock);
    while (c->waiters > 0)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    free_client(c);
    *pc = NULL;
    return PORTMAP_OK;
}

static int resolve_timeout(portmap_client *c, int timeout_ms)
{
    return timeout_ms > 0 ? timeout_ms : c->s.timeout_ms;
}

static void fill_discovery(portmap_client *c, int fam, portmap_discovery *out)
{
    pm_net *net = &c->net[fam];

    memset(out, 0, sizeof(*out));
    out->family = fam == PM_V6 ? PORTMAP_IPV6 : PORTMAP_IPV4;
    if (net->route_ok) {
        pm_addr_fmt(&net->gateway, out->gateway, sizeof(out->gateway));
        if (net->gateway.scope && net->ifname[0]) {
            size_t n = strlen(out->gateway);
            snprintf(out->gateway + n, sizeof(out->gateway) - n, "%%%s", net->ifname);
        }
        pm_addr_fmt(&net->local, out->local_address, sizeof(out->local_address));
        if (fam == PM_V6)
            out->address_kind = pm_address_kind(net->local_kind);
    }
    if (fam == PM_V4 && c->ext_addr)
        pm_addr_str(c->ext_addr, out->external_address, sizeof(out->external_address));
    for (int i = 1; i < PORTMAP_METHOD_COUNT; i++)
        if (net->avail[i] == PM_AVAIL_YES)
            out->methods |= PORTMAP_HAVE(i);
    for (unsigned i = 0; i < c->n_order; i++) {
        if (net->avail[c->order[i]] == PM_AVAIL_YES) {
            out->preferred = c->order[i];
            break;
        }
    }
    out->pcp_version = net->avail[PORTMAP_METHOD_PCP] == PM_AVAIL_YES ? net->pcp_version : 0;
    if (net->avail[PORTMAP_METHOD_UPNP] == PM_AVAIL_YES) {
        out->upnp_version = net->upnp_version;
        snprintf(out->upnp_service, sizeof(out->upnp_service), "%s", net->upnp_service);
    }
    if (fam == PM_V4)
        out->double_nat = c->double_nat;
}

static int any_answered(portmap_client *c, int fam)
{
    for (int i = 1; i < PORTMAP_METHOD_COUNT; i++)
        if (c->net[fam].avail[i] == PM_AVAIL_YES)
            return 1;
    return 0;
}

/* The families to discover for work on the journal's entries: IPv4, and
 * IPv6 only when the journal holds an entry of our IPv6 address (a host
 * with an IPv6 route but no router answering over IPv6 would otherwise
 * wait out the whole timeout). Lock held. */
static unsigned journal_fams(portmap_client *c, int64_t now)
{
    unsigned fams = 1u << PM_V4;

    if (pm_engine_refresh_route(c, PM_V6, now) == 0 &&
        pm_journal_has_local(c->state_dir, &c->net[PM_V6].local))
        fams |= 1u << PM_V6;
    return fams;
}

/* Probe the families in fams (bits 1 << PM_V4, 1 << PM_V6) at once and
 * wait; the verdict is the families in asked. Lock held. */
static int probe_and_wait(portmap_client *c, unsigned fams, unsigned asked, unsigned flags,
                          int64_t deadline)
{
    int64_t now = pm_now_ms();
    unsigned routed = 0;
    int pending;

    if (fams & (1u << PM_V6))
        c->fams_used |= 1u << PM_V6;
    for (int fam = 0; fam < PM_FAMS; fam++) {
        if (!(fams & (1u << fam)) || pm_engine_refresh_route(c, fam, now) != 0)
            continue;
        routed |= 1u << fam;
        /* a protocol found missing before is asked again: the router may
         * have come up since, as a new process would find */
        pm_engine_probe_all(c, fam, now, deadline,
                            (flags & PORTMAP_DISCOVER_FRESH) ? PM_PROBE_FRESH : PM_PROBE_RETRY);
    }
    if (!(routed & asked))
        return PORTMAP_ERR_NO_GATEWAY;
    pm_engine_wake(c);
    /* Also wait for an external-address query under way (UPnP asks for it
     * after the description), still within the deadline. */
    do {
        pending = (routed & (1u << PM_V4)) && c->ext_pending;
        for (int fam = 0; fam < PM_FAMS; fam++)
            pending |= (routed & (1u << fam)) && !pm_engine_all_probes_done(c, fam);
    } while (pending && !c->stopping && !c->closed && wait_until(c, deadline));
    if (c->stopping || c->closed)
        return PORTMAP_ERR_CANCELLED;
    for (int fam = 0; fam < PM_FAMS; fam++)
        if ((routed & asked & (1u << fam)) && any_answered(c, fam))
            return PORTMAP_OK;
    /* Nothing answered in time: whether every probe had given up or the
     * deadline came first, for the caller there is no gateway. */
    return PORTMAP_ERR_NO_GATEWAY;
}

/* Discover the families in fams and wait; lock held. Pinholes that dead
 * processes left are released like their NAT mappings, once the IPv6
 * router has answered: IPv6 is probed too when the journal holds some of
 * this host, without deciding the verdict. */
static int discover_locked(portmap_client *c, unsigned fams, unsigned flags, int64_t deadline)
{
    unsigned probe = fams;

    if (!c->s.keep_orphans && (fams & (1u << PM_V4)))
        probe |= journal_fams(c, pm_now_ms()) & (1u << PM_V6);
    return probe_and_wait(c, probe, fams, flags, deadline);
}

PORTMAP_API int portmap_discover(portmap_client *c, portmap_discovery *out, unsigned flags,
                                 int timeout_ms)
{
    return portmap_discover_dual(c, out, NULL, flags, timeout_ms);
}

PORTMAP_API int portmap_discover_dual(portmap_client *c, portmap_discovery *v4,
                                      portmap_discovery *v6, unsigned flags, int timeout_ms)
{
    unsigned fams = (v4 ? 1u << PM_V4 : 0) | (v6 ? 1u << PM_V6 : 0);
    int rc;

    if (!c || !fams)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    if (v4)
        memset(v4, 0, sizeof(*v4));
    if (v6)
        memset(v6, 0, sizeof(*v6));
    if ((rc = blocking_enter(c)) != PORTMAP_OK)
        return rc;
    rc = discover_locked(c, fams, flags, pm_now_ms() + resolve_timeout(c, timeout_ms));
    if (v4)
        fill_discovery(c, PM_V4, v4);
    if (v6)
        fill_discovery(c, PM_V6, v6);
    blocking_leave(c);
    return rc;
}

portmap_mapping *pm_mapping_new(portmap_client *c, const portmap_request *r, int64_t now)
{
    portmap_mapping *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    if (pm_random_bytes(m->nonce, sizeof(m->nonce)) != 0) {
        free(m);
        return NULL;
    }
    m->c = c;
    m->refs = 2; /* the caller's handle and the client's list */
    m->fam = r->family == PORTMAP_IPV6 ? PM_V6 : PM_V4;
    if (m->fam == PM_V6)
        c->fams_used |= 1u << PM_V6;
    m->proto = r->protocol;
    m->internal_port = r->internal_port;
    m->want_ext_port = r->external_port;
    m->want_lifetime = r->lifetime ? r->lifetime : c->s.default_lifetime;
    m->forced = r->method;
    snprintf(m->desc, sizeof(m->desc), "%s", r->description ? r->description : "libportmap");
    /* checked by portmap_request_mapping(); internal callers pass it as read */
    if (pm_allow_parse(r->allow, &m->allow_addr, &m->allow_prefix) != 0)
        m->allow_addr = m->allow_prefix = 0;
    /* The caller is to hear the verdict within the timeout, and hearing it
     * takes a wake-up of the engine and then of the caller (tens of us):
     * the engine gives up a millisecond early. */
    m->first_deadline = now + PM_MAX(resolve_timeout(c, r->timeout_ms) - PM_VERDICT_LEAD_MS, 1);
    m->cb = r->callback;
    m->user = r->user;
    m->state = PORTMAP_STATE_PENDING;
    m->method = PORTMAP_METHOD_AUTO;
    m->expires_at = m->refresh_at = m->retry_at = PM_NEVER;
    m->created_at = now;
    pm_mapping_link(c, m);
    return m;
}

static int method_allowed(portmap_client *c, portmap_method m)
{
    if (m == PORTMAP_METHOD_AUTO)
        return 1;
    if ((unsigned)m >= PORTMAP_METHOD_COUNT)
        return 0;
    return 1;
}

/* Make the request's mapping, and for both families its IPv6 twin. */
static portmap_mapping *new_handle(portmap_client *c, const portmap_request *r)
{
    portmap_request one = *r;
    portmap_mapping *m, *twin;
    int64_t now = pm_now_ms();

    if (r->family != PORTMAP_IPV4_IPV6)
        return pm_mapping_new(c, r, now);
    one.family = PORTMAP_IPV6;
    twin = pm_mapping_new(c, &one, now);
    if (!twin)
        return NULL;
    one.family = PORTMAP_IPV4;
    m = pm_mapping_new(c, &one, now);
    if (!m) {
        pm_mapping_unlink(c, twin);
        pm_mapping_unref(twin);
        return NULL;
    }
    /* the twin's caller reference is the handle's */
    m->twin = twin;
    twin->handle = m;
    return m;
}

PORTMAP_API int portmap_request_mapping(portmap_client *c, const portmap_request *r,
                                        portmap_mapping **out)
{
    portmap_mapping *m;
    uint32_t allow_addr;
    uint8_t allow_prefix;

    if (out)
        *out = NULL;
    if (!c || !r || !out || r->internal_port == 0 ||
        (r->protocol != PORTMAP_TCP && r->protocol != PORTMAP_UDP) ||
        !method_allowed(c, r->method) || !all_zero(r->reserved, sizeof(r->reserved)) ||
        (unsigned)r->family > PORTMAP_IPV4_IPV6 ||
        pm_allow_parse(r->allow, &allow_addr, &allow_prefix) != 0)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    /* allow names IPv4 peers: it has no meaning for a pinhole */
    if ((r->family & PORTMAP_IPV6) && allow_prefix)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    if (r->method != PORTMAP_METHOD_AUTO && !pm_method_can_allow(r->method, allow_prefix))
        return PORTMAP_ERR_UNSUPPORTED;
    if (r->family == PORTMAP_IPV6 && !pm_method_has_family(r->method, PM_V6))
        return PORTMAP_ERR_UNSUPPORTED;
    pthread_mutex_lock(&c->lock);
    if (c->stopping) {
        pthread_mutex_unlock(&c->lock);
        return PORTMAP_ERR_CANCELLED;
    }
    for (portmap_mapping *o = c->mappings; o; o = o->next) {
        if (!o->handle_dropped && o->proto == r->protocol && o->internal_port == r->internal_port &&
            o->state != PORTMAP_STATE_FAILED && o->state != PORTMAP_STATE_RELEASED &&
            o->state != PORTMAP_STATE_RELEASING) {
            /* Two handles for one router entry would release each other's. */
            pthread_mutex_unlock(&c->lock);
            return PORTMAP_ERR_BAD_STATE;
        }
    }
    m = new_handle(c, r);
    if (!m) {
        pthread_mutex_unlock(&c->lock);
        return PORTMAP_ERR_NO_MEMORY;
    }
    pm_engine_wake(c);
    pthread_mutex_unlock(&c->lock);
    *out = m;
    return PORTMAP_OK;
}

PORTMAP_API int portmap_mapping_get_info(portmap_mapping *m, portmap_mapping_info *info)
{
    if (!m || !info)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&m->c->lock);
    pm_mapping_fill_info(m, pm_now_ms(), info);
    pthread_mutex_unlock(&m->c->lock);
    return PORTMAP_OK;
}

/* The part of handle m for family (IPV4 or IPV6), or NULL */
static portmap_mapping *part_of(portmap_mapping *m, portmap_family family)
{
    int fam = family == PORTMAP_IPV6 ? PM_V6 : PM_V4;

    if (m->fam == fam)
        return m;
    return m->twin && m->twin->fam == fam ? m->twin : NULL;
}

PORTMAP_API int portmap_mapping_get_family_info(portmap_mapping *m, portmap_family family,
                                                portmap_mapping_info *info)
{
    portmap_mapping *p;
    int rc = PORTMAP_ERR_NOT_FOUND;

    if (!m || !info || (family != PORTMAP_IPV4 && family != PORTMAP_IPV6))
        return PORTMAP_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&m->c->lock);
    p = part_of(m, family);
    if (p) {
        pm_mapping_fill_info(p, pm_now_ms(), info);
        rc = PORTMAP_OK;
    }
    pthread_mutex_unlock(&m->c->lock);
    return rc;
}

PORTMAP_API int portmap_mapping_get_reason(portmap_mapping *m, portmap_family family, char *buf,
                                           size_t len)
{
    portmap_mapping *p;
    int rc = PORTMAP_ERR_NOT_FOUND;

    if (!m || !buf || !len || (unsigned)family > PORTMAP_IPV6)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    buf[0] = '\0';
    pthread_mutex_lock(&m->c->lock);
    p = family == PORTMAP_FAMILY_DEFAULT ? m : part_of(m, family);
    if (p) {
        snprintf(buf, len, "%s", p->reason);
        rc = PORTMAP_OK;
    }
    pthread_mutex_unlock(&m->c->lock);
    return rc;
}

PORTMAP_API int portmap_discover_reason(portmap_client *c, portmap_family family, char *buf,
                                        size_t len)
{
    int fam = family == PORTMAP_IPV6 ? PM_V6 : PM_V4;

    if (!c || !buf || !len || (family != PORTMAP_IPV4 && family != PORTMAP_IPV6))
        return PORTMAP_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&c->lock);
    pm_net_reason(c, fam, PORTMAP_METHOD_AUTO, 0, buf, len);
    pthread_mutex_unlock(&c->lock);
    return PORTMAP_OK;
}

static int result_of(const portmap_mapping *m, int stopping)
{
    switch (m->state) {
    case PORTMAP_STATE_MAPPED:
        return PORTMAP_OK;
    case PORTMAP_STATE_PENDING:
        return stopping ? PORTMAP_ERR_CANCELLED : PORTMAP_ERR_TIMEOUT;
    case PORTMAP_STATE_LOST:
        return m->last_error ? m->last_error : PORTMAP_ERR_TIMEOUT;
    default:
        return m->last_error ? m->last_error : PORTMAP_ERR_CANCELLED;
    }
}

PORTMAP_API int portmap_mapping_wait(portmap_mapping *m, int timeout_ms, portmap_mapping_info *info)
{
    portmap_client *c;
    int64_t deadline;
    int rc;

    if (!m)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    c = m->c;
    pthread_mutex_lock(&c->lock);
    deadline = timeout_ms > 0 ? pm_now_ms() + timeout_ms : m->first_deadline + 100;
    /* Refused even when it would not block now: the rule stays simple. */
    if (pm_engine_on_thread(c)) {
        rc = PORTMAP_ERR_WOULD_DEADLOCK;
        goto out;
    }
    waiter_enter(c);
    pm_mapping_ref(m);
    while ((m->state == PORTMAP_STATE_PENDING ||
            (m->twin && m->twin->state == PORTMAP_STATE_PENDING)) &&
           !c->stopping && !c->closed)
        if (!wait_until(c, deadline))
            break;
    rc = result_of(m, c->stopping);
    /* both families: either one mapped will do */
    if (rc != PORTMAP_OK && m->twin && result_of(m->twin, c->stopping) == PORTMAP_OK)
        rc = PORTMAP_OK;
    pm_mapping_unref(m);
    waiter_leave(c);
out:
    if (info)
        pm_mapping_fill_info(m, pm_now_ms(), info);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static int renew_one(portmap_mapping *m)
{
    if (m->handle_dropped)
        return PORTMAP_ERR_BAD_STATE;
    if (m->state == PORTMAP_STATE_MAPPED) {
        if (m->op == PM_OP_NONE)
            m->refresh_at = pm_now_ms();
    } else if (m->state == PORTMAP_STATE_LOST) {
        if (m->op == PM_OP_NONE)
            m->retry_at = pm_now_ms();
    } else if (m->state != PORTMAP_STATE_PENDING) {
        return PORTMAP_ERR_BAD_STATE;
    }
    return PORTMAP_OK;
}

PORTMAP_API int portmap_mapping_renew(portmap_mapping *m)
{
    portmap_client *c;
    int rc;

    if (!m)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    c = m->c;
    pthread_mutex_lock(&c->lock);
    rc = renew_one(m);
    /* both families: OK when either part could be renewed */
    if (m->twin && !m->handle_dropped && (renew_one(m->twin) == PORTMAP_OK))
        rc = PORTMAP_OK;
    pm_engine_wake(c);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

PORTMAP_API int portmap_mapping_release(portmap_mapping **pm, int timeout_ms)
{
    portmap_mapping *m;
    portmap_client *c;
    int64_t now, deadline;
    int rc = PORTMAP_OK;

    if (!pm || !*pm)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    m = *pm;
    c = m->c;
    pthread_mutex_lock(&c->lock);
    if (m->handle_dropped) {
        pthread_mutex_unlock(&c->lock);
        return PORTMAP_ERR_BAD_STATE;
    }
    if (timeout_ms > 0 && pm_engine_on_thread(c)) {
        pthread_mutex_unlock(&c->lock);
        return PORTMAP_ERR_WOULD_DEADLOCK;
    }
    *pm = NULL;
    m->handle_dropped = 1;
    now = pm_now_ms();
    /* Even a fire-and-forget release is bounded. */
    deadline = now + (timeout_ms > 0 ? timeout_ms : c->s.timeout_ms);
    pm_mapping_start_release(c, m, deadline, now);
    if (m->twin) {
        m->twin->handle_dropped = 1;
        pm_mapping_start_release(c, m->twin, deadline, now);
    }
    pm_engine_wake(c);
    if (timeout_ms > 0) {
        waiter_enter(c);
        while ((!m->release_done || (m->twin && !m->twin->release_done)) && !c->stopping &&
               !c->closed)
            if (!wait_until(c, deadline))
                break;
        if (!m->release_done || (m->twin && !m->twin->release_done))
            rc = c->stopping ? PORTMAP_ERR_CANCELLED : PORTMAP_ERR_TIMEOUT;
        else
            rc = m->release_err ? m->release_err : m->twin ? m->twin->release_err : PORTMAP_OK;
        waiter_leave(c);
    }
    pm_mapping_unref(m); /* the caller's handle */
    pthread_mutex_unlock(&c->lock);
    return rc;
}

PORTMAP_API int portmap_external_ip(portmap_client *c, char *buf, size_t len, int timeout_ms)
{
    int64_t start, deadline;
    int rc;

    if (!c || !buf || len < 8)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    buf[0] = '\0';
    if ((rc = blocking_enter(c)) != PORTMAP_OK)
        return rc;
    start = pm_now_ms();
    deadline = start + resolve_timeout(c, timeout_ms);
    /* A fresh probe: NAT-PMP's opcode 0 tells the address directly. */
    rc = discover_locked(c, 1u << PM_V4, PORTMAP_DISCOVER_FRESH, deadline);
    if (rc == PORTMAP_OK && c->ext_addr_at < start) {
        /* Only PCP answered: learn the address from a short mapping of
         * the discard port that is deleted at once. */
        portmap_request r;
        portmap_mapping *m;
        portmap_request_init(&r);
        r.internal_port = 9;
        r.lifetime = 30;
        r.method = PORTMAP_METHOD_PCP;
        r.timeout_ms = (int)PM_MAX(1, deadline - pm_now_ms());
        m = pm_mapping_new(c, &r, pm_now_ms());
        if (!m) {
            rc = PORTMAP_ERR_NO_MEMORY;
        } else {
            m->internal = 1;
            pm_engine_wake(c);
            while (m->state == PORTMAP_STATE_PENDING && !c->stopping)
                if (!wait_until(c, deadline))
                    break;
            rc = m->state == PORTMAP_STATE_MAPPED ? PORTMAP_OK
                 : m->last_error                ? m->last_error
                                                : PORTMAP_ERR_TIMEOUT;
            m->handle_dropped = 1;
            pm_mapping_start_release(c, m, pm_now_ms() + c->s.close_timeout_ms, pm_now_ms());
            pm_engine_wake(c);
            pm_mapping_unref(m);
        }
    }
    if (rc == PORTMAP_OK && c->ext_addr)
        pm_addr_str(c->ext_addr, buf, len);
    else if (rc == PORTMAP_OK)
        rc = PORTMAP_ERR_PROTOCOL;
    blocking_leave(c);
    return rc;
}

/*
 * Delete a router entry this client does not hold, as if it held it:
 * with the journal entry's nonce for PCP, the external port for UPnP,
 * the pinhole's id for UPnP over IPv6 (e may be NULL: none known). With
 * verify_owner, UPnP asks the router whom the entry maps to first. allow:
 * the entry's remote restriction, which UPnP needs to name it. Lock
 * held; waits at most until deadline.
 */
static portmap_mapping *start_delete(portmap_client *c, int fam, portmap_transport protocol,
                                     uint16_t internal_port, portmap_method method,
                                     const pm_journal_entry *e, const char *allow,
                                     int verify_owner, int64_t deadline)
{
    portmap_request r;
    portmap_mapping *m;

    portmap_request_init(&r);
    r.protocol = protocol;
    r.internal_port = internal_port;
    r.method = method;
    r.allow = allow;
    r.family = fam == PM_V6 ? PORTMAP_IPV6 : PORTMAP_IPV4;
    m = pm_mapping_new(c, &r, pm_now_ms());
    if (!m)
        return NULL;
    m->internal = 1;
    m->handle_dropped = 1;
    m->verify_owner = verify_owner;
    m->method = m->op_method = method;
    m->local = c->net[fam].local;
    if (e) {
        m->ext_port = e->external_port;
        memcpy(m->nonce, e->nonce, sizeof(m->nonce));
        /* a journal's pinhole id is not used: the router numbers its
         * pinholes from 1 after each restart, so it may now name another
         * of ours; the router is asked for the id again (X_PH_FIND) */
    }
    m->state = PORTMAP_STATE_RELEASING;
    m->op_deadline = deadline;
    pm_mapping_start_op(c, m, PM_OP_DELETE, pm_now_ms());
    pm_engine_wake(c);
    return m;
}

/* Wait for a delete started by start_delete and drop the caller's
 * reference (the list's goes when released); its outcome. Lock held. */
static int finish_delete(portmap_client *c, portmap_mapping *m, int64_t deadline)
{
    int rc;

    while (!m->release_done && !c->stopping)
        if (!wait_until(c, deadline))
            break;
    rc = !m->release_done ? PORTMAP_ERR_TIMEOUT : m->release_err;
    pm_mapping_unref(m);
    return rc;
}

static int delete_on_router(portmap_client *c, int fam, portmap_transport protocol,
                            uint16_t internal_port, portmap_method method,
                            const pm_journal_entry *e, const char *allow, int verify_owner,
                            int64_t deadline)
{
    portmap_mapping *m = start_delete(c, fam, protocol, internal_port, method, e, allow,
                                      verify_owner, deadline);

    return m ? finish_delete(c, m, deadline) : PORTMAP_ERR_NO_MEMORY;
}

/* The protocol to delete fam's mapping of a port with: what was asked,
 * else the journal's, else what the router prefers (found by probing,
 * which with nothing journalled is needed anyway). AUTO: none. Lock held. */
static portmap_method release_method(portmap_client *c, int fam, portmap_method method,
                                     const pm_journal_entry *e, int64_t deadline)
{
    portmap_discovery d;

    if (method != PORTMAP_METHOD_AUTO)
        return method;
    if (e)
        return e->method;
    if (probe_and_wait(c, 1u << fam, 1u << fam, 0, deadline) != PORTMAP_OK)
        return PORTMAP_METHOD_AUTO;
    fill_discovery(c, fam, &d);
    return d.preferred;
}

/* Start the delete of fam's mapping of the port, with its journal entry
 * e (NULL: the journal has none); *out the delete under way, or an
 * error. Lock held. */
static int start_release_fam(portmap_client *c, int fam, portmap_transport protocol,
                             uint16_t internal_port, portmap_method method,
                             const pm_journal_entry *e, int64_t deadline, portmap_mapping **out)
{
    char allow[PORTMAP_ADDRSTRLEN + 4] = "";

    *out = NULL;
    method = release_method(c, fam, method, e, deadline);
    if (method == PORTMAP_METHOD_AUTO)
        return c->stopping ? PORTMAP_ERR_CANCELLED : PORTMAP_ERR_NO_GATEWAY;
    if (!pm_method_has_family(method, fam))
        return PORTMAP_ERR_UNSUPPORTED;
    if (e && e->method != method)
        e = NULL; /* its nonce and port are of another protocol */
    if (e)
        pm_allow_str(e->allow_addr, e->allow_prefix, allow, sizeof(allow));
    /* The delete is the first word to the router: no probe waited for.
     * UPnP's first needs the description, which its probe fetches. */
    if (method == PORTMAP_METHOD_UPNP)
        pm_engine_probe_all(c, fam, pm_now_ms(), deadline, PM_PROBE_RETRY);
    /* Without a journal entry the port may be nobody's or another host's:
     * UPnP asks the router whom it maps to before deleting anything. */
    *out = start_delete(c, fam, protocol, internal_port, method, e, e ? allow : NULL, !e,
                        deadline);
    return *out ? PORTMAP_OK : PORTMAP_ERR_NO_MEMORY;
}

/* The outcome of fam's delete, and the journal kept in step. Lock held. */
static int end_release_fam(portmap_client *c, int fam, portmap_transport protocol,
                           uint16_t internal_port, int found, portmap_mapping *m, int64_t deadline)
{
    int pcp = m->method == PORTMAP_METHOD_PCP;
    int rc = finish_delete(c, m, deadline);

    if (rc == PORTMAP_OK || rc == PORTMAP_ERR_NOT_AUTHORIZED || !found)
        pm_journal_remove(c->state_dir, protocol, internal_port, &c->net[fam].local);
    if (rc == PORTMAP_OK && !found && pcp)
        PM_INFO(c, "no journal entry for port %u: the release used a new nonce", internal_port);
    /* Without an entry the delete was a question: a PCP server that finds
     * no such mapping says it could not do it (miniupnpd: NO_RESOURCES),
     * which for the caller is "nothing to release", not a full router. */
    if (!found && pcp && rc == PORTMAP_ERR_NO_RESOURCES)
        rc = PORTMAP_ERR_NOT_FOUND; /* (m is gone: finish_delete dropped it) */
    return rc;
}

PORTMAP_API int portmap_release_port(portmap_client *c, portmap_transport protocol,
                                     uint16_t internal_port, portmap_method method, int timeout_ms)
{
    pm_journal_entry e[PM_FAMS];
    portmap_mapping *del[PM_FAMS] = { NULL };
    int rcs[PM_FAMS] = { PORTMAP_ERR_NOT_FOUND, PORTMAP_ERR_NOT_FOUND };
    int found[PM_FAMS] = { 0 };
    int64_t deadline;
    unsigned fams;
    int rc;

    if (!c || internal_port == 0 || (protocol != PORTMAP_TCP && protocol != PORTMAP_UDP) ||
        (unsigned)method >= PORTMAP_METHOD_COUNT)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    if ((rc = blocking_enter(c)) != PORTMAP_OK)
        return rc;
    deadline = pm_now_ms() + resolve_timeout(c, timeout_ms);
    fams = journal_fams(c, pm_now_ms());
    for (int fam = 0; fam < PM_FAMS; fam++) {
        if (!(fams & (1u << fam)) || pm_engine_refresh_route(c, fam, pm_now_ms()) != 0)
            continue;
        found[fam] = pm_journal_find(c->state_dir, protocol, internal_port, &c->net[fam].local,
                                     &e[fam]) == 0;
    }
    /* IPv4 as before when the journal has it or knows nothing at all; an
     * IPv6 pinhole of the port goes too when the journal has one. Both
     * deletes go out at once and are waited for together. */
    for (int fam = 0; fam < PM_FAMS; fam++) {
        int wanted = fam == PM_V4 ? found[PM_V4] || !found[PM_V6] : found[PM_V6];
        if (!wanted)
            continue;
        if (!c->net[fam].route_ok) {
            rcs[fam] = PORTMAP_ERR_NO_GATEWAY;
            continue;
        }
        rcs[fam] = start_release_fam(c, fam, protocol, internal_port, method,
                                     found[fam] ? &e[fam] : NULL, deadline, &del[fam]);
    }
    for (int fam = 0; fam < PM_FAMS; fam++)
        if (del[fam])
            rcs[fam] = end_release_fam(c, fam, protocol, internal_port, found[fam], del[fam],
                                       deadline);
    /* the first family's error, unless it had nothing to release */
    rc = rcs[PM_V4] == PORTMAP_ERR_NOT_FOUND ? rcs[PM_V6] : rcs[PM_V4];
    if (rc == PORTMAP_OK && rcs[PM_V6] != PORTMAP_ERR_NOT_FOUND)
        rc = rcs[PM_V6];
    blocking_leave(c);
    return rc;
}

PORTMAP_API int portmap_get_counters(portmap_client *c, portmap_counters *out)
{
    if (!c || !out)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&c->lock);
    *out = c->counters;
    pthread_mutex_unlock(&c->lock);
    return PORTMAP_OK;
}

PORTMAP_API int portmap_cleanup(portmap_client *c, int timeout_ms, unsigned *released)
{
    pm_journal_entry e[64];
    unsigned done = 0;
    int64_t deadline;
    unsigned fams;
    int rc;

    if (released)
        *released = 0;
    if (!c)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    if ((rc = blocking_enter(c)) != PORTMAP_OK)
        return rc;
    deadline = pm_now_ms() + resolve_timeout(c, timeout_ms);
    fams = journal_fams(c, pm_now_ms());
    rc = probe_and_wait(c, fams, fams, 0, deadline);
    for (int k = 0; rc == PORTMAP_OK && k < PM_FAMS * PORTMAP_METHOD_COUNT; k++) {
        int fam = k / PORTMAP_METHOD_COUNT, meth = k % PORTMAP_METHOD_COUNT;
        pm_net *net = &c->net[fam];
        size_t n;
        if (meth == PORTMAP_METHOD_AUTO || net->avail[meth] != PM_AVAIL_YES)
            continue;
        n = pm_journal_claim_orphans(c->state_dir, &net->gateway, &net->local,
                                     (portmap_method)meth, (long)getpid(), e,
                                     sizeof(e) / sizeof(e[0]));
        for (size_t i = 0; i < n; i++) {
            char allow[PORTMAP_ADDRSTRLEN + 4];
            int drc;
            pm_allow_str(e[i].allow_addr, e[i].allow_prefix, allow, sizeof(allow));
            /* a UPnP entry may have been reused by another host since:
             * ask first (a pinhole's id is ours alone) */
            drc = delete_on_router(c, fam, e[i].proto, e[i].internal_port, e[i].method, &e[i],
                                   allow, e[i].method == PORTMAP_METHOD_UPNP && fam == PM_V4,
                                   deadline);
            if (drc == PORTMAP_OK || drc == PORTMAP_ERR_NOT_FOUND) {
                pm_journal_remove(c->state_dir, e[i].proto, e[i].internal_port, &e[i].local);
                PM_INFO(c, "released %s port %u, left on the router by process %ld, which died",
                        e[i].proto == PORTMAP_TCP ? "tcp" : "udp", e[i].internal_port, e[i].pid);
                done++;
            } else {
                rc = drc; /* the entry stays, ours now: detached at close */
            }
        }
    }
    blocking_leave(c);
    if (released)
        *released = done;
    return rc;
}

/* The IPv4 router's UPnP-IGD found, or why not: the other protocols are
 * not waited for. Lock held. */
static int wait_upnp(portmap_client *c, int64_t deadline)
{
    pm_net *net = &c->net[PM_V4];
    int64_t now = pm_now_ms();

    int allowed = 0;

    for (unsigned i = 0; i < c->n_order; i++)
        allowed |= c->order[i] == PORTMAP_METHOD_UPNP;
    if (!allowed)
        return PORTMAP_ERR_UNSUPPORTED; /* known without asking anyone */
    if (pm_engine_refresh_route(c, PM_V4, now) != 0)
        return PORTMAP_ERR_NO_GATEWAY;
    pm_engine_probe_all(c, PM_V4, now, deadline, PM_PROBE_RETRY);
    pm_engine_wake(c);
    while (net->avail[PORTMAP_METHOD_UPNP] == PM_AVAIL_PROBING && !c->stopping && !c->closed)
        if (!wait_until(c, deadline))
            break;
    if (c->stopping || c->closed)
        return PORTMAP_ERR_CANCELLED;
    if (net->avail[PORTMAP_METHOD_UPNP] == PM_AVAIL_YES)
        return PORTMAP_OK;
    return net->avail[PORTMAP_METHOD_UPNP] == PM_AVAIL_NO ? PORTMAP_ERR_UNSUPPORTED
                                                          : PORTMAP_ERR_TIMEOUT;
}

PORTMAP_API int portmap_router_mappings(portmap_client *c, portmap_router_entry **out,
                                        size_t *count, int timeout_ms)
{
    pm_upnp_control ctl;
    int64_t deadline;
    uint32_t local;
    int rc;

    if (!c || !out || !count)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    *count = 0;
    if ((rc = blocking_enter(c)) != PORTMAP_OK)
        return rc;
    deadline = pm_now_ms() + resolve_timeout(c, timeout_ms);
    rc = wait_upnp(c, deadline);
    if (rc == PORTMAP_OK)
        rc = pm_upnp_get_control(c, &ctl) == 0 ? PORTMAP_OK : PORTMAP_ERR_UNSUPPORTED;
    local = pm_local4(c);
    blocking_leave(c);
    if (rc != PORTMAP_OK)
        return rc;
    /* The exchanges run here, without the lock: the engine goes on. */
    rc = pm_upnp_list(&ctl, local, deadline, out, count);
    for (size_t i = 0; rc == PORTMAP_OK && i < *count; i++) {
        portmap_router_entry *e = &(*out)[i];
        pm_addr mine = pm_addr_from_v4(local);
        e->held = e->ours && pm_journal_held(c->state_dir, e->protocol, e->internal_port, &mine);
    }
    return rc;
}

PORTMAP_API int portmap_router_delete(portmap_client *c, const portmap_router_entry *entry,
                                      int timeout_ms)
{
    int64_t deadline;
    int rc;

    if (!c || !entry || !entry->external_port ||
        (entry->protocol != PORTMAP_TCP && entry->protocol != PORTMAP_UDP))
        return PORTMAP_ERR_INVALID_ARGUMENT;
    if ((rc = blocking_enter(c)) != PORTMAP_OK)
        return rc;
    deadline = pm_now_ms() + resolve_timeout(c, timeout_ms);
    rc = wait_upnp(c, deadline);
    if (rc == PORTMAP_OK) {
        pm_journal_entry e = { .external_port = entry->external_port };
        rc = delete_on_router(c, PM_V4, entry->protocol, entry->internal_port, PORTMAP_METHOD_UPNP,
                              &e, entry->remote_host, 1, deadline);
    }
    if (rc == PORTMAP_OK)
        pm_journal_remove(c->state_dir, entry->protocol, entry->internal_port,
                          &c->net[PM_V4].local);
    blocking_leave(c);
    return rc;
}

PORTMAP_API void portmap_router_entries_free(portmap_router_entry *entries)
{
    free(entries);
}
