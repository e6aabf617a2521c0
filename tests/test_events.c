/*
 * Suite: events (core/events.c): queued under the client lock with a
 * reference to their mapping (and to the handle a twin's event goes
 * through), delivered without the lock, dropped unseen. A bare client
 * (no engine thread) with mappings made as portmap_request_mapping()
 * makes them; the tests deliver themselves.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "core/core.h"

static portmap_client *c;
static char dir[64];

/* What the callback was called with, in order */
#define MAX_SEEN 8
static struct seen {
    portmap_mapping *m;
    portmap_event ev;
    portmap_mapping_info info;
    void *user;
    int lock_free;            /* the client lock was not held */
    int refs;                 /* the handle's references at the call */
} seen[MAX_SEEN];
static int n_seen;
static int user_tag;
/* when set, the callback queues this event on seen's mapping once */
static portmap_event queue_from_callback;

static void on_event(portmap_mapping *m, portmap_event ev, const portmap_mapping_info *info,
                     void *user)
{
    struct seen *s = &seen[n_seen < MAX_SEEN ? n_seen++ : MAX_SEEN - 1];
    int rc = pthread_mutex_trylock(&c->lock);

    s->m = m;
    s->ev = ev;
    s->info = *info;
    s->user = user;
    s->refs = m->refs;
    s->lock_free = rc == 0;
    if (rc == 0) {
        /* as a callback calling back into the API would */
        if (queue_from_callback) {
            pm_event_queue(c, m, queue_from_callback);
            queue_from_callback = 0;
        }
        pthread_mutex_unlock(&c->lock);
    }
}

static void setup(void)
{
    portmap_settings set;

    strcpy(dir, "/tmp/pm-events-XXXXXX"); /* never written: the client wants one */
    ck_assert_ptr_nonnull(mkdtemp(dir));
    portmap_default_settings(&set);
    set.state_dir = dir;
    ck_assert_int_eq(pm_client_new(&c, &set, NULL, 1), PORTMAP_OK);
    memset(seen, 0, sizeof(seen));
    n_seen = 0;
    queue_from_callback = 0;
}

static void teardown(void)
{
    /* events still queued are the client's to release */
    pm_client_free(c);
    ck_assert_int_eq(rmdir(dir), 0);
}

static portmap_request request(portmap_family fam, uint16_t port)
{
    portmap_request r;

    portmap_request_init(&r);
    r.family = fam;
    r.internal_port = port;
    r.callback = on_event;
    r.user = &user_tag;
    return r;
}

/* A mapping for one family: the caller's reference and the list's */
static portmap_mapping *new_mapping(uint16_t port)
{
    portmap_request r = request(PORTMAP_IPV4, port);
    portmap_mapping *m = pm_mapping_new(c, &r, pm_now_ms());

    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->refs, 2);
    return m;
}

/* A handle for both families, as portmap_request_mapping() makes it:
 * the IPv6 twin's caller reference is the handle's. */
static portmap_mapping *new_pair(uint16_t port)
{
    portmap_request r = request(PORTMAP_IPV6, port);
    portmap_mapping *t = pm_mapping_new(c, &r, pm_now_ms()), *h;

    r.family = PORTMAP_IPV4;
    h = pm_mapping_new(c, &r, pm_now_ms());
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(h);
    h->twin = t;
    t->handle = h;
    return h;
}

static void deliver(void)
{
    pthread_mutex_lock(&c->lock);
    pm_events_deliver(c);
    /* held again on return */
    ck_assert_int_eq(pthread_mutex_trylock(&c->lock), EBUSY);
    pthread_mutex_unlock(&c->lock);
}

START_TEST(queue_holds_a_reference_until_dropped)
{
    portmap_mapping *m = new_mapping(27015);

    pm_event_queue(c, m, PORTMAP_EVENT_MAPPED);
    pm_event_queue(c, m, PORTMAP_EVENT_LOST);
    ck_assert_int_eq(m->refs, 4);
    ck_assert_uint_eq(c->n_events, 2);
    ck_assert_ptr_eq(c->events[0].m, m);
    ck_assert_int_eq(c->events[0].ev, PORTMAP_EVENT_MAPPED);
    ck_assert_int_eq(c->events[1].ev, PORTMAP_EVENT_LOST);
    pm_events_drop(c);
    ck_assert_uint_eq(c->n_events, 0);
    ck_assert_int_eq(m->refs, 2);
    ck_assert_int_eq(n_seen, 0); /* unseen */
    pm_event_queue(c, m, PORTMAP_EVENT_CHANGED); /* the queue goes on */
    ck_assert_uint_eq(c->n_events, 1);
    ck_assert_int_eq(m->refs, 3);
    pm_events_drop(c);
    ck_assert_int_eq(m->refs, 2);
    pm_mapping_unref(m);
}
END_TEST

/* A twin's event goes through its handle: both are held. */
START_TEST(twin_event_holds_the_handle_too)
{
    portmap_mapping *h = new_pair(27015), *t = h->twin;

    ck_assert_int_eq(h->refs, 2);
    ck_assert_int_eq(t->refs, 2);
    pm_event_queue(c, t, PORTMAP_EVENT_MAPPED);
    ck_assert_int_eq(t->refs, 3);
    ck_assert_int_eq(h->refs, 3);
    pm_event_queue(c, h, PORTMAP_EVENT_MAPPED); /* the handle's own: itself only */
    ck_assert_int_eq(t->refs, 3);
    ck_assert_int_eq(h->refs, 4);
    pm_events_drop(c);
    ck_assert_int_eq(t->refs, 2);
    ck_assert_int_eq(h->refs, 2);
    pm_mapping_unref(h);
}
END_TEST

/* The callback gets the caller's handle, the family of the part that
 * changed, the request's user pointer, and the lock is not held. */
START_TEST(delivery_is_without_the_lock_through_the_handle)
{
    portmap_mapping *h = new_pair(27015), *t = h->twin;

    pthread_mutex_lock(&c->lock);
    pm_event_queue(c, t, PORTMAP_EVENT_MAPPED);
    pm_event_queue(c, h, PORTMAP_EVENT_LOST);
    pthread_mutex_unlock(&c->lock);
    deliver();
    ck_assert_int_eq(n_seen, 2);
    ck_assert_ptr_eq(seen[0].m, h);
    ck_assert_int_eq(seen[0].ev, PORTMAP_EVENT_MAPPED);
    ck_assert_int_eq(seen[0].info.family, PORTMAP_IPV6);
    ck_assert_ptr_eq(seen[0].user, &user_tag);
    ck_assert_int_eq(seen[0].lock_free, 1);
    ck_assert_int_eq(seen[0].refs, 4); /* caller, list and both events */
    ck_assert_ptr_eq(seen[1].m, h);
    ck_assert_int_eq(seen[1].ev, PORTMAP_EVENT_LOST);
    ck_assert_int_eq(seen[1].info.family, PORTMAP_IPV4);
    ck_assert_int_eq(seen[1].lock_free, 1);
    ck_assert_uint_eq(c->n_events, 0);
    ck_assert_int_eq(h->refs, 2);
    ck_assert_int_eq(t->refs, 2);
    pm_mapping_unref(h);
}
END_TEST

/* The info is the mapping as it was when the event was queued. */
START_TEST(info_is_as_queued)
{
    portmap_mapping *m = new_mapping(27015);

    m->state = PORTMAP_STATE_MAPPED;
    m->ext_port = 30000;
    m->lifetime = 600;
    ck_assert_int_eq(pm_addr_parse("11.77.0.1", &m->ext), 0);
    pm_event_queue(c, m, PORTMAP_EVENT_MAPPED);
    m->state = PORTMAP_STATE_LOST;
    m->ext_port = 1;
    deliver();
    ck_assert_int_eq(n_seen, 1);
    ck_assert_int_eq(seen[0].info.state, PORTMAP_STATE_MAPPED);
    ck_assert_uint_eq(seen[0].info.external_port, 30000);
    ck_assert_uint_eq(seen[0].info.internal_port, 27015);
    ck_assert_uint_eq(seen[0].info.lifetime, 600);
    ck_assert_str_eq(seen[0].info.external_address, "11.77.0.1");
    pm_mapping_unref(m);
}
END_TEST

/* What a callback's own call queues comes after the events queued
 * before it, in the same delivery. */
START_TEST(events_queued_by_a_callback_come_after)
{
    portmap_mapping *a = new_mapping(27015), *b = new_mapping(27016);

    pm_event_queue(c, a, PORTMAP_EVENT_MAPPED);
    pm_event_queue(c, b, PORTMAP_EVENT_MAPPED);
    queue_from_callback = PORTMAP_EVENT_RELEASED;
    deliver();
    ck_assert_int_eq(n_seen, 3);
    ck_assert_ptr_eq(seen[0].m, a);
    ck_assert_ptr_eq(seen[1].m, b);
    ck_assert_ptr_eq(seen[2].m, a);
    ck_assert_int_eq(seen[2].ev, PORTMAP_EVENT_RELEASED);
    ck_assert_uint_eq(c->n_events, 0);
    ck_assert_int_eq(a->refs, 2);
    ck_assert_int_eq(b->refs, 2);
    pm_mapping_unref(a);
    pm_mapping_unref(b);
}
END_TEST

/* Released by its caller and out of the list before its event went out:
 * the event keeps the mapping until the callback has seen it. */
START_TEST(event_outlives_the_callers_reference)
{
    portmap_mapping *m = new_mapping(27015);

    pm_event_queue(c, m, PORTMAP_EVENT_RELEASED);
    pm_mapping_unlink(c, m);
    pm_mapping_unref(m);
    ck_assert_int_eq(m->refs, 1);
    deliver(); /* frees m: the sanitizer build sees a leak or a late read */
    ck_assert_int_eq(n_seen, 1);
    ck_assert_int_eq(seen[0].refs, 1);
    ck_assert_uint_eq(seen[0].info.internal_port, 27015);
    ck_assert_ptr_null(c->mappings);
}
END_TEST

/* No callback: nothing is called, the references still go. */
START_TEST(no_callback_no_call)
{
    portmap_mapping *m = new_mapping(27015);

    m->cb = NULL;
    pm_event_queue(c, m, PORTMAP_EVENT_MAPPED);
    deliver();
    ck_assert_int_eq(n_seen, 0);
    ck_assert_uint_eq(c->n_events, 0);
    ck_assert_int_eq(m->refs, 2);
    pm_mapping_unref(m);
}
END_TEST

/* A handle given up with its twin's event queued: the twin's callback
 * is cleared with it, and the event releases both. */
START_TEST(twin_of_a_released_handle)
{
    portmap_mapping *h = new_pair(27015), *t = h->twin;

    pm_event_queue(c, t, PORTMAP_EVENT_LOST);
    pm_mapping_unlink(c, h);
    pm_mapping_unref(h);
    ck_assert_int_eq(h->refs, 1); /* the event's */
    pm_events_drop(c);
    /* h is gone; t is listed still, held by the list alone */
    ck_assert_ptr_eq(c->mappings, t);
    ck_assert_int_eq(t->refs, 1);
    ck_assert_ptr_null(t->handle);
    ck_assert_ptr_null(t->cb);
}
END_TEST

/* The client freed with events undelivered (a bare client's end): they
 * are released before the mappings they hold are freed. The sanitizer
 * build sees a read of a freed mapping otherwise. */
START_TEST(client_free_releases_queued_events)
{
    portmap_mapping *h = new_pair(27015), *m = new_mapping(27016), *gone = new_mapping(27017);

    pm_event_queue(c, h->twin, PORTMAP_EVENT_MAPPED);
    pm_event_queue(c, h, PORTMAP_EVENT_MAPPED);
    pm_event_queue(c, m, PORTMAP_EVENT_LOST);
    /* held by its event alone */
    pm_event_queue(c, gone, PORTMAP_EVENT_RELEASED);
    pm_mapping_unlink(c, gone);
    pm_mapping_unref(gone);
    ck_assert_uint_eq(c->n_events, 4);
    /* teardown frees the client */
}
END_TEST

static Suite *events_suite(void)
{
    Suite *s = suite_create("events");
    TCase *tc = tcase_create("queue");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, queue_holds_a_reference_until_dropped);
    tcase_add_test(tc, twin_event_holds_the_handle_too);
    tcase_add_test(tc, delivery_is_without_the_lock_through_the_handle);
    tcase_add_test(tc, info_is_as_queued);
    tcase_add_test(tc, events_queued_by_a_callback_come_after);
    tcase_add_test(tc, event_outlives_the_callers_reference);
    tcase_add_test(tc, no_callback_no_call);
    tcase_add_test(tc, twin_of_a_released_handle);
    tcase_add_test(tc, client_free_releases_queued_events);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(events_suite)
