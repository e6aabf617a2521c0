/*
 * Suite: thread stress. Several threads request, renew, release, wait on
 * and read many mappings while the engine renews short leases against a
 * fake PCP gateway, the callbacks call back into the API, and the client
 * is closed while threads are blocked in it. Meant to run under TSan and
 * ASan as well as plainly; as root it runs in a private network namespace.
 */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <portmap/portmap.h>

#include "check_main.h"
#include "fakegw.h"
#include "wait.h"

#define THREADS 4
#define PER_THREAD 16
#define SILENT_PORT 9900 /* the fake router never answers for it */

static fakegw gw;
static portmap_client *client;
/* first requests (no external port suggested yet) per port, by the
 * gateway's thread, for the burst's ports */
#define FIRST_PORTS 8192
static atomic_int first_maps[FIRST_PORTS];
static atomic_int callbacks, callback_violations, blocked;

static void handler(fakegw *g, const uint8_t *req, size_t len, void *user)
{
    uint8_t out[64];
    uint16_t iport;
    (void)user;

    if (req[0] == 0) { /* NAT-PMP: the address only, so discovery completes */
        if (req[1] == 0)
            fakegw_reply(g, out, fakegw_pmp_addr_reply(out, 0, g->epoch, "198.51.100.7"));
        return;
    }
    if (req[1] == 0) { /* ANNOUNCE */
        uint8_t a[24] = { 2, 0x80 };
        a[11] = 100;
        fakegw_reply(g, a, sizeof(a));
        return;
    }
    if (len < 60)
        return;
    iport = (uint16_t)((req[40] << 8) | req[41]);
    if (iport < FIRST_PORTS && !req[42] && !req[43])
        atomic_fetch_add(&first_maps[iport], 1);
    if (iport >= SILENT_PORT)
        return;
    /* short leases so that renewals run all the time; deletes confirmed */
    fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, (req[4] | req[5] | req[6] | req[7]) ? 2 : 0,
                                              g->epoch, iport, "198.51.100.7"));
}

/* Engine thread: what the header allows from here works, the rest is
 * refused at once. */
static void on_event(portmap_mapping *m, portmap_event ev, const portmap_mapping_info *info,
                     void *user)
{
    portmap_mapping_info i;
    portmap_client *c = user;
    (void)info;

    int rc;
    atomic_fetch_add(&callbacks, 1);
    if ((rc = portmap_mapping_get_info(m, &i)) != PORTMAP_OK) {
        fprintf(stderr, "get_info in %s: %s\n", portmap_event_name(ev), portmap_strerror(rc));
        atomic_fetch_add(&callback_violations, 1);
    }
    /* a worker may have released it since the event was queued */
    if (ev == PORTMAP_EVENT_MAPPED && (rc = portmap_mapping_renew(m)) != PORTMAP_OK &&
        rc != PORTMAP_ERR_BAD_STATE) {
        fprintf(stderr, "renew in %s: %s\n", portmap_event_name(ev), portmap_strerror(rc));
        atomic_fetch_add(&callback_violations, 1);
    }
    if ((rc = portmap_mapping_wait(m, 1000, NULL)) != PORTMAP_ERR_WOULD_DEADLOCK) {
        fprintf(stderr, "wait in %s: %s\n", portmap_event_name(ev), portmap_strerror(rc));
        atomic_fetch_add(&callback_violations, 1);
    }
    if ((rc = portmap_close(&c)) != PORTMAP_ERR_WOULD_DEADLOCK || !c) {
        fprintf(stderr, "close in %s: %s\n", portmap_event_name(ev), portmap_strerror(rc));
        atomic_fetch_add(&callback_violations, 1);
    }
}

typedef struct worker {
    int id;
    unsigned seed;
    int last_rc;  /* what the final blocking wait returned */
    int ops;
} worker;

static portmap_mapping *request(uint16_t port, int timeout_ms)
{
    portmap_request r;
    portmap_mapping *m = NULL;

    portmap_request_init(&r);
    r.protocol = port % 2 ? PORTMAP_TCP : PORTMAP_UDP;
    r.internal_port = port;
    r.lifetime = 2;
    r.timeout_ms = timeout_ms;
    r.callback = on_event;
    r.user = client;
    if (portmap_request_mapping(client, &r, &m) != PORTMAP_OK)
        return NULL;
    return m;
}

static void *work(void *arg)
{
    worker *w = arg;
    portmap_mapping *mine[PER_THREAD] = { NULL };
    struct timespec t0, now;
    portmap_mapping *last;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        int k = (int)(rand_r(&w->seed) % PER_THREAD);
        uint16_t port = (uint16_t)(9000 + w->id * PER_THREAD + k);
        portmap_mapping_info info;
        switch (rand_r(&w->seed) % 6) {
        case 0:
            if (!mine[k])
                mine[k] = request(port, 3000);
            break;
        case 1:
            if (mine[k])
                portmap_mapping_wait(mine[k], 50, &info);
            break;
        case 2:
            if (mine[k])
                portmap_mapping_get_info(mine[k], &info);
            break;
        case 3:
            if (mine[k])
                portmap_mapping_renew(mine[k]);
            break;
        case 4:
            if (mine[k])
                portmap_mapping_release(&mine[k], (int)(rand_r(&w->seed) % 2) * 200);
            break;
        case 5: {
            portmap_discovery d;
            portmap_discover(client, &d, 0, 200);
            break;
        }
        }
        w->ops++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 < 2500);
    /* End blocked in the client: a request nobody answers, which the close
     * must cancel. The handles are the client's to free after that. */
    last = request((uint16_t)(SILENT_PORT + w->id), 60000);
    atomic_fetch_add(&blocked, 1);
    w->last_rc = last ? portmap_mapping_wait(last, 60000, NULL) : -1;
    return NULL;
}

static int all_blocked(void *arg)
{
    (void)arg;
    return atomic_load(&blocked) >= THREADS;
}

START_TEST(threads_and_close_in_the_middle)
{
    portmap_settings s;
    pthread_t th[THREADS];
    worker w[THREADS];
    char dir[] = "/tmp/pm-stress-XXXXXX";
    int total = 0;

    ck_assert_msg(fakegw_start(&gw, handler, NULL) == 0, "cannot bind 127.0.0.1:5351");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    portmap_default_settings(&s);
    s.gateway = "127.0.0.1";
    s.methods[0] = PORTMAP_METHOD_PCP; /* no UPnP here: discovery completes at once */
    s.methods[1] = PORTMAP_METHOD_NATPMP;
    s.timeout_ms = 3000;
    s.state_dir = dir;
    s.close_timeout_ms = 500;
    ck_assert_int_eq(portmap_open(&client, &s), PORTMAP_OK);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){ .id = i, .seed = (unsigned)(i * 7919 + 1) };
        ck_assert_int_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    ck_assert_msg(wait_until(all_blocked, NULL, 60000), "the workers never got to their last wait");
    usleep(100000); /* into the wait itself, which tells nobody */
    ck_assert_int_eq(portmap_close(&client), PORTMAP_OK);
    ck_assert_ptr_null(client);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(w[i].last_rc, PORTMAP_ERR_CANCELLED);
        total += w[i].ops;
    }
    fakegw_stop(&gw);
    fprintf(stderr, "  %d operations, %d callbacks\n", total, atomic_load(&callbacks));
    ck_assert_int_gt(atomic_load(&callbacks), 0);
    ck_assert_int_eq(atomic_load(&callback_violations), 0);
}
END_TEST

/*
 * Many threads request at once on a router that has answered: each
 * request leaves from its caller's thread under the client lock, past
 * PM_INFLIGHT_MAX (64) at once, where the engine's pass takes over.
 */
#define BURST_THREADS 8
#define BURST_PER_THREAD 24
#define BURST_PORT 7000

static pthread_barrier_t burst_start;

static void *burst(void *arg)
{
    int id = (int)(intptr_t)arg, failed = 0;
    portmap_mapping *m[BURST_PER_THREAD];

    pthread_barrier_wait(&burst_start);
    for (int i = 0; i < BURST_PER_THREAD; i++)
        m[i] = request((uint16_t)(BURST_PORT + id * BURST_PER_THREAD + i), 10000);
    for (int i = 0; i < BURST_PER_THREAD; i++)
        failed += !m[i] || portmap_mapping_wait(m[i], 0, NULL) != PORTMAP_OK;
    return (void *)(intptr_t)failed;
}

START_TEST(many_threads_request_at_once_on_a_known_router)
{
    portmap_settings s;
    pthread_t th[BURST_THREADS];
    char dir[] = "/tmp/pm-stress-XXXXXX";
    portmap_counters k;
    int failed = 0, sent = 0;

    ck_assert_msg(fakegw_start(&gw, handler, NULL) == 0, "cannot bind 127.0.0.1:5351");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    portmap_default_settings(&s);
    s.gateway = "127.0.0.1";
    s.methods[0] = PORTMAP_METHOD_PCP;
    s.methods[1] = PORTMAP_METHOD_NATPMP;
    s.timeout_ms = 10000;
    s.state_dir = dir;
    s.close_timeout_ms = 2000;
    ck_assert_int_eq(portmap_open(&client, &s), PORTMAP_OK);
    /* the router answers first: PCP is known when the burst comes */
    ck_assert_int_eq(portmap_mapping_wait(request(BURST_PORT - 1, 10000), 0, NULL), PORTMAP_OK);
    ck_assert_int_eq(pthread_barrier_init(&burst_start, NULL, BURST_THREADS), 0);
    for (intptr_t i = 0; i < BURST_THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, burst, (void *)i), 0);
    for (int i = 0; i < BURST_THREADS; i++) {
        void *r;
        ck_assert_int_eq(pthread_join(th[i], &r), 0);
        failed += (int)(intptr_t)r;
    }
    pthread_barrier_destroy(&burst_start);
    ck_assert_int_eq(failed, 0);
    ck_assert_int_eq(portmap_get_counters(client, &k), PORTMAP_OK);
    /* each request went out once (the fake router drops nothing), not
     * by its caller and again by the engine; a slow engine may have
     * resent some */
    for (int p = BURST_PORT; p < BURST_PORT + BURST_THREADS * BURST_PER_THREAD; p++) {
        ck_assert_int_ge(atomic_load(&first_maps[p]), 1);
        sent += atomic_load(&first_maps[p]);
    }
    ck_assert_int_le(sent, BURST_THREADS * BURST_PER_THREAD + (int)k.retransmissions);
    ck_assert_int_eq(portmap_close(&client), PORTMAP_OK);
    fakegw_stop(&gw);
    ck_assert_int_eq(atomic_load(&callback_violations), 0);
}
END_TEST

static Suite *stress_suite(void)
{
    Suite *s = suite_create("stress");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, threads_and_close_in_the_middle);
    tcase_add_test(tc, many_threads_request_at_once_on_a_known_router);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (geteuid() == 0 && unshare(CLONE_NEWNET) == 0 && system("ip link set lo up") != 0)
        fprintf(stderr, "stress: could not bring up loopback in the private namespace\n");
    return pm_check_run(stress_suite());
}
