/*
 * Suite: reading the network state (core/netinfo.c): what each protocol
 * of the client's backend table can do, which answered, how long a
 * silent one is waited for, and the reason given in words. The state is
 * set by hand on a bare client (no thread, no sockets) whose table holds
 * copies of the library's backends with their I/O taken out.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "core/core.h"

static int fake_start(portmap_client *c, portmap_mapping *m, int64_t now) { return -1; }
static void fake_stop(portmap_client *c, portmap_mapping *m) {}
static int fake_probe(portmap_client *c, int fam, int64_t now) { return -1; }
static size_t fake_add(portmap_client *c, struct pollfd *f, size_t max, int64_t *d) { return 0; }
static size_t fake_count(portmap_client *c) { return 0; }
static void fake_dispatch(portmap_client *c, struct pollfd *f, size_t n, int64_t now) {}
static void fake_reset(portmap_client *c, int fam) {}

/* Each protocol's capabilities and label as the library has them */
static pm_backend fakes[PORTMAP_METHOD_COUNT];
static const pm_backend *table[PORTMAP_METHOD_COUNT];

static void make_fake(portmap_method m)
{
    pm_backend *f = &fakes[m];

    *f = *pm_backends_default[m];
    f->start = fake_start;
    f->stop = fake_stop;
    f->probe = fake_probe;
    f->add_pollfds = fake_add;
    f->count_pollfds = fake_count;
    f->dispatch = fake_dispatch;
    f->reset = fake_reset;
    f->abandon = NULL;
    f->listen = NULL;
    f->table_open = NULL;
    f->state_new = NULL;
    f->state_free = NULL;
    table[m] = f;
}

static portmap_client *c;
static char dir[64];

/* A client with the given order (AUTO-terminated) and gateway setting */
static void make_client(const portmap_method *order, const char *gateway)
{
    portmap_settings set;

    portmap_default_settings(&set);
    set.state_dir = dir;
    set.gateway = gateway;
    for (int i = 0; order && order[i] != PORTMAP_METHOD_AUTO; i++)
        set.methods[i] = order[i];
    ck_assert_int_eq(pm_client_new(&c, &set, table, 1), PORTMAP_OK);
}

static void setup(void)
{
    static const portmap_method order[] = { PORTMAP_METHOD_PCP, PORTMAP_METHOD_NATPMP,
                                            PORTMAP_METHOD_UPNP, PORTMAP_METHOD_AUTO };

    strcpy(dir, "/tmp/pm-netinfo-XXXXXX"); /* never written: the client wants one */
    ck_assert_ptr_nonnull(mkdtemp(dir));
    table[PORTMAP_METHOD_AUTO] = NULL;
    make_fake(PORTMAP_METHOD_PCP);
    make_fake(PORTMAP_METHOD_NATPMP);
    make_fake(PORTMAP_METHOD_UPNP);
    make_client(order, NULL);
}

static void teardown(void)
{
    pm_client_free(c);
    ck_assert_int_eq(rmdir(dir), 0);
}

/* Another client in place of the fixture's */
static void remake_client(const portmap_method *order, const char *gateway)
{
    pm_client_free(c);
    make_client(order, gateway);
}

/* fam's router at gw (our address local) is known */
static void route(int fam, const char *gw, const char *local)
{
    pm_net *net = &c->net[fam];

    net->route_ok = 1;
    net->route_read_at = 1;
    ck_assert_int_eq(pm_addr_parse(gw, &net->gateway), 0);
    ck_assert_int_eq(pm_addr_parse(local, &net->local), 0);
}

static void refused(int fam, portmap_method m)
{
    c->net[fam].avail[m] = PM_AVAIL_NO;
    c->net[fam].refused = m;
    snprintf(c->net[fam].why[m], PM_REASON_LEN, "%s", PM_WHY_REFUSED_5351);
}

START_TEST(families_come_from_the_clients_table)
{
    ck_assert_int_eq(pm_method_has_family(c, PORTMAP_METHOD_PCP, PM_V4), 1);
    ck_assert_int_eq(pm_method_has_family(c, PORTMAP_METHOD_PCP, PM_V6), 1);
    ck_assert_int_eq(pm_method_has_family(c, PORTMAP_METHOD_NATPMP, PM_V4), 1);
    ck_assert_int_eq(pm_method_has_family(c, PORTMAP_METHOD_NATPMP, PM_V6), 0);
    ck_assert_int_eq(pm_method_has_family(c, PORTMAP_METHOD_UPNP, PM_V4), 1);
    ck_assert_int_eq(pm_method_has_family(c, PORTMAP_METHOD_UPNP, PM_V6), 1);
    ck_assert_int_eq(pm_method_has_family(c, PORTMAP_METHOD_AUTO, PM_V4), 0);
    /* the client's copy, not the library's table */
    fakes[PORTMAP_METHOD_NATPMP].families = 1u << PM_V6;
    ck_assert_int_eq(pm_method_has_family(c, PORTMAP_METHOD_NATPMP, PM_V6), 1);
    ck_assert_int_eq(pm_method_has_family(c, PORTMAP_METHOD_NATPMP, PM_V4), 0);
    /* a protocol taken out of the table serves nothing */
    c->backends[PORTMAP_METHOD_UPNP] = NULL;
    ck_assert_int_eq(pm_method_has_family(c, PORTMAP_METHOD_UPNP, PM_V4), 0);
    ck_assert_int_eq(pm_method_has_family(c, PORTMAP_METHOD_UPNP, PM_V6), 0);
}
END_TEST

START_TEST(who_can_restrict_the_remote_side)
{
    static const uint8_t prefixes[] = { 1, 8, 24, 31, 32 };

    /* anyone (prefix 0) is no restriction: every protocol honours it */
    for (int m = PORTMAP_METHOD_PCP; m < PORTMAP_METHOD_COUNT; m++)
        ck_assert_int_eq(pm_method_can_allow(c, (portmap_method)m, 0), 1);
    for (size_t i = 0; i < sizeof(prefixes); i++) {
        uint8_t p = prefixes[i];
        ck_assert_int_eq(pm_method_can_allow(c, PORTMAP_METHOD_PCP, p), 1);
        ck_assert_int_eq(pm_method_can_allow(c, PORTMAP_METHOD_NATPMP, p), 0);
        ck_assert_int_eq(pm_method_can_allow(c, PORTMAP_METHOD_UPNP, p), p == 32);
    }
    c->backends[PORTMAP_METHOD_PCP] = NULL;
    ck_assert_int_eq(pm_method_can_allow(c, PORTMAP_METHOD_PCP, 32), 0);
    ck_assert_int_eq(pm_method_can_allow(c, PORTMAP_METHOD_AUTO, 24), 0);
}
END_TEST

START_TEST(labels_are_the_backends_own)
{
    ck_assert_str_eq(pm_method_label(c, PORTMAP_METHOD_PCP), "PCP");
    ck_assert_str_eq(pm_method_label(c, PORTMAP_METHOD_NATPMP), "NAT-PMP");
    ck_assert_str_eq(pm_method_label(c, PORTMAP_METHOD_UPNP), "UPnP-IGD");
    fakes[PORTMAP_METHOD_PCP].label = "PCP (scripted)";
    ck_assert_str_eq(pm_method_label(c, PORTMAP_METHOD_PCP), "PCP (scripted)");
    fakes[PORTMAP_METHOD_PCP].label = NULL;
    ck_assert_str_eq(pm_method_label(c, PORTMAP_METHOD_PCP), "?");
    c->backends[PORTMAP_METHOD_UPNP] = NULL;
    ck_assert_str_eq(pm_method_label(c, PORTMAP_METHOD_UPNP), "?");
    ck_assert_str_eq(pm_method_label(c, PORTMAP_METHOD_AUTO), "?");
    ck_assert_str_eq(pm_method_label(c, (portmap_method)PORTMAP_METHOD_COUNT), "?");
}
END_TEST

/* Done: no protocol of that family is still being probed. */
START_TEST(all_probes_done_is_per_family)
{
    ck_assert_int_eq(pm_net_all_probes_done(c, PM_V4), 1); /* nothing asked yet */
    c->net[PM_V4].avail[PORTMAP_METHOD_UPNP] = PM_AVAIL_PROBING;
    ck_assert_int_eq(pm_net_all_probes_done(c, PM_V4), 0);
    ck_assert_int_eq(pm_net_all_probes_done(c, PM_V6), 1);
    c->net[PM_V4].avail[PORTMAP_METHOD_UPNP] = PM_AVAIL_NO;
    c->net[PM_V4].avail[PORTMAP_METHOD_PCP] = PM_AVAIL_YES;
    ck_assert_int_eq(pm_net_all_probes_done(c, PM_V4), 1);
    c->net[PM_V6].avail[PORTMAP_METHOD_PCP] = PM_AVAIL_PROBING;
    ck_assert_int_eq(pm_net_all_probes_done(c, PM_V6), 0);
    ck_assert_int_eq(pm_net_all_probes_done(c, PM_V4), 1);
}
END_TEST

/* The client's order decides, whichever family's router answered. */
START_TEST(first_answered_follows_the_clients_order)
{
    static const portmap_method order[] = { PORTMAP_METHOD_UPNP, PORTMAP_METHOD_PCP,
                                            PORTMAP_METHOD_NATPMP, PORTMAP_METHOD_AUTO };

    remake_client(order, NULL);
    ck_assert_int_eq(pm_net_first_answered(c), PORTMAP_METHOD_AUTO);
    c->net[PM_V4].avail[PORTMAP_METHOD_NATPMP] = PM_AVAIL_YES;
    ck_assert_int_eq(pm_net_first_answered(c), PORTMAP_METHOD_NATPMP);
    c->net[PM_V4].avail[PORTMAP_METHOD_PCP] = PM_AVAIL_YES;
    ck_assert_int_eq(pm_net_first_answered(c), PORTMAP_METHOD_PCP);
    /* the IPv6 router's UPnP comes first in the order: it wins */
    c->net[PM_V6].avail[PORTMAP_METHOD_UPNP] = PM_AVAIL_YES;
    ck_assert_int_eq(pm_net_first_answered(c), PORTMAP_METHOD_UPNP);
    /* probing, refusing, not asked: not answers */
    c->net[PM_V6].avail[PORTMAP_METHOD_UPNP] = PM_AVAIL_PROBING;
    ck_assert_int_eq(pm_net_first_answered(c), PORTMAP_METHOD_PCP);
    c->net[PM_V4].avail[PORTMAP_METHOD_PCP] = PM_AVAIL_NO;
    c->net[PM_V4].avail[PORTMAP_METHOD_NATPMP] = PM_AVAIL_UNKNOWN;
    ck_assert_int_eq(pm_net_first_answered(c), PORTMAP_METHOD_AUTO);
}
END_TEST

/* A protocol the client does not use does not count, answered or not. */
START_TEST(first_answered_is_of_the_clients_protocols)
{
    static const portmap_method order[] = { PORTMAP_METHOD_PCP, PORTMAP_METHOD_AUTO };

    remake_client(order, NULL);
    c->net[PM_V4].avail[PORTMAP_METHOD_NATPMP] = PM_AVAIL_YES;
    ck_assert_int_eq(pm_net_first_answered(c), PORTMAP_METHOD_AUTO);
    c->net[PM_V6].avail[PORTMAP_METHOD_PCP] = PM_AVAIL_YES;
    ck_assert_int_eq(pm_net_first_answered(c), PORTMAP_METHOD_PCP);
}
END_TEST

/* Silent while another protocol answered: given up a grace after its
 * probe started; the answer may come from the other family's router. */
START_TEST(silent_deadline_once_another_answered)
{
    pm_net *v4 = &c->net[PM_V4];

    v4->avail[PORTMAP_METHOD_PCP] = PM_AVAIL_PROBING;
    v4->probe_started[PORTMAP_METHOD_PCP] = 5000;
    ck_assert_int_eq(pm_net_silent_deadline(c, PM_V4, PORTMAP_METHOD_PCP), PM_NEVER);
    c->net[PM_V6].avail[PORTMAP_METHOD_UPNP] = PM_AVAIL_YES;
    ck_assert_int_eq(pm_net_silent_deadline(c, PM_V4, PORTMAP_METHOD_PCP),
                     5000 + PM_SILENT_GRACE_MS);
    c->net[PM_V6].avail[PORTMAP_METHOD_UPNP] = PM_AVAIL_UNKNOWN;
    v4->avail[PORTMAP_METHOD_NATPMP] = PM_AVAIL_YES;
    ck_assert_int_eq(pm_net_silent_deadline(c, PM_V4, PORTMAP_METHOD_PCP),
                     5000 + PM_SILENT_GRACE_MS);
    /* an answer beats a refusal: the shorter grace */
    refused(PM_V4, PORTMAP_METHOD_UPNP);
    ck_assert_int_eq(pm_net_silent_deadline(c, PM_V4, PORTMAP_METHOD_PCP),
                     5000 + PM_SILENT_GRACE_MS);
    /* heard from: no longer silent, waited for to its probe's deadline */
    v4->heard_at[PORTMAP_METHOD_PCP] = 5200;
    ck_assert_int_eq(pm_net_silent_deadline(c, PM_V4, PORTMAP_METHOD_PCP), PM_NEVER);
    v4->heard_at[PORTMAP_METHOD_PCP] = 0;
    /* not being probed: nothing to give up */
    v4->avail[PORTMAP_METHOD_PCP] = PM_AVAIL_UNKNOWN;
    ck_assert_int_eq(pm_net_silent_deadline(c, PM_V4, PORTMAP_METHOD_PCP), PM_NEVER);
    v4->avail[PORTMAP_METHOD_PCP] = PM_AVAIL_NO;
    ck_assert_int_eq(pm_net_silent_deadline(c, PM_V4, PORTMAP_METHOD_PCP), PM_NEVER);
}
END_TEST

/* Only a refusal of fam's own router: the longer grace; the other
 * family's refusal says nothing of this router. */
START_TEST(silent_deadline_when_only_refused)
{
    pm_net *v4 = &c->net[PM_V4], *v6 = &c->net[PM_V6];

    v4->avail[PORTMAP_METHOD_UPNP] = PM_AVAIL_PROBING;
    v4->probe_started[PORTMAP_METHOD_UPNP] = 7000;
    v6->avail[PORTMAP_METHOD_UPNP] = PM_AVAIL_PROBING;
    v6->probe_started[PORTMAP_METHOD_UPNP] = 8000;
    refused(PM_V4, PORTMAP_METHOD_PCP);
    ck_assert_int_eq(pm_net_silent_deadline(c, PM_V4, PORTMAP_METHOD_UPNP),
                     7000 + PM_REFUSED_GRACE_MS);
    ck_assert_int_eq(pm_net_silent_deadline(c, PM_V6, PORTMAP_METHOD_UPNP), PM_NEVER);
    v4->heard_at[PORTMAP_METHOD_UPNP] = 7100;
    ck_assert_int_eq(pm_net_silent_deadline(c, PM_V4, PORTMAP_METHOD_UPNP), PM_NEVER);
}
END_TEST

START_TEST(reason_without_a_route)
{
    char buf[PM_REASON_LEN];
    static const portmap_method order[] = { PORTMAP_METHOD_PCP, PORTMAP_METHOD_AUTO };

    pm_net_reason(c, PM_V4, PORTMAP_METHOD_AUTO, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "no IPv4 default route");
    pm_net_reason(c, PM_V6, PORTMAP_METHOD_AUTO, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "no IPv6 default route, or no global or unique-local IPv6 address on "
                          "its link");
    remake_client(order, "10.77.0.1");
    pm_net_reason(c, PM_V4, PORTMAP_METHOD_AUTO, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "no IPv4 default route to that gateway");
    pm_net_reason(c, PM_V6, PORTMAP_METHOD_AUTO, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "the gateway was set to 10.77.0.1, which rules IPv6 out");
    remake_client(order, "fe80::1%1");
    pm_net_reason(c, PM_V4, PORTMAP_METHOD_AUTO, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "the gateway was set to fe80::1%1, which rules IPv4 out");
}
END_TEST

/* Each protocol of the client's order, in that order, with its verdict */
START_TEST(reason_lists_each_protocol_in_order)
{
    char buf[PM_REASON_LEN];

    route(PM_V4, "10.77.0.1", "10.77.0.2");
    refused(PM_V4, PORTMAP_METHOD_PCP);
    c->net[PM_V4].avail[PORTMAP_METHOD_NATPMP] = PM_AVAIL_YES;
    pm_net_reason(c, PM_V4, PORTMAP_METHOD_AUTO, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "the router at 10.77.0.1: PCP: " PM_WHY_REFUSED_5351
                          "; NAT-PMP: answered; UPnP-IGD: not asked");
    /* a verdict of no without a why */
    c->net[PM_V4].avail[PORTMAP_METHOD_UPNP] = PM_AVAIL_NO;
    pm_net_reason(c, PM_V4, PORTMAP_METHOD_UPNP, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "the router at 10.77.0.1: UPnP-IGD: no answer");
    /* one protocol asked for: the others are left out */
    pm_net_reason(c, PM_V4, PORTMAP_METHOD_PCP, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "the router at 10.77.0.1: PCP: " PM_WHY_REFUSED_5351);
    /* a protocol out of the client's table is left out too */
    c->backends[PORTMAP_METHOD_NATPMP] = NULL;
    pm_net_reason(c, PM_V4, PORTMAP_METHOD_AUTO, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "the router at 10.77.0.1: PCP: " PM_WHY_REFUSED_5351
                          "; UPnP-IGD: no answer");
}
END_TEST

/* Still probing: how long it has been silent, or only half-answered */
START_TEST(reason_of_a_probe_under_way)
{
    char buf[PM_REASON_LEN];
    int64_t now = pm_now_ms();
    pm_net *v4 = &c->net[PM_V4];

    route(PM_V4, "10.77.0.1", "10.77.0.2");
    v4->avail[PORTMAP_METHOD_PCP] = PM_AVAIL_PROBING;
    v4->probe_started[PORTMAP_METHOD_PCP] = now - 2300;
    v4->avail[PORTMAP_METHOD_UPNP] = PM_AVAIL_PROBING;
    v4->probe_started[PORTMAP_METHOD_UPNP] = now - 2300;
    v4->heard_at[PORTMAP_METHOD_UPNP] = now - 2000;
    pm_net_reason(c, PM_V4, PORTMAP_METHOD_AUTO, 0, buf, sizeof(buf));
    /* the seconds' tenths depend on the machine's speed: 2.3 s or a bit more */
    ck_assert_msg(strncmp(buf, "the router at 10.77.0.1: PCP: no answer within 2.", 49) == 0, "%s",
                  buf);
    ck_assert_msg(strstr(buf, " s; NAT-PMP: not asked; UPnP-IGD: no full answer within 2."), "%s",
                  buf);
}
END_TEST

/* IPv6: the router is named with its zone, NAT-PMP is not among its
 * protocols. */
START_TEST(reason_names_the_ipv6_router_with_its_zone)
{
    static const portmap_method order[] = { PORTMAP_METHOD_NATPMP, PORTMAP_METHOD_AUTO };
    char buf[PM_REASON_LEN];

    route(PM_V6, "fe80::1%1", "2001:db8:77:1::2");
    snprintf(c->net[PM_V6].ifname, sizeof(c->net[PM_V6].ifname), "lab0");
    c->net[PM_V6].avail[PORTMAP_METHOD_PCP] = PM_AVAIL_YES;
    c->net[PM_V6].avail[PORTMAP_METHOD_NATPMP] = PM_AVAIL_YES; /* ignored: no IPv6 */
    pm_net_reason(c, PM_V6, PORTMAP_METHOD_AUTO, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "the IPv6 router at fe80::1%lab0: PCP: answered; UPnP-IGD: not asked");
    pm_net_reason(c, PM_V6, PORTMAP_METHOD_NATPMP, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "the IPv6 router at fe80::1%lab0: that protocol has no such family");
    /* a global gateway has no zone to name */
    route(PM_V6, "2001:db8:77:1::1", "2001:db8:77:1::2");
    pm_net_reason(c, PM_V6, PORTMAP_METHOD_PCP, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "the IPv6 router at 2001:db8:77:1::1: PCP: answered");
    remake_client(order, NULL);
    route(PM_V6, "2001:db8:77:1::1", "2001:db8:77:1::2");
    pm_net_reason(c, PM_V6, PORTMAP_METHOD_AUTO, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "the IPv6 router at 2001:db8:77:1::1: no protocol to ask");
}
END_TEST

/* A restriction of who connects: protocols that cannot honour it say so
 * whatever they answered. */
START_TEST(reason_says_who_cannot_restrict)
{
    char buf[PM_REASON_LEN];

    route(PM_V4, "10.77.0.1", "10.77.0.2");
    for (int m = PORTMAP_METHOD_PCP; m < PORTMAP_METHOD_COUNT; m++)
        c->net[PM_V4].avail[m] = PM_AVAIL_YES;
    pm_net_reason(c, PM_V4, PORTMAP_METHOD_AUTO, 24, buf, sizeof(buf));
    ck_assert_str_eq(buf, "the router at 10.77.0.1: PCP: answered; NAT-PMP: cannot restrict who "
                          "connects; UPnP-IGD: cannot restrict who connects");
    pm_net_reason(c, PM_V4, PORTMAP_METHOD_AUTO, 32, buf, sizeof(buf));
    ck_assert_str_eq(buf, "the router at 10.77.0.1: PCP: answered; NAT-PMP: cannot restrict who "
                          "connects; UPnP-IGD: answered");
}
END_TEST

/* A small buffer is cut, never overrun. */
START_TEST(reason_fits_the_buffer)
{
    char buf[40];

    memset(buf, 'x', sizeof(buf));
    route(PM_V4, "10.77.0.1", "10.77.0.2");
    refused(PM_V4, PORTMAP_METHOD_PCP);
    pm_net_reason(c, PM_V4, PORTMAP_METHOD_AUTO, 0, buf, 30);
    ck_assert_uint_eq(strlen(buf), 29);
    ck_assert_str_eq(buf, "the router at 10.77.0.1: PCP:");
    ck_assert_int_eq(buf[30], 'x');
}
END_TEST

START_TEST(who_answered_in_words)
{
    char buf[64];

    pm_net_who_answered(c, PM_V4, buf, sizeof(buf));
    ck_assert_str_eq(buf, "another protocol answered");
    refused(PM_V4, PORTMAP_METHOD_PCP);
    pm_net_who_answered(c, PM_V4, buf, sizeof(buf));
    ck_assert_str_eq(buf, "the router refused PCP");
    pm_net_who_answered(c, PM_V6, buf, sizeof(buf));
    ck_assert_str_eq(buf, "another protocol answered");
    c->net[PM_V6].avail[PORTMAP_METHOD_UPNP] = PM_AVAIL_YES;
    pm_net_who_answered(c, PM_V4, buf, sizeof(buf));
    ck_assert_str_eq(buf, "UPnP-IGD answered");
}
END_TEST

/* A client just opened knows its router before any request: the engine's
 * first round reads the route, so a first request's datagram has no
 * route read in front of it. */
START_TEST(route_is_read_when_the_client_opens)
{
    portmap_settings set;
    portmap_client *oc = NULL;
    char odir[64];
    int64_t until;
    int ok = 0;

    strcpy(odir, "/tmp/pm-netinfo-open-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(odir));
    portmap_default_settings(&set);
    set.state_dir = odir;
    set.gateway = "127.0.0.1";
    ck_assert_int_eq(portmap_open(&oc, &set), PORTMAP_OK);
    until = pm_now_ms() + 2000;
    while (!ok && pm_now_ms() < until) {
        pthread_mutex_lock(&oc->lock);
        ok = oc->net[PM_V4].route_ok;
        pthread_mutex_unlock(&oc->lock);
        if (!ok)
            usleep(1000);
    }
    portmap_close(&oc);
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", odir);
        ck_assert_int_eq(system(cmd), 0);
    }
    ck_assert_int_eq(ok, 1);
}
END_TEST

static Suite *netinfo_suite(void)
{
    Suite *s = suite_create("netinfo");
    TCase *cap = tcase_create("capabilities");
    TCase *ans = tcase_create("answers");
    TCase *why = tcase_create("reasons");

    tcase_add_checked_fixture(cap, setup, teardown);
    tcase_add_test(cap, families_come_from_the_clients_table);
    tcase_add_test(cap, who_can_restrict_the_remote_side);
    tcase_add_test(cap, labels_are_the_backends_own);
    suite_add_tcase(s, cap);

    tcase_add_checked_fixture(ans, setup, teardown);
    tcase_add_test(ans, all_probes_done_is_per_family);
    tcase_add_test(ans, first_answered_follows_the_clients_order);
    tcase_add_test(ans, first_answered_is_of_the_clients_protocols);
    tcase_add_test(ans, silent_deadline_once_another_answered);
    tcase_add_test(ans, silent_deadline_when_only_refused);
    tcase_add_test(ans, route_is_read_when_the_client_opens);
    suite_add_tcase(s, ans);

    tcase_add_checked_fixture(why, setup, teardown);
    tcase_add_test(why, reason_without_a_route);
    tcase_add_test(why, reason_lists_each_protocol_in_order);
    tcase_add_test(why, reason_of_a_probe_under_way);
    tcase_add_test(why, reason_names_the_ipv6_router_with_its_zone);
    tcase_add_test(why, reason_says_who_cannot_restrict);
    tcase_add_test(why, reason_fits_the_buffer);
    tcase_add_test(why, who_answered_in_words);
    suite_add_tcase(s, why);
    return s;
}

PM_CHECK_MAIN(netinfo_suite)
