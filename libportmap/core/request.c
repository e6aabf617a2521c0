/*
 * The public mapping calls: request (a handle, for both families two
 * mappings), its info and reason, wait, renew, release.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/reader.h"


static int method_allowed(portmap_client *c, portmap_method m)
{
    if (m == PORTMAP_METHOD_AUTO)
        return 1;
    if ((unsigned)m >= PORTMAP_METHOD_COUNT)
        return 0;
    return 1;
}

/* Whether r's internal_address, when set, can name another host of the
 * LAN: an address of the request's one family that a host can have.
 * Whether it is on our subnet is known once the route is read
 * (service.c). *third gets it (unset for ""). */
static int third_party_valid(const portmap_request *r, pm_addr *third)
{
    const char *s = r->internal_address;

    memset(third, 0, sizeof(*third));
    if (!memchr(s, '\0', sizeof(r->internal_address)))
        return 0;
    if (!s[0])
        return 1;
    if (strchr(s, '%') || pm_addr_parse(s, third) != 0)
        return 0;
    if (third->family == AF_INET)
        /* loopback, 0/8, multicast, broadcast...: no host of a LAN */
        return r->family != PORTMAP_IPV6 && r->family != PORTMAP_IPV4_IPV6 &&
               !pm_addr_not_external(third->u.v4);
    /* IPv6: unspecified, loopback, multicast and link-local name no host
     * a pinhole can open to */
    return r->family == PORTMAP_IPV6 && third->u.v6[0] != 0xff && !pm_addr_is_link_local(third) &&
           !IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)third->u.v6) &&
           !IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)third->u.v6);
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

/* On a router that has answered, the request leaves from this thread
 * now rather than one wake-up of the engine later: the engine, woken
 * after the send, takes the exchange into its timers and poll set while
 * the datagram is on its way. A bare client (the state machine's tests)
 * has no engine: its test drives every pass, with a clock of its own. */
static void start_at_once(portmap_client *c, portmap_mapping *m)
{
    int64_t now;

    if (!c->thread_started)
        return;
    now = pm_now_ms();
    pm_mapping_start_at_once(c, m, now);
    if (m->twin)
        pm_mapping_start_at_once(c, m->twin, now);
}

PORTMAP_API int portmap_request_mapping(portmap_client *c, const portmap_request *r,
                                        portmap_mapping **out)
{
    portmap_mapping *m;
    uint32_t allow_addr;
    uint8_t allow_prefix;
    pm_addr third;

    if (out)
        *out = NULL;
    if (!c || !r || !out || r->internal_port == 0 ||
        (r->protocol != PORTMAP_TCP && r->protocol != PORTMAP_UDP) ||
        !method_allowed(c, r->method) || !pm_all_zero(r->reserved, sizeof(r->reserved)) ||
        (unsigned)r->family > PORTMAP_IPV4_IPV6 ||
        pm_allow_parse(r->allow, &allow_addr, &allow_prefix) != 0 ||
        !third_party_valid(r, &third))
        return PORTMAP_ERR_INVALID_ARGUMENT;
    /* allow names IPv4 peers: it has no meaning for a pinhole */
    if ((r->family & PORTMAP_IPV6) && allow_prefix)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    if (r->method != PORTMAP_METHOD_AUTO && !pm_method_can_allow(c, r->method, allow_prefix))
        return PORTMAP_ERR_UNSUPPORTED;
    if (r->family == PORTMAP_IPV6 && r->method != PORTMAP_METHOD_AUTO &&
        !pm_method_has_family(c, r->method, PM_V6))
        return PORTMAP_ERR_UNSUPPORTED;
    /* NAT-PMP maps for the asking host only: never this host instead */
    if (pm_addr_is_set(&third) && r->method != PORTMAP_METHOD_AUTO &&
        !pm_method_third_party(c, r->method, third.family == AF_INET6 ? PM_V6 : PM_V4))
        return PORTMAP_ERR_UNSUPPORTED;
    pthread_mutex_lock(&c->lock);
    if (c->stopping) {
        pthread_mutex_unlock(&c->lock);
        return PORTMAP_ERR_CANCELLED;
    }
    for (portmap_mapping *o = c->mappings; o; o = o->next) {
        pm_addr o_third = o->third;
        if (!o->handle_dropped && o->proto == r->protocol && o->internal_port == r->internal_port &&
            pm_addr_eq(&o_third, &third) &&
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
    start_at_once(c, m);
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
        snprintf(buf, len, "%s", pm_mapping_reason(p));
        rc = PORTMAP_OK;
    }
    pthread_mutex_unlock(&m->c->lock);
    return rc;
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
    pm_reader rd = { .n = 0 };
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
    pm_api_waiter_enter(c);
    pm_mapping_ref(m);
    while ((m->state == PORTMAP_STATE_PENDING ||
            (m->twin && m->twin->state == PORTMAP_STATE_PENDING)) &&
           !c->stopping && !c->closed)
        if (!pm_reader_wait(c, m, &rd, deadline))
            break;
    pm_reader_leave(c, &rd);
    rc = result_of(m, c->stopping);
    /* both families: either one mapped will do */
    if (rc != PORTMAP_OK && m->twin && result_of(m->twin, c->stopping) == PORTMAP_OK)
        rc = PORTMAP_OK;
    /* Mapped is told before the journal names the mapping (jqueue.c): a
     * caller killed the moment it knows leaves a lease that runs out, and
     * one that must not (portmap-cli) calls portmap_sync_journal(). A
     * lease that never runs out is named first, for whoever comes next. */
    if (rc == PORTMAP_OK && (m->permanent || (m->twin && m->twin->permanent)))
        pm_api_journal_barrier(c, deadline);
    pm_mapping_unref(m);
    pm_api_waiter_leave(c);
out:
    if (info)
        pm_mapping_fill_info(m, pm_now_ms(), info);
    /* last before the unlock (after it, close() may free c): the engine
     * woken now mostly finds the lock free */
    pm_reader_done(c, &rd);
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
    pm_mapping_kick(m->c, m);
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
        pm_api_waiter_enter(c);
        while ((!m->release_done || (m->twin && !m->twin->release_done)) && !c->stopping &&
               !c->closed)
            if (!pm_api_wait_until(c, deadline))
                break;
        pm_api_journal_barrier(c, deadline); /* the journal forgets it before the caller knows */
        if (!m->release_done || (m->twin && !m->twin->release_done))
            rc = c->stopping ? PORTMAP_ERR_CANCELLED : PORTMAP_ERR_TIMEOUT;
        else
            rc = m->release_err ? m->release_err : m->twin ? m->twin->release_err : PORTMAP_OK;
        pm_api_waiter_leave(c);
    }
    pm_mapping_unref(m); /* the caller's handle */
    pthread_mutex_unlock(&c->lock);
    return rc;
}

PORTMAP_API int portmap_sync_journal(portmap_client *c, int timeout_ms)
{
    uint64_t want;
    int rc;

    if (!c)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&c->lock);
    if (pm_engine_on_thread(c)) {
        pthread_mutex_unlock(&c->lock);
        return PORTMAP_ERR_WOULD_DEADLOCK;
    }
    want = c->jops_queued;
    pm_api_waiter_enter(c);
    pm_api_journal_barrier(c, pm_now_ms() + (timeout_ms > 0 ? timeout_ms : c->s.timeout_ms));
    rc = c->jops_done >= want || c->closed ? PORTMAP_OK : PORTMAP_ERR_TIMEOUT;
    pm_api_waiter_leave(c);
    pthread_mutex_unlock(&c->lock);
    return rc;
}
