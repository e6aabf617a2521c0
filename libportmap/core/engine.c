/*
 * The engine thread: one per client. It sleeps in poll() until a socket
 * is readable, a timer is due or a public call wakes it, so holding many
 * mappings costs no wake-ups between their deadlines. Each round: a pass
 * over the mappings that are due (a timer heap keyed on each one's next
 * deadline), were kicked (a reply, a reset) or are watched (pending
 * requests) and nothing else: the state machine; what it asked for (routes,
 * probes), the orphans' journal claims and the journal writes without the
 * lock, the callbacks without the lock, then poll.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/core.h"
#include "sys/route.h"

/* the wants of one pass may make more: bounded, the next round goes on */
#define PM_PASSES_MAX 4
/* orphans claimed from the journal at a time (as many times as needed) */
#define PM_ORPHANS_MAX 64

void pm_engine_wake(portmap_client *c)
{
    uint64_t one = 1;
    ssize_t n;

    if (c->wake_fd < 0)
        return;
    n = write(c->wake_fd, &one, sizeof(one));
    (void)n; /* EAGAIN means a wake-up is already pending */
}

static int reader_fd(const portmap_client *c, int fd)
{
    for (unsigned i = 0; i < c->n_reader_fds; i++)
        if (c->reader_fds[i] == fd)
            return 1;
    return 0;
}

/* A caller reads these sockets (reader.c): the engine neither polls them
 * (poll skips a negative fd) nor reads them, or both threads would wake
 * on a reply and the engine, taking the lock first, would hand it to the
 * caller with a second wake-up. The reader wakes the engine when it
 * leaves. */
static void mask_reader_fds(portmap_client *c, struct pollfd *fds, size_t n)
{
    for (size_t i = 0; c->n_reader_fds && i < n; i++) {
        if (fds[i].fd >= 0 && reader_fd(c, fds[i].fd)) {
            fds[i].fd = -1;
            c->reader_masked = 1;
        }
    }
}

/* A set polled before the reader came: what it says of the reader's
 * sockets is the reader's. */
static void drop_reader_results(portmap_client *c, struct pollfd *fds, size_t n)
{
    for (size_t i = 0; c->n_reader_fds && i < n; i++)
        if (fds[i].revents && reader_fd(c, fds[i].fd))
            fds[i].revents = 0;
}

static size_t build_pollset(portmap_client *c, int64_t *deadline, size_t *first_backend)
{
    size_t need = 2, n = 0;

    for (int i = 0; i < PORTMAP_METHOD_COUNT; i++)
        if (c->backends[i])
            need += c->backends[i]->count_pollfds(c);
    if (need > c->cap_pfds) {
        struct pollfd *p = realloc(c->pfds, need * sizeof(*p));
        if (!p) {
            need = c->cap_pfds; /* run with what we have; retried next round */
        } else {
            c->pfds = p;
            c->cap_pfds = need;
        }
    }
    c->pfds[n++] = (struct pollfd){ .fd = c->wake_fd, .events = POLLIN };
    c->pfds[n++] = (struct pollfd){ .fd = c->nl_fd, .events = POLLIN };
    *first_backend = n;
    for (int i = 0; i < PORTMAP_METHOD_COUNT; i++) {
        if (!c->backends[i])
            continue;
        n += c->backends[i]->add_pollfds(c, c->pfds + n, c->cap_pfds - n, deadline);
    }
    mask_reader_fds(c, c->pfds + *first_backend, n - *first_backend);
    return n;
}

static void dispatch_backends(portmap_client *c, size_t first, size_t n, int64_t now)
{
    drop_reader_results(c, c->pfds + first, n - first);
    /* Each backend finds its own descriptors in the set: it added them in
     * order, and the count it adds is stable while the lock is held. */
    for (int i = 0; i < PORTMAP_METHOD_COUNT; i++) {
        if (c->backends[i])
            c->backends[i]->dispatch(c, c->pfds + first, n - first, now);
    }
}

/* m's service, then its place in the indexes: its next deadline in the
 * timer heap, or in the list serviced every pass. The caller holds a
 * reference: m may be unlinked here. */
static void service_one(portmap_client *c, portmap_mapping *m, int64_t now, int64_t *deadline)
{
    int64_t next = PM_NEVER;

    m->pass = c->pass;
    pm_mapping_service(c, m, now, &next);
    /* Finished mappings stay listed while the caller holds the handle,
     * so portmap_close() can free every handle. */
    if ((m->state == PORTMAP_STATE_RELEASED || m->state == PORTMAP_STATE_FAILED) &&
        m->handle_dropped && !(m->twin && pm_mapping_listed(c, m->twin))) {
        pm_mapping_unlink(c, m);
        return;
    }
    pm_mapping_schedule(c, m, next, pm_mapping_watched(m));
    *deadline = PM_MIN(*deadline, next);
}

static portmap_mapping *of_timer(pm_heap_node *x)
{
    return (portmap_mapping *)((char *)x - offsetof(portmap_mapping, timer));
}

/* One pass: the watched mappings, then those whose deadline has come or
 * that were kicked; each at most once. One kicked again after its turn
 * (by another's service) keeps its place for the next pass. */
static void service_due(portmap_client *c, int64_t now, int64_t *deadline)
{
    portmap_mapping **watched, *again = NULL;
    pm_heap_node *x;
    size_t n;

    c->pass++;
    watched = pm_watch_list(c, &n);
    for (size_t i = 0; i < n; i++) {
        if (watched[i]->in_list && watched[i]->pass != c->pass)
            service_one(c, watched[i], now, deadline);
        pm_mapping_unref(watched[i]);
    }
    free(watched);
    while ((x = pm_heap_top(&c->timers)) && x->key <= now) {
        portmap_mapping *m = of_timer(x);
        pm_heap_remove(&c->timers, x);
        if (m->pass == c->pass) {
            if (!m->again) { /* kicked again while waiting: once */
                m->again = 1;
                m->again_next = again;
                again = m;
            }
            continue;
        }
        pm_mapping_ref(m);
        service_one(c, m, now, deadline);
        pm_mapping_unref(m);
    }
    while (again) {
        portmap_mapping *m = again;
        again = m->again_next;
        m->again_next = NULL;
        m->again = 0;
        pm_heap_set(&c->timers, &m->timer, m->timer.key);
    }
    if ((x = pm_heap_top(&c->timers)))
        *deadline = PM_MIN(*deadline, x->key);
}

static int run_wants(portmap_client *c, int64_t now)
{
    int did = 0;

    for (int fam = 0; fam < PM_FAMS; fam++)
        did |= pm_net_run_wants(c, fam, now);
    return did;
}

void pm_engine_pass(portmap_client *c, int64_t now, int64_t *deadline)
{
    if (c->route_dirty) {
        c->route_dirty = 0;
        for (int fam = 0; fam < PM_FAMS; fam++)
            if (fam == PM_V4 || (c->fams_used & (1u << fam)))
                pm_net_refresh_route(c, fam, now);
    }
    for (int pass = 0; pass < PM_PASSES_MAX; pass++) {
        for (int fam = 0; fam < PM_FAMS; fam++) {
            pm_net_end_probes(c, fam, now, deadline);
            pm_net_run_checks(c, fam, now, deadline);
            /* a request named another host: its LAN check needs the subnets */
            if (c->lan_wanted && c->net[fam].route_ok && !c->net[fam].lan_read)
                pm_net_read_lan(&c->net[fam]);
        }
        service_due(c, now, deadline);
        if (!run_wants(c, now))
            return;
    }
    *deadline = 0; /* more asked than done: the next round goes on at once */
}

/* The journal entries that dead processes left for the protocols that
 * have just answered, claimed without the lock (flock, a journal store),
 * then released like any mapping. Every protocol that answered since the
 * last round is one sweep of the journal: a reply of another probe that
 * lands in the same round does not make a second one. */
static void claim_orphans(portmap_client *c, int64_t now)
{
    for (int fam = 0; fam < PM_FAMS; fam++) {
        pm_net *net = &c->net[fam];
        while (net->orphans_due) {
            unsigned methods = net->orphans_due;
            pm_addr gw = net->gateway, local = net->local;
            pm_journal_entry *e = malloc(PM_ORPHANS_MAX * sizeof(*e));
            size_t n = 0, kept = 0;

            net->orphans_due = 0;
            if (!e)
                return;
            pm_unlock_and_wake(c);
            n = pm_journal_claim_orphans(c->state_dir, &gw, &local, methods, c->pid, e,
                                         PM_ORPHANS_MAX);
            pm_jq_check_refusal(c);
            pthread_mutex_lock(&c->lock);
            /* the network may have changed meanwhile: the entries stay in
             * the journal under our pid, for the next client once we are
             * gone */
            for (size_t i = 0; i < n && pm_addr_eq(&gw, &net->gateway); i++)
                if (net->avail[e[i].method] == PM_AVAIL_YES)
                    e[kept++] = e[i];
            pm_orphans_release(c, e, kept, now);
            /* a full batch: there may be more (claimed ones are ours now,
             * the next claim takes the next ones) */
            if (n == PM_ORPHANS_MAX && pm_addr_eq(&gw, &net->gateway))
                net->orphans_due |= methods;
            free(e);
        }
    }
}

static void drain_wake(portmap_client *c)
{
    uint64_t v;
    ssize_t n = read(c->wake_fd, &v, sizeof(v));
    (void)n;
}

void pm_engine_cancel_all(portmap_client *c)
{
    for (portmap_mapping *m = c->mappings; m; m = m->next) {
        pm_mapping_stop_op(c, m);
        if (m->state == PORTMAP_STATE_RELEASED)
            continue;
        if (m->state == PORTMAP_STATE_PENDING) {
            m->last_error = PORTMAP_ERR_CANCELLED;
            pm_mapping_set_state(c, m, PORTMAP_STATE_FAILED);
            pm_event_queue(c, m, PORTMAP_EVENT_FAILED);
        }
        pm_mapping_set_state(c, m, PORTMAP_STATE_RELEASED);
        pm_event_queue(c, m, PORTMAP_EVENT_RELEASED);
    }
    for (int i = 0; i < PORTMAP_METHOD_COUNT; i++)
        for (int fam = 0; fam < PM_FAMS; fam++)
            if (c->backends[i])
                c->backends[i]->reset(c, fam);
}

/* The round's events (MAPPED...) first, then the journal writes, in
 * batches of a few rounds (pm_jq_due): the caller is not kept waiting
 * for the journal's flock and store. Writes that must precede the events
 * go first (jqueue.c). */
static void deliver(portmap_client *c, int64_t *deadline)
{
    pm_jq_run_early(c);
    pm_events_deliver(c);
    if (pm_jq_due(c, pm_now_ms(), deadline))
        pm_jq_run(c, 1);
}

/* What a round does besides poll: each step may drop the lock (journal,
 * callbacks), after which the state is read again. */
static void round_work(portmap_client *c, int64_t now, int64_t *deadline)
{
    pm_engine_pass(c, now, deadline);
    deliver(c, deadline);
    claim_orphans(c, now);
}

/* A poll without a wait is for work queued (deadline 0), or a spin: a
 * timer that was due when the round's pass ran and that it left due. One
 * that came due while the round ran (after the pass's now) is neither. */
static void count_poll(portmap_client *c, int64_t deadline, int64_t round_now)
{
    c->polls++;
    if (deadline == 0)
        c->polls_for_work++;
    else if (deadline <= round_now)
        c->polls_overdue++;
}

void *pm_engine_main(void *arg)
{
    portmap_client *c = arg;

    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        int64_t deadline = PM_NEVER, round_now = pm_now_ms();
        size_t first, n;
        struct timespec ts;

        round_work(c, round_now, &deadline);
        if (c->stopping)
            break;
        if (c->n_events || c->route_dirty || pm_jq_due(c, pm_now_ms(), &deadline))
            deadline = 0; /* queued while the lock was dropped */
        n = build_pollset(c, &deadline, &first);
        if (deadline != PM_NEVER)
            ts = pm_timespec_until(deadline);
        count_poll(c, deadline, round_now);
        c->wake_due = 1; /* every round: whatever changed, waiters look */
        pm_unlock_and_wake(c);
        if (ppoll(c->pfds, n, deadline == PM_NEVER ? NULL : &ts, NULL) < 0 && errno != EINTR)
            usleep(10000); /* poll failing means a bad fd: do not spin */
        pthread_mutex_lock(&c->lock);
        if (c->pfds[0].revents)
            drain_wake(c);
        if (c->nl_fd >= 0 && c->pfds[1].revents && pm_route_netlink_drain(c->nl_fd))
            c->route_dirty = 1;
        dispatch_backends(c, first, n, pm_now_ms());
        deliver(c, &deadline); /* the next round sets its own deadline */
    }
    pm_engine_cancel_all(c);
    pm_jq_run(c, 1);
    pm_events_deliver(c);
    PM_DEBUG(c, "engine: %llu polls; without a wait: %llu for work queued, %llu for a timer "
                "already due; replies read by a waiting caller: %llu, its wake-ups: %llu",
             (unsigned long long)c->polls, (unsigned long long)c->polls_for_work,
             (unsigned long long)c->polls_overdue, (unsigned long long)c->read_by_waiter,
             (unsigned long long)c->reader_woken);
    c->closed = 1;
    pthread_cond_broadcast(&c->cond);
    pm_reader_wake(pm_reader_efd(c));
    pthread_mutex_unlock(&c->lock);
    return NULL;
}
