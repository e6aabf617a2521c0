/*
 * Suite: journal writes queued under the client lock (core/jqueue.c).
 * They reach the file only when run, in the order queued; a barrier
 * waits for the writes queued before it, bounded by its deadline. The
 * client is bare (no engine thread): the tests run the queue themselves,
 * on a thread of their own where the engine's part is played.
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "check_main.h"
#include "core/core.h"

static portmap_client *c;
static char dir[64];
static pm_addr local;

static void setup(void)
{
    portmap_settings set;

    strcpy(dir, "/tmp/pm-jqueue-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    portmap_default_settings(&set);
    set.state_dir = dir;
    ck_assert_int_eq(pm_client_new(&c, &set, NULL, 1), PORTMAP_OK);
    ck_assert_str_eq(c->state_dir, dir);
    ck_assert_int_eq(pm_addr_parse("10.77.0.2", &local), 0);
}

static void teardown(void)
{
    char cmd[128];

    pm_client_free(c);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static pm_journal_entry entry(uint16_t port, uint16_t ext_port)
{
    pm_journal_entry e = { .method = PORTMAP_METHOD_PCP, .proto = PORTMAP_UDP,
                           .internal_port = port, .external_port = ext_port,
                           .pid = getpid(), .local = local };

    ck_assert_int_eq(pm_addr_parse("10.77.0.1", &e.gateway), 0);
    return e;
}

/* port's external port in the file, -1 when port is not there */
static int in_file(uint16_t port)
{
    pm_journal_entry e;

    if (pm_journal_find(dir, PORTMAP_UDP, port, &local, &e) != 0)
        return -1;
    return e.external_port;
}

START_TEST(writes_reach_the_file_only_when_run)
{
    pm_journal_entry e = entry(27015, 30000);

    pm_jq_put(c, &e, 0);
    e.internal_port = 27016;
    pm_jq_put(c, &e, 0);
    ck_assert_uint_eq(c->n_jops, 2);
    ck_assert_int_eq(in_file(27015), -1);
    ck_assert_uint_eq(c->jops_queued, 2);
    ck_assert_uint_eq(c->jops_done, 0);
    pm_jq_run(c, 0);
    ck_assert_int_eq(in_file(27015), 30000);
    ck_assert_int_eq(in_file(27016), 30000);
    ck_assert_uint_eq(c->n_jops, 0);
    ck_assert_uint_eq(c->jops_done, 2);
    /* a remove, too, waits for the run */
    pm_jq_remove(c, PORTMAP_UDP, 27015, &local);
    ck_assert_int_eq(in_file(27015), 30000);
    pm_jq_run(c, 0);
    ck_assert_int_eq(in_file(27015), -1);
    ck_assert_int_eq(in_file(27016), 30000);
    ck_assert_uint_eq(c->jops_queued, 3);
    ck_assert_uint_eq(c->jops_done, 3);
}
END_TEST

/* A mapping made and released before the engine ran leaves nothing. */
START_TEST(put_then_remove_leaves_nothing)
{
    pm_journal_entry e = entry(27015, 30000);

    pm_jq_put(c, &e, 0);
    pm_jq_remove(c, PORTMAP_UDP, 27015, &local);
    pm_jq_run(c, 0);
    ck_assert_int_eq(in_file(27015), -1);
}
END_TEST

/* Forgotten, then made again: the new entry stays. */
START_TEST(remove_then_put_leaves_the_entry)
{
    pm_journal_entry e = entry(27015, 30000);

    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    pm_jq_remove(c, PORTMAP_UDP, 27015, &local);
    e.external_port = 30001;
    pm_jq_put(c, &e, 0);
    pm_jq_run(c, 0);
    ck_assert_int_eq(in_file(27015), 30001);
}
END_TEST

/* Renewals that moved the external port: the last one is in the file. */
START_TEST(the_last_put_of_a_key_wins)
{
    for (uint16_t p = 30000; p < 30040; p++) { /* past the queue's first size */
        pm_journal_entry e = entry(27015, p);
        pm_jq_put(c, &e, 0);
    }
    pm_jq_run(c, 0);
    ck_assert_int_eq(in_file(27015), 30039);
    ck_assert_uint_eq(c->jops_done, 40);
}
END_TEST

/* A remove is of its key (proto, port, our address) alone, zone and all. */
START_TEST(remove_keeps_the_whole_key)
{
    pm_journal_entry e = entry(27015, 30000), out;
    pm_addr v6;

    ck_assert_int_eq(pm_addr_parse("fe80::2%1", &v6), 0);
    pm_jq_put(c, &e, 0);
    e.proto = PORTMAP_TCP;
    pm_jq_put(c, &e, 0);
    ck_assert_int_eq(pm_addr_parse("fe80::1%1", &e.gateway), 0);
    e.local = v6;
    pm_jq_put(c, &e, 0);
    pm_jq_run(c, 0);
    pm_jq_remove(c, PORTMAP_TCP, 27015, &local);
    v6.scope = 2;
    pm_jq_remove(c, PORTMAP_TCP, 27015, &v6); /* another link: not ours */
    pm_jq_run(c, 0);
    ck_assert_int_eq(in_file(27015), 30000);
    ck_assert_int_ne(pm_journal_find(dir, PORTMAP_TCP, 27015, &local, &out), 0);
    v6.scope = 1;
    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_TCP, 27015, &v6, &out), 0);
}
END_TEST

/* Freed unrun (a client closing): nothing is written later. */
/* What queued up between two runs is one journal store, whatever the
 * number of edits: 1,000 mappings answered in one round do not rewrite
 * the file 1,000 times. The edits keep their order within the batch. */
START_TEST(a_batch_is_one_store)
{
    pm_journal_entry e;
    unsigned long before;

    e = entry(9, 9);
    pm_jq_put(c, &e, 0);
    pm_jq_run(c, 0);
    before = pm_journal_stores();
    for (uint16_t p = 10000; p < 11000; p++) {
        e = entry(p, p);
        pm_jq_put(c, &e, 0);
    }
    pm_jq_remove(c, PORTMAP_UDP, 9, &local);
    pm_jq_remove(c, PORTMAP_UDP, 10500, &local);
    e = entry(10500, 20500);
    pm_jq_put(c, &e, 0);
    pm_jq_run(c, 0);
    ck_assert_uint_eq(pm_journal_stores() - before, 1);
    ck_assert_int_eq(in_file(9), -1);
    ck_assert_int_eq(in_file(10000), 10000);
    ck_assert_int_eq(in_file(10999), 10999);
    ck_assert_int_eq(in_file(10500), 20500);
}
END_TEST

/* A write marked early (a lease that never runs out) is what the engine
 * does before it delivers the round's events; others wait until after. */
START_TEST(only_an_early_write_runs_before_the_events)
{
    pm_journal_entry e = entry(27015, 27015);

    pthread_mutex_lock(&c->lock); /* as the engine holds it */
    pm_jq_put(c, &e, 0);
    pm_jq_run_early(c);
    ck_assert_int_eq(in_file(27015), -1);
    e = entry(27016, 27016);
    pm_jq_put(c, &e, 1);
    pm_jq_run_early(c);
    pthread_mutex_unlock(&c->lock);
    ck_assert_int_eq(in_file(27015), 27015);
    ck_assert_int_eq(in_file(27016), 27016);
}
END_TEST

START_TEST(free_drops_what_is_queued)
{
    pm_journal_entry e = entry(27015, 30000);

    pm_jq_put(c, &e, 0);
    pm_jq_free(c);
    ck_assert_uint_eq(c->n_jops, 0);
    ck_assert_ptr_null(c->jops);
    pm_jq_run(c, 0);
    ck_assert_int_eq(in_file(27015), -1);
    pm_jq_put(c, &e, 0); /* the queue is usable again */
    pm_jq_run(c, 0);
    ck_assert_int_eq(in_file(27015), 30000);
}
END_TEST

/* Nothing queued, or everything done: no wait at all. A far deadline
 * makes a wait show as the test's timeout. */
START_TEST(barrier_returns_at_once_when_nothing_is_queued)
{
    pm_journal_entry e = entry(27015, 30000);
    int64_t deadline = pm_now_ms() + 3600 * 1000;

    pthread_mutex_lock(&c->lock);
    pm_jq_barrier(c, deadline);
    pthread_mutex_unlock(&c->lock);
    pm_jq_put(c, &e, 0);
    pm_jq_run(c, 0);
    pthread_mutex_lock(&c->lock);
    pm_jq_barrier(c, deadline);
    pthread_mutex_unlock(&c->lock);
    ck_assert_int_lt(pm_now_ms(), deadline);
    ck_assert_uint_eq(c->jops_done, c->jops_queued);
}
END_TEST

/* Writes the engine has not taken (it holds them back for a batch, or
 * is busy elsewhere) are written by the waiting caller itself, at once:
 * no round trip through the engine's thread. */
START_TEST(barrier_writes_what_the_engine_has_not_taken)
{
    pm_journal_entry e = entry(27015, 30000);
    int64_t deadline = pm_now_ms() + 3600 * 1000;

    pm_jq_put(c, &e, 0);
    pthread_mutex_lock(&c->lock);
    pm_jq_barrier(c, deadline);
    ck_assert_uint_eq(c->jops_done, c->jops_queued);
    pthread_mutex_unlock(&c->lock);
    ck_assert_int_lt(pm_now_ms(), deadline);
    ck_assert_int_eq(in_file(27015), 30000);
}
END_TEST

/* The engine took a batch and never finishes it (stuck): the caller
 * goes on at its deadline, its write still queued behind that batch. */
START_TEST(barrier_returns_by_its_deadline_when_the_engine_is_stuck)
{
    pm_journal_entry e = entry(27015, 30000);
    int64_t deadline = pm_now_ms() + 200;

    pm_jq_put(c, &e, 0);
    pthread_mutex_lock(&c->lock);
    c->journal_busy = 1; /* as while the engine writes, the lock dropped */
    pm_jq_barrier(c, deadline);
    ck_assert_int_ge(pm_now_ms(), deadline); /* it did wait */
    ck_assert_uint_lt(c->jops_done, c->jops_queued);
    c->journal_busy = 0;
    pthread_mutex_unlock(&c->lock);
    ck_assert_int_eq(in_file(27015), -1);
}
END_TEST

/* A client whose engine has exited writes nothing more: no wait. */
START_TEST(barrier_does_not_wait_on_a_closed_client)
{
    pm_journal_entry e = entry(27015, 30000);
    int64_t deadline = pm_now_ms() + 3600 * 1000;

    pm_jq_put(c, &e, 0);
    c->closed = 1;
    pthread_mutex_lock(&c->lock);
    pm_jq_barrier(c, deadline);
    pthread_mutex_unlock(&c->lock);
    ck_assert_uint_lt(c->jops_done, c->jops_queued);
}
END_TEST

/* What the engine does each round: its writes with the lock dropped. */
static void *engine_round(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&c->lock);
    pm_jq_run(c, 1);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* A caller's barrier sees the writes queued before it done by the
 * engine, and returns when they are, well before its deadline. */
START_TEST(barrier_waits_for_the_engines_batch)
{
    pm_journal_entry e = entry(27015, 30000);
    int64_t deadline = pm_now_ms() + 3000;
    pthread_t t;

    pthread_mutex_lock(&c->lock);
    pm_jq_put(c, &e, 0);
    ck_assert_int_eq(pthread_create(&t, NULL, engine_round, NULL), 0);
    pm_jq_barrier(c, deadline); /* the lock is free while it waits */
    ck_assert_int_lt(pm_now_ms(), deadline);
    ck_assert_uint_eq(c->jops_done, 1);
    pthread_mutex_unlock(&c->lock);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(in_file(27015), 30000);
}
END_TEST

/*
 * The engine writes without the client lock: a public call gets the
 * lock while a write waits for the journal's flock (held here), and what
 * it queues then waits for the next batch, done in order after it, by
 * the same runner.
 */
START_TEST(writes_run_without_the_lock_and_later_ones_wait_their_batch)
{
    pm_journal_entry a = entry(27015, 30000), b = entry(27015, 30001);
    char path[128];
    int lockfd, busy = 0;
    int64_t give_up;
    pthread_t t;

    snprintf(path, sizeof(path), "%s/journal.lock", dir);
    lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ck_assert_int_ge(lockfd, 0);
    ck_assert_int_eq(flock(lockfd, LOCK_EX), 0);

    pthread_mutex_lock(&c->lock);
    pm_jq_put(c, &a, 0);
    pthread_mutex_unlock(&c->lock);
    ck_assert_int_eq(pthread_create(&t, NULL, engine_round, NULL), 0);
    /* the journal waits about a second for its flock: well within */
    give_up = pm_now_ms() + 500;
    while (!busy && pm_now_ms() < give_up) {
        pthread_mutex_lock(&c->lock);
        busy = c->journal_busy;
        if (busy) {
            pm_jq_put(c, &b, 0);
            /* a second runner would write b before a: it leaves b to
             * the runner under way */
            pm_jq_run(c, 1);
            ck_assert_uint_eq(c->n_jops, 1); /* not in the batch under way */
        }
        pthread_mutex_unlock(&c->lock);
        if (!busy)
            usleep(1000);
    }
    /* (no look at the file here: it would wait for the flock too) */
    ck_assert_msg(busy, "never got the lock while the engine was writing");
    close(lockfd);
    /* a barrier after b waits for b's batch, not only for a's */
    pthread_mutex_lock(&c->lock);
    pm_jq_barrier(c, pm_now_ms() + 3000);
    ck_assert_uint_eq(c->jops_done, 2);
    ck_assert_int_eq(c->journal_busy, 0);
    ck_assert_uint_eq(c->n_jops, 0);
    pthread_mutex_unlock(&c->lock);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    /* both batches were done, the later put last */
    ck_assert_int_eq(in_file(27015), 30001);
}
END_TEST

static Suite *jqueue_suite(void)
{
    Suite *s = suite_create("jqueue");
    TCase *tc = tcase_create("queue");
    TCase *bar = tcase_create("barrier");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, writes_reach_the_file_only_when_run);
    tcase_add_test(tc, put_then_remove_leaves_nothing);
    tcase_add_test(tc, remove_then_put_leaves_the_entry);
    tcase_add_test(tc, the_last_put_of_a_key_wins);
    tcase_add_test(tc, remove_keeps_the_whole_key);
    tcase_add_test(tc, free_drops_what_is_queued);
    tcase_add_test(tc, a_batch_is_one_store);
    tcase_add_test(tc, only_an_early_write_runs_before_the_events);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(bar, setup, teardown);
    tcase_add_test(bar, barrier_returns_at_once_when_nothing_is_queued);
    tcase_add_test(bar, barrier_writes_what_the_engine_has_not_taken);
    tcase_add_test(bar, barrier_returns_by_its_deadline_when_the_engine_is_stuck);
    tcase_add_test(bar, barrier_does_not_wait_on_a_closed_client);
    tcase_add_test(bar, barrier_waits_for_the_engines_batch);
    tcase_add_test(bar, writes_run_without_the_lock_and_later_ones_wait_their_batch);
    tcase_set_timeout(bar, 10);
    suite_add_tcase(s, bar);
    return s;
}

PM_CHECK_MAIN(jqueue_suite)
