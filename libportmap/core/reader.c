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
 * The reader is woken where condition-variable waiters are (core.h's
 * pm_wake_waiters, the engine's every round, close) through an eventfd
 * it polls with its sockets; every round of the engine thus lets it look
 * again at which sockets are its (a reset socket, a protocol given up).
 */
#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>

#include "core/reader.h"

/* Add the socket of m's reply, if a caller may read it. */
static void add_part(portmap_client *c, const portmap_mapping *m, pm_reader *rd)
{
    const pm_backend *b;
    int fd;

    if (!m || m->state != PORTMAP_STATE_PENDING || m->op == PM_OP_NONE || rd->n == PM_FAMS)
        return;
    b = pm_backend_of(c, m->op_method);
    if (!b || !b->reply_fd || (fd = b->reply_fd(c, m)) < 0)
        return;
    for (unsigned i = 0; i < rd->n; i++)
        if (rd->fds[i].fd == fd)
            return;
    rd->fds[rd->n] = (struct pollfd){ .fd = fd, .events = POLLIN };
    rd->b[rd->n++] = b;
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
static void take(portmap_client *c, pm_reader *rd)
{
    c->n_reader_fds = rd->n; /* at least one: the reader's place is taken */
    for (unsigned i = 0; i < rd->n; i++)
        c->reader_fds[i] = rd->fds[i].fd;
    rd->reading = 1;
}

/* What the poll found, dispatched by each backend once, as the engine
 * would; then the engine is woken for the events and timers. */
static void dispatch(portmap_client *c, pm_reader *rd)
{
    int64_t now = pm_now_ms();
    int any = 0;

    for (unsigned i = 0; i < rd->n; i++)
        any |= rd->fds[i].revents != 0;
    if (!any)
        return;
    for (unsigned i = 0; i < rd->n; i++) {
        int seen = 0;
        for (unsigned j = 0; j < i; j++)
            seen |= rd->b[j] == rd->b[i];
        if (!seen)
            rd->b[i]->dispatch(c, rd->fds, rd->n, now);
    }
    c->read_by_waiter++;
    pm_engine_wake(c);
}

void pm_reader_leave(portmap_client *c, pm_reader *rd)
{
    if (!rd->reading)
        return;
    rd->reading = 0;
    c->n_reader_fds = 0;
    /* the engine's poll set left the sockets out: it polls them again */
    if (c->reader_masked) {
        c->reader_masked = 0;
        pm_engine_wake(c);
    }
}

int pm_reader_wait(portmap_client *c, portmap_mapping *m, pm_reader *rd, int64_t deadline)
{
    struct timespec ts;
    unsigned n;

    rd->n = 0;
    add_part(c, m, rd);
    add_part(c, m->twin, rd);
    if (!rd->n || rd->failed || (c->n_reader_fds && !rd->reading) || !c->thread_started ||
        !have_efd(c)) {
        pm_reader_leave(c, rd);
        return pm_api_wait_until(c, deadline);
    }
    if (pm_now_ms() >= deadline)
        return 0;
    take(c, rd);
    drain_efd(c); /* under the lock: a wake-up from now on is seen */
    n = rd->n;
    rd->fds[n] = (struct pollfd){ .fd = c->reader_efd, .events = POLLIN };
    ts = pm_timespec_until(deadline);
    pthread_mutex_unlock(&c->lock);
    if (ppoll(rd->fds, n + 1, &ts, NULL) < 0) {
        rd->failed = errno != EINTR; /* not to be retried at once, again and again */
        for (unsigned i = 0; i < n; i++)
            rd->fds[i].revents = 0;
    }
    pthread_mutex_lock(&c->lock);
    dispatch(c, rd);
    return pm_now_ms() < deadline;
}
