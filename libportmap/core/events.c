/*
 * Events: queued under the lock where the state changes, delivered by the
 * engine thread without it, so a callback may call back into the API.
 * An event holds a reference to its mapping (and to the handle it goes
 * through) until it has been delivered.
 */
#include <stdlib.h>

#include "core/core.h"

void pm_event_queue(portmap_client *c, portmap_mapping *m, portmap_event ev)
{
    pm_event *e;

    if (c->n_events == c->cap_events) {
        size_t cap = c->cap_events ? c->cap_events * 2 : 16;
        pm_event *n = realloc(c->events, cap * sizeof(*n));
        if (!n) {
            PM_ERR(c, "out of memory: dropped a %s event", portmap_event_name(ev));
            return;
        }
        c->events = n;
        c->cap_events = cap;
    }
    e = &c->events[c->n_events++];
    e->m = m;
    e->ev = ev;
    pm_mapping_ref(m);
    if (m->handle) /* delivered through it */
        pm_mapping_ref(m->handle);
    pm_mapping_fill_info(m, pm_now_ms(), &e->info);
    pm_wake_waiters(c);
}

static void release_events(pm_event *evs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        portmap_mapping *h = evs[i].m->handle;
        pm_mapping_unref(evs[i].m);
        if (h)
            pm_mapping_unref(h);
    }
}

/* The queue is detached first: events queued by the callbacks' own calls
 * wait for the next round. */
void pm_events_deliver(portmap_client *c)
{
    while (c->n_events) {
        pm_event *evs = c->events;
        size_t n = c->n_events;

        c->events = NULL;
        c->n_events = c->cap_events = 0;
        pm_unlock_and_wake(c);
        for (size_t i = 0; i < n; i++) {
            if (evs[i].m->cb)
                evs[i].m->cb(pm_mapping_handle(evs[i].m), evs[i].ev, &evs[i].info,
                             evs[i].m->user);
        }
        pthread_mutex_lock(&c->lock);
        release_events(evs, n);
        free(evs);
    }
}

void pm_events_drop(portmap_client *c)
{
    release_events(c->events, c->n_events);
    c->n_events = 0;
}
