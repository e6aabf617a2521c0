/*
 * The mapping objects: made for a request, shared by the caller's handle,
 * the client's list and whoever waits on them (reference counts), and
 * described to the caller (portmap_mapping_info).
 */
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
    portmap_mapping *m = calloc(1, sizeof(*m));
    int timeout = r->timeout_ms > 0 ? r->timeout_ms : c->s.timeout_ms;

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
        pm_addr_parse(r->internal_address, &m->third) == 0)
        m->local = m->third;
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
