/*
 * The mapping objects: made for a request, shared by the caller's handle,
 * the client's list and whoever waits on them (reference counts), and
 * described to the caller (portmap_mapping_info).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* The caller is to hear the verdict within the timeout, and hearing it
 * takes a wake-up of the engine and then of the caller (tens of us): the
 * engine gives up a millisecond early. */
#define PM_VERDICT_LEAD_MS 1

PORTMAP_API void portmap_request_init(portmap_request *r)
{
    if (!r)
        return;
    memset(r, 0, sizeof(*r));
    r->protocol = PORTMAP_UDP;
}

portmap_mapping *pm_mapping_new(portmap_client *c, const portmap_request *r, int64_t now)
{
    portmap_mapping *m;
    int timeout = r->timeout_ms > 0 ? r->timeout_ms : c->s.timeout_ms;

    /* room for its timer now: arming it never fails later */
    if (pm_heap_reserve(&c->timers, c->n_listed + 1) != 0)
        return NULL;
    m = calloc(1, sizeof(*m));
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
    /* checked by portmap_request_mapping() too; "" is this host */
    if (memchr(r->internal_address, '\0', sizeof(r->internal_address)) && r->internal_address[0] &&
        pm_addr_parse(r->internal_address, &m->third) == 0) {
        m->local = m->third;
        c->lan_wanted = 1; /* the engine reads the LAN's subnets for its check */
    }
    m->first_deadline = now + PM_MAX(timeout - PM_VERDICT_LEAD_MS, 1);
    m->cb = r->callback;
    m->user = r->user;
    m->state = PORTMAP_STATE_PENDING;
    m->method = PORTMAP_METHOD_AUTO;
    m->expires_at = m->refresh_at = m->retry_at = PM_NEVER;
    m->created_at = now;
    pm_mapping_link(c, m);
    return m;
}

void pm_mapping_ref(portmap_mapping *m)
{
    m->refs++;
}

/* What a mapping owns besides itself. */
static void free_mapping(portmap_mapping *m)
{
    free(m->op_data);
    free(m->reason);
    free(m->held_result);
    free(m);
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
    free_mapping(m);
}

void pm_mapping_set_reason(portmap_mapping *m, const char *fmt, ...)
{
    va_list ap;

    if (!m->reason && !(m->reason = malloc(PM_REASON_LEN)))
        return; /* out of memory: the error code alone */
    va_start(ap, fmt);
    vsnprintf(m->reason, PM_REASON_LEN, fmt, ap);
    va_end(ap);
}

void pm_mapping_clear_reason(portmap_mapping *m)
{
    free(m->reason);
    m->reason = NULL;
}

void pm_mapping_drop_held(portmap_mapping *m)
{
    m->held = 0;
    free(m->held_result);
    m->held_result = NULL;
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
    c->n_listed++;
    pm_mapping_set_state(c, m, m->state); /* counted if lost */
    pm_mapping_kick(c, m);
}

static void watch_remove(portmap_client *c, portmap_mapping *m)
{
    if (!m->watched)
        return;
    if (m->watch_prev)
        m->watch_prev->watch_next = m->watch_next;
    else
        c->watch = m->watch_next;
    if (m->watch_next)
        m->watch_next->watch_prev = m->watch_prev;
    m->watch_next = m->watch_prev = NULL;
    m->watched = 0;
    c->n_watch--;
}

/* Out of every index: it is unlisted. */
static void forget(portmap_client *c, portmap_mapping *m)
{
    pm_heap_remove(&c->timers, &m->timer);
    watch_remove(c, m);
    pm_ops_remove(c, m);
    pm_mapping_set_state(c, m, m->state); /* unlisted: no longer counted lost */
    for (int i = 0; i < PORTMAP_METHOD_COUNT; i++)
        if (c->scout[m->fam][i] == m)
            c->scout[m->fam][i] = NULL;
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
            c->n_listed--;
            forget(c, m);
            pm_mapping_unref(m); /* the list's reference */
            return;
        }
    }
}

void pm_mapping_kick(portmap_client *c, portmap_mapping *m)
{
    if (m->in_list)
        pm_heap_set(&c->timers, &m->timer, 0);
}

void pm_mapping_schedule(portmap_client *c, portmap_mapping *m, int64_t next, int watch)
{
    if (!m->in_list)
        return;
    if (watch && !m->watched) {
        m->watch_prev = NULL;
        m->watch_next = c->watch;
        if (c->watch)
            c->watch->watch_prev = m;
        c->watch = m;
        m->watched = 1;
        c->n_watch++;
    } else if (!watch) {
        watch_remove(c, m);
    }
    if (watch || next == PM_NEVER)
        pm_heap_remove(&c->timers, &m->timer);
    else
        pm_heap_set(&c->timers, &m->timer, next);
}

/* A copy of the list of count mappings from head, linked through the
 * pointer at next_off, each held: the list may change while the copy is
 * walked (the caller unrefs each and frees it). NULL when empty or out of
 * memory. */
static portmap_mapping **held_copy(portmap_mapping *head, size_t next_off, size_t count,
                                   size_t *n)
{
    portmap_mapping **v = count ? malloc(count * sizeof(*v)) : NULL;

    *n = 0;
    for (portmap_mapping *m = head; m && v && *n < count;
         m = *(portmap_mapping **)((char *)m + next_off)) {
        pm_mapping_ref(m);
        v[(*n)++] = m;
    }
    return v;
}

portmap_mapping **pm_watch_list(portmap_client *c, size_t *n)
{
    return held_copy(c->watch, offsetof(portmap_mapping, watch_next), c->n_watch, n);
}

void pm_mapping_set_state(portmap_client *c, portmap_mapping *m, portmap_state s)
{
    int lost = s == PORTMAP_STATE_LOST && m->in_list;

    if (m->lost_counted && !lost)
        c->n_lost[m->fam]--;
    else if (!m->lost_counted && lost)
        c->n_lost[m->fam]++;
    m->lost_counted = lost;
    m->state = s;
}

void pm_ops_add(portmap_client *c, portmap_mapping *m)
{
    portmap_method k = m->op_method;

    pm_ops_remove(c, m);
    if ((unsigned)k >= PORTMAP_METHOD_COUNT || k == PORTMAP_METHOD_AUTO)
        k = PORTMAP_METHOD_AUTO; /* listed under no backend, but counted */
    m->op_prev = NULL;
    m->op_next = c->ops[k];
    if (c->ops[k])
        c->ops[k]->op_prev = m;
    c->ops[k] = m;
    m->op_listed = k;
    c->n_ops[k]++;
    c->n_ops_fam[m->fam]++;
}

void pm_ops_remove(portmap_client *c, portmap_mapping *m)
{
    portmap_method k = m->op_listed;

    if (!m->op_next && !m->op_prev && c->ops[k] != m)
        return;
    if (m->op_prev)
        m->op_prev->op_next = m->op_next;
    else
        c->ops[k] = m->op_next;
    if (m->op_next)
        m->op_next->op_prev = m->op_prev;
    m->op_next = m->op_prev = NULL;
    m->op_listed = PORTMAP_METHOD_AUTO;
    c->n_ops[k]--;
    c->n_ops_fam[m->fam]--;
}

void pm_ops_each(portmap_client *c, portmap_method method,
                 void (*fn)(portmap_client *, portmap_mapping *, void *), void *arg)
{
    portmap_mapping **v;
    size_t n = 0;

    if ((unsigned)method >= PORTMAP_METHOD_COUNT)
        return;
    /* fn may end any exchange: the list changes (out of memory: the next
     * round tries again) */
    v = held_copy(c->ops[method], offsetof(portmap_mapping, op_next), c->n_ops[method], &n);
    for (size_t i = 0; i < n; i++) {
        if (v[i]->op != PM_OP_NONE && v[i]->op_listed == method)
            fn(c, v[i], arg);
        pm_mapping_unref(v[i]);
    }
    free(v);
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

/* Every mapping still listed, and the twins that only their handle
 * holds: in two passes, so that no pass reads a mapping it has freed. */
void pm_mappings_free_all(portmap_client *c)
{
    portmap_mapping *m, *next;

    for (m = c->mappings; m; m = m->next) {
        /* a twin already done is held by its handle alone */
        if (m->twin && !m->twin->in_list) {
            free_mapping(m->twin);
            m->twin = NULL;
        }
    }
    for (m = c->mappings; m; m = next) {
        next = m->next;
        free_mapping(m);
    }
    c->mappings = NULL;
    c->watch = NULL;
    c->n_listed = 0;
    memset(c->ops, 0, sizeof(c->ops));
    memset(c->scout, 0, sizeof(c->scout));
    pm_heap_free(&c->timers);
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
    /* the kind of one of our addresses: another host's is not known */
    if (m->fam == PM_V6 && pm_addr_is_set(&m->local) && !pm_addr_is_set(&m->third))
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
