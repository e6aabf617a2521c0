/*
 * The router's own table (UPnP-IGD: the backends with table_list): listed on the caller's thread
 * through the backend's table_list, and one entry deleted after checking
 * that it maps to this host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* How many of the client's protocols are in state a on the IPv4 net. */
static unsigned count_avail(const portmap_client *c, pm_avail a)
{
    unsigned n = 0;

    for (unsigned i = 0; i < c->n_order; i++)
        n += c->net[PM_V4].avail[c->order[i]] == a;
    return n;
}

/* Whether to go on waiting: for method's answer, and once method is out,
 * for the others while none answered, to tell a router without it
 * (UNSUPPORTED) from one where nothing answers at all (NO_GATEWAY, as
 * portmap_discover says). A protocol that answered ends the wait. */
static int table_pending(const portmap_client *c, portmap_method method)
{
    int a = c->net[PM_V4].avail[method];

    if (a == PM_AVAIL_PROBING)
        return 1;
    return a == PM_AVAIL_NO && !count_avail(c, PM_AVAIL_YES) && count_avail(c, PM_AVAIL_PROBING);
}

/* The IPv4 router's answer in method, or why not. Lock held. */
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
    while (table_pending(c, method) && !c->stopping && !c->closed)
        if (!pm_api_wait_until(c, deadline))
            break;
    if (c->stopping || c->closed)
        return PORTMAP_ERR_CANCELLED;
    if (net->avail[method] == PM_AVAIL_YES)
        return PORTMAP_OK;
    if (net->avail[method] != PM_AVAIL_NO)
        return PORTMAP_ERR_TIMEOUT;
    /* every protocol refused or never answered: there is no router to ask */
    return count_avail(c, PM_AVAIL_NO) == c->n_order ? PORTMAP_ERR_NO_GATEWAY
                                                      : PORTMAP_ERR_UNSUPPORTED;
}

/* held: the journal (read once) names the entry, made from our address
 * local (for this host, or for the other host it maps to), and its
 * process runs */
static void mark_held(portmap_client *c, uint32_t local, portmap_router_entry *e, size_t n)
{
    pm_addr mine = pm_addr_from_v4(local);
    pm_journal_entry *j = NULL;
    size_t nj = 0;

    if (pm_journal_list(c->state_dir, &j, &nj) != 0) {
        pm_jq_check_refusal(c);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        pm_addr client;
        if (pm_addr_parse(e[i].internal_client, &client) != 0)
            continue;
        for (size_t k = 0; k < nj; k++)
            if (j[k].proto == e[i].protocol && j[k].internal_port == e[i].internal_port &&
                pm_addr_eq(&j[k].local, &client) && pm_addr_eq(pm_journal_owner(&j[k]), &mine))
                e[i].held = pm_journal_entry_held(&j[k]);
    }
    free(j);
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
    if (rc == PORTMAP_OK)
        mark_held(c, local, *out, *count);
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

/* A journal entry as an entry of a listing of family's (AF_INET: the
 * mappings on the router at gw, any when gw is unset; AF_INET6: the
 * pinholes, no translation); 0 when it is none (the other family, another
 * router's, or run out with nobody holding it). */
static int journal_entry(const pm_journal_entry *j, int family, const pm_addr *gw,
                         int64_t now_unix, portmap_router_entry *e)
{
    int held = pm_journal_entry_held(j);

    if (j->local.family != family || (gw->family && !pm_addr_eq(&j->gateway, gw)) ||
        (!held && j->expires_unix <= now_unix))
        return 0;
    memset(e, 0, sizeof(*e));
    e->protocol = j->proto;
    e->internal_port = j->internal_port;
    e->external_port = family == AF_INET && j->external_port ? j->external_port
                                                             : j->internal_port;
    pm_addr_fmt(&j->local, e->internal_client, sizeof(e->internal_client));
    if (j->allow_addr)
        pm_allow_str(j->allow_addr, j->allow_prefix, e->remote_host, sizeof(e->remote_host));
    snprintf(e->description, sizeof(e->description), "%s", portmap_method_name(j->method));
    e->lease = j->expires_unix > now_unix ? (uint32_t)PM_MIN(j->expires_unix - now_unix,
                                                            (int64_t)UINT32_MAX)
                                          : 0;
    e->enabled = 1;
    e->ours = !j->by.family; /* else made from here for another host */
    e->held = held;
    e->ipv6 = family == AF_INET6;
    return 1;
}

/* This host's entries of family's in the journal, as a listing. */
static int journal_listing(portmap_client *c, int family, portmap_router_entry **out,
                           size_t *count)
{
    pm_journal_entry *j = NULL;
    pm_addr gw = { .family = 0 };
    size_t n = 0;
    int64_t now_unix = (int64_t)time(NULL);
    int rc;

    if (!c || !out || !count)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    *count = 0;
    if ((rc = pm_api_enter(c)) != PORTMAP_OK)
        return rc;
    if (family == AF_INET)
        gw = c->net[PM_V4].gateway; /* unset before the route is read: every router's */
    pm_jq_barrier(c, pm_now_ms() + pm_api_timeout(c, 0)); /* our own writes first */
    pm_api_leave(c);
    /* read without the lock, as the journal always is by a caller's thread */
    if (pm_journal_list(c->state_dir, &j, &n) != 0) {
        pm_jq_check_refusal(c);
        return PORTMAP_ERR_SYSTEM;
    }
    *out = calloc(n ? n : 1, sizeof(**out));
    if (!*out) {
        free(j);
        return PORTMAP_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++)
        *count += (size_t)journal_entry(&j[i], family, &gw, now_unix, &(*out)[*count]);
    free(j);
    return PORTMAP_OK;
}

PORTMAP_API int portmap_router_pinholes(portmap_client *c, portmap_router_entry **out,
                                        size_t *count)
{
    return journal_listing(c, AF_INET6, out, count);
}

PORTMAP_API int portmap_journal_mappings(portmap_client *c, portmap_router_entry **out,
                                         size_t *count)
{
    return journal_listing(c, AF_INET, out, count);
}

PORTMAP_API void portmap_router_entries_free(portmap_router_entry *entries)
{
    free(entries);
}
