/*
 * Mappings that dead processes left on the router.
 *
 * A process killed with SIGKILL cannot release its mappings; the journal
 * still names them with the dead pid. The next client that finds the same
 * router through a protocol takes those entries over and releases them in
 * the background, through the ordinary delete operation, so that an open
 * port never outlives its owner by more than one client start.
 */
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/* Start the delete of one orphan; the engine finishes it like any release.
 * The journal entry goes when the router confirms (set_released). */
static void release_one(portmap_client *c, const pm_journal_entry *e, int64_t now)
{
    portmap_request r;
    portmap_mapping *m;

    portmap_request_init(&r);
    r.protocol = e->proto;
    r.internal_port = e->internal_port;
    r.method = e->method;
    r.family = e->local.family == AF_INET6 ? PORTMAP_IPV6 : PORTMAP_IPV4;
    m = pm_mapping_new(c, &r, now);
    if (!m)
        return;
    m->internal = 1;
    m->handle_dropped = 1;
    m->orphan_of = e->pid;
    m->journaled = 1;
    /* a UPnP entry may have been reused by another host since: ask first */
    m->verify_owner = pm_backend_of(c, e->method) &&
                      (pm_backend_of(c, e->method)->delete_checks_owner & (1u << m->fam));
    m->method = m->op_method = e->method;
    m->local = e->local; /* a pinhole's id is asked again: see delete_on_router() */
    if (e->by.family)
        m->third = e->local; /* another host's: PCP names it again (THIRD_PARTY) */
    m->ext_port = e->external_port;
    m->allow_addr = e->allow_addr;
    m->allow_prefix = e->allow_prefix;
    memcpy(m->nonce, e->nonce, sizeof(m->nonce));
    m->state = PORTMAP_STATE_RELEASING;
    m->op_deadline = now + (c->s.timeout_ms > 0 ? c->s.timeout_ms : 10000);
    pm_mapping_start_op(c, m, PM_OP_DELETE, now);
    pm_mapping_unref(m); /* nobody waits: the client's list keeps it */
}

void pm_orphans_release(portmap_client *c, const pm_journal_entry *e, size_t n, int64_t now)
{
    for (size_t i = 0; i < n; i++) {
        PM_INFO(c, "%s port %u was left on the router by process %ld, which died: releasing it",
                e[i].proto == PORTMAP_TCP ? "tcp" : "udp", e[i].internal_port, e[i].pid);
        release_one(c, &e[i], now);
    }
}
