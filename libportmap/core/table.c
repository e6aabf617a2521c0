/*
 * The router's own table (UPnP-IGD: the backends with table_list): listed on the caller's thread
 * through the backend's table_list, and one entry deleted after checking
 * that it maps to this host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/api.h"


/* The protocol that can list the router's table (UPnP-IGD), first in the
 * client's order; AUTO when none may be used. */
static portmap_method table_method(const portmap_client *c)
{
    for (unsigned i = 0; i < c->n_order; i++) {
        const pm_backend *b = pm_backend_of(c, c->order[i]);
        if (b && b->table_open && b->table_list && b->table_close)
            return c->order[i];
    }
    return PORTMAP_METHOD_AUTO;
}

/* The IPv4 router's answer in method, or why not: the other protocols
 * are not waited for. Lock held. */
static int wait_table(portmap_client *c, portmap_method method, int64_t deadline)
{
    pm_net *net = &c->net[PM_V4];
    int64_t now = pm_now_ms();

    if (method == PORTMAP_METHOD_AUTO)
        return PORTMAP_ERR_UNSUPPORTED; /* known without asking anyone */
    if (pm_net_refresh_route(c, PM_V4, now) != 0)
        return PORTMAP_ERR_NO_GATEWAY;
    pm_net_probe_all(c, PM_V4, now, deadline, PM_PROBE_RETRY);
    pm_engine_wake(c);
    while (net->avail[method] == PM_AVAIL_PROBING && !c->stopping && !c->closed)
        if (!pm_api_wait_until(c, deadline))
            break;
    if (c->stopping || c->closed)
        return PORTMAP_ERR_CANCELLED;
    if (net->avail[method] == PM_AVAIL_YES)
        return PORTMAP_OK;
    return net->avail[method] == PM_AVAIL_NO ? PORTMAP_ERR_UNSUPPORTED : PORTMAP_ERR_TIMEOUT;
}

PORTMAP_API int portmap_router_mappings(portmap_client *c, portmap_router_entry **out,
                                        size_t *count, int timeout_ms)
{
    portmap_method method;
    const pm_backend *b;
    void *ctl = NULL;
    int64_t deadline;
    uint32_t local;
    int rc;

    if (!c || !out || !count)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    *count = 0;
    if ((rc = pm_api_enter(c)) != PORTMAP_OK)
        return rc;
    deadline = pm_now_ms() + pm_api_timeout(c, timeout_ms);
    method = table_method(c);
    b = pm_backend_of(c, method);
    rc = wait_table(c, method, deadline);
    if (rc == PORTMAP_OK)
        rc = b && b->table_open && b->table_open(c, &ctl) == 0 ? PORTMAP_OK
                                                                : PORTMAP_ERR_UNSUPPORTED;
    pm_api_journal_barrier(c, deadline); /* "held" is read from the journal below */
    local = pm_local4(c);
    pm_api_leave(c);
    if (rc != PORTMAP_OK)
        return rc;
    /* The exchanges run here, without the lock: the engine goes on. */
    rc = b->table_list(ctl, local, deadline, out, count);
    b->table_close(ctl);
    for (size_t i = 0; rc == PORTMAP_OK && i < *count; i++) {
        portmap_router_entry *e = &(*out)[i];
        pm_addr mine = pm_addr_from_v4(local);
        e->held = e->ours && pm_journal_held(c->state_dir, e->protocol, e->internal_port, &mine);
        pm_jq_check_refusal(c);
    }
    return rc;
}

PORTMAP_API int portmap_router_delete(portmap_client *c, const portmap_router_entry *entry,
                                      int timeout_ms)
{
    portmap_method method;
    int64_t deadline;
    int rc;

    if (!c || !entry || !entry->external_port ||
        (entry->protocol != PORTMAP_TCP && entry->protocol != PORTMAP_UDP))
        return PORTMAP_ERR_INVALID_ARGUMENT;
    if ((rc = pm_api_enter(c)) != PORTMAP_OK)
        return rc;
    deadline = pm_now_ms() + pm_api_timeout(c, timeout_ms);
    method = table_method(c);
    rc = wait_table(c, method, deadline);
    if (rc == PORTMAP_OK) {
        pm_journal_entry e = { .external_port = entry->external_port };
        rc = pm_api_delete_on_router(c, PM_V4, entry->protocol, entry->internal_port, method,
                              &e, entry->remote_host, 1, deadline);
    }
    if (rc == PORTMAP_OK) {
        pm_jq_remove(c, entry->protocol, entry->internal_port, &c->net[PM_V4].local);
        pm_engine_wake(c);
    }
    pm_api_journal_barrier(c, deadline); /* the journal in step before the caller knows */
    pm_api_leave(c);
    return rc;
}

PORTMAP_API void portmap_router_entries_free(portmap_router_entry *entries)
{
    free(entries);
}
