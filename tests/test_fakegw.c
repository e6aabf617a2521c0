/*
 * Suite: router behaviour miniupnpd will not produce, from a scriptable
 * fake gateway on loopback (tests/fakegw.c). When run as root the suite
 * moves into a private network namespace first, so port 5351 is ours.
 */
#include <arpa/inet.h>
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <portmap/portmap.h>

#include "check_main.h"
#include "fakegw.h"

static fakegw gw;
static int scenario;
static int map_count;

enum { S_NOT_AUTH, S_NO_RES_THEN_OK, S_PMP_ONLY, S_SPOOF, S_CHANGE, S_SILENT, S_PMP_REFUSED, S_PMP_SLOW_ADDR,
       S_EPOCH_BACK, S_FILTER, S_FORGED_EPOCH };
static int addr_requests;
static atomic_int pmp_maps;       /* NAT-PMP mapping requests seen */
/* the last PCP MAP request, for S_FILTER: written by the gateway's thread */
static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t last_map[128];
static size_t last_map_len;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void answer_natpmp(fakegw *g, const uint8_t *req, size_t len)
{
    uint8_t out[16];
    if (req[1] == 0) {
        /* the slow router loses the first address request */
        if (scenario == S_PMP_SLOW_ADDR && addr_requests++ == 0)
            return;
        fakegw_reply(g, out, fakegw_pmp_addr_reply(out, 0, g->epoch, "198.51.100.7"));
    } else if (len >= 12) {
        pmp_maps++;
        uint16_t iport = (uint16_t)((req[4] << 8) | req[5]);
        uint16_t result = scenario == S_PMP_REFUSED ? 2 : 0;
        fakegw_reply(g, out, fakegw_pmp_map_reply(out, req, result, g->epoch,
                                                  (uint16_t)(iport + 1000), 600));
    }
}

static void handler(fakegw *g, const uint8_t *req, size_t len, void *user)
{
    uint8_t out[64];
    (void)user;

    if (scenario == S_SILENT)
        return;
    if (req[0] == 0) {
        answer_natpmp(g, req, len);
        return;
    }
    if (scenario == S_PMP_ONLY || scenario == S_PMP_REFUSED || scenario == S_PMP_SLOW_ADDR) {
        /* a NAT-PMP server's answer to any other version */
        uint8_t v0[8] = { 0, (uint8_t)(0x80 | req[1]), 0, 1, 0, 0, 0x03, 0xe8 };
        fakegw_reply(g, v0, sizeof(v0));
        return;
    }
    if (req[1] == 0) { /* ANNOUNCE, with the epoch the MAP replies give */
        uint8_t a[24] = { 2, 0x80 };
        a[8] = (uint8_t)(g->epoch >> 24);
        a[9] = (uint8_t)(g->epoch >> 16);
        a[10] = (uint8_t)(g->epoch >> 8);
        a[11] = (uint8_t)g->epoch;
        fakegw_reply(g, a, sizeof(a));
        return;
    }
    if (len < 60 || req[4] + req[5] + req[6] + req[7] == 0) { /* deletes: just confirm */
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 0, g->epoch, 0, "0.0.0.0"));
        return;
    }
    map_count++;
    switch (scenario) {
    case S_NOT_AUTH:
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 2, 0, g->epoch, 0, "0.0.0.0"));
        break;
    case S_NO_RES_THEN_OK:
        if (map_count == 1)
            fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 8, 1, g->epoch, 0, "0.0.0.0"));
        else
            fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 600, g->epoch, 4444, "198.51.100.7"));
        break;
    case S_SPOOF: {
        uint8_t bad[64];
        /* right nonce, wrong source: the connected socket never sees it */
        fakegw_reply_spoofed(g, out, fakegw_pcp_map_reply(out, req, 0, 600, g->epoch, 3333, "6.6.6.6"));
        /* wrong nonce */
        fakegw_pcp_map_reply(bad, req, 0, 600, g->epoch, 1111, "6.6.6.6");
        bad[24] ^= 0xff;
        fakegw_reply(g, bad, 60);
        /* truncated, then unaligned, then the wrong internal port */
        fakegw_pcp_map_reply(bad, req, 0, 600, g->epoch, 1112, "6.6.6.6");
        fakegw_reply(g, bad, 30);
        fakegw_reply(g, bad, 58);
        bad[41] ^= 1;
        fakegw_reply(g, bad, 60);
        /* oversized: longer than any PCP message may be */
        {
            uint8_t big[1200] = { 0 };
            memcpy(big, out, fakegw_pcp_map_reply(out, req, 0, 600, g->epoch, 1113, "6.6.6.6"));
            fakegw_reply(g, big, sizeof(big));
        }
        /* finally the real answer */
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 600, g->epoch, 2222, "198.51.100.7"));
        break;
    }
    case S_EPOCH_BACK: {
        /* the third MAP (a renewal of port 7010) finds the router rebooted:
         * its epoch went from 1000 s back to 5 s */
        static int64_t t_start, t_reset;
        uint16_t iport = (uint16_t)((req[40] << 8) | req[41]);
        uint32_t epoch;
        if (map_count == 1)
            t_start = now_ms();
        if (map_count == 3)
            t_reset = now_ms();
        /* a router's epoch advances with time; the reset takes it back */
        epoch = map_count <= 2 ? 1000 + (uint32_t)((now_ms() - t_start) / 1000)
                               : 5 + (uint32_t)((now_ms() - t_reset) / 1000);
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, iport == 7010 ? 2 : 600, epoch,
                                                  (uint16_t)(iport + 1), "198.51.100.7"));
        break;
    }
    case S_FILTER: {
        /* a server that applies the FILTER returns it (RFC 6887 13.3) */
        uint8_t echo[128];
        size_t n = fakegw_pcp_map_reply(echo, req, 0, 600, g->epoch, 4242, "198.51.100.7");
        pthread_mutex_lock(&last_lock);
        last_map_len = len < sizeof(last_map) ? len : sizeof(last_map);
        memcpy(last_map, req, last_map_len);
        pthread_mutex_unlock(&last_lock);
        if (len > 60 && len - 60 <= sizeof(echo) - n) {
            memcpy(echo + n, req + 60, len - 60);
            n += len - 60;
        }
        fakegw_reply(g, echo, n);
        break;
    }
    case S_FORGED_EPOCH:
        /* before the second mapping's answer, one with a wrong nonce and
         * the epoch of a router that has just restarted */
        if (map_count == 2) {
            uint8_t bad[64];
            fakegw_pcp_map_reply(bad, req, 0, 600, 5, 1111, "6.6.6.6");
            bad[24] ^= 0xff;
            fakegw_reply(g, bad, 60);
        }
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 600, g->epoch,
                                                  (uint16_t)(6000 + map_count), "198.51.100.7"));
        break;
    case S_CHANGE:
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 2, g->epoch,
                                                  (uint16_t)(map_count == 1 ? 5000 : 5001),
                                                  "198.51.100.7"));
        break;
    }
}

/* events seen by the callback */
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static portmap_event events[32];
static int n_events;
static int inner_wait_rc, inner_info_rc;

static void on_event(portmap_mapping *m, portmap_event ev, const portmap_mapping_info *info,
                     void *user)
{
    (void)user;
    (void)info;
    pthread_mutex_lock(&ev_lock);
    if (n_events < 32)
        events[n_events++] = ev;
    pthread_mutex_unlock(&ev_lock);
    if (ev == PORTMAP_EVENT_MAPPED) {
        portmap_mapping_info i;
        inner_wait_rc = portmap_mapping_wait(m, 1000, NULL);
        inner_info_rc = portmap_mapping_get_info(m, &i);
    }
}

static int seen(portmap_event ev)
{
    int n = 0;
    pthread_mutex_lock(&ev_lock);
    for (int i = 0; i < n_events; i++)
        n += events[i] == ev;
    pthread_mutex_unlock(&ev_lock);
    return n;
}

static portmap_client *client;

static void start(int s)
{
    portmap_settings st;
    char dir[] = "/tmp/pm-fakegw-XXXXXX";

    scenario = s;
    map_count = 0;
    addr_requests = 0;
    atomic_store(&pmp_maps, 0);
    last_map_len = 0; /* before the gateway's thread starts */
    n_events = 0;
    inner_wait_rc = inner_info_rc = -1;
    ck_assert_msg(fakegw_start(&gw, handler, NULL) == 0, "cannot bind 127.0.0.1:5351");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    portmap_default_settings(&st);
    st.gateway = "127.0.0.1";
    st.timeout_ms = 3000;
    st.state_dir = dir;
    st.close_timeout_ms = 500;
    ck_assert_int_eq(portmap_open(&client, &st), PORTMAP_OK);
}

static void finish(void)
{
    portmap_close(&client);
    fakegw_stop(&gw);
}

static portmap_mapping *request(uint16_t port)
{
    portmap_request r;
    portmap_mapping *m = NULL;
    portmap_request_init(&r);
    r.internal_port = port;
    r.callback = on_event;
    ck_assert_int_eq(portmap_request_mapping(client, &r, &m), PORTMAP_OK);
    return m;
}

static portmap_mapping *request_allow(uint16_t port, const char *allow, portmap_method method,
                                     int *rc)
{
    portmap_request r;
    portmap_mapping *m = NULL;
    portmap_request_init(&r);
    r.internal_port = port;
    r.allow = allow;
    r.method = method;
    *rc = portmap_request_mapping(client, &r, &m);
    return m;
}

START_TEST(allow_goes_out_as_a_pcp_filter)
{
    static const uint8_t mapped_net[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 0 };
    portmap_mapping_info info;
    int rc;
    start(S_FILTER);
    portmap_mapping *m = request_allow(7020, "198.51.100.0/24", PORTMAP_METHOD_AUTO, &rc);
    ck_assert_int_eq(rc, PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_uint_eq(info.external_port, 4242);
    pthread_mutex_lock(&last_lock);
    /* header 24 + MAP 36 + one FILTER option of 4 + 20 */
    ck_assert_uint_eq(last_map_len, 84);
    ck_assert_uint_eq(last_map[60], 3);                   /* FILTER */
    ck_assert_uint_eq((last_map[62] << 8) | last_map[63], 20);
    ck_assert_uint_eq(last_map[65], 96 + 24);             /* prefix on the mapped form */
    ck_assert_uint_eq((last_map[66] << 8) | last_map[67], 0); /* any remote port */
    ck_assert_mem_eq(last_map + 68, mapped_net, 16);
    pthread_mutex_unlock(&last_lock);
    /* host bits set, a bad prefix: refused before anything is sent */
    ck_assert_ptr_null(request_allow(7021, "198.51.100.7/24", PORTMAP_METHOD_AUTO, &rc));
    ck_assert_int_eq(rc, PORTMAP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(request_allow(7021, "198.51.100.0/40", PORTMAP_METHOD_AUTO, &rc));
    ck_assert_int_eq(rc, PORTMAP_ERR_INVALID_ARGUMENT);
    finish();
}
END_TEST

START_TEST(allow_is_refused_where_only_natpmp_answers)
{
    portmap_mapping_info info;
    int rc;
    start(S_PMP_ONLY);
    /* asked for NAT-PMP by name: refused at once */
    ck_assert_ptr_null(request_allow(7022, "198.51.100.7", PORTMAP_METHOD_NATPMP, &rc));
    ck_assert_int_eq(rc, PORTMAP_ERR_UNSUPPORTED);
    /* auto: PCP is not spoken, NAT-PMP cannot restrict: fails, nothing mapped */
    portmap_mapping *m = request_allow(7023, "198.51.100.7", PORTMAP_METHOD_AUTO, &rc);
    ck_assert_int_eq(rc, PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_ERR_UNSUPPORTED);
    ck_assert_int_eq(info.state, PORTMAP_STATE_FAILED);
    ck_assert_int_eq(atomic_load(&pmp_maps), 0);
    /* the same request without allow is mapped through NAT-PMP */
    m = request_allow(7024, NULL, PORTMAP_METHOD_AUTO, &rc);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_int_eq(info.method, PORTMAP_METHOD_NATPMP);
    finish();
}
END_TEST

START_TEST(not_authorized_is_a_clear_error)
{
    portmap_mapping_info info;
    int64_t t0 = now_ms();
    start(S_NOT_AUTH);
    portmap_mapping *m = request(7000);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_ERR_NOT_AUTHORIZED);
    ck_assert_int_lt(now_ms() - t0, 1000);
    ck_assert_int_eq(info.state, PORTMAP_STATE_FAILED);
    ck_assert_int_eq(info.last_error, PORTMAP_ERR_NOT_AUTHORIZED);
    ck_assert_int_eq(map_count, 1); /* no retry, no fallback */
    finish();
}
END_TEST

START_TEST(no_resources_is_retried)
{
    portmap_mapping_info info;
    int64_t t0 = now_ms();
    start(S_NO_RES_THEN_OK);
    portmap_mapping *m = request(7001);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_int_ge(now_ms() - t0, 900); /* waited the server's 1 s */
    ck_assert_uint_eq(info.external_port, 4444);
    ck_assert_int_eq(map_count, 2);
    finish();
}
END_TEST

START_TEST(natpmp_only_server_gets_natpmp)
{
    portmap_mapping_info info;
    portmap_discovery d;
    start(S_PMP_ONLY);
    portmap_mapping *m = request(7002);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_int_eq(info.method, PORTMAP_METHOD_NATPMP);
    ck_assert_uint_eq(info.external_port, 8002);
    ck_assert_str_eq(info.external_address, "198.51.100.7");
    ck_assert_int_eq(portmap_discover(client, &d, 0, 1000), PORTMAP_OK);
    ck_assert_uint_eq(d.methods, PORTMAP_HAVE(PORTMAP_METHOD_NATPMP));
    ck_assert_int_eq(d.preferred, PORTMAP_METHOD_NATPMP);
    finish();
}
END_TEST

START_TEST(spoofed_and_malformed_replies_are_dropped)
{
    portmap_mapping_info info;
    start(S_SPOOF);
    portmap_mapping *m = request(7003);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_uint_eq(info.external_port, 2222);
    ck_assert_str_eq(info.external_address, "198.51.100.7");
    {
        portmap_counters k;
        ck_assert_int_eq(portmap_get_counters(client, &k), PORTMAP_OK);
        ck_assert_uint_ge(k.dropped_unmatched, 2); /* wrong nonce, wrong port */
        ck_assert_uint_ge(k.dropped_malformed, 3); /* truncated, unaligned, oversized */
        ck_assert_uint_eq(k.responses, 1);
    }
    finish();
}
END_TEST

START_TEST(renewal_reports_a_changed_port)
{
    portmap_mapping_info info;
    start(S_CHANGE);
    portmap_mapping *m = request(7004);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_uint_eq(info.external_port, 5000);
    for (int i = 0; i < 40 && !seen(PORTMAP_EVENT_CHANGED); i++)
        usleep(100000);
    ck_assert_int_eq(seen(PORTMAP_EVENT_CHANGED), 1);
    portmap_mapping_get_info(m, &info);
    ck_assert_uint_eq(info.external_port, 5001);
    ck_assert_uint_eq(info.lifetime, 2);
    /* the callback's blocking call was refused, the non-blocking one not */
    ck_assert_int_eq(inner_wait_rc, PORTMAP_ERR_WOULD_DEADLOCK);
    ck_assert_int_eq(inner_info_rc, PORTMAP_OK);
    finish();
}
END_TEST

/* The router's epoch goes backwards in a renewal's reply: every other
 * mapping through it is lost, re-made within the 0-5 s spread, counted. */
START_TEST(epoch_going_back_remaps)
{
    portmap_mapping_info info;
    portmap_counters k;
    int64_t t0;

    start(S_EPOCH_BACK);
    portmap_mapping *a = request(7010);
    ck_assert_int_eq(portmap_mapping_wait(a, 0, &info), PORTMAP_OK);
    portmap_mapping *b = request(7011);
    ck_assert_int_eq(portmap_mapping_wait(b, 0, &info), PORTMAP_OK);
    t0 = now_ms();
    while (seen(PORTMAP_EVENT_RESTORED) < 1 && now_ms() - t0 < 9000)
        usleep(50000);
    ck_assert_int_eq(seen(PORTMAP_EVENT_LOST), 1);
    ck_assert_int_eq(seen(PORTMAP_EVENT_RESTORED), 1);
    ck_assert_int_eq(portmap_mapping_get_info(b, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(portmap_get_counters(client, &k), PORTMAP_OK);
    ck_assert_uint_eq(k.remaps_after_reset, 1);
    ck_assert_uint_ge(k.renewals, 1);
    finish();
}
END_TEST

/* A reply with a wrong nonce tells nothing of the router, not even its
 * epoch: anyone on the LAN can send one from the gateway's address. */
START_TEST(forged_epoch_is_ignored)
{
    portmap_mapping_info info;
    portmap_counters k;

    start(S_FORGED_EPOCH);
    portmap_mapping *a = request(7012);
    ck_assert_int_eq(portmap_mapping_wait(a, 0, &info), PORTMAP_OK);
    portmap_mapping *b = request(7013);
    ck_assert_int_eq(portmap_mapping_wait(b, 0, &info), PORTMAP_OK);
    ck_assert_uint_eq(info.external_port, 6002);
    usleep(200000); /* events are delivered by the engine thread */
    ck_assert_int_eq(seen(PORTMAP_EVENT_LOST), 0);
    ck_assert_int_eq(portmap_mapping_get_info(a, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(portmap_get_counters(client, &k), PORTMAP_OK);
    ck_assert_uint_ge(k.dropped_unmatched, 1);
    ck_assert_uint_eq(k.remaps_after_reset, 0);
    finish();
}
END_TEST

START_TEST(silence_fails_within_the_timeout)
{
    int64_t t0 = now_ms();
    start(S_SILENT);
    portmap_mapping *m = request(7005);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, NULL), PORTMAP_ERR_NO_GATEWAY);
    ck_assert_int_ge(now_ms() - t0, 2900);
    ck_assert_int_lt(now_ms() - t0, 3500);
    /* the callback runs on the engine thread, maybe just after the wait */
    for (int i = 0; i < 20 && !seen(PORTMAP_EVENT_FAILED); i++)
        usleep(50000);
    ck_assert_int_eq(seen(PORTMAP_EVENT_FAILED), 1);
    ck_assert_int_gt(gw.pcp_requests, 3); /* retransmitted, not sent once */
    finish();
}
END_TEST

START_TEST(natpmp_refusal)
{
    start(S_PMP_REFUSED);
    portmap_mapping *m = request(7006);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, NULL), PORTMAP_ERR_NOT_AUTHORIZED);
    finish();
}
END_TEST

/* The mapping reply beats the address reply: "mapped" still carries the
 * external address. */
START_TEST(natpmp_mapped_waits_for_the_address)
{
    portmap_mapping_info info;
    start(S_PMP_SLOW_ADDR);
    portmap_mapping *m = request(7008);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_int_eq(info.method, PORTMAP_METHOD_NATPMP);
    ck_assert_str_eq(info.external_address, "198.51.100.7");
    ck_assert_int_ge(addr_requests, 2);
    finish();
}
END_TEST

static void *blocked_waiter(void *arg)
{
    portmap_mapping *m = arg;
    return (void *)(intptr_t)portmap_mapping_wait(m, 10000, NULL);
}

START_TEST(close_with_requests_in_flight)
{
    pthread_t th;
    void *rc;
    start(S_SILENT);
    portmap_mapping *m = request(7007);
    for (int i = 0; i < 4; i++)
        request((uint16_t)(7010 + i));
    ck_assert_int_eq(pthread_create(&th, NULL, blocked_waiter, m), 0);
    usleep(200000);
    int64_t t0 = now_ms();
    portmap_close(&client);
    ck_assert_ptr_null(client);
    pthread_join(th, &rc);
    ck_assert_int_eq((int)(intptr_t)rc, PORTMAP_ERR_CANCELLED);
    ck_assert_int_lt(now_ms() - t0, 2000); /* bounded by close_timeout_ms */
    ck_assert_int_eq(seen(PORTMAP_EVENT_RELEASED), 5);
    ck_assert_int_eq(seen(PORTMAP_EVENT_FAILED), 5);
    fakegw_stop(&gw);
}
END_TEST

static Suite *fakegw_suite(void)
{
    Suite *s = suite_create("fakegw");
    TCase *tc = tcase_create("router_behaviour");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, not_authorized_is_a_clear_error);
    tcase_add_test(tc, no_resources_is_retried);
    tcase_add_test(tc, natpmp_only_server_gets_natpmp);
    tcase_add_test(tc, spoofed_and_malformed_replies_are_dropped);
    tcase_add_test(tc, allow_goes_out_as_a_pcp_filter);
    tcase_add_test(tc, allow_is_refused_where_only_natpmp_answers);
    tcase_add_test(tc, renewal_reports_a_changed_port);
    tcase_add_test(tc, silence_fails_within_the_timeout);
    tcase_add_test(tc, epoch_going_back_remaps);
    tcase_add_test(tc, forged_epoch_is_ignored);
    tcase_add_test(tc, natpmp_refusal);
    tcase_add_test(tc, natpmp_mapped_waits_for_the_address);
    tcase_add_test(tc, close_with_requests_in_flight);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* Root: a private network namespace with only loopback in it. */
    if (geteuid() == 0 && unshare(CLONE_NEWNET) == 0 && system("ip link set lo up") != 0)
        fprintf(stderr, "fakegw: could not bring up loopback in the private namespace\n");
    return pm_check_run(fakegw_suite());
}
