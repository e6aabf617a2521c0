/* Bounded waits for the tests; see wait.h. */
#include "wait.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int wait_until(wait_cond cond, void *arg, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms, left;
    int64_t interval = 10; /* quick when it holds soon, gentle on slow checks */

    for (;;) {
        if (cond(arg))
            return 1;
        left = deadline - now_ms();
        if (left <= 0)
            return 0;
        sleep_ms(interval < left ? interval : left);
        if (interval < 100)
            interval *= 2;
    }
}

typedef struct renewals_arg {
    portmap_mapping *m;
    uint32_t n;
    portmap_mapping_info *info;
} renewals_arg;

static int renewed(void *arg)
{
    renewals_arg *a = arg;
    return portmap_mapping_get_info(a->m, a->info) == PORTMAP_OK && a->info->renewals >= a->n;
}

int wait_renewals(portmap_mapping *m, uint32_t n, int timeout_ms, portmap_mapping_info *info)
{
    renewals_arg a = { m, n, info };
    return wait_until(renewed, &a, timeout_ms);
}

void wait_events_reset(wait_events *w)
{
    pthread_mutex_lock(&w->lock);
    memset(w->count, 0, sizeof(w->count));
    w->n_log = 0;
    pthread_mutex_unlock(&w->lock);
}

void wait_events_record(wait_events *w, portmap_mapping *m, portmap_event ev,
                        const portmap_mapping_info *info, void *user)
{
    pthread_mutex_lock(&w->lock);
    w->count[0]++;
    if ((unsigned)ev <= PORTMAP_EVENT_RELEASED)
        w->count[ev]++;
    if (w->n_log < WAIT_EVENTS_LOG) {
        wait_event *e = &w->log[w->n_log++];
        e->event = ev;
        e->family = info ? info->family : PORTMAP_IPV4;
        e->handle = m;
        e->user = user;
        snprintf(e->external_address, sizeof(e->external_address), "%s",
                 info ? info->external_address : "");
    }
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void wait_events_callback(portmap_mapping *m, portmap_event ev, const portmap_mapping_info *info,
                          void *user)
{
    wait_events_record(user, m, ev, info, user);
}

static int count_locked(wait_events *w, portmap_event ev)
{
    return (unsigned)ev <= PORTMAP_EVENT_RELEASED ? w->count[ev] : 0;
}

int wait_events_count(wait_events *w, portmap_event ev)
{
    int n;
    pthread_mutex_lock(&w->lock);
    n = count_locked(w, ev);
    pthread_mutex_unlock(&w->lock);
    return n;
}

int wait_events_get(wait_events *w, int i, wait_event *out)
{
    int found;
    pthread_mutex_lock(&w->lock);
    found = i >= 0 && i < w->n_log;
    if (found)
        *out = w->log[i];
    pthread_mutex_unlock(&w->lock);
    return found;
}

/* Wait on the condition variable until count(ev) reaches at_least or the
 * deadline passes; returns the count. Locked by the caller. */
static int wait_count_locked(wait_events *w, portmap_event ev, int at_least, int timeout_ms)
{
    struct timespec deadline;

    if (timeout_ms < 0) /* a deadline already past: look once */
        timeout_ms = 0;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    /* 0 is a wakeup (an event, or a spurious one): count again; anything
     * else is the deadline */
    while (count_locked(w, ev) < at_least) {
        if (pthread_cond_clockwait(&w->cond, &w->lock, CLOCK_MONOTONIC, &deadline) != 0)
            break;
    }
    return count_locked(w, ev);
}

int expect_event_within(wait_events *w, portmap_event ev, int n, int timeout_ms)
{
    int got;
    pthread_mutex_lock(&w->lock);
    got = wait_count_locked(w, ev, n, timeout_ms);
    pthread_mutex_unlock(&w->lock);
    return got >= n;
}

int expect_no_event_within(wait_events *w, portmap_event ev, int timeout_ms)
{
    int before, after;
    pthread_mutex_lock(&w->lock);
    before = count_locked(w, ev);
    after = wait_count_locked(w, ev, before + 1, timeout_ms);
    pthread_mutex_unlock(&w->lock);
    return after == before;
}
