/*
 * Suite: the mapping state machine (core/mapping.c, core/service.c with
 * core/net.c's verdicts and the event queue), driven with an explicit
 * clock on a client made by pm_client_new() with no thread, and a
 * scripted backend in the client's table that records what would be sent
 * instead of sending it.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "core/core.h"
#include "sys/epoch.h"

static int starts, probes;
static pm_op last_op;
static uint32_t last_lifetime;

static int fake_start(portmap_client *c, portmap_mapping *m, int64_t now)
{
    starts++;
    last_op = m->op;
    last_lifetime = m->op_lifetime;
    return 0;
}
static void fake_stop(portmap_client *c, portmap_mapping *m) {}
static int fake_probe(portmap_client *c, int fam, int64_t now)
{
    probes++;
    return 0;
}
static size_t fake_add(portmap_client *c, struct pollfd *f, size_t max, int64_t *d) { return 0; }
static size_t fake_count(portmap_client *c) { return 0; }
static void fake_dispatch(portmap_client *c, struct pollfd *f, size_t n, int64_t now) {}
static void fake_reset(portmap_client *c, int fam) {}

static int upnp_probes;
static int fake_upnp_probe(portmap_client *c, int fam, int64_t now)
{
    upnp_probes++;
    return 0;
}

static int listens, starts_at_listen;
static void fake_listen(portmap_client *c, int fam)
{
    listens++;
    starts_at_listen = starts;
}

/* PCP's and NAT-PMP's capabilities and lease policy, no I/O; UPnP's for
 * the tests that add it (with_upnp) */
static pm_backend fake_pcp, fake_pmp, fake_upnp;
static const pm_backend *table[PORTMAP_METHOD_COUNT];

static void make_fake(pm_backend *f, portmap_method m)
{
    *f = *pm_backends_default[m];
    f->name = "fake";
    f->start = fake_start;
    f->stop = fake_stop;
    f->probe = fake_probe;
    f->add_pollfds = fake_add;
    f->count_pollfds = fake_count;
    f->dispatch = fake_dispatch;
    f->reset = fake_reset;
    f->abandon = NULL;
    f->listen = NULL;
    table[m] = f;
}

static portmap_client *c;
static char dir[64];

static pm_epoch epochs[PM_FAMS];

static void setup(void)
{
    portmap_settings set;

    strcpy(dir, "/tmp/pm-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    portmap_default_settings(&set);
    set.state_dir = dir;
    set.methods[0] = PORTMAP_METHOD_PCP;
    set.methods[1] = PORTMAP_METHOD_NATPMP;
    make_fake(&fake_pcp, PORTMAP_METHOD_PCP);
    make_fake(&fake_pmp, PORTMAP_METHOD_NATPMP);
    table[PORTMAP_METHOD_UPNP] = NULL;
    ck_assert_int_eq(pm_client_new(&c, &set, table, 1), PORTMAP_OK);
    c->net[PM_V4].route_ok = 1;
    c->net[PM_V4].route_read_at = 1;
    pm_addr_parse("10.77.0.1", &c->net[PM_V4].gateway);
    pm_addr_parse("10.77.0.2", &c->net[PM_V4].local);
    c->rng.s[0] = 1;
    c->rng.s[1] = 2;
    memset(epochs, 0, sizeof(epochs));
    starts = probes = upnp_probes = listens = starts_at_listen = 0;
}

static void drop_events(void)
{
    pm_events_drop(c);
}

/* The journal writes the engine would do after its pass */
static void flush_journal(void)
{
    pm_jq_run(c, 0);
}

/* What pcp.c does with the epoch of a reply to our request */
static void server_epoch(int fam, uint32_t epoch, int64_t now)
{
    if (!pm_epoch_check_pcp(&epochs[fam], epoch, now))
        pm_net_router_reset(c, fam, PORTMAP_METHOD_PCP, epoch, now);
}

static void teardown(void)
{
    char cmd[128];
    drop_events();
    while (c->mappings)
        pm_mapping_unlink(c, c->mappings);
    pm_client_free(c);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static portmap_mapping *add_mapping(int64_t now, int64_t timeout)
{
    portmap_mapping *m = calloc(1, sizeof(*m));
    m->c = c;
    m->refs = 1; /* the list's */
    m->proto = PORTMAP_UDP;
    m->internal_port = 27015;
    m->want_lifetime = 60;
    m->first_deadline = now + timeout;
    m->state = PORTMAP_STATE_PENDING;
    m->expires_at = m->refresh_at = m->retry_at = PM_NEVER;
    pm_mapping_link(c, m);
    return m;
}

static int count_events(portmap_event ev)
{
    int n = 0;
    for (size_t i = 0; i < c->n_events; i++)
        n += c->events[i].ev == ev;
    return n;
}

static void reply_ok(portmap_mapping *m, uint16_t port, uint32_t lifetime, int64_t now)
{
    pm_result r = { .err = PORTMAP_OK, .ext_port = port, .lifetime = lifetime };
    pm_addr_parse("11.77.0.1", &r.ext);
    pm_net_map_done(c, m, &r, now);
    flush_journal();
}

/* m's part of the engine's pass, then what it asked of the engine */
static void service(portmap_mapping *m, int64_t now)
{
    int64_t d = PM_NEVER;
    pm_mapping_service(c, m, now, &d);
    for (int fam = 0; fam < PM_FAMS; fam++)
        pm_net_run_wants(c, fam, now);
}

/* The client speaks UPnP too, last in its order */
static void with_upnp(void)
{
    make_fake(&fake_upnp, PORTMAP_METHOD_UPNP);
    fake_upnp.probe = fake_upnp_probe;
    c->backends[PORTMAP_METHOD_UPNP] = &fake_upnp;
    c->order[c->n_order++] = PORTMAP_METHOD_UPNP;
}

static int64_t pass(int64_t now)
{
    int64_t d = PM_NEVER;
    pm_engine_pass(c, now, &d);
    return d;
}

/* A fresh client's first request (PCP): its SSDP search, which a router
 * may serve before the PCP request (miniupnpd reads SSDP first), waits
 * PM_PROBE_HOLD_MS, whatever PCP does meanwhile; the probes on PCP's
 * port (PCP, NAT-PMP: behind the request in the router's socket) go
 * with it. */
START_TEST(ssdp_search_waits_behind_the_first_request)
{
    portmap_mapping *m;

    with_upnp();
    m = add_mapping(0, 10000);
    ck_assert_int_eq(pass(0), PM_PROBE_HOLD_MS);
    ck_assert_int_eq(starts, 1);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP);
    ck_assert_int_eq(probes, 2);
    ck_assert_int_eq(upnp_probes, 0);
    /* discovery is under way for it all the same */
    ck_assert_int_eq(c->net[PM_V4].avail[PORTMAP_METHOD_UPNP], PM_AVAIL_PROBING);
    ck_assert_int_eq(pm_net_all_probes_done(c, PM_V4), 0);
    reply_ok(m, 27015, 60, PM_PROBE_HOLD_MS - 1);
    ck_assert_int_eq(m->state, PORTMAP_STATE_MAPPED);
    pass(PM_PROBE_HOLD_MS - 1);
    ck_assert_int_eq(upnp_probes, 0);
    pass(PM_PROBE_HOLD_MS);
    ck_assert_int_eq(upnp_probes, 1);
    /* its time counts from its search */
    ck_assert_int_eq(c->net[PM_V4].probe_started[PORTMAP_METHOD_UPNP], PM_PROBE_HOLD_MS);
    pass(PM_PROBE_HOLD_MS + 1);
    ck_assert_int_eq(upnp_probes, 1);
}
END_TEST

/* A router that keeps PCP silent (a firewall drops it, or its ICMP is
 * rate limited) costs the search PM_PROBE_HOLD_MS, no more. */
START_TEST(ssdp_search_waits_a_few_ms_at_most)
{
    portmap_mapping *m;

    with_upnp();
    m = add_mapping(0, 10000);
    pass(0);
    pass(PM_PROBE_HOLD_MS - 1);
    ck_assert_int_eq(upnp_probes, 0);
    pass(PM_PROBE_HOLD_MS);
    ck_assert_int_eq(upnp_probes, 1);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP);
}
END_TEST

/* A fresh client's first request (its route read when it opened, the
 * router not yet asked) leaves from the caller's thread, as one on a
 * router that answered does; the engine's pass probes after it. */
START_TEST(fresh_request_leaves_at_once)
{
    portmap_mapping *m;

    with_upnp();
    m = add_mapping(0, 10000);
    fake_pcp.start_sends = 1;
    ck_assert_int_eq(pm_mapping_start_at_once(c, m, 0), 1);
    ck_assert_int_eq(starts, 1);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP);
    ck_assert_int_eq(probes + upnp_probes, 0);
    pass(0);
    ck_assert_int_eq(starts, 1);
    ck_assert_int_eq(probes, 2);
    ck_assert_int_eq(upnp_probes, 0); /* behind the request, as from the pass */
    pass(PM_PROBE_HOLD_MS);
    ck_assert_int_eq(upnp_probes, 1);
}
END_TEST

/* A discovery asked while the search waits (no request in front of it)
 * sends it at once. */
START_TEST(discovery_sends_a_held_search_at_once)
{
    with_upnp();
    add_mapping(0, 10000);
    pass(0);
    ck_assert_int_eq(upnp_probes, 0);
    pm_net_probe_all(c, PM_V4, 1, 2000, PM_PROBE_RETRY);
    ck_assert_int_eq(upnp_probes, 1);
    pass(PM_PROBE_HOLD_MS);
    ck_assert_int_eq(upnp_probes, 1);
}
END_TEST

/* The IPv4 route not read yet (a gateway given, as --gateway does), the
 * backends' listen() counted. */
static pm_net *route_unread_listens_counted(void)
{
    pm_net *net = &c->net[PM_V4];

    fake_pcp.listen = fake_listen;
    c->gateway_override = strdup("127.0.0.1");
    net->route_ok = 0;
    net->route_read_at = 0;
    memset(&net->gateway, 0, sizeof(net->gateway));
    return net;
}

/* The routes read for a first request: the request goes out before the
 * announcement listeners open their sockets and join their groups. */
START_TEST(listeners_open_after_the_first_request)
{
    pm_net *net = route_unread_listens_counted();

    add_mapping(10, 10000)->created_at = 10;
    pass(10);
    ck_assert_int_eq(net->route_ok, 1);
    ck_assert_int_eq(starts, 1);
    ck_assert_int_eq(listens, 1);
    ck_assert_int_eq(starts_at_listen, 1);
}
END_TEST

/* portmap_open() has the route read at once, but sends nothing until a
 * request or a discovery asks: no group joins for the announcements. */
START_TEST(an_idle_client_does_not_listen)
{
    pm_net *net = route_unread_listens_counted();

    c->route_dirty = 1; /* as portmap_open() leaves it */
    pass(10);
    pass(20);
    ck_assert_int_eq(net->route_ok, 1);
    ck_assert_int_eq(listens, 0);
    add_mapping(30, 10000)->created_at = 30;
    pass(30);
    ck_assert_int_eq(starts, 1);
    ck_assert_int_eq(listens, 1);
    ck_assert_int_eq(starts_at_listen, 1);
}
END_TEST

START_TEST(first_request_goes_out_with_the_probe)
{
    portmap_mapping *m = add_mapping(0, 10000);
    service(m, 0);
    /* One round trip: the MAP goes out while PCP and NAT-PMP are probed. */
    ck_assert_int_eq(starts, 1);
    ck_assert_int_eq(probes, 2);
    ck_assert_int_eq(last_op, PM_OP_MAP);
    ck_assert_uint_eq(last_lifetime, 60);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP);
}
END_TEST

START_TEST(success_maps_and_schedules_refresh)
{
    portmap_mapping *m = add_mapping(0, 10000);
    service(m, 0);
    reply_ok(m, 27015, 60, 20);
    ck_assert_int_eq(m->state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_MAPPED), 1);
    ck_assert_int_eq(c->net[PM_V4].avail[PORTMAP_METHOD_PCP], PM_AVAIL_YES);
    /* PCP: renew between 1/2 and 5/8 of the lifetime */
    ck_assert_int_ge(m->refresh_at, 20 + 30000);
    ck_assert_int_le(m->refresh_at, 20 + 37500);
    ck_assert_int_eq(m->expires_at, 20 + 60000);
    ck_assert_int_eq(pm_backends_default[PORTMAP_METHOD_NATPMP]->refresh_delay_ms(60, 0.9), 30000);
    ck_assert_int_eq(pm_backends_default[PORTMAP_METHOD_PCP]->refresh_delay_ms(64, 0.0), 32000);
    ck_assert_int_eq(pm_backends_default[PORTMAP_METHOD_PCP]->refresh_delay_ms(64, 1.0), 40000);
    /* on the grid (1 s here) and in the window, whatever the draw: those
     * made around the same time are renewed together */
    for (int i = 0; i <= 16; i++) {
        int64_t at = pm_mapping_refresh_time(c, PORTMAP_METHOD_PCP, 60, 12345, i / 16.0);
        ck_assert_int_eq(at % 1000, 0);
        ck_assert_int_ge(at, 12345 + 30000);
        ck_assert_int_le(at, 12345 + 37500);
    }
    /* renewal happens at refresh_at, no earlier */
    starts = 0;
    service(m, m->refresh_at - 1);
    ck_assert_int_eq(starts, 0);
    service(m, m->refresh_at);
    ck_assert_int_eq(starts, 1);
    reply_ok(m, 27015, 60, 40000);
    ck_assert_uint_eq(m->renewals, 1);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_CHANGED), 0);
}
END_TEST

START_TEST(changed_port_is_reported)
{
    portmap_mapping *m = add_mapping(0, 10000);
    service(m, 0);
    reply_ok(m, 27015, 60, 0);
    service(m, m->refresh_at);
    reply_ok(m, 40000, 60, 35000);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_CHANGED), 1);
    ck_assert_uint_eq(m->ext_port, 40000);
}
END_TEST

START_TEST(unanswered_renewal_means_lost_once_then_restored)
{
    portmap_mapping *m = add_mapping(0, 10000);
    service(m, 0);
    reply_ok(m, 27015, 60, 0);
    service(m, m->refresh_at);
    ck_assert_int_eq(m->op, PM_OP_MAP);
    service(m, 60000); /* expired with no reply */
    ck_assert_int_eq(m->state, PORTMAP_STATE_LOST);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_LOST), 1);
    for (int64_t t = 61000; t < 200000; t += 1000)
        service(m, t);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_LOST), 1);
    reply_ok(m, 27015, 60, 200000);
    ck_assert_int_eq(m->state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_RESTORED), 1);
}
END_TEST

START_TEST(refusal_fails_with_its_code)
{
    portmap_mapping *m = add_mapping(0, 10000);
    pm_result r = { .err = PORTMAP_ERR_NOT_AUTHORIZED };
    service(m, 0);
    pm_net_map_done(c, m, &r, 10);
    ck_assert_int_eq(m->state, PORTMAP_STATE_FAILED);
    ck_assert_int_eq(m->last_error, PORTMAP_ERR_NOT_AUTHORIZED);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_FAILED), 1);
}
END_TEST

START_TEST(no_resources_is_retried_until_the_deadline)
{
    portmap_mapping *m = add_mapping(0, 10000);
    pm_result r = { .err = PORTMAP_ERR_NO_RESOURCES, .lifetime = 2 };
    service(m, 0);
    pm_net_map_done(c, m, &r, 10);
    ck_assert_int_eq(m->state, PORTMAP_STATE_PENDING);
    ck_assert_int_eq(m->retry_at, 2010); /* the server's hint beats the 1 s backoff */
    starts = 0;
    service(m, 2009);
    ck_assert_int_eq(starts, 0);
    service(m, 2010);
    ck_assert_int_eq(starts, 1);
    r.lifetime = 30; /* retry after the deadline: give up now */
    pm_net_map_done(c, m, &r, 2020);
    ck_assert_int_eq(m->state, PORTMAP_STATE_FAILED);
    ck_assert_int_eq(m->last_error, PORTMAP_ERR_NO_RESOURCES);
}
END_TEST

START_TEST(silence_is_no_gateway)
{
    portmap_mapping *m = add_mapping(0, 3000);
    service(m, 0);
    service(m, 3000);
    ck_assert_int_eq(m->state, PORTMAP_STATE_FAILED);
    ck_assert_int_eq(m->last_error, PORTMAP_ERR_NO_GATEWAY);
}
END_TEST

START_TEST(unsupported_protocol_falls_back)
{
    portmap_mapping *m = add_mapping(0, 10000);
    pm_result r = { .err = PORTMAP_ERR_UNSUPPORTED, .protocol_gone = 1 };
    service(m, 0);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP);
    pm_net_map_done(c, m, &r, 5);
    ck_assert_int_eq(c->net[PM_V4].avail[PORTMAP_METHOD_PCP], PM_AVAIL_NO);
    service(m, 5);
    ck_assert_int_eq(m->state, PORTMAP_STATE_PENDING);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_NATPMP);
    reply_ok(m, 27015, 60, 10);
    ck_assert_int_eq(m->method, PORTMAP_METHOD_NATPMP);
}
END_TEST

/* A mapping asked for through PCP at 0 ms, and NAT-PMP's probe, sent at
 * 0 ms too, answered at 10 ms. */
static portmap_mapping *pcp_asked_natpmp_answered(void)
{
    portmap_mapping *m = add_mapping(0, 10000);
    service(m, 0);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP);
    c->net[PM_V4].avail[PORTMAP_METHOD_NATPMP] = PM_AVAIL_PROBING;
    c->net[PM_V4].probe_started[PORTMAP_METHOD_NATPMP] = 0;
    pm_net_heard(c, PM_V4, PORTMAP_METHOD_NATPMP, 10);
    pm_net_probe_done(c, PM_V4, PORTMAP_METHOD_NATPMP, PM_AVAIL_YES, NULL, 10);
    return m;
}

START_TEST(preferred_protocol_silent_gives_way)
{
    /* PCP says nothing: it is given 50 ms from its request (a router
     * that speaks it answers within a round trip), then NAT-PMP maps */
    portmap_mapping *m = pcp_asked_natpmp_answered();
    service(m, 49);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP); /* still within its grace */
    service(m, 50);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_NATPMP);
    reply_ok(m, 27015, 60, 90);
    ck_assert_int_eq(m->method, PORTMAP_METHOD_NATPMP);
}
END_TEST

/* The other protocol answers after the floor (UPnP: SSDP, a GET, ~50 ms
 * and more): the silent PCP request gives way in the pass that sees the
 * answer, not 8 times the answer's delay later, nor once PCP is declared
 * unavailable (1 s) */
START_TEST(an_answer_after_the_floor_is_taken_at_once)
{
    portmap_mapping *m = add_mapping(0, 10000);

    service(m, 0);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP);
    c->net[PM_V4].avail[PORTMAP_METHOD_NATPMP] = PM_AVAIL_PROBING;
    c->net[PM_V4].probe_started[PORTMAP_METHOD_NATPMP] = 0;
    service(m, 300);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP); /* nothing answered: waited for */
    pm_net_heard(c, PM_V4, PORTMAP_METHOD_NATPMP, 400);
    pm_net_probe_done(c, PM_V4, PORTMAP_METHOD_NATPMP, PM_AVAIL_YES, NULL, 400);
    service(m, 400);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_NATPMP);
}
END_TEST

START_TEST(preferred_protocol_heard_is_waited_for)
{
    portmap_mapping *m = pcp_asked_natpmp_answered();
    /* PCP spoke (its probe was answered): its request is not abandoned */
    pm_net_heard(c, PM_V4, PORTMAP_METHOD_PCP, 20);
    service(m, 2000);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP);
}
END_TEST

START_TEST(epoch_reset_remaps)
{
    portmap_mapping *m = add_mapping(0, 10000);
    service(m, 0);
    reply_ok(m, 27015, 600, 0);
    server_epoch(PM_V4, 1000, 0);
    server_epoch(PM_V4, 1100, 100000);
    ck_assert_int_eq(m->state, PORTMAP_STATE_MAPPED);
    server_epoch(PM_V4, 2, 110000); /* router rebooted */
    ck_assert_int_eq(m->state, PORTMAP_STATE_LOST);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_LOST), 1);
    starts = 0;
    service(m, 110000);
    ck_assert_int_eq(starts, 1);
    reply_ok(m, 27015, 600, 110010);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_RESTORED), 1);
}
END_TEST

/* What core/net.c does when the gateway or our address changes. */
static void move_to_network_2(int64_t now)
{
    pm_addr_parse("10.78.0.1", &c->net[PM_V4].gateway);
    pm_addr_parse("10.78.0.2", &c->net[PM_V4].local);
    for (int i = 1; i < PORTMAP_METHOD_COUNT; i++)
        c->net[PM_V4].avail[i] = PM_AVAIL_UNKNOWN;
    for (portmap_mapping *m = c->mappings; m; m = m->next)
        pm_mapping_network_changed(c, m, now);
    pm_net_probe_all(c, PM_V4, now, now + 10000, 0);
}

/* The host moved: the mapping is lost once, asked again from the new
 * address, and, made by no protocol in particular, by the one the new
 * gateway speaks, once its probes have told. */
START_TEST(network_change_remaps_by_what_the_new_gateway_speaks)
{
    portmap_mapping *m = add_mapping(0, 10000);
    pm_result r = { .err = PORTMAP_OK, .ext_port = 27015, .lifetime = 600 };
    uint32_t local2;

    service(m, 0);
    reply_ok(m, 27015, 600, 10);
    ck_assert_int_eq(m->method, PORTMAP_METHOD_PCP);
    move_to_network_2(1000);
    inet_pton(AF_INET, "10.78.0.2", &local2);
    ck_assert_int_eq(m->state, PORTMAP_STATE_LOST);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_LOST), 1);
    ck_assert_int_eq(m->local.family, AF_INET);
    ck_assert_uint_eq(m->local.u.v4, local2);
    starts = 0;
    service(m, 1000);
    ck_assert_int_eq(starts, 0); /* the new gateway has not answered yet */
    pm_net_probe_done(c, PM_V4, PORTMAP_METHOD_PCP, PM_AVAIL_NO, "test", 1100);
    pm_net_probe_done(c, PM_V4, PORTMAP_METHOD_NATPMP, PM_AVAIL_YES, NULL, 1100);
    service(m, 1100);
    ck_assert_int_eq(starts, 1);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_NATPMP);
    pm_addr_parse("12.77.0.1", &r.ext);
    pm_net_map_done(c, m, &r, 1110);
    ck_assert_int_eq(m->state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(m->method, PORTMAP_METHOD_NATPMP);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_RESTORED), 1);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_CHANGED), 1);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_LOST), 1);
}
END_TEST

/* A mapping tied to one protocol asks at once, alongside the probes. */
START_TEST(network_change_remaps_a_forced_mapping_at_once)
{
    portmap_mapping *m = add_mapping(0, 10000);

    m->forced = PORTMAP_METHOD_PCP;
    service(m, 0);
    reply_ok(m, 27015, 600, 10);
    move_to_network_2(1000);
    starts = 0;
    service(m, 1000);
    ck_assert_int_eq(starts, 1);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP);
    ck_assert_int_eq(m->state, PORTMAP_STATE_LOST);
}
END_TEST

START_TEST(release_sends_lifetime_zero)
{
    portmap_mapping *m = add_mapping(0, 10000);
    pm_result ok = { .err = PORTMAP_OK };
    service(m, 0);
    reply_ok(m, 27015, 60, 0);
    m->state = PORTMAP_STATE_RELEASING;
    m->op_deadline = 2000;
    m->op_method = m->method;
    pm_mapping_start_op(c, m, PM_OP_DELETE, 100);
    ck_assert_int_eq(last_op, PM_OP_DELETE);
    ck_assert_uint_eq(last_lifetime, 0);
    pm_net_map_done(c, m, &ok, 150);
    ck_assert_int_eq(m->state, PORTMAP_STATE_RELEASED);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_RELEASED), 1);
}
END_TEST

/* A success before the external address is known is held, bounded. */
START_TEST(success_waits_for_the_address)
{
    portmap_mapping *m = add_mapping(0, 10000);
    pm_result r = { .err = PORTMAP_OK, .ext_port = 27015, .lifetime = 60 };
    service(m, 0);
    pm_net_map_done(c, m, &r, 10);
    ck_assert_int_eq(m->state, PORTMAP_STATE_PENDING);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_MAPPED), 0);
    starts = 0;
    service(m, 500); /* held: no new request goes out */
    ck_assert_int_eq(starts, 0);
    inet_pton(AF_INET, "11.77.0.1", &c->ext_addr);
    service(m, 600);
    ck_assert_int_eq(m->state, PORTMAP_STATE_MAPPED);
    ck_assert_uint_eq(m->ext.u.v4, c->ext_addr);
    ck_assert_int_eq(count_events(PORTMAP_EVENT_MAPPED), 1);
}
END_TEST

START_TEST(address_hold_is_bounded)
{
    portmap_mapping *m = add_mapping(0, 10000);
    pm_result r = { .err = PORTMAP_OK, .ext_port = 27015, .lifetime = 60 };
    service(m, 0);
    pm_net_map_done(c, m, &r, 10);
    service(m, 2009);
    ck_assert_int_eq(m->state, PORTMAP_STATE_PENDING);
    service(m, 2010);
    ck_assert_int_eq(m->state, PORTMAP_STATE_MAPPED);
    ck_assert(!pm_addr_is_set(&m->ext));
}
END_TEST

START_TEST(journal_records_and_forgets)
{
    pm_journal_entry e;
    portmap_mapping *m = add_mapping(0, 10000);
    service(m, 0);
    reply_ok(m, 27016, 60, 0);
    flush_journal();
    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_UDP, 27015, &c->net[PM_V4].local, &e), 0);
    ck_assert_uint_eq(e.external_port, 27016);
    ck_assert_mem_eq(e.nonce, m->nonce, sizeof(e.nonce));
    ck_assert_int_eq(e.pid, getpid());
    ck_assert_int_eq(pm_journal_detach_pid(dir, getpid()), 0);
    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_UDP, 27015, &c->net[PM_V4].local, &e), 0);
    ck_assert_int_eq(e.pid, 0);
    ck_assert_int_eq(pm_journal_remove(dir, PORTMAP_UDP, 27015, &c->net[PM_V4].local), 0);
    ck_assert_int_ne(pm_journal_find(dir, PORTMAP_UDP, 27015, &c->net[PM_V4].local, &e), 0);
}
END_TEST

START_TEST(allow_is_parsed_strictly)
{
    uint32_t a;
    uint8_t n;
    char text[32];
    static const char *const bad[] = { "11.77.0.5/24", "11.77.0.0/33", "11.77.0.0/0", "11.77.0.0/",
                                       "/24", "host.example", "11.77.0.0/+8", "11.77.0.0/8x", "::1" };

    ck_assert_int_eq(pm_allow_parse(NULL, &a, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(pm_allow_parse("", &a, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(pm_allow_parse("198.51.100.7", &a, &n), 0);
    ck_assert_uint_eq(n, 32);
    pm_allow_str(a, n, text, sizeof(text));
    ck_assert_str_eq(text, "198.51.100.7");
    ck_assert_int_eq(pm_allow_parse("198.51.100.0/24", &a, &n), 0);
    ck_assert_uint_eq(n, 24);
    pm_allow_str(a, n, text, sizeof(text));
    ck_assert_str_eq(text, "198.51.100.0/24");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(pm_allow_parse(bad[i], &a, &n) != 0, "'%s' accepted", bad[i]);
}
END_TEST

/* m asked PCP, which is not there; NAT-PMP answers, but cannot serve m:
 * m fails, and nothing is ever asked of NAT-PMP */
static void never_natpmp(portmap_mapping *m)
{
    pm_result gone = { .err = PORTMAP_ERR_UNSUPPORTED, .protocol_gone = 1 };

    pm_net_map_done(c, m, &gone, 5);
    pm_net_probe_done(c, PM_V4, PORTMAP_METHOD_NATPMP, PM_AVAIL_YES, NULL, 5);
    service(m, 5);
    ck_assert_int_eq(m->state, PORTMAP_STATE_FAILED);
    ck_assert_int_eq(m->last_error, PORTMAP_ERR_UNSUPPORTED);
    ck_assert_int_eq(starts, 1);
}

START_TEST(allow_never_falls_back_to_natpmp)
{
    portmap_mapping *m = add_mapping(0, 10000);
    ck_assert_int_eq(pm_allow_parse("198.51.100.7", &m->allow_addr, &m->allow_prefix), 0);
    service(m, 0);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP);
    /* PCP is not there; NAT-PMP is, but cannot restrict who connects */
    never_natpmp(m);
    ck_assert(pm_backend_can_allow(pm_backends_default[PORTMAP_METHOD_UPNP], 32));
    ck_assert(!pm_backend_can_allow(pm_backends_default[PORTMAP_METHOD_UPNP], 24));
    ck_assert(pm_backend_can_allow(pm_backends_default[PORTMAP_METHOD_PCP], 24));
    ck_assert(!pm_backend_can_allow(pm_backends_default[PORTMAP_METHOD_NATPMP], 32));
}
END_TEST

/* Our link's subnet as the engine reads it for such a request (already
 * read here: the test has no netlink of its own): 10.77.0.0/24 */
static void lan24(void)
{
    c->net[PM_V4].lan[0] = c->net[PM_V4].local;
    c->net[PM_V4].lan_len[0] = 24;
    c->net[PM_V4].n_lan = 1;
    c->net[PM_V4].lan_read = 1;
}

/* A mapping for another host of the LAN never falls back to NAT-PMP,
 * which would map the port for this host instead */
START_TEST(third_party_never_falls_back_to_natpmp)
{
    portmap_mapping *m = add_mapping(0, 10000);

    lan24();
    pm_addr_parse("10.77.0.9", &m->third);
    m->local = m->third;
    service(m, 0);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP);
    ck_assert_int_eq(pm_addr_eq(&m->local, &m->third), 1); /* PCP names that host */
    never_natpmp(m);
    ck_assert_msg(strstr(m->reason, "NAT-PMP: cannot map a port for another host"), "%s",
                  m->reason);
}
END_TEST

/* PCP refuses the other host (THIRD_PARTY: UNSUPP_OPTION): the next
 * protocol that can map for it is asked, and its refusal too is told
 * after PCP's. A fake NAT-PMP that could plays that protocol. */
START_TEST(third_party_refusal_moves_on_to_the_next_protocol)
{
    portmap_mapping *m = add_mapping(0, 10000);
    pm_result refused = { .err = PORTMAP_ERR_UNSUPPORTED, .cannot_serve = 1 };
    pm_result secure = { .err = PORTMAP_ERR_NOT_AUTHORIZED, .cannot_serve = 1 };

    lan24();
    fake_pmp.third_party = 1u << PM_V4;
    pm_addr_parse("10.77.0.9", &m->third);
    m->local = m->third;
    service(m, 0);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP);
    pm_net_probe_done(c, PM_V4, PORTMAP_METHOD_NATPMP, PM_AVAIL_YES, NULL, 5);
    snprintf(refused.detail, sizeof(refused.detail), "no THIRD_PARTY here");
    pm_net_map_done(c, m, &refused, 5);
    ck_assert_int_eq(m->state, PORTMAP_STATE_PENDING);
    service(m, 6);
    ck_assert_int_eq(starts, 2);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_NATPMP);
    snprintf(secure.detail, sizeof(secure.detail), "secure mode");
    pm_net_map_done(c, m, &secure, 7);
    service(m, 8);
    ck_assert_int_eq(m->state, PORTMAP_STATE_FAILED);
    ck_assert_int_eq(m->last_error, PORTMAP_ERR_NOT_AUTHORIZED);
    ck_assert_int_eq(starts, 2); /* PCP is not asked again */
    ck_assert_msg(strstr(m->reason, "PCP: no THIRD_PARTY here; NAT-PMP: secure mode"), "%s",
                  m->reason);
}
END_TEST

/* Not a host of our subnet, or the router: INVALID_ARGUMENT, said why,
 * before any protocol is asked; our own address is our own request */
START_TEST(third_party_must_be_on_the_lan)
{
    static const struct {
        const char *addr;
        const char *why;
    } cases[] = {
        { "10.78.0.9", "is not on this host's LAN (10.77.0.0/24)" },
        { "10.77.0.1", "is the router itself" },
    };

    lan24();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        portmap_mapping *m = add_mapping(0, 10000);
        pm_addr_parse(cases[i].addr, &m->third);
        m->local = m->third;
        service(m, 0);
        ck_assert_int_eq(m->state, PORTMAP_STATE_FAILED);
        ck_assert_int_eq(m->last_error, PORTMAP_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(m->reason, cases[i].why), "%s: %s", cases[i].addr, m->reason);
        pm_mapping_unlink(c, m);
    }
    ck_assert_int_eq(starts, 0);
    {
        portmap_mapping *m = add_mapping(0, 10000);
        pm_addr_parse("10.77.0.2", &m->third);
        service(m, 0);
        ck_assert_int_eq(pm_addr_is_set(&m->third), 0);
        ck_assert_int_eq(starts, 1);
    }
}
END_TEST

/* The journal keeps another host's mapping under that host, by us */
START_TEST(journal_keys_a_third_party_mapping_by_its_host)
{
    pm_journal_entry e;
    portmap_mapping *m = add_mapping(0, 10000);
    pm_addr host;

    lan24();
    pm_addr_parse("10.77.0.9", &host);
    m->third = m->local = host;
    service(m, 0);
    reply_ok(m, 27015, 60, 0);
    ck_assert_int_ne(pm_journal_find(dir, PORTMAP_UDP, 27015, &c->net[PM_V4].local, &e), 0);
    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_UDP, 27015, &host, &e), 0);
    ck_assert_int_eq(pm_addr_eq(&e.by, &c->net[PM_V4].local), 1);
}
END_TEST

START_TEST(journal_keeps_the_restriction)
{
    pm_journal_entry e;
    portmap_mapping *m = add_mapping(0, 10000);

    ck_assert_int_eq(pm_allow_parse("198.51.100.0/24", &m->allow_addr, &m->allow_prefix), 0);
    service(m, 0);
    reply_ok(m, 27015, 60, 0);
    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_UDP, 27015, &c->net[PM_V4].local, &e), 0);
    ck_assert_uint_eq(e.allow_addr, m->allow_addr);
    ck_assert_uint_eq(e.allow_prefix, 24);
}
END_TEST


/* An IPv6 pinhole: only the IPv6 network's tables are used, NAT-PMP is
 * never tried, and success is not held for an external address. */
START_TEST(pinhole_uses_the_ipv6_network)
{
    portmap_mapping *m = add_mapping(0, 10000);
    pm_result r = { .err = PORTMAP_OK, .ext_port = 27015, .lifetime = 60 };

    m->fam = PM_V6;
    c->net[PM_V6].route_ok = 1;
    pm_addr_parse("fe80::1%1", &c->net[PM_V6].gateway);
    pm_addr_parse("2001:db8:77:1::2", &c->net[PM_V6].local);
    c->net[PM_V6].local_kind = PM_V6_STABLE;
    c->order[0] = PORTMAP_METHOD_NATPMP; /* preferred, but it has no IPv6 */
    c->order[1] = PORTMAP_METHOD_PCP;
    service(m, 0);
    ck_assert_int_eq(starts, 1);
    ck_assert_int_eq(m->op_method, PORTMAP_METHOD_PCP);
    ck_assert_int_eq(c->net[PM_V6].avail[PORTMAP_METHOD_PCP], PM_AVAIL_PROBING);
    ck_assert_int_eq(c->net[PM_V4].avail[PORTMAP_METHOD_PCP], PM_AVAIL_UNKNOWN);
    ck_assert_int_eq(m->local.family, AF_INET6);
    r.ext = m->local; /* no translation */
    pm_net_map_done(c, m, &r, 10);
    ck_assert_int_eq(m->state, PORTMAP_STATE_MAPPED); /* not held: c->ext_addr is unknown */
    ck_assert_int_eq(c->net[PM_V6].avail[PORTMAP_METHOD_PCP], PM_AVAIL_YES);
    ck_assert_int_eq(c->events[0].info.family, PORTMAP_IPV6);
    ck_assert_int_eq(c->events[0].info.address_kind, PORTMAP_ADDRESS_STABLE);
    ck_assert_str_eq(c->events[0].info.external_address, "2001:db8:77:1::2");
}
END_TEST

/* A router reset seen on one family leaves the other family's mappings. */
START_TEST(epoch_reset_is_per_family)
{
    portmap_mapping *m4 = add_mapping(0, 10000), *m6 = add_mapping(0, 10000);

    m6->fam = PM_V6;
    c->net[PM_V6].route_ok = 1;
    pm_addr_parse("2001:db8:77:1::1", &c->net[PM_V6].gateway);
    pm_addr_parse("2001:db8:77:1::2", &c->net[PM_V6].local);
    service(m4, 0);
    service(m6, 0);
    reply_ok(m4, 27015, 600, 10);
    {
        pm_result r = { .err = PORTMAP_OK, .ext_port = 27015, .lifetime = 600, .ext = m6->local };
        pm_net_map_done(c, m6, &r, 10);
    }
    server_epoch(PM_V6, 1000, 0);
    server_epoch(PM_V4, 1000, 0);
    server_epoch(PM_V6, 3, 100000); /* IPv6 side rebooted */
    ck_assert_int_eq(m6->state, PORTMAP_STATE_LOST);
    ck_assert_int_eq(m4->state, PORTMAP_STATE_MAPPED);
}
END_TEST

/* A handle for both families: the twin's events reach the handle's
 * callback, the handle stays listed while its twin is. */
static portmap_mapping *seen_handle;
static portmap_family seen_family;
static void note_event(portmap_mapping *m, portmap_event ev, const portmap_mapping_info *info,
                       void *user)
{
    (void)ev;
    (void)user;
    seen_handle = m;
    seen_family = info->family;
}

START_TEST(twin_events_go_through_the_handle)
{
    portmap_mapping *h = add_mapping(0, 10000), *t = add_mapping(0, 10000);

    t->fam = PM_V6;
    h->twin = t;
    t->handle = h;
    h->refs++; /* the caller's */
    t->refs++; /* held by the handle */
    h->cb = t->cb = note_event;
    pm_event_queue(c, t, PORTMAP_EVENT_MAPPED);
    ck_assert_int_eq(h->refs, 3); /* the event holds the handle too */
    /* what deliver_events() does */
    c->events[0].m->cb(pm_mapping_handle(c->events[0].m), c->events[0].ev, &c->events[0].info,
                       NULL);
    ck_assert_ptr_eq(seen_handle, h);
    ck_assert_int_eq(seen_family, PORTMAP_IPV6);
    drop_events();
    ck_assert_int_eq(h->refs, 2);
    pm_mapping_unref(h); /* the caller's: the list keeps both */
}
END_TEST

/* The engine's pass goes by the timer heap: holding many mappings, a pass
 * renews those due and touches no other, and the deadline it returns is
 * the next one's; a reply (a kick) brings its mapping into the next pass. */
START_TEST(pass_touches_only_what_is_due)
{
    enum { N = 40 };
    portmap_mapping *m[N];
    int64_t d = PM_NEVER, first = PM_NEVER;
    int due = 0, before;

    for (int i = 0; i < N; i++) {
        m[i] = add_mapping(0, 10000);
        m[i]->internal_port = (uint16_t)(20000 + i);
    }
    pm_engine_pass(c, 0, &d);
    ck_assert_int_eq(starts, N);
    ck_assert_uint_eq(c->n_watch, N); /* pending: serviced every pass */
    for (int i = 0; i < N; i++)
        reply_ok(m[i], (uint16_t)(30000 + i), 60, 20 + i * 100); /* leases 100 ms apart */
    d = PM_NEVER;
    pm_engine_pass(c, 4000, &d);
    ck_assert_uint_eq(c->n_watch, 0);
    ck_assert_uint_eq(c->timers.n, N);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(m[i]->state, PORTMAP_STATE_MAPPED);
        first = PM_MIN(first, m[i]->refresh_at);
    }
    ck_assert_int_eq(d, first);
    for (int i = 0; i < N; i++)
        due += m[i]->refresh_at == first;

    /* just before: nothing is serviced */
    before = starts;
    d = PM_NEVER;
    pm_engine_pass(c, first - 1, &d);
    ck_assert_int_eq(starts, before);
    ck_assert_int_eq(d, first);
    for (int i = 0; i < N; i++)
        ck_assert_uint_ne(m[i]->pass, c->pass);

    /* at the first deadline: those due renew, the others are not touched */
    d = PM_NEVER;
    pm_engine_pass(c, first, &d);
    ck_assert_int_eq(starts, before + due);
    for (int i = 0; i < N; i++) {
        int is_due = m[i]->refresh_at == first;
        ck_assert_int_eq(m[i]->op != PM_OP_NONE, is_due);
        ck_assert_int_eq(m[i]->pass == c->pass, is_due);
    }
    ck_assert_uint_eq(c->n_ops[PORTMAP_METHOD_PCP], (unsigned)due);

    /* the renewal's reply kicks it: the next pass re-arms it at its new
     * refresh, and the exchange list is empty again */
    for (int i = 0; i < N; i++)
        if (m[i]->op != PM_OP_NONE)
            reply_ok(m[i], (uint16_t)(30000 + i), 60, first + 10);
    ck_assert_int_eq(pm_heap_top(&c->timers)->key, 0);
    d = PM_NEVER;
    pm_engine_pass(c, first + 10, &d);
    ck_assert_uint_eq(c->n_ops[PORTMAP_METHOD_PCP], 0);
    ck_assert_int_gt(pm_heap_top(&c->timers)->key, first + 10);
    ck_assert_int_eq(d, pm_heap_top(&c->timers)->key);
    ck_assert_uint_eq(c->timers.n, N);
    drop_events();
}
END_TEST

/* Renewals due together go out PM_INFLIGHT_MAX at a time, the others as
 * answers come (a thousand at once overflow a router's socket buffer),
 * each at the latest PM_TURN_WAIT_MS after it was due. */
START_TEST(renewals_due_together_take_turns)
{
    enum { N = PM_INFLIGHT_MAX + 20 };
    portmap_mapping *m[N];
    int64_t d = PM_NEVER, at = PM_NEVER;
    int under_way = 0, waiting = 0;

    for (int i = 0; i < N; i++) {
        m[i] = add_mapping(0, 10000);
        m[i]->internal_port = (uint16_t)(20000 + i);
    }
    pm_engine_pass(c, 0, &d);
    ck_assert_int_eq(starts, PM_INFLIGHT_MAX); /* first requests: the same window */
    for (int i = 0; i < N; i++)
        if (m[i]->op != PM_OP_NONE)
            reply_ok(m[i], (uint16_t)(30000 + i), 60, 20);
    d = PM_NEVER;
    pm_engine_pass(c, 20, &d);
    for (int i = 0; i < N; i++)
        if (m[i]->op != PM_OP_NONE)
            reply_ok(m[i], (uint16_t)(30000 + i), 60, 20);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(m[i]->state, PORTMAP_STATE_MAPPED);
        m[i]->refresh_at = 40000; /* all due at once */
        pm_mapping_kick(c, m[i]);
    }
    d = PM_NEVER;
    pm_engine_pass(c, 40000, &d);
    for (int i = 0; i < N; i++) {
        under_way += m[i]->op != PM_OP_NONE;
        waiting += m[i]->waits_turn;
    }
    ck_assert_int_eq(under_way, PM_INFLIGHT_MAX);
    ck_assert_int_eq(waiting, N - PM_INFLIGHT_MAX);
    ck_assert_int_eq(d, 40000 + PM_TURN_WAIT_MS);
    /* answers make room: the ones waiting go in the next pass */
    for (int i = 0; i < N && at == PM_NEVER; i++)
        if (m[i]->op != PM_OP_NONE)
            at = i;
    for (int i = 0; i < 10; i++)
        reply_ok(m[at + i], (uint16_t)(30000 + at + i), 60, 40010);
    d = PM_NEVER;
    pm_engine_pass(c, 40010, &d);
    under_way = waiting = 0;
    for (int i = 0; i < N; i++) {
        under_way += m[i]->op != PM_OP_NONE;
        waiting += m[i]->waits_turn;
    }
    ck_assert_int_eq(under_way, PM_INFLIGHT_MAX);
    ck_assert_int_eq(waiting, N - PM_INFLIGHT_MAX - 10);
    /* the longest wait is bounded: every one goes then */
    d = PM_NEVER;
    pm_engine_pass(c, 40000 + PM_TURN_WAIT_MS, &d);
    waiting = 0;
    for (int i = 0; i < N; i++)
        waiting += m[i]->waits_turn || (m[i]->op == PM_OP_NONE && m[i]->refresh_at <= 40000);
    ck_assert_int_eq(waiting, 0);

    /* releases asked for together take turns too */
    for (int i = 0; i < N; i++)
        if (m[i]->op != PM_OP_NONE)
            reply_ok(m[i], (uint16_t)(30000 + i), 60, 41500);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(pm_mapping_start_release(c, m[i], 50000, 41600), 1);
    under_way = waiting = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(m[i]->state, PORTMAP_STATE_RELEASING);
        under_way += m[i]->op == PM_OP_DELETE;
        waiting += m[i]->waits_turn;
    }
    ck_assert_int_eq(under_way, PM_INFLIGHT_MAX);
    ck_assert_int_eq(waiting, N - PM_INFLIGHT_MAX);
    d = PM_NEVER;
    pm_engine_pass(c, 41700, &d); /* no room yet: they wait, still releasing */
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(m[i]->state, PORTMAP_STATE_RELEASING);
    ck_assert_int_eq(d, 41600 + PM_TURN_WAIT_MS);
    d = PM_NEVER;
    pm_engine_pass(c, 41600 + PM_TURN_WAIT_MS, &d);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(m[i]->op, PM_OP_DELETE);
    drop_events();
}
END_TEST

/* The lost mappings are counted (a reply's look for them is skipped when
 * none is), and the count follows every way in and out of LOST. */
START_TEST(lost_mappings_are_counted)
{
    portmap_mapping *a = add_mapping(0, 10000), *b = add_mapping(0, 10000);
    int64_t d = PM_NEVER;

    pm_engine_pass(c, 0, &d);
    reply_ok(a, 30000, 60, 20);
    reply_ok(b, 30001, 60, 20);
    ck_assert_uint_eq(c->n_lost[PM_V4], 0);
    pm_net_router_reset(c, PM_V4, PORTMAP_METHOD_PCP, 1, 100);
    ck_assert_uint_eq(c->n_lost[PM_V4], 2);
    reply_ok(a, 30000, 60, 200);
    ck_assert_uint_eq(c->n_lost[PM_V4], 1);
    pm_mapping_fail(c, b, PORTMAP_ERR_REFUSED);
    ck_assert_uint_eq(c->n_lost[PM_V4], 0);
    drop_events();
}
END_TEST

static Suite *mapping_suite(void)
{
    Suite *s = suite_create("mapping");
    TCase *tc = tcase_create("state_machine");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, first_request_goes_out_with_the_probe);
    tcase_add_test(tc, ssdp_search_waits_behind_the_first_request);
    tcase_add_test(tc, listeners_open_after_the_first_request);
    tcase_add_test(tc, an_idle_client_does_not_listen);
    tcase_add_test(tc, fresh_request_leaves_at_once);
    tcase_add_test(tc, ssdp_search_waits_a_few_ms_at_most);
    tcase_add_test(tc, discovery_sends_a_held_search_at_once);
    tcase_add_test(tc, pass_touches_only_what_is_due);
    tcase_add_test(tc, lost_mappings_are_counted);
    tcase_add_test(tc, renewals_due_together_take_turns);
    tcase_add_test(tc, success_maps_and_schedules_refresh);
    tcase_add_test(tc, changed_port_is_reported);
    tcase_add_test(tc, unanswered_renewal_means_lost_once_then_restored);
    tcase_add_test(tc, refusal_fails_with_its_code);
    tcase_add_test(tc, no_resources_is_retried_until_the_deadline);
    tcase_add_test(tc, silence_is_no_gateway);
    tcase_add_test(tc, unsupported_protocol_falls_back);
    tcase_add_test(tc, preferred_protocol_silent_gives_way);
    tcase_add_test(tc, preferred_protocol_heard_is_waited_for);
    tcase_add_test(tc, an_answer_after_the_floor_is_taken_at_once);
    tcase_add_test(tc, epoch_reset_remaps);
    tcase_add_test(tc, network_change_remaps_by_what_the_new_gateway_speaks);
    tcase_add_test(tc, network_change_remaps_a_forced_mapping_at_once);
    tcase_add_test(tc, release_sends_lifetime_zero);
    tcase_add_test(tc, success_waits_for_the_address);
    tcase_add_test(tc, address_hold_is_bounded);
    tcase_add_test(tc, journal_records_and_forgets);
    tcase_add_test(tc, allow_is_parsed_strictly);
    tcase_add_test(tc, allow_never_falls_back_to_natpmp);
    tcase_add_test(tc, journal_keeps_the_restriction);
    tcase_add_test(tc, third_party_never_falls_back_to_natpmp);
    tcase_add_test(tc, third_party_refusal_moves_on_to_the_next_protocol);
    tcase_add_test(tc, third_party_must_be_on_the_lan);
    tcase_add_test(tc, journal_keys_a_third_party_mapping_by_its_host);
    tcase_add_test(tc, pinhole_uses_the_ipv6_network);
    tcase_add_test(tc, epoch_reset_is_per_family);
    tcase_add_test(tc, twin_events_go_through_the_handle);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(mapping_suite)
