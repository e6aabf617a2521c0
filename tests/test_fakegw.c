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
#include <unistd.h>

#include <portmap/portmap.h>

#include "check_main.h"
#include "log_capture.h"
#include "fakegw.h"
#include "wait.h"

static fakegw gw;
static int scenario;
static atomic_int map_count;      /* MAP requests seen by the gateway's thread */

enum { S_NOT_AUTH, S_NO_RES_THEN_OK, S_PMP_ONLY, S_SPOOF, S_CHANGE, S_SILENT, S_PMP_REFUSED, S_PMP_SLOW_ADDR,
       S_EPOCH_BACK, S_FILTER, S_FORGED_EPOCH, S_PLAIN, S_DROP_FIRST, S_PCP_SILENT, S_SLOW_PORT };
/* S_PCP_SILENT: NAT-PMP answers, PCP says nothing (a router whose ICMP
 * refusals of PCP rate limiting holds back looks the same) */
/* S_SLOW_PORT: the MAP requests for SLOW_PORT are answered SLOW_MS late
 * (the gateway's thread sleeps first: the others wait with it) */
#define SLOW_PORT 7303
#define SLOW_MS 300
/* S_DROP_FIRST: the first MAP request for this port is lost */
#define DROPPED_PORT 7301
static atomic_int dropped_port_maps; /* MAP requests for it seen, the lost one too */
static atomic_int addr_requests;
static atomic_int pmp_maps;       /* NAT-PMP mapping requests seen */
/* the last PCP MAP request, for S_FILTER: written by the gateway's thread */
static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t last_map[128];
static size_t last_map_len;
/* PCP deletes seen, and the nonces of the last MAP and the last delete */
static atomic_int pcp_deletes;
static uint8_t map_nonce[12], delete_nonce[12];

static void answer_natpmp(fakegw *g, const uint8_t *req, size_t len)
{
    uint8_t out[16];
    if (req[1] == 0) {
        /* the slow router loses the first address request */
        if (scenario == S_PMP_SLOW_ADDR && atomic_fetch_add(&addr_requests, 1) == 0)
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

/* S_EPOCH_BACK's router: the third MAP (a renewal of port 7010, which
 * has a 2 s lease) finds it rebooted, its epoch gone from 1000 s back to
 * 5 s. Only the gateway's thread calls it. */
static uint32_t epoch_back(int count)
{
    static int64_t t_start, t_reset;
    if (count == 1)
        t_start = now_ms();
    if (count == 3)
        t_reset = now_ms();
    /* a router's epoch advances with time; the reset takes it back */
    return count <= 2 ? 1000 + (uint32_t)((now_ms() - t_start) / 1000)
                      : 5 + (uint32_t)((now_ms() - t_reset) / 1000);
}

static void announce(fakegw *g)
{
    /* ANNOUNCE, with the epoch the MAP replies give */
    uint8_t a[24] = { 2, 0x80 };
    a[8] = (uint8_t)(g->epoch >> 24);
    a[9] = (uint8_t)(g->epoch >> 16);
    a[10] = (uint8_t)(g->epoch >> 8);
    a[11] = (uint8_t)g->epoch;
    fakegw_reply(g, a, sizeof(a));
}

static void handler(fakegw *g, const uint8_t *req, size_t len, void *user)
{
    uint8_t out[64];
    int count;
    (void)user;

    if (scenario == S_SILENT || (scenario == S_PCP_SILENT && req[0] != 0))
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
    if (req[1] == 0) {
        announce(g);
        return;
    }
    if (len < 60 || req[4] + req[5] + req[6] + req[7] == 0) { /* deletes: just confirm */
        if (len >= 60) {
            pthread_mutex_lock(&last_lock);
            memcpy(delete_nonce, req + 24, sizeof(delete_nonce));
            pthread_mutex_unlock(&last_lock);
            pcp_deletes++;
        }
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 0, g->epoch, 0, "0.0.0.0"));
        return;
    }
    pthread_mutex_lock(&last_lock);
    memcpy(map_nonce, req + 24, sizeof(map_nonce));
    pthread_mutex_unlock(&last_lock);
    count = ++map_count;
    switch (scenario) {
    case S_NOT_AUTH:
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 2, 0, g->epoch, 0, "0.0.0.0"));
        break;
    case S_NO_RES_THEN_OK:
        if (count == 1)
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
        uint16_t iport = (uint16_t)((req[40] << 8) | req[41]);
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, iport == 7010 ? 2 : 600,
                                                  epoch_back(count), (uint16_t)(iport + 1),
                                                  "198.51.100.7"));
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
        if (count == 2) {
            uint8_t bad[64];
            fakegw_pcp_map_reply(bad, req, 0, 600, 5, 1111, "6.6.6.6");
            bad[24] ^= 0xff;
            fakegw_reply(g, bad, 60);
        }
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 600, g->epoch,
                                                  (uint16_t)(6000 + count), "198.51.100.7"));
        break;
    case S_SLOW_PORT:
        if (((req[40] << 8) | req[41]) == SLOW_PORT)
            usleep(SLOW_MS * 1000);
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 600, g->epoch,
                                                  (uint16_t)(((req[40] << 8) | req[41]) + 1000),
                                                  "198.51.100.7"));
        break;
    case S_DROP_FIRST:
        if (((req[40] << 8) | req[41]) == DROPPED_PORT &&
            atomic_fetch_add(&dropped_port_maps, 1) == 0)
            break;
        /* fall through */
    case S_PLAIN:
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 600, g->epoch,
                                                  (uint16_t)(((req[40] << 8) | req[41]) + 1000),
                                                  "198.51.100.7"));
        break;
    case S_CHANGE:
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 2, g->epoch,
                                                  (uint16_t)(count == 1 ? 5000 : 5001),
                                                  "198.51.100.7"));
        break;
    }
}

/* events seen by the callback, with the family, handle and user of each */
static wait_events rec = WAIT_EVENTS_INIT;
static int inner_wait_rc, inner_info_rc;

static char state_dir[32];
static int journal_at_mapped = -1; /* the journal file existed when MAPPED was delivered */

static void on_event(portmap_mapping *m, portmap_event ev, const portmap_mapping_info *info,
                     void *user)
{
    if (ev == PORTMAP_EVENT_MAPPED) {
        char path[64];
        snprintf(path, sizeof(path), "%s/journal", state_dir);
        if (journal_at_mapped < 0)
            journal_at_mapped = access(path, F_OK) == 0;
        portmap_mapping_info i;
        inner_wait_rc = portmap_mapping_wait(m, 1000, NULL);
        inner_info_rc = portmap_mapping_get_info(m, &i);
    }
    /* last: a test woken by the event reads the results above */
    wait_events_record(&rec, m, ev, info, user);
}

static int seen(portmap_event ev)
{
    return wait_events_count(&rec, ev);
}

static portmap_client *client;

/* The engine's closing statistics line ("engine: N polls; ..."), from
 * the debug log of a client opened while log_stats is set. */
static int log_stats;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static char stats_line[512];

static void on_stats_log(void *user, portmap_log_level level, const char *msg)
{
    (void)user;
    (void)level;
    if (strncmp(msg, "engine: ", 8))
        return;
    pthread_mutex_lock(&stats_lock);
    snprintf(stats_line, sizeof(stats_line), "%s", msg);
    pthread_mutex_unlock(&stats_lock);
}

/* The count logged after what, or -1. */
static long logged_stat(const char *what)
{
    const char *at;
    long n = -1;

    pthread_mutex_lock(&stats_lock);
    at = strstr(stats_line, what);
    if (at)
        n = strtol(at + strlen(what), NULL, 10);
    pthread_mutex_unlock(&stats_lock);
    return n;
}

static void start(int s)
{
    portmap_settings st;
    char dir[] = "/tmp/pm-fakegw-XXXXXX";

    scenario = s;
    atomic_store(&map_count, 0);
    atomic_store(&pcp_deletes, 0);
    atomic_store(&addr_requests, 0);
    atomic_store(&pmp_maps, 0);
    atomic_store(&dropped_port_maps, 0);
    last_map_len = 0; /* before the gateway's thread starts */
    wait_events_reset(&rec);
    inner_wait_rc = inner_info_rc = -1;
    ck_assert_msg(fakegw_start(&gw, handler, NULL) == 0, "cannot bind 127.0.0.1:5351");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(state_dir, sizeof(state_dir), "%s", dir);
    journal_at_mapped = -1;
    portmap_default_settings(&st);
    st.gateway = "127.0.0.1";
    st.timeout_ms = 3000;
    st.state_dir = dir;
    st.close_timeout_ms = 500;
    if (log_stats) {
        stats_line[0] = '\0';
        st.log_callback = on_stats_log;
        st.log_level = PORTMAP_LOG_DEBUG;
    }
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

static int deleted_once(void *arg)
{
    (void)arg;
    return atomic_load(&pcp_deletes) >= 1;
}

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
    ck_assert_int_eq(atomic_load(&map_count), 1); /* no retry, no fallback */
    /* The refusal may have been forged by a host that saw the request, and
     * the router made the mapping all the same: what may exist is deleted,
     * with the request's nonce (the only one the router would take). */
    ck_assert_msg(wait_until(deleted_once, NULL, 1000), "no delete after the refusal");
    pthread_mutex_lock(&last_lock);
    ck_assert_mem_eq(delete_nonce, map_nonce, sizeof(map_nonce));
    pthread_mutex_unlock(&last_lock);
    finish();
}
END_TEST

/* MAPPED is delivered before the journal is written (the write, a flock
 * and a file store, comes after the round's events; a crash in between
 * leaves a mapping that expires with its lease). The entry is there
 * right after. */
START_TEST(mapped_is_told_before_the_journal_write)
{
    char path[64];
    int there = 0;

    start(S_CHANGE); /* its first answer maps */
    request(7002);
    ck_assert(expect_event_within(&rec, PORTMAP_EVENT_MAPPED, 1, 2000));
    ck_assert_int_eq(journal_at_mapped, 0);
    snprintf(path, sizeof(path), "%s/journal", state_dir);
    for (int i = 0; i < 200 && !(there = access(path, F_OK) == 0); i++)
        usleep(10000); /* the engine's write, just after the callback */
    ck_assert(there);
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
    ck_assert_int_eq(atomic_load(&map_count), 2);
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

/* The external address is known once NAT-PMP told it: a protocol still
 * silent then is not waited for (its silent grace, 1 s after its probe
 * began, is how long the old code took). */
START_TEST(external_ip_does_not_wait_for_a_silent_protocol)
{
    char addr[64];
    int64_t t0;

    start(S_PCP_SILENT);
    t0 = now_ms();
    ck_assert_int_eq(portmap_external_ip(client, addr, sizeof(addr), 3000), PORTMAP_OK);
    ck_assert_str_eq(addr, "198.51.100.7");
    ck_assert_int_lt(now_ms() - t0, 500);
    ck_assert_int_ge(atomic_load(&gw.pcp_requests), 1); /* PCP was asked, and is silent */
    finish();
}
END_TEST

/* With no orphan in the journal, cleanup has nothing to wait for once
 * the router answered in some protocol (NAT-PMP here): PCP's silence is
 * not waited out. */
START_TEST(cleanup_does_not_wait_for_a_silent_protocol)
{
    unsigned released = 99;
    int64_t t0;

    start(S_PCP_SILENT);
    t0 = now_ms();
    ck_assert_int_eq(portmap_cleanup(client, 3000, &released), PORTMAP_OK);
    ck_assert_uint_eq(released, 0);
    ck_assert_int_lt(now_ms() - t0, 500);
    finish();
}
END_TEST

/* The router's table is UPnP-IGD's: a router that answers another
 * protocol has none to read. */
START_TEST(router_table_without_upnp_is_unsupported)
{
    portmap_router_entry *e = NULL;
    size_t n = 0;
    start(S_PMP_ONLY);
    ck_assert_int_eq(portmap_router_mappings(client, &e, &n, 3000), PORTMAP_ERR_UNSUPPORTED);
    ck_assert_ptr_null(e);
    finish();
}
END_TEST

/* Without a table to read, this host's own mappings are the journal's:
 * made through NAT-PMP here, held by this process, then released. */
START_TEST(journal_mappings_without_upnp)
{
    portmap_mapping_info info;
    portmap_router_entry *e = NULL;
    size_t n = 0;

    start(S_PMP_ONLY);
    portmap_mapping *m = request(7004);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_int_eq(portmap_router_mappings(client, &e, &n, 3000), PORTMAP_ERR_UNSUPPORTED);
    ck_assert_int_eq(portmap_journal_mappings(client, &e, &n), PORTMAP_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(e[0].internal_port, 7004);
    ck_assert_uint_eq(e[0].external_port, info.external_port);
    ck_assert_str_eq(e[0].description, "natpmp");
    ck_assert_str_eq(e[0].internal_client, "127.0.0.1");
    ck_assert(e[0].ours && e[0].held && !e[0].ipv6 && e[0].lease > 0);
    portmap_router_entries_free(e);
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    ck_assert_int_eq(portmap_journal_mappings(client, &e, &n), PORTMAP_OK);
    ck_assert_uint_eq(n, 0);
    portmap_router_entries_free(e);
    ck_assert_int_eq(portmap_journal_mappings(NULL, &e, &n), PORTMAP_ERR_INVALID_ARGUMENT);
    finish();
}
END_TEST

/* Nothing at the gateway's address (every protocol refused at once): no
 * gateway, as portmap_discover() says, and known without the timeout. */
START_TEST(router_table_without_a_router_is_no_gateway)
{
    portmap_settings st;
    portmap_router_entry *e = NULL, entry = { .protocol = PORTMAP_UDP, .external_port = 7020 };
    portmap_client *c = NULL;
    char dir[] = "/tmp/pm-fakegw-XXXXXX";
    size_t n = 0;
    int64_t t0 = now_ms();

    ck_assert_ptr_nonnull(mkdtemp(dir));
    portmap_default_settings(&st);
    st.gateway = "127.0.0.99";
    st.state_dir = dir;
    ck_assert_int_eq(portmap_open(&c, &st), PORTMAP_OK);
    ck_assert_int_eq(portmap_router_mappings(c, &e, &n, 10000), PORTMAP_ERR_NO_GATEWAY);
    ck_assert_int_eq(portmap_router_delete(c, &entry, 10000), PORTMAP_ERR_NO_GATEWAY);
    ck_assert_int_lt(now_ms() - t0, 5000);
    portmap_close(&c);
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
    expect_event_within(&rec, PORTMAP_EVENT_CHANGED, 1, 4000);
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

/* The router's epoch goes backwards in a renewal's reply: every mapping
 * through it was lost; the renewed one is made again by that renewal,
 * the others within the 0-5 s spread; each is counted. */
START_TEST(epoch_going_back_remaps)
{
    portmap_mapping_info info;
    portmap_counters k;

    start(S_EPOCH_BACK);
    portmap_mapping *a = request(7010);
    ck_assert_int_eq(portmap_mapping_wait(a, 0, &info), PORTMAP_OK);
    portmap_mapping *b = request(7011);
    ck_assert_int_eq(portmap_mapping_wait(b, 0, &info), PORTMAP_OK);
    expect_event_within(&rec, PORTMAP_EVENT_RESTORED, 2, 9000);
    ck_assert_int_eq(seen(PORTMAP_EVENT_LOST), 2);
    ck_assert_int_eq(seen(PORTMAP_EVENT_RESTORED), 2);
    ck_assert_int_eq(portmap_mapping_get_info(b, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(portmap_get_counters(client, &k), PORTMAP_OK);
    ck_assert_uint_eq(k.remaps_after_reset, 2);
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
    /* events come in order from the engine thread: b's MAPPED after
     * anything the forged reply before its answer caused */
    ck_assert(expect_event_within(&rec, PORTMAP_EVENT_MAPPED, 2, 1000));
    expect_no_event_within(&rec, PORTMAP_EVENT_LOST, 200);
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
    /* The gateway's host refuses SSDP (nothing on 127.0.0.x:1900): up,
     * so its silence in PCP and NAT-PMP is given up after
     * PM_REFUSED_GRACE_MS, before the 3 s timeout. */
    ck_assert_int_ge(now_ms() - t0, 1900);
    ck_assert_int_lt(now_ms() - t0, 2600);
    /* the callback runs on the engine thread, maybe just after the wait */
    expect_event_within(&rec, PORTMAP_EVENT_FAILED, 1, 1000);
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
    ck_assert_int_ge(atomic_load(&addr_requests), 2);
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
    usleep(200000); /* for the waiter to be in its wait: nothing to wait on for that */
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

/* ---- IPv6: the gateway on [::1]:5351, pinholes instead of NAT ---- */

enum { S6_OK, S6_MAPPED_EXT, S6_SPOOF, S6_MISMATCH, S6_NOT_AUTH, S6_EPOCH_BACK, S6_NO_DELETE,
       S6_PORT_ZERO };
/* S6_PORT_ZERO: success with external port 0, as miniupnpd 2.3.1 answers
 * a MAP for a pinhole it holds already (made with another nonce, e.g. by
 * an earlier `portmap-cli request --once`): it renews it and leaves the
 * port unset */

/* every PCP MAP request the IPv6 gateway saw, deletes included */
static uint8_t reqs6[16][60];
static int n_reqs6;

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void handler6(fakegw *g, const uint8_t *req, size_t len, void *user)
{
    uint8_t out[64];
    uint16_t iport;
    int count;
    (void)user;

    if (req[0] != 2)
        return; /* no NAT-PMP on IPv6: the tests check none came */
    if (req[1] == 0) {
        announce(g);
        return;
    }
    if (len < 60)
        return;
    pthread_mutex_lock(&last_lock);
    if (n_reqs6 < 16)
        memcpy(reqs6[n_reqs6++], req, 60);
    pthread_mutex_unlock(&last_lock);
    iport = (uint16_t)((req[40] << 8) | req[41]);
    if (get32(req + 4) == 0) { /* deletes: just confirm, or refuse as miniupnpd 2.3.1 does */
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, scenario == S6_NO_DELETE ? 2 : 0, 0,
                                                  g->epoch, 0, "::"));
        return;
    }
    if (scenario == S6_NO_DELETE && get32(req + 4) < 120) { /* clamped to its minimum */
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 120, g->epoch, iport, "::1"));
        return;
    }
    count = ++map_count;
    switch (scenario) {
    case S6_OK:
    case S6_NO_DELETE:
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 600, g->epoch, iport, "::1"));
        break;
    case S6_MAPPED_EXT:
        /* an IPv4 external address for a pinhole; for port 7102 the
         * right answer follows */
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 600, g->epoch, 1111,
                                                  "::ffff:198.51.100.7"));
        if (iport == 7102)
            fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 600, g->epoch, iport, "::1"));
        break;
    case S6_SPOOF:
        /* right nonce, wrong source port: the connected socket drops it;
         * the real answer comes late enough for it to be read first */
        fakegw_reply_spoofed(g, out, fakegw_pcp_map_reply(out, req, 0, 600, g->epoch, 3333, "::1"));
        usleep(100000);
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 600, g->epoch, iport, "::1"));
        break;
    case S6_MISMATCH:
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 12, 0, g->epoch, 0, "::"));
        break;
    case S6_NOT_AUTH:
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 2, 0, g->epoch, 0, "::"));
        break;
    case S6_PORT_ZERO:
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, 600, g->epoch, 0, "::1"));
        break;
    case S6_EPOCH_BACK:
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, iport == 7010 ? 2 : 600,
                                                  epoch_back(count), iport, "::1"));
        break;
    }
}



static void start6(int s)
{
    portmap_settings st;
    char dir[] = "/tmp/pm-fakegw-XXXXXX";

    scenario = s;
    atomic_store(&map_count, 0);
    n_reqs6 = 0; /* before the gateway's thread starts */
    wait_events_reset(&rec);
    log_capture_reset();
    inner_wait_rc = inner_info_rc = -1;
    ck_assert_msg(fakegw_start_on(&gw, handler6, NULL, "::1") == 0, "cannot bind [::1]:5351");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    portmap_default_settings(&st);
    st.gateway = "::1";
    st.timeout_ms = 3000;
    st.state_dir = dir;
    st.close_timeout_ms = 500;
    st.log_callback = on_log;
    ck_assert_int_eq(portmap_open(&client, &st), PORTMAP_OK);
}

static portmap_mapping *request6(uint16_t port, portmap_family family, portmap_method method,
                                 int timeout_ms)
{
    portmap_request r;
    portmap_mapping *m = NULL;
    portmap_request_init(&r);
    r.internal_port = port;
    r.family = family;
    r.method = method;
    r.timeout_ms = timeout_ms;
    r.callback = on_event;
    r.user = &gw;
    ck_assert_int_eq(portmap_request_mapping(client, &r, &m), PORTMAP_OK);
    return m;
}

/* the n-th MAP request the gateway saw, copied out */
static int req6(int n, uint8_t out[60])
{
    int have;
    pthread_mutex_lock(&last_lock);
    have = n < n_reqs6;
    if (have)
        memcpy(out, reqs6[n], 60);
    pthread_mutex_unlock(&last_lock);
    return have;
}

START_TEST(ipv6_map_goes_out_unmapped)
{
    static const uint8_t loopback[16] = { [15] = 1 }, any[16] = { 0 };
    portmap_mapping_info info;
    uint8_t req[60];
    start6(S6_OK);
    portmap_mapping *m = request6(7100, PORTMAP_IPV6, PORTMAP_METHOD_AUTO, 0);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(info.method, PORTMAP_METHOD_PCP);
    ck_assert_int_eq(info.family, PORTMAP_IPV6);
    ck_assert_str_eq(info.internal_address, "::1");
    ck_assert_str_eq(info.external_address, "::1");
    ck_assert_uint_eq(info.external_port, 7100);
    ck_assert_uint_eq(info.lifetime, 600);
    ck_assert_int_eq(info.address_kind, PORTMAP_ADDRESS_STABLE);
    ck_assert(req6(0, req));
    ck_assert_uint_eq(req[1], 1);                     /* MAP */
    ck_assert_mem_eq(req + 8, loopback, 16);          /* client address ::1, not mapped */
    ck_assert_uint_eq(req[36], PORTMAP_UDP);
    ck_assert_uint_eq((req[40] << 8) | req[41], 7100);
    ck_assert_mem_eq(req + 44, any, 16);              /* no preference: ::, not ::ffff:0.0.0.0 */
    ck_assert_int_eq(atomic_load(&gw.natpmp_requests), 0);
    finish();
}
END_TEST

/* A pinhole has no translation: its external port is the internal one,
 * which the request suggests, and a success that leaves the port unset
 * (miniupnpd renewing a pinhole another nonce made) names it too: the
 * old code took it for inconsistent, dropped it and timed out. */
START_TEST(ipv6_success_without_a_port_is_the_internal_port)
{
    portmap_mapping_info info;
    uint8_t req[60];

    start6(S6_PORT_ZERO);
    portmap_mapping *m = request6(7105, PORTMAP_IPV6, PORTMAP_METHOD_AUTO, 0);
    ck_assert_int_eq(portmap_mapping_wait(m, 2000, &info), PORTMAP_OK);
    ck_assert_uint_eq(info.external_port, 7105);
    ck_assert_str_eq(info.external_address, "::1");
    ck_assert(req6(0, req));
    ck_assert_uint_eq((req[42] << 8) | req[43], 7105); /* suggested: the internal port */
    ck_assert(!logged("inconsistent"));
    finish();
}
END_TEST

START_TEST(ipv6_reply_with_ipv4_address_is_dropped)
{
    portmap_mapping_info info;
    portmap_counters k;
    start6(S6_MAPPED_EXT);
    /* only ever answered with an IPv4-mapped address: never mapped */
    portmap_mapping *m = request6(7101, PORTMAP_IPV6, PORTMAP_METHOD_PCP, 1500);
    ck_assert_int_ne(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_FAILED);
    ck_assert_uint_eq(info.external_port, 0);
    ck_assert_int_eq(portmap_get_counters(client, &k), PORTMAP_OK);
    ck_assert_uint_ge(k.dropped_malformed, 2); /* the first try and a resend */
    ck_assert_uint_eq(k.responses, 0);
    ck_assert_int_eq(seen(PORTMAP_EVENT_MAPPED), 0);
    ck_assert(logged("inconsistent"));
    /* the bad answer first, then the right one: the right one is taken */
    m = request6(7102, PORTMAP_IPV6, PORTMAP_METHOD_PCP, 0);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_uint_eq(info.external_port, 7102);
    ck_assert_str_eq(info.external_address, "::1");
    ck_assert_int_eq(portmap_get_counters(client, &k), PORTMAP_OK);
    ck_assert_uint_eq(k.responses, 1);
    finish();
}
END_TEST

START_TEST(ipv6_reply_from_another_port_is_dropped)
{
    portmap_mapping_info info;
    portmap_counters k;
    start6(S6_SPOOF);
    portmap_mapping *m = request6(7103, PORTMAP_IPV6, PORTMAP_METHOD_AUTO, 0);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_uint_eq(info.external_port, 7103); /* not the spoofer's 3333 */
    ck_assert_int_eq(portmap_get_counters(client, &k), PORTMAP_OK);
    ck_assert_uint_eq(k.responses, 1);
    finish();
}
END_TEST

START_TEST(ipv6_address_mismatch_is_a_clear_error)
{
    portmap_mapping_info info;
    int64_t t0 = now_ms();
    start6(S6_MISMATCH);
    portmap_mapping *m = request6(7104, PORTMAP_IPV6, PORTMAP_METHOD_AUTO, 0);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_ERR_REFUSED);
    ck_assert_int_lt(now_ms() - t0, 1000);
    ck_assert_int_eq(info.state, PORTMAP_STATE_FAILED);
    ck_assert_int_eq(info.last_error, PORTMAP_ERR_REFUSED);
    ck_assert_int_eq(atomic_load(&map_count), 1); /* no retry */
    /* at the default level: the reason, not just "refused" */
    ck_assert_msg(logged("ADDRESS_MISMATCH") && logged("source address"), "log: %s", warnings);
    finish();
}
END_TEST

START_TEST(ipv6_not_authorized_is_a_clear_error)
{
    portmap_mapping_info info;
    start6(S6_NOT_AUTH);
    portmap_mapping *m = request6(7105, PORTMAP_IPV6, PORTMAP_METHOD_AUTO, 0);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_ERR_NOT_AUTHORIZED);
    ck_assert_int_eq(info.state, PORTMAP_STATE_FAILED);
    ck_assert_int_eq(info.last_error, PORTMAP_ERR_NOT_AUTHORIZED);
    ck_assert_int_eq(info.family, PORTMAP_IPV6);
    ck_assert_int_eq(atomic_load(&map_count), 1);
    finish();
}
END_TEST

START_TEST(ipv6_epoch_going_back_remakes_the_pinhole)
{
    portmap_mapping_info info;
    portmap_counters k;

    start6(S6_EPOCH_BACK);
    portmap_mapping *a = request6(7010, PORTMAP_IPV6, PORTMAP_METHOD_AUTO, 0);
    ck_assert_int_eq(portmap_mapping_wait(a, 0, &info), PORTMAP_OK);
    portmap_mapping *b = request6(7011, PORTMAP_IPV6, PORTMAP_METHOD_AUTO, 0);
    ck_assert_int_eq(portmap_mapping_wait(b, 0, &info), PORTMAP_OK);
    expect_event_within(&rec, PORTMAP_EVENT_RESTORED, 2, 9000);
    ck_assert_int_eq(seen(PORTMAP_EVENT_LOST), 2);
    ck_assert_int_eq(seen(PORTMAP_EVENT_RESTORED), 2);
    ck_assert_int_eq(portmap_mapping_get_info(b, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(info.family, PORTMAP_IPV6);
    ck_assert_int_eq(portmap_get_counters(client, &k), PORTMAP_OK);
    ck_assert_uint_eq(k.remaps_after_reset, 2);
    finish();
}
END_TEST

/* A router that will not delete a pinhole (miniupnpd 2.3.1 after a
 * renewal): the release renews it for the shortest lease instead, with
 * the same nonce, and says so. */
START_TEST(ipv6_refused_delete_cuts_the_lease)
{
    portmap_mapping_info info;
    uint8_t first[60], last[60];
    int n;
    start6(S6_NO_DELETE);
    portmap_mapping *m = request6(7108, PORTMAP_IPV6, PORTMAP_METHOD_PCP, 0);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_release(&m, 1000), PORTMAP_OK);
    pthread_mutex_lock(&last_lock);
    n = n_reqs6;
    pthread_mutex_unlock(&last_lock);
    ck_assert_int_eq(n, 3); /* map, refused delete, shortest renewal */
    ck_assert(req6(0, first));
    ck_assert(req6(1, last));
    ck_assert_uint_eq(get32(last + 4), 0);
    ck_assert(req6(2, last));
    ck_assert_uint_eq(get32(last + 4), 1);
    ck_assert_mem_eq(last + 24, first + 24, 12); /* the nonce that made it */
    ck_assert_msg(logged("will not delete the IPv6 pinhole"), "log: %s", warnings);
    finish();
}
END_TEST

START_TEST(ipv6_release_sends_lifetime_0_with_the_nonce)
{
    portmap_mapping_info info;
    uint8_t first[60], last[60];
    int n;
    start6(S6_OK);
    portmap_mapping *m = request6(7106, PORTMAP_IPV6, PORTMAP_METHOD_AUTO, 0);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_release(&m, 1000), PORTMAP_OK);
    ck_assert_ptr_null(m);
    pthread_mutex_lock(&last_lock);
    n = n_reqs6;
    pthread_mutex_unlock(&last_lock);
    ck_assert_int_ge(n, 2);
    ck_assert(req6(0, first));
    ck_assert(req6(n - 1, last));
    ck_assert_uint_ne(get32(first + 4), 0);
    ck_assert_uint_eq(get32(last + 4), 0);              /* lifetime 0: delete */
    ck_assert_mem_eq(last + 24, first + 24, 12);        /* the same nonce */
    ck_assert_mem_eq(last + 8, first + 8, 16);          /* from the same address */
    ck_assert_uint_eq((last[40] << 8) | last[41], 7106);
    /* the callback runs on the engine thread, maybe just after the release */
    expect_event_within(&rec, PORTMAP_EVENT_RELEASED, 1, 1000);
    ck_assert_int_eq(seen(PORTMAP_EVENT_RELEASED), 1);
    finish();
}
END_TEST

START_TEST(ipv6_both_families_without_ipv4)
{
    portmap_mapping_info info, v4, v6;
    wait_event e;
    int mapped6 = 0;
    start6(S6_OK);
    portmap_mapping *m = request6(7107, PORTMAP_IPV4_IPV6, PORTMAP_METHOD_AUTO, 0);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_get_family_info(m, PORTMAP_IPV6, &v6), PORTMAP_OK);
    ck_assert_int_eq(v6.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(v6.family, PORTMAP_IPV6);
    ck_assert_uint_eq(v6.external_port, 7107);
    ck_assert_int_eq(portmap_mapping_get_family_info(m, PORTMAP_IPV4, &v4), PORTMAP_OK);
    ck_assert_int_eq(v4.state, PORTMAP_STATE_FAILED);
    ck_assert_int_eq(v4.last_error, PORTMAP_ERR_NO_GATEWAY);
    ck_assert_int_eq(v4.family, PORTMAP_IPV4);
    /* the callback runs on the engine thread, maybe just after the wait */
    expect_event_within(&rec, PORTMAP_EVENT_MAPPED, 1, 1000);
    expect_event_within(&rec, PORTMAP_EVENT_FAILED, 1, 1000);
    for (int i = 0; wait_events_get(&rec, i, &e); i++) {
        if (e.event != PORTMAP_EVENT_MAPPED)
            continue;
        ck_assert_int_eq(e.family, PORTMAP_IPV6);
        ck_assert_ptr_eq(e.handle, m); /* the caller's handle, not the part */
        ck_assert_ptr_eq(e.user, &gw);
        mapped6++;
    }
    ck_assert_int_eq(mapped6, 1);
    ck_assert_int_eq(seen(PORTMAP_EVENT_FAILED), 1); /* the IPv4 part */
    finish();
}
END_TEST

static int gateway_asked(void *arg)
{
    (void)arg;
    return atomic_load(&gw.pcp_requests) + atomic_load(&gw.natpmp_requests) > 0;
}

START_TEST(ipv6_natpmp_and_allow_are_refused)
{
    portmap_request r;
    portmap_mapping *m = NULL;
    start6(S6_OK);
    portmap_request_init(&r);
    r.internal_port = 7108;
    r.family = PORTMAP_IPV6;
    r.method = PORTMAP_METHOD_NATPMP;
    ck_assert_int_eq(portmap_request_mapping(client, &r, &m), PORTMAP_ERR_UNSUPPORTED);
    ck_assert_ptr_null(m);
    r.method = PORTMAP_METHOD_AUTO;
    r.allow = "198.51.100.7";
    ck_assert_int_eq(portmap_request_mapping(client, &r, &m), PORTMAP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(m);
    r.family = PORTMAP_IPV4_IPV6;
    ck_assert_int_eq(portmap_request_mapping(client, &r, &m), PORTMAP_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(m);
    /* refused before anything is sent: ends early if a request comes */
    wait_until(gateway_asked, NULL, 100);
    ck_assert_int_eq(atomic_load(&gw.pcp_requests) + atomic_load(&gw.natpmp_requests), 0);
    finish();
}
END_TEST

/*
 * A request on a router that has answered leaves from the caller's
 * thread (request.c, start_at_once); the engine owns the exchange from
 * there: its retransmissions, its reply, its deadline.
 */

/* The engine is kept in the first mapping's MAPPED callback until the
 * test lets it go: what happens meanwhile happens without it. */
static atomic_int engine_held, let_engine_go;

static int engine_is_held(void *arg)
{
    (void)arg;
    return atomic_load(&engine_held);
}

static int engine_let_go(void *arg)
{
    (void)arg;
    return atomic_load(&let_engine_go);
}

static void on_mapped_hold(portmap_mapping *m, portmap_event ev, const portmap_mapping_info *info,
                           void *user)
{
    (void)m;
    (void)info;
    (void)user;
    if (ev != PORTMAP_EVENT_MAPPED || atomic_exchange(&engine_held, 1))
        return;
    wait_until(engine_let_go, NULL, 10000);
}

static int gateway_maps(void *arg)
{
    return atomic_load(&gw.pcp_requests) + atomic_load(&gw.natpmp_requests) >= *(int *)arg;
}

/* A client that has mapped port 7300 (the router known), its engine
 * held in that mapping's MAPPED callback until let_engine_go; *r is left
 * a request for the test to reuse. */
static void engine_held_by_a_callback(portmap_request *r)
{
    portmap_mapping *first = NULL;

    atomic_store(&engine_held, 0);
    atomic_store(&let_engine_go, 0);
    start(S_PLAIN);
    portmap_request_init(r);
    r->internal_port = 7300;
    r->callback = on_mapped_hold;
    ck_assert_int_eq(portmap_request_mapping(client, r, &first), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(first, 0, NULL), PORTMAP_OK);
    /* the engine is in the callback now, or about to be */
    ck_assert(wait_until(engine_is_held, NULL, 5000));
}

START_TEST(known_router_request_leaves_without_the_engine)
{
    int want;
    portmap_request r;
    portmap_mapping *m = NULL;
    portmap_mapping_info info;

    engine_held_by_a_callback(&r);
    want = atomic_load(&gw.pcp_requests) + atomic_load(&gw.natpmp_requests) + 1;
    r.internal_port = 7302;
    r.callback = NULL;
    ck_assert_int_eq(portmap_request_mapping(client, &r, &m), PORTMAP_OK);
    ck_assert_msg(wait_until(gateway_maps, &want, 2000),
                  "the request waited for the engine, busy in a callback");
    atomic_store(&let_engine_go, 1);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_int_eq(info.method, PORTMAP_METHOD_PCP);
    ck_assert_uint_eq(info.external_port, 8302);
    finish();
}
END_TEST

/* The engine, not the caller, retransmits: the first datagram of a
 * request sent from the caller's thread is lost. */
START_TEST(known_router_request_is_retransmitted_by_the_engine)
{
    portmap_counters k;
    portmap_mapping_info info;
    portmap_discovery d;

    start(S_DROP_FIRST);
    ck_assert_int_eq(portmap_mapping_wait(request(7300), 0, NULL), PORTMAP_OK);
    /* the engine idle, asleep until the first mapping's renewal: only
     * the request's own wake-up takes the exchange into its timers */
    ck_assert_int_eq(portmap_discover(client, &d, 0, 2000), PORTMAP_OK);
    ck_assert_int_eq(portmap_sync_journal(client, 2000), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(request(DROPPED_PORT), 0, &info), PORTMAP_OK);
    ck_assert_uint_eq(info.external_port, DROPPED_PORT + 1000);
    ck_assert_int_eq(atomic_load(&dropped_port_maps), 2);
    ck_assert_int_eq(portmap_get_counters(client, &k), PORTMAP_OK);
    ck_assert_uint_ge(k.retransmissions, 1);
    finish();
}
END_TEST

/* A fresh client's caller waits for a MAP whose first request is lost:
 * the engine meanwhile probes the other protocols and resends the MAP,
 * none of which changes what the caller polls. It is not woken for them
 * (each wake-up of a thread for nothing costs a CPU the reply may be
 * waiting for), and still reads its reply. */
START_TEST(waiting_caller_sleeps_through_the_engines_rounds)
{
    portmap_mapping_info info;
    portmap_counters k;

    log_stats = 1;
    start(S_DROP_FIRST);
    log_stats = 0;
    ck_assert_int_eq(portmap_mapping_wait(request(DROPPED_PORT), 5000, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(atomic_load(&dropped_port_maps), 2);
    ck_assert_int_eq(portmap_get_counters(client, &k), PORTMAP_OK);
    ck_assert_uint_ge(k.retransmissions, 1);
    finish();
    ck_assert_int_ge(logged_stat("replies read by a waiting caller: "), 1);
    ck_assert_int_eq(logged_stat("its wake-ups: "), 0);
}
END_TEST

/* A caller waiting for a request sent from its thread reads the reply
 * itself: its wait ends while the engine is still busy in a callback
 * (the old way, the engine read the reply and then woke the caller: a
 * second wake-up, and no answer at all while the engine was busy). The
 * events stay the engine's: MAPPED comes once it is free. */
START_TEST(waiting_caller_reads_its_reply)
{
    portmap_request r;
    portmap_mapping *m = NULL;
    portmap_mapping_info info;

    engine_held_by_a_callback(&r);
    m = request(7302);
    ck_assert_int_eq(portmap_mapping_wait(m, 2000, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_uint_eq(info.external_port, 8302);
    ck_assert_int_eq(seen(PORTMAP_EVENT_MAPPED), 0); /* the engine is still held */
    atomic_store(&let_engine_go, 1);
    ck_assert(expect_event_within(&rec, PORTMAP_EVENT_MAPPED, 1, 2000));
    finish();
}
END_TEST

static int mapped(void *arg)
{
    portmap_mapping_info info;

    return portmap_mapping_get_info(arg, &info) == PORTMAP_OK &&
           info.state == PORTMAP_STATE_MAPPED;
}

/* A caller that stops waiting before the reply comes gives its socket
 * back: the engine reads the late reply (and one more wait reads the
 * next). */
START_TEST(late_reply_after_the_wait_is_read_by_the_engine)
{
    portmap_mapping *m;

    start(S_SLOW_PORT);
    ck_assert_int_eq(portmap_mapping_wait(request(7300), 0, NULL), PORTMAP_OK);
    m = request(SLOW_PORT);
    ck_assert_int_eq(portmap_mapping_wait(m, SLOW_MS / 3, NULL), PORTMAP_ERR_TIMEOUT);
    ck_assert_msg(wait_until(mapped, m, 3 * SLOW_MS), "the late reply was left unread");
    ck_assert_int_eq(portmap_mapping_wait(request(7304), 2000, NULL), PORTMAP_OK);
    finish();
}
END_TEST

static Suite *fakegw_suite(void)
{
    Suite *s = suite_create("fakegw");
    TCase *tc = tcase_create("router_behaviour");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, not_authorized_is_a_clear_error);
    tcase_add_test(tc, no_resources_is_retried);
    tcase_add_test(tc, mapped_is_told_before_the_journal_write);
    tcase_add_test(tc, natpmp_only_server_gets_natpmp);
    tcase_add_test(tc, external_ip_does_not_wait_for_a_silent_protocol);
    tcase_add_test(tc, cleanup_does_not_wait_for_a_silent_protocol);
    tcase_add_test(tc, router_table_without_upnp_is_unsupported);
    tcase_add_test(tc, journal_mappings_without_upnp);
    tcase_add_test(tc, router_table_without_a_router_is_no_gateway);
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
    tc = tcase_create("known_router");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, known_router_request_leaves_without_the_engine);
    tcase_add_test(tc, known_router_request_is_retransmitted_by_the_engine);
    tcase_add_test(tc, waiting_caller_reads_its_reply);
    tcase_add_test(tc, late_reply_after_the_wait_is_read_by_the_engine);
    tcase_add_test(tc, waiting_caller_sleeps_through_the_engines_rounds);
    suite_add_tcase(s, tc);
    tc = tcase_create("ipv6");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, ipv6_map_goes_out_unmapped);
    tcase_add_test(tc, ipv6_reply_with_ipv4_address_is_dropped);
    tcase_add_test(tc, ipv6_reply_from_another_port_is_dropped);
    tcase_add_test(tc, ipv6_address_mismatch_is_a_clear_error);
    tcase_add_test(tc, ipv6_not_authorized_is_a_clear_error);
    tcase_add_test(tc, ipv6_epoch_going_back_remakes_the_pinhole);
    tcase_add_test(tc, ipv6_release_sends_lifetime_0_with_the_nonce);
    tcase_add_test(tc, ipv6_refused_delete_cuts_the_lease);
    tcase_add_test(tc, ipv6_both_families_without_ipv4);
    tcase_add_test(tc, ipv6_success_without_a_port_is_the_internal_port);
    tcase_add_test(tc, ipv6_natpmp_and_allow_are_refused);
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
