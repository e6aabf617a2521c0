/*
 * Releases of what this client does not hold: a port by number
 * (portmap_release_port: the journal's entry, else the router asked
 * first) and the entries dead processes left (portmap_cleanup).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/api.h"

/* orphans claimed from the journal at a time, as many times as needed */
#define PM_CLEANUP_BATCH 64


/* Whether a delete of method's entry of fam that this process did not
 * make asks the router whose it is first (see pm_backend). */
static int owner_checked(portmap_client *c, portmap_method method, int fam)
{
    const pm_backend *b = pm_backend_of(c, method);

    return b && (b->delete_checks_owner & (1u << fam)) != 0;
}

/*
 * Delete a router entry this client does not hold, as if it held it:
 * with the journal entry's nonce for PCP, the external port for UPnP,
 * the pinhole's id for UPnP over IPv6 (e may be NULL: none known). With
 * verify_owner, UPnP asks the router whom the entry maps to first. allow:
 * the entry's remote restriction, which UPnP needs to name it. Lock
 * held; waits at most until deadline.
 */
portmap_mapping *pm_api_start_delete(portmap_client *c, int fam, portmap_transport protocol,
                                     uint16_t internal_port, portmap_method method,
                                     const pm_journal_entry *e, const pm_addr *third,
                                     const char *allow, int verify_owner, int64_t deadline)
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
    if (e && e->by.family)
        third = &e->local;
    if (third && pm_addr_is_set(third))
        m->third = *third; /* owner checks compare with it, PCP names it */
    m->local = pm_mapping_client(c, m);
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
int pm_api_finish_delete(portmap_client *c, portmap_mapping *m, int64_t deadline)
{
    int rc;

    while (!m->release_done && !c->stopping)
        if (!pm_api_wait_until(c, deadline))
            break;
    rc = !m->release_done ? PORTMAP_ERR_TIMEOUT : m->release_err;
    pm_mapping_unref(m);
    return rc;
}

int pm_api_delete_on_router(portmap_client *c, int fam, portmap_transport protocol,
                            uint16_t internal_port, portmap_method method,
                            const pm_journal_entry *e, const char *allow, int verify_owner,
                            int64_t deadline)
{
    portmap_mapping *m = pm_api_start_delete(c, fam, protocol, internal_port, method, e, NULL,
                                             allow, verify_owner, deadline);

    return m ? pm_api_finish_delete(c, m, deadline) : PORTMAP_ERR_NO_MEMORY;
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
    if (pm_api_probe_and_wait(c, 1u << fam, 1u << fam, 0, deadline) != PORTMAP_OK)
        return PORTMAP_METHOD_AUTO;
    pm_api_fill_discovery(c, fam, &d);
    return d.preferred;
}

/* Start the delete of fam's mapping of the port, with its journal entry
 * e (NULL: the journal has none); *out the delete under way, or an
 * error. Lock held. */
static int start_release_fam(portmap_client *c, int fam, portmap_transport protocol,
                             uint16_t internal_port, portmap_method method,
                             const pm_journal_entry *e, const pm_addr *third, int64_t deadline,
                             portmap_mapping **out)
{
    char allow[PORTMAP_ADDRSTRLEN + 4] = "";

    *out = NULL;
    method = release_method(c, fam, method, e, deadline);
    if (method == PORTMAP_METHOD_AUTO)
        return c->stopping ? PORTMAP_ERR_CANCELLED : PORTMAP_ERR_NO_GATEWAY;
    if (!pm_method_has_family(c, method, fam) ||
        (third && !pm_method_third_party(c, method, fam)))
        return PORTMAP_ERR_UNSUPPORTED;
    if (e && e->method != method)
        e = NULL; /* its nonce and port are of another protocol */
    /* Not ours to delete unless we hold a record of it or the router can
     * tell whose it is: a protocol that cannot (PCP, NAT-PMP) deletes
     * only what the journal names. */
    if (!e && !owner_checked(c, method, fam))
        return PORTMAP_ERR_NOT_FOUND;
    if (e)
        pm_allow_str(e->allow_addr, e->allow_prefix, allow, sizeof(allow));
    /* The delete is the first word to the router: no probe waited for.
     * UPnP's first needs the description, which its probe fetches. */
    if (pm_backend_of(c, method)->needs_probe)
        pm_net_probe_all(c, fam, pm_now_ms(), deadline, PM_PROBE_RETRY);
    /* Without a journal entry the port may be nobody's or another host's:
     * UPnP asks the router whom it maps to before deleting anything. */
    *out = pm_api_start_delete(c, fam, protocol, internal_port, method, e, third,
                               e ? allow : NULL, !e, deadline);
    return *out ? PORTMAP_OK : PORTMAP_ERR_NO_MEMORY;
}

/* The outcome of a family's delete, and the journal kept in step (key:
 * the host of its entry). Lock held. */
static int end_release_fam(portmap_client *c, portmap_transport protocol, uint16_t internal_port,
                           const pm_addr *key, int found, portmap_mapping *m, int64_t deadline)
{
    int rc = pm_api_finish_delete(c, m, deadline);

    if (rc == PORTMAP_OK || rc == PORTMAP_ERR_NOT_AUTHORIZED || !found) {
        pm_jq_remove(c, protocol, internal_port, key);
        pm_engine_wake(c);
    }
    return rc;
}

/* portmap_release_port(_for): third NULL for this host's port, else the
 * other host's, whose family alone is looked at. */
static int release_port(portmap_client *c, const pm_addr *third, portmap_transport protocol,
                        uint16_t internal_port, portmap_method method, int timeout_ms)
{
    pm_journal_entry e[PM_FAMS];
    portmap_mapping *del[PM_FAMS] = { NULL };
    int rcs[PM_FAMS] = { PORTMAP_ERR_NOT_FOUND, PORTMAP_ERR_NOT_FOUND };
    int found[PM_FAMS] = { 0 };
    pm_addr key[PM_FAMS];
    int64_t deadline;
    unsigned fams;
    int rc;

    if ((rc = pm_api_enter(c)) != PORTMAP_OK)
        return rc;
    deadline = pm_now_ms() + pm_api_timeout(c, timeout_ms);
    fams = third ? 1u << pm_af_fam(third->family) : pm_api_journal_fams(c, pm_now_ms());
    for (int fam = 0; fam < PM_FAMS; fam++) {
        if (!(fams & (1u << fam)) || pm_net_refresh_route(c, fam, pm_now_ms()) != 0)
            continue;
        /* the journal's key: the host the entry maps to */
        pm_addr local = key[fam] = third ? *third : c->net[fam].local;
        pm_api_journal_barrier(c, deadline);
        pthread_mutex_unlock(&c->lock);
        found[fam] = pm_journal_find(c->state_dir, protocol, internal_port, &local, &e[fam]) == 0;
        pm_jq_check_refusal(c);
        pthread_mutex_lock(&c->lock);
    }
    /* IPv4 as before when the journal has it or knows nothing at all; an
     * IPv6 pinhole of the port goes too when the journal has one. Both
     * deletes go out at once and are waited for together. */
    for (int fam = 0; fam < PM_FAMS; fam++) {
        int wanted = third ? (fams & (1u << fam)) != 0
                   : fam == PM_V4 ? found[PM_V4] || !found[PM_V6] : found[PM_V6];
        if (!wanted)
            continue;
        if (!c->net[fam].route_ok) {
            rcs[fam] = PORTMAP_ERR_NO_GATEWAY;
            continue;
        }
        rcs[fam] = start_release_fam(c, fam, protocol, internal_port, method,
                                     found[fam] ? &e[fam] : NULL, third, deadline, &del[fam]);
    }
    for (int fam = 0; fam < PM_FAMS; fam++)
        if (del[fam])
            rcs[fam] = end_release_fam(c, protocol, internal_port, &key[fam], found[fam], del[fam],
                                       deadline);
    /* the first family's error, unless it had nothing to release */
    rc = rcs[PM_V4] == PORTMAP_ERR_NOT_FOUND ? rcs[PM_V6] : rcs[PM_V4];
    if (rc == PORTMAP_OK && rcs[PM_V6] != PORTMAP_ERR_NOT_FOUND)
        rc = rcs[PM_V6];
    pm_api_journal_barrier(c, deadline); /* the journal in step before the caller knows */
    pm_api_leave(c);
    return rc;
}

static int release_args_ok(portmap_client *c, portmap_transport protocol, uint16_t internal_port,
                           portmap_method method)
{
    return c && internal_port != 0 && (protocol == PORTMAP_TCP || protocol == PORTMAP_UDP) &&
           (unsigned)method < PORTMAP_METHOD_COUNT;
}

PORTMAP_API int portmap_release_port(portmap_client *c, portmap_transport protocol,
                                     uint16_t internal_port, portmap_method method, int timeout_ms)
{
    if (!release_args_ok(c, protocol, internal_port, method))
        return PORTMAP_ERR_INVALID_ARGUMENT;
    return release_port(c, NULL, protocol, internal_port, method, timeout_ms);
}

PORTMAP_API int portmap_release_port_for(portmap_client *c, const char *internal_address,
                                         portmap_transport protocol, uint16_t internal_port,
                                         portmap_method method, int timeout_ms)
{
    pm_addr third;

    if (!release_args_ok(c, protocol, internal_port, method))
        return PORTMAP_ERR_INVALID_ARGUMENT;
    if (!internal_address || !internal_address[0])
        return release_port(c, NULL, protocol, internal_port, method, timeout_ms);
    if (strchr(internal_address, '%') || pm_addr_parse(internal_address, &third) != 0)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    return release_port(c, &third, protocol, internal_port, method, timeout_ms);
}

/* Delete the n orphans of e at once (UPnP's exchanges are paced by the
 * backend's pool of connections) and wait for each; the confirmed ones
 * (gone, or found gone) leave the journal and are counted in *done. The
 * first error, or OK. Lock held. */
static int release_batch(portmap_client *c, int fam, const pm_journal_entry *e, size_t n,
                         int64_t deadline, unsigned *done)
{
    portmap_mapping *m[PM_CLEANUP_BATCH];
    int rc = PORTMAP_OK;

    for (size_t i = 0; i < n; i++) {
        char allow[PORTMAP_ADDRSTRLEN + 4];
        pm_allow_str(e[i].allow_addr, e[i].allow_prefix, allow, sizeof(allow));
        /* a UPnP entry may have been reused by another host since: ask
         * first (a pinhole's id is ours alone) */
        m[i] = pm_api_start_delete(c, fam, e[i].proto, e[i].internal_port, e[i].method, &e[i],
                                   NULL, allow, owner_checked(c, e[i].method, fam), deadline);
    }
    for (size_t i = 0; i < n; i++) {
        int drc = m[i] ? pm_api_finish_delete(c, m[i], deadline) : PORTMAP_ERR_NO_MEMORY;
        if (drc == PORTMAP_OK || drc == PORTMAP_ERR_NOT_FOUND) {
            pm_jq_remove(c, e[i].proto, e[i].internal_port, &e[i].local);
            PM_INFO(c, "released %s port %u, left on the router by process %ld, which died",
                    e[i].proto == PORTMAP_TCP ? "tcp" : "udp", e[i].internal_port, e[i].pid);
            (*done)++;
        } else if (rc == PORTMAP_OK) {
            rc = drc; /* the entry stays, ours now: detached at close */
        }
    }
    pm_engine_wake(c);
    return rc;
}

/* Release fam's orphans of method, claimed from the journal in batches
 * of PM_CLEANUP_BATCH until none is left (a claimed entry is ours from
 * then on: the next claim takes the next ones). Counts them in *done;
 * the first error, or OK. Lock held, dropped while claiming. */
static int cleanup_method(portmap_client *c, int fam, portmap_method meth, int64_t deadline,
                          unsigned *done)
{
    pm_journal_entry e[PM_CLEANUP_BATCH];
    int rc = PORTMAP_OK, brc;
    size_t n;

    do {
        pm_addr gw = c->net[fam].gateway, local = c->net[fam].local;
        pthread_mutex_unlock(&c->lock);
        n = pm_journal_claim_orphans(c->state_dir, &gw, &local, PORTMAP_HAVE(meth),
                                     (long)getpid(), e, PM_CLEANUP_BATCH);
        pm_jq_check_refusal(c);
        pthread_mutex_lock(&c->lock);
        brc = release_batch(c, fam, e, n, deadline, done);
        if (rc == PORTMAP_OK)
            rc = brc;
    } while (n == PM_CLEANUP_BATCH && !c->stopping && pm_now_ms() < deadline);
    return rc;
}

/* For each family in fams, the protocols the journal's orphans there were
 * made through: the probe waits for their answer (pm_net.expected). */
static void expect_orphans(portmap_client *c, unsigned fams)
{
    for (int fam = 0; fam < PM_FAMS; fam++) {
        pm_addr gw, local;
        unsigned methods;
        if (!(fams & (1u << fam)) || pm_net_refresh_route(c, fam, pm_now_ms()) != 0)
            continue;
        gw = c->net[fam].gateway;
        local = c->net[fam].local;
        pthread_mutex_unlock(&c->lock);
        methods = pm_journal_orphan_methods(c->state_dir, &gw, &local);
        pm_jq_check_refusal(c);
        pthread_mutex_lock(&c->lock);
        c->net[fam].expected = methods;
    }
}

/* Cleanup knows what to do once the protocols its orphans were made
 * through have each answered or been found missing, and the router has
 * answered in some protocol (else there is no gateway): a protocol still
 * silent then has no orphan to release, however long it takes. */
static int orphans_protocols_known(const portmap_client *c, const void *arg)
{
    (void)arg;
    for (int fam = 0; fam < PM_FAMS; fam++)
        for (int i = 1; i < PORTMAP_METHOD_COUNT; i++)
            if ((c->net[fam].expected & PORTMAP_HAVE(i)) &&
                c->net[fam].avail[i] == PM_AVAIL_PROBING)
                return 0;
    return pm_net_first_answered(c) != PORTMAP_METHOD_AUTO;
}

PORTMAP_API int portmap_cleanup(portmap_client *c, int timeout_ms, unsigned *released)
{
    unsigned done = 0;
    int64_t deadline;
    unsigned fams;
    int rc;

    if (released)
        *released = 0;
    if (!c)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    if ((rc = pm_api_enter(c)) != PORTMAP_OK)
        return rc;
    deadline = pm_now_ms() + pm_api_timeout(c, timeout_ms);
    fams = pm_api_journal_fams(c, pm_now_ms());
    expect_orphans(c, fams);
    rc = pm_api_probe_and_wait_for(c, fams, fams, 0, deadline, orphans_protocols_known, NULL);
    for (int k = 0; rc == PORTMAP_OK && k < PM_FAMS * PORTMAP_METHOD_COUNT; k++) {
        int fam = k / PORTMAP_METHOD_COUNT, meth = k % PORTMAP_METHOD_COUNT;
        if (meth == PORTMAP_METHOD_AUTO || c->net[fam].avail[meth] != PM_AVAIL_YES)
            continue;
        rc = cleanup_method(c, fam, (portmap_method)meth, deadline, &done);
    }
    for (int fam = 0; fam < PM_FAMS; fam++)
        c->net[fam].expected = 0;
    pm_api_journal_barrier(c, deadline); /* the journal in step before the caller knows */
    pm_api_leave(c);
    if (released)
        *released = done;
    return rc;
}
