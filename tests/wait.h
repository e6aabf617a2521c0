/*
 * Bounded waits for the tests, in place of copied polling loops and of
 * sleeps that stand for "nothing happens".
 *
 * Two kinds. A condition on the outside world (a rule in the router's
 * table, a request counted by a fake router) has nothing to wait on, so
 * wait_until() polls it until a deadline. A mapping's events come from
 * the library's callback, so wait_events records them and wakes the test
 * at once: expect_event_within() returns as soon as the event is there,
 * expect_no_event_within() as soon as the unwanted one comes (a negative
 * check takes its full time only when it passes).
 */
#ifndef PM_TEST_WAIT_H
#define PM_TEST_WAIT_H

#include <pthread.h>
#include <stdint.h>

#include <portmap/portmap.h>

/* CLOCK_MONOTONIC in milliseconds */
int64_t now_ms(void);

typedef int (*wait_cond)(void *arg);

/* Check cond at once, then again and again (every 10 ms at first, up to
 * every 100 ms) until it holds or timeout_ms has passed, with one last
 * check at the deadline. Returns 1 when it held, 0 when time ran out. */
int wait_until(wait_cond cond, void *arg, int timeout_ms);

/* Until the mapping's renewals reach n; its last info in *info. */
int wait_renewals(portmap_mapping *m, uint32_t n, int timeout_ms, portmap_mapping_info *info);

/* One event as the callback saw it. */
typedef struct wait_event {
    portmap_event event;
    portmap_family family;
    portmap_mapping *handle;
    void *user;
    char external_address[PORTMAP_ADDRSTRLEN];
} wait_event;

#define WAIT_EVENTS_LOG 32

/* Events recorded by the engine thread, read by the test's. Static
 * storage with WAIT_EVENTS_INIT; wait_events_reset() between uses. */
typedef struct wait_events {
    pthread_mutex_t lock;
    pthread_cond_t cond;                   /* broadcast on every event */
    int count[PORTMAP_EVENT_RELEASED + 1]; /* per event; [0]: all of them */
    int n_log;                             /* the first WAIT_EVENTS_LOG are kept */
    wait_event log[WAIT_EVENTS_LOG];
} wait_events;

#define WAIT_EVENTS_INIT { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER }

void wait_events_reset(wait_events *w);
/* For a callback of the test's own: record one event. */
void wait_events_record(wait_events *w, portmap_mapping *m, portmap_event ev,
                        const portmap_mapping_info *info, void *user);
/* A portmap_mapping_callback whose user is the wait_events to record in. */
void wait_events_callback(portmap_mapping *m, portmap_event ev, const portmap_mapping_info *info,
                          void *user);
/* How many of ev (0: of any event) so far. */
int wait_events_count(wait_events *w, portmap_event ev);
/* The i-th event recorded; 0 when there is none such. */
int wait_events_get(wait_events *w, int i, wait_event *out);

/* 1 once ev (0: any event) has come n times in all, 0 if not within
 * timeout_ms. */
int expect_event_within(wait_events *w, portmap_event ev, int n, int timeout_ms);
/* 1 if no ev (0: no event at all) comes within timeout_ms of the call;
 * 0 as soon as one does. */
int expect_no_event_within(wait_events *w, portmap_event ev, int timeout_ms);

#endif
