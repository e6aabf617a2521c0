/*
 * Lab suite lab_pinhole: IPv6 pinholes by PCP and UPnP
 * (WANIPv6FirewallControl), both families under one handle, IPv6
 * discovery, the CLI's -6, and pinholes brought back after a reboot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab_support.h"

/* The LAN host's temporary (privacy) address, which is the kernel's
 * default source and must not be the one opened. */
static void temporary_address(char *buf, size_t len)
{
    char cmd[600];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "'%s' addr6 lan temporary", lab);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    buf[0] = '\0';
    if (!fgets(buf, (int)len, p))
        buf[0] = '\0';
    pclose(p);
    buf[strcspn(buf, "\n")] = '\0';
}

/* Open a pinhole, check the router's rule and that the WAN host reaches
 * the service over IPv6, renew, release, check it is closed again. */
static void pinhole_check(portmap_method method, portmap_transport proto, unsigned port)
{
    const char *pname = proto == PORTMAP_TCP ? "tcp" : "udp";
    portmap_client *c = open_client(method, 5000);
    portmap_mapping *m = NULL;
    portmap_mapping_info info;
    portmap_request r;
    char temp[64];
    echo e;

    temporary_address(temp, sizeof(temp));
    ck_assert_msg(temp[0], "the lab's LAN host has no temporary IPv6 address");
    /* on the stable address: a UDP echo from a wildcard socket would leave
     * from the temporary one, which the WAN host's socket does not take */
    echo_start_on(&e, proto == PORTMAP_TCP, port, LAN6_ADDR);
    ck_assert_msg(!wan_reaches_at(LAN6_ADDR, pname, port), "reachable before any pinhole");
    portmap_request_init(&r);
    r.protocol = proto;
    r.internal_port = (uint16_t)port;
    r.lifetime = 600;
    r.family = PORTMAP_IPV6;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m, 5000, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(info.method, method);
    ck_assert_int_eq(info.family, PORTMAP_IPV6);
    /* the stable address, not the temporary one the kernel prefers */
    ck_assert_str_eq(info.internal_address, LAN6_ADDR);
    ck_assert_int_eq(info.address_kind, PORTMAP_ADDRESS_STABLE);
    ck_assert_str_eq(info.external_address, LAN6_ADDR);
    ck_assert_uint_eq(info.external_port, port);
    ck_assert_uint_gt(info.lifetime, 0);
    ck_assert_msg(has_pinhole(pname, LAN6_ADDR, port), "no pinhole for %s %u", pname, port);
    ck_assert_msg(!has_pinhole(pname, temp, port), "a pinhole for the temporary address");
    ck_assert_msg(wan_reaches_at(LAN6_ADDR, pname, port), "WAN host cannot reach [%s]:%u",
                  LAN6_ADDR, port);
    /* the refresh: PCP MAP again, UPnP UpdatePinhole */
    ck_assert_int_eq(portmap_mapping_renew(m), PORTMAP_OK);
    wait_renewals(m, 1, 5000, &info);
    ck_assert_uint_eq(info.renewals, 1);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_msg(has_pinhole(pname, LAN6_ADDR, port), "renewal lost the pinhole");
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    ck_assert_msg(pinhole_gone(pname, LAN6_ADDR, port), "pinhole still there after release");
    ck_assert_msg(!wan_reaches_at(LAN6_ADDR, pname, port), "still reachable after release");
    echo_stop(&e);
    portmap_close(&c);
}

START_TEST(pcp_pinhole_tcp) { pinhole_check(PORTMAP_METHOD_PCP, PORTMAP_TCP, 27140); }
END_TEST
START_TEST(pcp_pinhole_udp) { pinhole_check(PORTMAP_METHOD_PCP, PORTMAP_UDP, 27141); }
END_TEST
START_TEST(upnp_pinhole_tcp) { pinhole_check(PORTMAP_METHOD_UPNP, PORTMAP_TCP, 27142); }
END_TEST
START_TEST(upnp_pinhole_udp) { pinhole_check(PORTMAP_METHOD_UPNP, PORTMAP_UDP, 27143); }
END_TEST

/* Both families for one service: a NAT mapping and a pinhole, one
 * handle, both reported, both released. */
START_TEST(both_families_one_handle)
{
    portmap_client *c = open_client(0, 5000);
    portmap_mapping *m = NULL;
    portmap_mapping_info v4, v6;
    portmap_request r;
    echo e;

    echo_start(&e, 1, 27144);
    portmap_request_init(&r);
    r.protocol = PORTMAP_TCP;
    r.internal_port = 27144;
    r.family = PORTMAP_IPV4_IPV6;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m, 5000, &v4), PORTMAP_OK);
    ck_assert_int_eq(v4.family, PORTMAP_IPV4);
    ck_assert_int_eq(v4.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(portmap_mapping_get_family_info(m, PORTMAP_IPV6, &v6), PORTMAP_OK);
    ck_assert_int_eq(v6.family, PORTMAP_IPV6);
    ck_assert_int_eq(v6.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(v6.method, PORTMAP_METHOD_PCP);
    ck_assert_str_eq(v4.external_address, WAN_ADDR);
    ck_assert_str_eq(v6.external_address, LAN6_ADDR);
    ck_assert(has_rule("tcp", v4.external_port));
    ck_assert(has_pinhole("tcp", LAN6_ADDR, 27144));
    ck_assert(wan_reaches("tcp", v4.external_port));
    ck_assert(wan_reaches_at(LAN6_ADDR, "tcp", 27144));
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    ck_assert(!has_rule("tcp", v4.external_port));
    ck_assert(pinhole_gone("tcp", LAN6_ADDR, 27144));
    echo_stop(&e);
    portmap_close(&c);
}
END_TEST

START_TEST(discover_finds_the_ipv6_router)
{
    portmap_client *c = open_client(0, 5000);
    portmap_discovery d4, d6;

    ck_assert_int_eq(portmap_discover_dual(c, &d4, &d6, PORTMAP_DISCOVER_FRESH, 5000), PORTMAP_OK);
    ck_assert_str_eq(d4.gateway, "10.77.0.1");
    ck_assert_int_eq(d6.family, PORTMAP_IPV6);
    ck_assert_str_eq(d6.gateway, "fe80::1%lan0");
    ck_assert_str_eq(d6.local_address, LAN6_ADDR);
    ck_assert_int_eq(d6.address_kind, PORTMAP_ADDRESS_STABLE);
    ck_assert_uint_eq(d6.methods, PORTMAP_HAVE(PORTMAP_METHOD_PCP) | PORTMAP_HAVE(PORTMAP_METHOD_UPNP));
    ck_assert_str_eq(d6.upnp_service, "WANIPv6FirewallControl:1");
    ck_assert_int_eq(d6.preferred, PORTMAP_METHOD_PCP);
    portmap_close(&c);
}
END_TEST

/* What the issue asks of the command line: -6 --once --json opens a
 * pinhole by each protocol, the WAN host connects, release closes it. */
static void cli_pinhole(const char *method, unsigned port)
{
    char line[1024], want[80];
    echo e;

    echo_start(&e, 1, port);
    ck_assert_int_eq(cli_run(line, sizeof(line), "request %u tcp -6 --once --json --protocol %s",
                             port, method), 0);
    ck_assert_msg(strstr(line, "\"event\":\"mapped\""), "output: %s", line);
    ck_assert_msg(strstr(line, "\"family\":\"ipv6\""), "output: %s", line);
    ck_assert_msg(strstr(line, "\"address_kind\":\"stable\""), "output: %s", line);
    snprintf(want, sizeof(want), "\"method\":\"%s\"", method);
    ck_assert_msg(strstr(line, want), "output: %s", line);
    ck_assert_msg(strstr(line, "\"external_address\":\"" LAN6_ADDR "\""), "output: %s", line);
    snprintf(want, sizeof(want), "\"external_port\":%u", port);
    ck_assert_msg(strstr(line, want), "output: %s", line);
    ck_assert_msg(has_pinhole("tcp", LAN6_ADDR, port), "--once left no pinhole");
    ck_assert_msg(wan_reaches_at(LAN6_ADDR, "tcp", port), "WAN host cannot connect");
    ck_assert_int_eq(cli_run(line, sizeof(line), "release %u tcp", port), 0);
    ck_assert_msg(pinhole_gone("tcp", LAN6_ADDR, port), "release left the pinhole");
    ck_assert_msg(!wan_reaches_at(LAN6_ADDR, "tcp", port), "still reachable after release");
    echo_stop(&e);
}

START_TEST(cli_pinhole_pcp) { cli_pinhole("pcp", 27145); }
END_TEST
START_TEST(cli_pinhole_upnp) { cli_pinhole("upnp", 27146); }
END_TEST

/* UPnP-only routers: IGDv2 opens pinholes; IGDv1 has no
 * WANIPv6FirewallControl, so -6 says so and opens nothing. */
START_TEST(cli_pinhole_upnp_profile)
{
    const char *profile = getenv("LAB_PROFILE");
    char out[4096];
    int rc;

    if (!profile || strcmp(profile, "igdv1") != 0) {
        cli_pinhole("upnp", 27147);
        return;
    }
    rc = cli_all(out, sizeof(out), "request 27147 tcp -6 --once --protocol upnp --timeout 3 2>&1");
    ck_assert_int_eq(rc, 3);
    ck_assert_msg(strstr(out, "IPv6"), "output: %s", out);
    ck_assert(!has_pinhole("tcp", LAN6_ADDR, 27147));
}
END_TEST

static int both_pinholes_back(void *arg)
{
    (void)arg;
    return has_pinhole("udp", LAN6_ADDR, 27149) && has_pinhole("udp", LAN6_ADDR, 27150);
}

/* A router power cut flushes its pinholes too: with a long lease, the
 * router's announcement when it is back brings them back within 10 s,
 * both the PCP and the UPnP one, from a client holding both. */
START_TEST(pinholes_come_back_after_a_router_reboot)
{
    portmap_client *c = open_client(0, 5000);
    portmap_mapping *mp = NULL, *mu = NULL;
    portmap_request r;
    int64_t t0;

    portmap_request_init(&r);
    r.internal_port = 27149;
    r.lifetime = 7200;
    r.family = PORTMAP_IPV6;
    r.method = PORTMAP_METHOD_PCP;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &mp), PORTMAP_OK);
    r.internal_port = 27150;
    r.method = PORTMAP_METHOD_UPNP;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &mu), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(mp, 5000, NULL), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(mu, 5000, NULL), PORTMAP_OK);
    ck_assert(has_pinhole("udp", LAN6_ADDR, 27149) && has_pinhole("udp", LAN6_ADDR, 27150));
    ck_assert_int_eq(run("'%s' router-crash", lab), 0);
    ck_assert(!has_pinhole("udp", LAN6_ADDR, 27149) && !has_pinhole("udp", LAN6_ADDR, 27150));
    usleep(1100000); /* a new BOOTID (see test_lab_reboot.c) */
    ck_assert_int_eq(run("'%s' router-start", lab), 0);
    t0 = now_ms();
    wait_until(both_pinholes_back, NULL, 10000);
    ck_assert_msg(has_pinhole("udp", LAN6_ADDR, 27149), "PCP pinhole not back within 10 s");
    ck_assert_msg(has_pinhole("udp", LAN6_ADDR, 27150), "UPnP pinhole not back within 10 s");
    fprintf(stderr, "  pinholes back %lld ms after the router answered again\n",
            (long long)(now_ms() - t0));
    ck_assert_int_eq(portmap_mapping_release(&mp, 3000), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_release(&mu, 3000), PORTMAP_OK);
    ck_assert(pinhole_gone("udp", LAN6_ADDR, 27149) && pinhole_gone("udp", LAN6_ADDR, 27150));
    portmap_close(&c);
}
END_TEST

Suite *lab_pinhole_suite(int upnp_only)
{
    Suite *s = suite_create("lab_pinhole");
    TCase *tc = lab_tcase(s, upnp_only);

    if (upnp_only) {
        tcase_add_test(tc, cli_pinhole_upnp_profile);
        return s;
    }
    tcase_add_test(tc, pcp_pinhole_tcp);
    tcase_add_test(tc, pcp_pinhole_udp);
    tcase_add_test(tc, upnp_pinhole_tcp);
    tcase_add_test(tc, upnp_pinhole_udp);
    tcase_add_test(tc, both_families_one_handle);
    tcase_add_test(tc, discover_finds_the_ipv6_router);
    tcase_add_test(tc, cli_pinhole_pcp);
    tcase_add_test(tc, cli_pinhole_upnp);
    tcase_add_test(tc, pinholes_come_back_after_a_router_reboot);
    return s;
}
