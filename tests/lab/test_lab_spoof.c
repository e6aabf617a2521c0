/*
 * Lab suite lab_spoof: a hostile host on the LAN (lab.sh spoofer,
 * tests/lab/lab-spoof.c) forges replies and announcements; the client
 * takes none of them.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab_support.h"

#define FAKE_PORT 6666 /* in every forged reply (with the address 6.6.6.6) */

static pid_t spoofer_pid;
static char spoof_stats[64];

static void spoofer_stop(void)
{
    if (spoofer_pid > 0) {
        kill(spoofer_pid, SIGTERM);
        waitpid(spoofer_pid, NULL, 0);
        spoofer_pid = 0;
    }
    run("'%s' loss 0", lab);
    run("'%s' spoofer down", lab);
    unlink(spoof_stats);
}

static long spoofed_count(const char *kind)
{
    char name[32];
    long n, found = -1;
    FILE *f = fopen(spoof_stats, "r");

    if (!f)
        return -1;
    while (fscanf(f, "%31s %ld", name, &n) == 2)
        if (!strcmp(name, kind))
            found = n;
    fclose(f);
    return found;
}

/* The stats file appears once lab-spoof is ready. */
static int spoofer_ready(void *arg)
{
    (void)arg;
    return spoofed_count("http") >= 0;
}

static void spoofer_start_with(const char *extra)
{
    ck_assert_msg(spoof && *spoof, "LAB_SPOOF is not set");
    lab_changed();
    ck_assert_int_eq(run("'%s' spoofer up", lab), 0);
    snprintf(spoof_stats, sizeof(spoof_stats), "%s/spoofed", lab_state_dir);
    unlink(spoof_stats);
    spoofer_pid = fork();
    ck_assert_int_ge(spoofer_pid, 0);
    if (spoofer_pid == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "exec ip netns exec ${LAB_PREFIX:-pm}-lan2 '%s' --victim 10.77.0.2 "
                 "--gateway 10.77.0.1 --stats '%s' --timeout 60 %s", spoof, spoof_stats, extra);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    wait_until(spoofer_ready, NULL, 3000);
    ck_assert_msg(spoofed_count("http") == 0, "lab-spoof did not start");
}

static void spoofer_start(void)
{
    spoofer_start_with("");
}

/* A second host forges replies (from its own address; from the gateway's
 * with a wrong nonce or for another request; SSDP answers pointing at
 * itself) and announcements of a router restart. The router is deaf
 * while the mapping is first asked for, so the forgeries are all the
 * client hears at first: none may be taken, and the real mapping follows.
 * A mapping held from before must not be disturbed either (PCP and
 * NAT-PMP: a forged epoch would make it "lost"). */
static void spoofed(portmap_method method, unsigned held_port, unsigned port, const char *kind)
{
    portmap_client *c = open_client(method, 8000);
    portmap_mapping *held = NULL, *m = NULL;
    portmap_mapping_info info;
    portmap_counters k;
    portmap_request r;
    int rc, quiet;

    /* the events of both mappings, the held one's MAPPED first */
    if (method != PORTMAP_METHOD_UPNP)
        held = map_counted(c, held_port, 600);
    else
        wait_events_reset(&lab_events);
    spoofer_start();
    ck_assert_int_eq(run("'%s' loss 100", lab), 0);
    portmap_request_init(&r);
    r.internal_port = (uint16_t)port;
    r.lifetime = 600;
    r.callback = wait_events_callback;
    r.user = &lab_events;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    usleep(800000); /* deaf: forgeries answer the first requests and resends */
    ck_assert_int_eq(run("'%s' loss 0", lab), 0);
    rc = portmap_mapping_wait(m, 8000, &info);
    /* The forged announcements go on: a client that knows its router now
     * takes none of them either. After the new mapping's event, no event
     * on either mapping (a forged epoch: LOST; a forged address: CHANGED). */
    expect_event_within(&lab_events, PORTMAP_EVENT_MAPPED, held ? 2 : 1, 2000);
    quiet = expect_no_event_within(&lab_events, 0, 600);
    ck_assert_int_eq(rc, PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(info.method, method);
    ck_assert_str_eq(info.external_address, WAN_ADDR);
    ck_assert_uint_ne(info.external_port, FAKE_PORT);
    ck_assert_msg(has_rule("udp", info.external_port), "no DNAT rule for udp %u", info.external_port);
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    ck_assert_str_eq(info.external_address, WAN_ADDR);
    ck_assert_uint_ne(info.external_port, FAKE_PORT);

    ck_assert_int_eq(portmap_get_counters(c, &k), PORTMAP_OK);
    fprintf(stderr, "  %s: forged %ld %s replies, %ld announcements; dropped %llu from a wrong "
            "source, %llu unmatched\n", portmap_method_name(method), spoofed_count(kind), kind,
            spoofed_count("announce"), (unsigned long long)k.dropped_wrong_source,
            (unsigned long long)k.dropped_unmatched);
    ck_assert_msg(spoofed_count(kind) > 0, "lab-spoof forged no %s reply", kind);
    ck_assert_msg(spoofed_count("announce") > 0, "lab-spoof announced nothing");
    ck_assert_msg(spoofed_count("http") == 0, "the client fetched lab-spoof's description");
    ck_assert_uint_eq(k.announcements, 0);
    ck_assert_uint_eq(k.remaps_after_reset, 0);
    ck_assert_uint_ge(k.dropped_wrong_source, 1); /* the announcements, at least */
    if (method != PORTMAP_METHOD_UPNP)
        ck_assert_uint_ge(k.dropped_unmatched, 1); /* wrong nonce, wrong request */
    if (held) {
        ck_assert_int_eq(portmap_mapping_get_info(held, &info), PORTMAP_OK);
        ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
        ck_assert_str_eq(info.external_address, WAN_ADDR);
        ck_assert_int_eq(events(PORTMAP_EVENT_LOST), 0);
        ck_assert_int_eq(events(PORTMAP_EVENT_CHANGED), 0);
        ck_assert_int_eq(portmap_mapping_release(&held, 3000), PORTMAP_OK);
    }
    ck_assert_msg(quiet, "an event while the forgeries went on: %d lost, %d changed, %d restored",
                  events(PORTMAP_EVENT_LOST), events(PORTMAP_EVENT_CHANGED),
                  events(PORTMAP_EVENT_RESTORED));
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    portmap_close(&c);
    spoofer_stop();
    lab_restored();
}

START_TEST(pcp_ignores_forgeries) { spoofed(PORTMAP_METHOD_PCP, 27100, 27101, "pcp"); }
END_TEST
START_TEST(natpmp_ignores_forgeries) { spoofed(PORTMAP_METHOD_NATPMP, 27102, 27103, "natpmp"); }
END_TEST
START_TEST(upnp_ignores_forgeries) { spoofed(PORTMAP_METHOD_UPNP, 0, 27104, "ssdp"); }
END_TEST

#define HELD 20

/* Announcements forged from the gateway's own address and ports, four a
 * second for 8 s (PCP ANNOUNCE and NAT-PMP with epoch 0 and the address
 * 6.6.6.6, SSDP NOTIFY with a new BOOTID), while the client holds 20
 * mappings: each is only a prompt to ask the router, so nothing they say
 * is taken (no LOST, no CHANGED, not the address) and the checks they
 * prompt stay at one a second, whatever the number of mappings (before:
 * about 350 requests, and 80 LOST events). */
START_TEST(forged_announcements_are_prompts)
{
    portmap_client *c = open_client(PORTMAP_METHOD_AUTO, 8000);
    portmap_mapping *m[HELD];
    portmap_mapping_info info;
    portmap_counters k0, k1;
    portmap_request r;
    char ext[PORTMAP_ADDRSTRLEN];
    unsigned long long sent;
    int quiet;

    wait_events_reset(&lab_events);
    for (int i = 0; i < HELD; i++) {
        portmap_request_init(&r);
        r.internal_port = (uint16_t)(27110 + i);
        r.lifetime = 7200;
        r.callback = wait_events_callback;
        r.user = &lab_events;
        ck_assert_int_eq(portmap_request_mapping(c, &r, &m[i]), PORTMAP_OK);
    }
    for (int i = 0; i < HELD; i++)
        ck_assert_int_eq(portmap_mapping_wait(m[i], 8000, NULL), PORTMAP_OK);
    ck_assert(expect_event_within(&lab_events, PORTMAP_EVENT_MAPPED, HELD, 2000));
    ck_assert_int_eq(portmap_get_counters(c, &k0), PORTMAP_OK);
    spoofer_start_with("--as-gateway yes --announce-ms 250");
    quiet = expect_no_event_within(&lab_events, 0, 8000); /* none at all */
    ck_assert_int_eq(portmap_get_counters(c, &k1), PORTMAP_OK);
    sent = k1.requests_sent - k0.requests_sent;
    fprintf(stderr, "  %ld forged announcements, %llu heard: %llu requests from 20 mappings; "
            "events: %d lost, %d changed\n", spoofed_count("announce"),
            (unsigned long long)(k1.announcements - k0.announcements), sent,
            events(PORTMAP_EVENT_LOST), events(PORTMAP_EVENT_CHANGED));
    spoofer_stop();
    /* the forgeries reached the client: the test proves something */
    ck_assert_uint_ge(k1.announcements - k0.announcements, 16);
    ck_assert_msg(quiet, "an event while the forgeries went on: %d lost, %d changed",
                  events(PORTMAP_EVENT_LOST), events(PORTMAP_EVENT_CHANGED));
    ck_assert_uint_eq(k1.remaps_after_reset, k0.remaps_after_reset);
    /* at most one check a second: a handful of requests each */
    ck_assert_msg(sent <= 80, "%llu requests for forged announcements", sent);
    ck_assert_int_eq(portmap_external_ip(c, ext, sizeof(ext), 3000), PORTMAP_OK);
    ck_assert_str_eq(ext, WAN_ADDR);
    for (int i = 0; i < HELD; i++) {
        ck_assert_int_eq(portmap_mapping_get_info(m[i], &info), PORTMAP_OK);
        ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
        ck_assert_str_eq(info.external_address, WAN_ADDR);
        ck_assert(has_rule("udp", info.external_port));
        ck_assert_int_eq(portmap_mapping_release(&m[i], 3000), PORTMAP_OK);
    }
    portmap_close(&c);
    lab_restored();
}
END_TEST

Suite *lab_spoof_suite(int upnp_only)
{
    Suite *s = suite_create("lab_spoof");
    TCase *tc = lab_tcase(s, upnp_only);

    if (!upnp_only) {
        tcase_add_test(tc, pcp_ignores_forgeries);
        tcase_add_test(tc, natpmp_ignores_forgeries);
    }
    tcase_add_test(tc, upnp_ignores_forgeries);
    tcase_add_test(tc, forged_announcements_are_prompts);
    return s;
}
