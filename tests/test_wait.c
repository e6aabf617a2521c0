/*
 * Suite: the tests' own wait helpers (tests/wait.c). A negative check
 * built on expect_no_event_within() can only fail if the helper sees the
 * event, so that is checked here, with events from another thread as the
 * engine's would come.
 */
#include <check.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <portmap/portmap.h>

#include "check_main.h"
#include "wait.h"

static wait_events rec = WAIT_EVENTS_INIT;

/* A condition that holds from its n-th check on. */
typedef struct counted {
    int calls, holds_at;
} counted;

static int counted_cond(void *arg)
{
    counted *c = arg;
    return ++c->calls >= c->holds_at;
}

START_TEST(wait_until_stops_when_it_holds)
{
    counted c = { 0, 3 };
    ck_assert_int_eq(wait_until(counted_cond, &c, 10000), 1);
    ck_assert_int_eq(c.calls, 3);
}
END_TEST

START_TEST(wait_until_gives_up_at_the_deadline)
{
    counted c = { 0, 1 << 30 };
    int64_t t0 = now_ms();

    ck_assert_int_eq(wait_until(counted_cond, &c, 300), 0);
    ck_assert_int_ge(now_ms() - t0, 300);
    ck_assert_int_lt(now_ms() - t0, 3000);
    ck_assert_int_ge(c.calls, 2); /* and one last look at the deadline */
}
END_TEST

/* An event recorded from another thread after a delay, as from the
 * engine's. */
typedef struct later {
    portmap_event ev;
    int delay_ms;
    pthread_t th;
} later;

static void *record_later(void *arg)
{
    later *l = arg;
    struct timespec ts = { .tv_sec = l->delay_ms / 1000,
                           .tv_nsec = (l->delay_ms % 1000) * 1000000L };
    portmap_mapping_info info;

    memset(&info, 0, sizeof(info));
    info.family = PORTMAP_IPV6;
    strcpy(info.external_address, "2001:db8::1");
    nanosleep(&ts, NULL);
    /* no client here: the later itself stands for the mapping's handle */
    wait_events_record(&rec, (portmap_mapping *)arg, l->ev, &info, &rec);
    return NULL;
}

static void start_later(later *l, portmap_event ev, int delay_ms)
{
    l->ev = ev;
    l->delay_ms = delay_ms;
    ck_assert_int_eq(pthread_create(&l->th, NULL, record_later, l), 0);
}

static void setup(void)
{
    wait_events_reset(&rec);
}

START_TEST(event_within_wakes_on_the_event)
{
    later l;
    int64_t t0 = now_ms();

    start_later(&l, PORTMAP_EVENT_CHANGED, 50);
    ck_assert_int_eq(expect_event_within(&rec, PORTMAP_EVENT_CHANGED, 1, 20000), 1);
    /* woken by the event, long before the timeout */
    ck_assert_int_lt(now_ms() - t0, 10000);
    pthread_join(l.th, NULL);
}
END_TEST

START_TEST(event_within_counts_and_tells_events_apart)
{
    later l;

    start_later(&l, PORTMAP_EVENT_LOST, 20);
    pthread_join(l.th, NULL);
    ck_assert_int_eq(expect_event_within(&rec, PORTMAP_EVENT_CHANGED, 1, 200), 0);
    ck_assert_int_eq(expect_event_within(&rec, PORTMAP_EVENT_LOST, 2, 200), 0);
    start_later(&l, PORTMAP_EVENT_LOST, 50);
    ck_assert_int_eq(expect_event_within(&rec, PORTMAP_EVENT_LOST, 2, 20000), 1);
    pthread_join(l.th, NULL);
    ck_assert_int_eq(wait_events_count(&rec, PORTMAP_EVENT_LOST), 2);
    ck_assert_int_eq(wait_events_count(&rec, 0), 2);
    ck_assert_int_eq(expect_event_within(&rec, 0, 2, 0), 1);
}
END_TEST

START_TEST(no_event_within_fails_as_soon_as_it_comes)
{
    later l;
    int64_t t0 = now_ms();

    start_later(&l, PORTMAP_EVENT_LOST, 50);
    ck_assert_int_eq(expect_no_event_within(&rec, PORTMAP_EVENT_LOST, 20000), 0);
    ck_assert_int_lt(now_ms() - t0, 10000);
    pthread_join(l.th, NULL);
}
END_TEST

START_TEST(no_event_within_waits_its_time_when_quiet)
{
    later l;
    int64_t t0;

    /* before the call: not a new event */
    start_later(&l, PORTMAP_EVENT_LOST, 0);
    pthread_join(l.th, NULL);
    t0 = now_ms();
    start_later(&l, PORTMAP_EVENT_CHANGED, 50); /* another event */
    ck_assert_int_eq(expect_no_event_within(&rec, PORTMAP_EVENT_LOST, 300), 1);
    ck_assert_int_ge(now_ms() - t0, 300);
    pthread_join(l.th, NULL);
    /* 0: any event at all */
    start_later(&l, PORTMAP_EVENT_CHANGED, 50);
    ck_assert_int_eq(expect_no_event_within(&rec, 0, 20000), 0);
    pthread_join(l.th, NULL);
}
END_TEST

START_TEST(events_are_logged_and_reset)
{
    wait_event e;
    later l;

    start_later(&l, PORTMAP_EVENT_MAPPED, 0);
    pthread_join(l.th, NULL);
    ck_assert(wait_events_get(&rec, 0, &e));
    ck_assert_int_eq(e.event, PORTMAP_EVENT_MAPPED);
    ck_assert_int_eq(e.family, PORTMAP_IPV6);
    ck_assert_ptr_eq(e.handle, (portmap_mapping *)&l);
    ck_assert_ptr_eq(e.user, &rec);
    ck_assert_str_eq(e.external_address, "2001:db8::1");
    ck_assert(!wait_events_get(&rec, 1, &e));
    wait_events_reset(&rec);
    ck_assert(!wait_events_get(&rec, 0, &e));
    ck_assert_int_eq(wait_events_count(&rec, PORTMAP_EVENT_MAPPED), 0);
}
END_TEST

static Suite *wait_suite(void)
{
    Suite *s = suite_create("wait");
    TCase *tc = tcase_create("helpers");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, wait_until_stops_when_it_holds);
    tcase_add_test(tc, wait_until_gives_up_at_the_deadline);
    tcase_add_test(tc, event_within_wakes_on_the_event);
    tcase_add_test(tc, event_within_counts_and_tells_events_apart);
    tcase_add_test(tc, no_event_within_fails_as_soon_as_it_comes);
    tcase_add_test(tc, no_event_within_waits_its_time_when_quiet);
    tcase_add_test(tc, events_are_logged_and_reset);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(wait_suite)
