/*
 * Lab suite lab_roam: the host moves to another router (lab.sh router2,
 * move-lan) and back; the library follows it.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lab_support.h"

typedef struct moved {
    portmap_mapping *m;
    int n;
    const char *addr;
    portmap_mapping_info *info;
} moved;

static int has_moved(void *arg)
{
    moved *mv = arg;

    ck_assert_int_eq(portmap_mapping_get_info(mv->m, mv->info), PORTMAP_OK);
    return events(PORTMAP_EVENT_CHANGED) >= mv->n && mv->info->state == PORTMAP_STATE_MAPPED &&
           !strcmp(mv->info->external_address, mv->addr);
}

/* Wait up to limit_ms for the n-th CHANGED event with the mapping at addr
 * (its info in *info either way); returns the time it took. */
static int64_t wait_moved(portmap_mapping *m, int n, const char *addr, int64_t limit_ms,
                          portmap_mapping_info *info)
{
    moved mv = { m, n, addr, info };
    int64_t t0 = now_ms();

    expect_event_within(&lab_events, PORTMAP_EVENT_CHANGED, n, (int)limit_ms);
    wait_until(has_moved, &mv, (int)(limit_ms - (now_ms() - t0)));
    return now_ms() - t0;
}

/* The host is unplugged from its router and plugged into another network
 * (new link, address and default route, as after roaming or a DHCP
 * renewal): the library learns it from netlink, drops what it knew of the
 * old router and maps again at the new one, within 10 s, by `there` (the
 * second router runs profile2, "" for the first one's), and again when the
 * host comes back, by `home`. */
static void roam_with(portmap_method method, unsigned port, const char *profile2,
                      portmap_method there, portmap_method home)
{
    portmap_client *c = open_client(method, 5000);
    portmap_mapping *m;
    portmap_mapping_info info;
    portmap_counters k;
    int64_t took;
    echo e;

    lab_changed();
    ck_assert_int_eq(run("'%s' router2 up %s%s", lab, *profile2 ? "--profile " : "", profile2), 0);
    echo_start(&e, 0, port);
    m = map_counted(c, port, 600);
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    ck_assert_int_eq(info.method, home);
    ck_assert_str_eq(info.external_address, WAN_ADDR);
    ck_assert(has_rule("udp", info.external_port));

    ck_assert_int_eq(run("'%s' move-lan rtr2", lab), 0);
    took = wait_moved(m, 1, WAN2_ADDR, 10000, &info);
    fprintf(stderr, "  %s: mapped at the second router %lld ms after the move (%d lost, %d changed)\n",
            portmap_method_name(method), (long long)took, events(PORTMAP_EVENT_LOST),
            events(PORTMAP_EVENT_CHANGED));
    ck_assert_msg(events(PORTMAP_EVENT_CHANGED) >= 1, "no CHANGED event within 10 s");
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(info.method, there);
    ck_assert_str_eq(info.external_address, WAN2_ADDR);
    ck_assert_str_eq(info.internal_address, "10.78.0.2");
    ck_assert_msg(has_rule2("udp", info.external_port), "no rule at the second router for udp %u",
                  info.external_port);
    ck_assert_msg(wan_reaches_at(WAN2_ADDR, "udp", info.external_port),
                  "WAN host cannot reach udp %u at " WAN2_ADDR, info.external_port);

    /* What is heard of the new router: its restart (on a UPnP-only one,
     * only its SSDP NOTIFY, whose group is joined per interface) */
    ck_assert_int_eq(run("'%s' router2 crash", lab), 0);
    ck_assert(!has_rule2("udp", info.external_port));
    usleep(1100000); /* a new BOOTID.UPNP.ORG: miniupnpd's is its start time in seconds */
    ck_assert_int_eq(run("'%s' router2 start", lab), 0);
    ck_assert_msg(wait_rule2("udp", info.external_port, 1, 10000),
                  "the second router's restart went unnoticed for 10 s");
    ck_assert_int_eq(portmap_get_counters(c, &k), PORTMAP_OK);
    ck_assert_uint_ge(k.announcements, 1);

    ck_assert_int_eq(run("'%s' move-lan rtr", lab), 0);
    took = wait_moved(m, 2, WAN_ADDR, 10000, &info);
    fprintf(stderr, "  %s: back at the first router after %lld ms\n", portmap_method_name(method),
            (long long)took);
    ck_assert_msg(events(PORTMAP_EVENT_CHANGED) >= 2, "no CHANGED event on the way back");
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(info.method, home);
    ck_assert_str_eq(info.external_address, WAN_ADDR);
    ck_assert_str_eq(info.internal_address, "10.77.0.2");
    ck_assert(has_rule("udp", info.external_port));
    ck_assert(wan_reaches("udp", info.external_port));
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    ck_assert(!has_rule("udp", info.external_port));
    portmap_close(&c);
    echo_stop(&e);
    ck_assert_int_eq(run("'%s' router2 down", lab), 0);
    lab_restored();
}

static void roam(portmap_method method, unsigned port)
{
    roam_with(method, port, "", method, method);
}

START_TEST(pcp_follows_the_host_to_another_router) { roam(PORTMAP_METHOD_PCP, 27105); }
END_TEST
START_TEST(natpmp_follows_the_host_to_another_router) { roam(PORTMAP_METHOD_NATPMP, 27106); }
END_TEST
START_TEST(upnp_follows_the_host_to_another_router) { roam(PORTMAP_METHOD_UPNP, 27107); }
END_TEST
/* Left to choose, the library asks the new router what it speaks. */
START_TEST(auto_takes_what_the_other_router_speaks)
{
    roam_with(PORTMAP_METHOD_AUTO, 27108, "upnp-only", PORTMAP_METHOD_UPNP, PORTMAP_METHOD_PCP);
}
END_TEST

Suite *lab_roam_suite(int upnp_only)
{
    Suite *s = suite_create("lab_roam");
    TCase *tc = lab_tcase(s, upnp_only);

    if (upnp_only) {
        tcase_add_test(tc, upnp_follows_the_host_to_another_router);
        return s;
    }
    tcase_add_test(tc, pcp_follows_the_host_to_another_router);
    tcase_add_test(tc, natpmp_follows_the_host_to_another_router);
    tcase_add_test(tc, upnp_follows_the_host_to_another_router);
    tcase_add_test(tc, auto_takes_what_the_other_router_speaks);
    return s;
}
