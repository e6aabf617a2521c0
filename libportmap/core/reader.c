/*
 * A caller waiting for its mapping reads the reply itself. Otherwise the
 * reply wakes the engine, which then wakes the caller: two wake-ups of a
 * sleeping thread on the way from the router to the caller, where a bare
 * exchange has one (each 0.05-0.2 ms on a VM's idle CPU, a fifth of a LAN
 * round trip).
 *
 * Only for sockets a backend names (pm_backend.reply_fd: PCP's datagram
 * socket while the mapping's exchange is under way). One caller reads at
 * a time; others wait on the condition variable as before. While it
 * reads, the engine leaves those sockets to it (engine.c: neither polled
 * nor read) and keeps the rest: resends, deadlines, events, the journal.
 * The reader dispatches what it reads through the backend's own dispatch,
 * under the lock, as the engine would, then wakes the engine to deliver
 * the events and schedule the mappings it touched: callbacks stay on the
 * engine thread.
 *
 * The reader is woken through an eventfd it polls with its sockets, where
 * condition-variable waiters are woken (core.h's pm_wake_waiters, the
 * engine's every round, close) but only when its wait is stale: the
 * sockets it would poll now differ from those it polls (its exchange
 * ended, moved to another protocol, a socket was replaced) or the client
 * stops. The engine's probes of a fresh client's other protocols change
 * nothing of its wait, and each of their rounds woke it for nothing (two
 * wake-ups before the reply on the lab router; on two CPUs, a CPU the
 * router's reply may be waiting for).
 *
 * The reader wakes the engine for what it dispatched after it drops the
 * lock (pm_reader_done, or before it polls again): woken before, the
 * engine only blocks on the lock the reader holds.
 */
#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>

#include "core/reader.h"

/* The sockets a reader of m polls: m's and its twin's. */
static void parts_of(const portmap_client *c, const portmap_mapping *m, pm_reader *rd)
{
    int fds[PM_FAMS];

    rd->n = pm_backend_reply_fds(c, m, fds, rd->b);
    for (unsigned i = 0; i < rd->n; i++)
        rd->fds[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
}

static int have_efd(portmap_client *c)
{
    if (c->reader_efd < 0)
        c->reader_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return c->reader_efd >= 0;
}

static void drain_efd(portmap_client *c)
{
    uint64_t v;
    ssize_t n = read(c->reader_efd, &v, sizeof(v));
    (void)n;
}

/* Take the reader's place with rd's sockets, or update them. */
static void take(portmap_client *c, const portmap_mapping *m, pm_reader *rd)
{
    c->n_reader_fds = rd->n; /* at least one: the reader's place is taken */
    for (unsigned i = 0; i < rd->n; i++)
        c->reader_fds[i] = rd->fds[i].fd;
    c->reader_m = m;
    rd->reading = 1;
}

/* What the poll found, dispatched by each backend once, as the engine
 * would; the engine is to be woken for the events and timers. */
static void dispatch(portmap_client *c, pm_reader *rd)
{
    int64_t now = pm_now_ms();
    int any = 0;

    for (unsigned i = 0; i < rd->n; i++)
        any |= rd->fds[i].revents != 0;
    if (!any)
        return;
    c->reader_dispatching = 1;
    for (unsigned i = 0; i < rd->n; i++) {
        int seen = 0;
        for (unsigned j = 0; j < i; j++)
            seen |= rd->b[j] == rd->b[i];
        if (!seen)
            rd->b[i]->dispatch(c, rd->fds, rd->n, now);
    }
    c->reader_dispatching = 0;
    c->read_by_waiter++;
    rd->wake_engine = 1;
}

void pm_reader_leave(portmap_client *c, pm_reader *rd)
{
    if (!rd->reading)
        return;
    rd->reading = 0;
    c->n_reader_fds = 0;
    c->reader_m = NULL;
    /* the engine's poll set left the sockets out: it polls them again */
    if (c->reader_masked) {
        c->reader_masked = 0;
        rd->wake_engine = 1;
    }
}

void pm_reader_done(portmap_client *c, pm_reader *rd)
{
    if (rd->wake_engine)
        pm_engine_wake(c);
    rd->wake_engine = 0;
}

int pm_reader_wait(portmap_client *c, portmap_mapping *m, pm_reader *rd, int64_t deadline)
{
    struct timespec ts;
    unsigned n;

    parts_of(c, m, rd);
    if (!rd->n || rd->failed || (c->n_reader_fds && !rd->reading) || !c->thread_started ||
        !have_efd(c)) {
        pm_reader_leave(c, rd);
        pm_reader_done(c, rd); /* the engine is to do what was read */
        return pm_api_wait_until(c, deadline);
    }
    if (pm_now_ms() >= deadline)
        return 0;
    take(c, m, rd);
    drain_efd(c); /* under the lock: a wake-up from now on is seen */
    n = rd->n;
    rd->fds[n] = (struct pollfd){ .fd = c->reader_efd, .events = POLLIN };
    ts = pm_timespec_until(deadline);
    pthread_mutex_unlock(&c->lock);
    pm_reader_done(c, rd);
    if (ppoll(rd->fds, n + 1, &ts, NULL) < 0) {
        rd->failed = errno != EINTR; /* not to be retried at once, again and again */
        for (unsigned i = 0; i < n; i++)
            rd->fds[i].revents = 0;
    }
    pthread_mutex_lock(&c->lock);
    if (rd->fds[n].revents)
        c->reader_woken++;
    dispatch(c, rd);
    return pm_now_ms() < deadline;
}
