/*
 * Lab suite lab_reboot: the router goes away or changes under a held
 * mapping: a reboot (its rules flushed, its leases gone), found by a
 * renewal or by the router's announcement, a new external address, and
 * a minute of silence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lab_support.h"

/* A router reboot (chains flushed, leases gone) while a mapping is held:
 * the library must put it back by itself within limit_ms of the router
 * answering again. Returns the client's counters for the caller's checks. */
static portmap_counters reboot_and_wait(portmap_method method, unsigned port, uint32_t lifetime,
                                        int64_t limit_ms)
{
    portmap_client *c = open_client(method, 5000);
    portmap_mapping *m = NULL;
    portmap_mapping_info info;
    portmap_counters k;
    portmap_request r;
    int64_t t0;

    portmap_request_init(&r);
    r.internal_port = (uint16_t)port;
    r.lifetime = lifetime;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m, 5000, &info), PORTMAP_OK);
    ck_assert(has_rule("udp", info.external_port));
    ck_assert_int_eq(run("'%s' router-crash", lab), 0);
    ck_assert_msg(!has_rule("udp", info.external_port), "the crash did not flush the rules");
    /* miniupnpd's BOOTID.UPNP.ORG is its start time in seconds: a reboot
     * within the second of the previous test's would keep it */
    usleep(1100000);
    ck_assert_int_eq(run("'%s' router-start", lab), 0); /* returns once it answers */
    t0 = now_ms();
    ck_assert_msg(wait_rule("udp", info.external_port, 1, (int)limit_ms),
                  "%s mapping not back within %lld ms", portmap_method_name(method),
                  (long long)limit_ms);
    fprintf(stderr, "  %s: back %lld ms after the router answered again\n",
            portmap_method_name(method), (long long)(now_ms() - t0));
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(portmap_get_counters(c, &k), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    ck_assert(!has_rule("udp", info.external_port));
    portmap_close(&c);
    return k;
}

/* A short lease: a renewal, due within 5/8 of 20 s, finds the reboot at
 * the latest. */
static void survive_reboot(portmap_method method, unsigned port)
{
    reboot_and_wait(method, port, 20, 20000);
}

/* With leases far from renewal, only the router's announcement when it
 * comes back (miniupnpd sends a PCP ANNOUNCE to 224.0.0.1:5350, and SSDP
 * NOTIFY with a new BOOTID.UPNP.ORG, the only one on a UPnP-only router)
 * can bring the mappings back quickly; whatever their protocol, in 10 s. */
static void announced_reboot(portmap_method method, unsigned port)
{
    portmap_counters k = reboot_and_wait(method, port, 7200, 10000);
    ck_assert_uint_ge(k.announcements, 1);
}

START_TEST(pcp_announced_reboot) { announced_reboot(PORTMAP_METHOD_PCP, 27022); }
END_TEST
START_TEST(natpmp_announced_reboot) { announced_reboot(PORTMAP_METHOD_NATPMP, 27023); }
END_TEST
START_TEST(upnp_announced_reboot) { announced_reboot(PORTMAP_METHOD_UPNP, 27024); }
END_TEST

START_TEST(pcp_router_reboot) { survive_reboot(PORTMAP_METHOD_PCP, 27020); }
END_TEST
START_TEST(natpmp_router_reboot) { survive_reboot(PORTMAP_METHOD_NATPMP, 27021); }
END_TEST
START_TEST(upnp_router_reboot) { survive_reboot(PORTMAP_METHOD_UPNP, 27064); }
END_TEST

/* The router's external address changes: a CHANGED event within 10 s of
 * its announcement, with the new address, and again when it goes back. */
static void address_change(portmap_method method, unsigned port)
{
    portmap_client *c = open_client(method, 5000);
    portmap_mapping *m = map_counted(c, port, 7200);
    portmap_mapping_info info;
    int64_t t0;

    ck_assert_int_eq(run("ip netns exec ${LAB_PREFIX:-pm}-rtr sh -c 'ip addr del " WAN_ADDR "/24 dev wan0 && "
                         "ip addr add 11.77.0.9/24 dev wan0'"), 0);
    t0 = now_ms();
    expect_event_within(&lab_events, PORTMAP_EVENT_CHANGED, 1, 10000);
    fprintf(stderr, "  %s: address change seen after %lld ms\n", portmap_method_name(method),
            (long long)(now_ms() - t0));
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    run("ip netns exec ${LAB_PREFIX:-pm}-rtr sh -c 'ip addr del 11.77.0.9/24 dev wan0; ip addr add " WAN_ADDR
        "/24 dev wan0'");
    ck_assert_msg(events(PORTMAP_EVENT_CHANGED) >= 1, "no CHANGED event within 10 s");
    ck_assert_str_eq(info.external_address, "11.77.0.9");
    expect_event_within(&lab_events, PORTMAP_EVENT_CHANGED, 2, 10000);
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    ck_assert_str_eq(info.external_address, WAN_ADDR);
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    portmap_close(&c);
}

START_TEST(pcp_address_change) { address_change(PORTMAP_METHOD_PCP, 27025); }
END_TEST
START_TEST(natpmp_address_change) { address_change(PORTMAP_METHOD_NATPMP, 27026); }
END_TEST
START_TEST(upnp_address_change) { address_change(PORTMAP_METHOD_UPNP, 27027); }
END_TEST

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* The router is silent for 60 s: the mapping is reported lost once, the
 * process stays idle while it retries with backoff, and it is restored
 * when the router answers again. */
START_TEST(router_down_for_a_minute)
{
    portmap_client *c = open_client(PORTMAP_METHOD_PCP, 5000);
    portmap_mapping *m = map_counted(c, 27028, 10);
    portmap_mapping_info info;
    double cpu0, cpu;
    int64_t t0;

    lab_changed();
    ck_assert_int_eq(run("'%s' loss 100", lab), 0);
    t0 = now_ms();
    cpu0 = cpu_seconds();
    /* lost when its 10 s lease runs out unrenewed, and not again however
     * often it is retried in the rest of the minute (a second one ends the
     * wait, and the count below fails) */
    expect_event_within(&lab_events, PORTMAP_EVENT_LOST, 1, 60000);
    expect_no_event_within(&lab_events, PORTMAP_EVENT_LOST, (int)(60000 - (now_ms() - t0)));
    cpu = cpu_seconds() - cpu0;
    ck_assert_int_eq(run("'%s' loss 0", lab), 0);
    lab_restored();
    fprintf(stderr, "  %lld s without the router: %.3f s of CPU (%.2f %%), lost events %d\n",
            (long long)(now_ms() - t0) / 1000, cpu, cpu / 60 * 100, events(PORTMAP_EVENT_LOST));
    ck_assert_int_eq(events(PORTMAP_EVENT_LOST), 1);
    ck_assert_msg(cpu < 0.6, "busy while waiting: %.3f s of CPU in 60 s", cpu);
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_LOST);
    t0 = now_ms();
    /* the backoff is capped, so the next try comes within the cap */
    expect_event_within(&lab_events, PORTMAP_EVENT_RESTORED, 1, 70000);
    fprintf(stderr, "  restored %lld ms after the router came back\n", (long long)(now_ms() - t0));
    ck_assert_int_eq(events(PORTMAP_EVENT_RESTORED), 1);
    ck_assert(has_rule("udp", 27028));
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    portmap_close(&c);
}
END_TEST

#define OUTAGE_MAPPINGS 5

/* The router is down longer than the leases (5 mappings of 4 s, 20 s
 * down, LAB_OUTAGE_S for another figure): each is lost and retried with a
 * growing backoff (up to 30 s).
 * When the router is back, the first answer to a request of ours brings
 * every lost one back at once: all within 2.5 s of the router answering,
 * not at the end of each one's backoff. */
static void back_after_outage(portmap_method method, unsigned first)
{
    portmap_client *c = open_client(method, 5000);
    portmap_mapping *m[OUTAGE_MAPPINGS];
    const char *env = getenv("LAB_OUTAGE_S");
    int outage_s = env ? atoi(env) : 20;
    portmap_request r;
    int64_t t0, took;

    wait_events_reset(&lab_events);
    for (int i = 0; i < OUTAGE_MAPPINGS; i++) {
        portmap_request_init(&r);
        r.internal_port = (uint16_t)(first + i);
        r.lifetime = 4;
        r.callback = wait_events_callback;
        r.user = &lab_events;
        ck_assert_int_eq(portmap_request_mapping(c, &r, &m[i]), PORTMAP_OK);
        ck_assert_int_eq(portmap_mapping_wait(m[i], 5000, NULL), PORTMAP_OK);
    }
    lab_changed();
    ck_assert_int_eq(run("'%s' router-crash", lab), 0);
    ck_assert(expect_event_within(&lab_events, PORTMAP_EVENT_LOST, OUTAGE_MAPPINGS, 15000));
    sleep((unsigned)outage_s); /* the backoffs grow: 1, 2, 4, 8, 16 s */
    ck_assert_int_eq(run("'%s' router-start", lab), 0); /* returns once it answers */
    lab_restored();
    t0 = now_ms();
    ck_assert(expect_event_within(&lab_events, PORTMAP_EVENT_RESTORED, OUTAGE_MAPPINGS, 40000));
    took = now_ms() - t0;
    fprintf(stderr, "  %s: %d lost mappings back %lld ms after the router answered again "
            "(%d s outage)\n", portmap_method_name(method), OUTAGE_MAPPINGS, (long long)took,
            outage_s);
    ck_assert_msg(took <= 2500, "%s: back after %lld ms", portmap_method_name(method),
                  (long long)took);
    for (int i = 0; i < OUTAGE_MAPPINGS; i++) {
        ck_assert(has_rule("udp", first + i));
        ck_assert_int_eq(portmap_mapping_release(&m[i], 3000), PORTMAP_OK);
    }
    portmap_close(&c);
}

START_TEST(pcp_back_after_outage) { back_after_outage(PORTMAP_METHOD_PCP, 27400); }
END_TEST
START_TEST(natpmp_back_after_outage) { back_after_outage(PORTMAP_METHOD_NATPMP, 27410); }
END_TEST
START_TEST(upnp_back_after_outage) { back_after_outage(PORTMAP_METHOD_UPNP, 27420); }
END_TEST

Suite *lab_reboot_suite(int upnp_only)
{
    Suite *s = suite_create("lab_reboot");
    TCase *tc = lab_tcase(s, upnp_only);

    if (upnp_only) {
        tcase_add_test(tc, upnp_router_reboot);
        tcase_add_test(tc, upnp_announced_reboot);
        return s;
    }
    tcase_add_test(tc, pcp_router_reboot);
    tcase_add_test(tc, natpmp_router_reboot);
    tcase_add_test(tc, pcp_announced_reboot);
    tcase_add_test(tc, natpmp_announced_reboot);
    tcase_add_test(tc, upnp_announced_reboot);
    tcase_add_test(tc, pcp_address_change);
    tcase_add_test(tc, natpmp_address_change);
    tcase_add_test(tc, upnp_address_change);
    tcase_add_test(tc, router_down_for_a_minute);
    tcase_add_test(tc, pcp_back_after_outage);
    tcase_add_test(tc, natpmp_back_after_outage);
    tcase_add_test(tc, upnp_back_after_outage);
    return s;
}
