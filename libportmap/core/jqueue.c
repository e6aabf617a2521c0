/*
 * Journal writes, queued under the client lock and done by the engine
 * without it: a write takes the directory's flock (and fsyncs off tmpfs),
 * and no public call is to wait behind that for the lock. What queued up
 * since the last batch goes in one store (pm_journal_apply): 1,000
 * mappings answered in one round are one journal write, not 1,000.
 *
 * The engine writes after it delivered the events of the round (the
 * MAPPED callback is not kept waiting for a flock and a file write), and
 * holds writes up to PM_JQ_BATCH_MS for more to join the batch, unless
 * someone waits for them (portmap_sync_journal(), a release, a read of
 * the journal: pm_jq_barrier, which writes the batch on the caller's
 * thread). portmap_mapping_wait() does not wait for the write. Crash
 * consistency this keeps: a process that dies between MAPPED and the
 * write leaves a mapping no journal names, so no later client releases
 * it; it lasts until its lease runs out on the router (at most the
 * lifetime asked for, 2 h by default), as one of a process killed before
 * the router's answer does.
 * A lease that never runs out (a UPnP router that grants only permanent
 * ones, error 725) would stay forever: its write is early, done before
 * the events are delivered. The queue keeps the
 * order of the writes (a put and the remove that follows it); readers of
 * the journal on a caller's thread first wait for the queue to drain
 * (pm_jq_barrier), so they see every write queued before them. Whoever
 * queues from a caller's thread wakes the engine.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

#define PM_JQ_GRACE_MS 2000
/* Writes wait this long for more to join their batch, unless someone
 * waits for them: mappings answered over a few rounds (1,000 requests'
 * replies come in many, over ~20 ms) are a few stores, not one per
 * round. Short: the write, when it comes, holds the engine for tens of
 * us, and the next request of a program that maps one port after
 * another should not find it busy. */
#define PM_JQ_BATCH_MS 5

_Static_assert(PM_JOURNAL_NONCE_LEN == PM_NONCE_LEN, "the journal keeps the mapping's nonce");

static void push(portmap_client *c, const pm_jop *op)
{
    if (c->n_jops == c->cap_jops) {
        size_t cap = c->cap_jops ? c->cap_jops * 2 : 16;
        pm_jop *n = realloc(c->jops, cap * sizeof(*n));
        if (!n) {
            PM_ERR(c, "out of memory: a journal write of port %u is lost", op->e.internal_port);
            return;
        }
        c->jops = n;
        c->cap_jops = cap;
    }
    if (!c->n_jops)
        c->jops_since = pm_now_ms();
    c->jops[c->n_jops++] = *op;
    c->jops_queued++;
}

void pm_jq_put(portmap_client *c, const pm_journal_entry *e, int early)
{
    pm_jop op = { .put = 1, .e = *e };

    push(c, &op);
    c->jops_early |= early;
}

void pm_jq_remove(portmap_client *c, portmap_transport proto, uint16_t internal_port,
                  const pm_addr *local)
{
    pm_jop op = { .put = 0 };

    op.e.proto = proto;
    op.e.internal_port = internal_port;
    op.e.local = *local;
    push(c, &op);
}

void pm_jq_check_refusal(portmap_client *c)
{
    const char *why = pm_journal_refusal();

    /* the reason is the calling thread's; the flag is shared by the engine
     * and the callers' threads */
    if (why && !__atomic_exchange_n(&c->journal_warned, 1, __ATOMIC_RELAXED))
        PM_WARN(c, "journal: state directory refused: %s; going on without it (another "
                "process cannot release this one's mappings, nor clean them up after a crash)",
                why);
}

static void write_batch(portmap_client *c, const char *dir, const pm_jop *ops, size_t n)
{
    int rc = pm_journal_apply(dir, ops, n);

    if (rc == PM_JOURNAL_UNSAFE)
        pm_jq_check_refusal(c);
    else if (rc != 0)
        PM_DEBUG(c, "journal: cannot record %zu change%s (port %u%s) in %s", n, n == 1 ? "" : "s",
                 ops[0].e.internal_port, n > 1 ? " and more" : "", dir);
}

void pm_jq_run(portmap_client *c, int unlock)
{
    c->jops_early = 0;
    while (c->n_jops && !c->journal_busy) {
        pm_jop *ops = c->jops;
        size_t n = c->n_jops;
        uint64_t upto = c->jops_queued;

        /* detached: writes queued meanwhile wait for the next batch */
        c->jops = NULL;
        c->n_jops = c->cap_jops = 0;
        c->journal_busy = 1;
        if (unlock)
            pm_unlock_and_wake(c);
        write_batch(c, c->state_dir, ops, n);
        free(ops);
        if (unlock)
            pthread_mutex_lock(&c->lock);
        c->journal_busy = 0;
        c->jops_done = upto;
        pm_wake_waiters(c);
    }
}

void pm_jq_run_early(portmap_client *c)
{
    if (c->jops_early)
        pm_jq_run(c, 1);
}

int pm_jq_due(const portmap_client *c, int64_t now, int64_t *deadline)
{
    if (!c->n_jops || c->journal_busy)
        return 0;
    if (c->jops_early || c->jops_waiters || c->stopping || now >= c->jops_since + PM_JQ_BATCH_MS)
        return 1;
    *deadline = PM_MIN(*deadline, c->jops_since + PM_JQ_BATCH_MS);
    return 0;
}

void pm_jq_barrier(portmap_client *c, int64_t deadline)
{
    uint64_t want = c->jops_queued;

    /* a caller past its deadline still gets the writes it caused (a flock
     * is held for one load and store: far less than this) */
    deadline = PM_MAX(deadline, pm_now_ms() + PM_JQ_GRACE_MS);
    if (c->jops_done >= want || c->closed)
        return;
    c->jops_waiters++; /* the batch is not held back for more (pm_jq_due) */
    while (c->jops_done < want && !c->closed) {
        struct timespec ts = { .tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000 };
        if (!c->journal_busy) {
            /* written here, in order (journal_busy keeps one writer):
             * not a round trip through the engine's thread */
            pm_jq_run(c, 1);
            continue;
        }
        if (pm_now_ms() >= deadline)
            break;
        pthread_cond_timedwait(&c->cond, &c->lock, &ts);
    }
    c->jops_waiters--;
}

void pm_jq_free(portmap_client *c)
{
    free(c->jops);
    c->jops = NULL;
    c->n_jops = c->cap_jops = 0;
}
