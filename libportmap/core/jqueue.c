/*
 * Journal writes, queued under the client lock and done by the engine
 * without it: a write takes the directory's flock and fsyncs, and no
 * public call is to wait behind that for the lock. The queue keeps the
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
    c->jops[c->n_jops++] = *op;
    c->jops_queued++;
}

void pm_jq_put(portmap_client *c, const pm_journal_entry *e)
{
    pm_jop op = { .put = 1, .e = *e };

    push(c, &op);
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

static void write_one(portmap_client *c, const char *dir, const pm_jop *op)
{
    int rc = op->put ? pm_journal_put(dir, &op->e)
                     : pm_journal_remove(dir, op->e.proto, op->e.internal_port, &op->e.local);
    if (rc == PM_JOURNAL_UNSAFE)
        pm_jq_check_refusal(c);
    else if (rc != 0)
        PM_DEBUG(c, "journal: cannot %s port %u in %s", op->put ? "record" : "forget",
                 op->e.internal_port, dir);
}

void pm_jq_run(portmap_client *c, int unlock)
{
    while (c->n_jops && !c->journal_busy) {
        pm_jop *ops = c->jops;
        size_t n = c->n_jops;
        uint64_t upto = c->jops_queued;

        /* detached: writes queued meanwhile wait for the next batch */
        c->jops = NULL;
        c->n_jops = c->cap_jops = 0;
        c->journal_busy = 1;
        if (unlock)
            pthread_mutex_unlock(&c->lock);
        for (size_t i = 0; i < n; i++)
            write_one(c, c->state_dir, &ops[i]);
        free(ops);
        if (unlock)
            pthread_mutex_lock(&c->lock);
        c->journal_busy = 0;
        c->jops_done = upto;
        pthread_cond_broadcast(&c->cond);
    }
}

void pm_jq_barrier(portmap_client *c, int64_t deadline)
{
    uint64_t want = c->jops_queued;

    /* a caller past its deadline still gets the writes it caused (a flock
     * is held for one load and store: far less than this) */
    deadline = PM_MAX(deadline, pm_now_ms() + PM_JQ_GRACE_MS);
    while (c->jops_done < want && !c->closed) {
        struct timespec ts = { .tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000 };
        if (pm_now_ms() >= deadline)
            return;
        pthread_cond_timedwait(&c->cond, &c->lock, &ts);
    }
}

void pm_jq_free(portmap_client *c)
{
    free(c->jops);
    c->jops = NULL;
    c->n_jops = c->cap_jops = 0;
}
