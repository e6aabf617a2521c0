/*
 * The everyday flows through the C API, on the lab profile LAB_PROFILE:
 * open a client, request several mappings of both families, close it
 * (releasing them, or leaving them with release_on_close = 0). Run in the
 * lab's LAN namespace by flows.py; LAB is lab.sh, FLOWS_PORT the first of
 * the ports it may use (six).
 *
 * Closing a client that holds two or more dual-family mappings read freed
 * memory (issue 16): under AddressSanitizer these tests catch it.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <portmap/portmap.h>

#include "wait.h"

#define N_MAPS 3

static const char *profile, *lab;
static unsigned base;

static int has_rule(const char *proto, unsigned port)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "'%s' has-rule %s %u", lab, proto, port);
    return system(cmd) == 0;
}

/* A router of the profile maps IPv4 (every profile but none). */
static int router_maps(void)
{
    return strcmp(profile, "none") != 0;
}

static portmap_client *open_client(int release_on_close)
{
    portmap_settings s;
    portmap_client *c = NULL;

    portmap_default_settings(&s);
    s.release_on_close = release_on_close;
    ck_assert_int_eq(portmap_open(&c, &s), PORTMAP_OK);
    return c;
}

static const char *proto_of(int i)
{
    return i % 2 ? "tcp" : "udp";
}

/* Request N_MAPS dual-family mappings from port first on and wait for
 * each; checks each outcome against the profile. */
static void request_all(portmap_client *c, unsigned first, portmap_mapping **m)
{
    for (int i = 0; i < N_MAPS; i++) {
        portmap_request r;
        portmap_request_init(&r);
        r.protocol = i % 2 ? PORTMAP_TCP : PORTMAP_UDP;
        r.internal_port = (uint16_t)(first + i);
        r.family = PORTMAP_IPV4_IPV6;
        r.lifetime = 600;
        ck_assert_int_eq(portmap_request_mapping(c, &r, &m[i]), PORTMAP_OK);
    }
    for (int i = 0; i < N_MAPS; i++) {
        portmap_mapping_info v4;
        char why[512];
        int64_t t0 = now_ms();
        int rc = portmap_mapping_wait(m[i], 0, NULL);

        ck_assert_int_eq(portmap_mapping_get_family_info(m[i], PORTMAP_IPV4, &v4), PORTMAP_OK);
        ck_assert_int_eq(portmap_mapping_get_reason(m[i], PORTMAP_IPV4, why, sizeof(why)),
                         PORTMAP_OK);
        if (router_maps()) {
            ck_assert_msg(rc == PORTMAP_OK && v4.state == PORTMAP_STATE_MAPPED,
                          "port %u: rc %d state %s: %s", first + i, rc,
                          portmap_state_name(v4.state), why);
            ck_assert_msg(has_rule(proto_of(i), first + i), "no rule for %u", first + i);
        } else {
            ck_assert_int_eq(v4.state, PORTMAP_STATE_FAILED);
            /* the router's host refuses every protocol: known at once */
            ck_assert_msg(now_ms() - t0 < 3000, "took %lld ms", (long long)(now_ms() - t0));
            ck_assert_msg(why[0] && !strstr(why, "success"), "reason \"%s\"", why);
        }
    }
}

START_TEST(close_releases_several_dual_family_mappings)
{
    portmap_client *c = open_client(1);
    portmap_mapping *m[N_MAPS];
    int64_t t0;

    request_all(c, base, m);
    t0 = now_ms();
    ck_assert_int_eq(portmap_close(&c), PORTMAP_OK);
    ck_assert_ptr_null(c);
    /* within the close timeout (2 s), not the request timeout */
    ck_assert_msg(now_ms() - t0 < 2500, "close took %lld ms", (long long)(now_ms() - t0));
    for (int i = 0; i < N_MAPS; i++)
        ck_assert_msg(!has_rule(proto_of(i), base + i), "port %u left mapped", base + i);
}
END_TEST

START_TEST(close_keeps_them_when_asked)
{
    portmap_client *c = open_client(0);
    portmap_mapping *m[N_MAPS];
    unsigned first = base + N_MAPS;
    int rc;

    request_all(c, first, m);
    /* the handles are the caller's: two of them released, one dropped */
    rc = portmap_mapping_release(&m[0], 2000);
    ck_assert_ptr_null(m[0]);
    if (router_maps())
        ck_assert_int_eq(rc, PORTMAP_OK);
    ck_assert_int_eq(portmap_close(&c), PORTMAP_OK);
    if (!router_maps())
        return;
    ck_assert(!has_rule(proto_of(0), first));
    for (int i = 1; i < N_MAPS; i++)
        ck_assert_msg(has_rule(proto_of(i), first + i), "port %u not kept", first + i);
    /* and a later process releases them by port */
    c = open_client(1);
    for (int i = 1; i < N_MAPS; i++) {
        ck_assert_int_eq(portmap_release_port(c, i % 2 ? PORTMAP_TCP : PORTMAP_UDP,
                                              (uint16_t)(first + i), PORTMAP_METHOD_AUTO, 3000),
                         PORTMAP_OK);
        ck_assert(!has_rule(proto_of(i), first + i));
    }
    ck_assert_int_eq(portmap_close(&c), PORTMAP_OK);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("flows-capi");
    TCase *tc = tcase_create("close");
    SRunner *sr;
    int failed;

    profile = getenv("LAB_PROFILE");
    lab = getenv("LAB");
    base = getenv("FLOWS_PORT") ? (unsigned)atoi(getenv("FLOWS_PORT")) : 28500;
    if (!profile || !lab) {
        fprintf(stderr, "flows-capi: run by flows.py (LAB_PROFILE, LAB unset)\n");
        return 2;
    }
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, close_releases_several_dual_family_mappings);
    tcase_add_test(tc, close_keeps_them_when_asked);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
