/*
 * The mapping state machine (core/mapping.c, service.c and net.c)
 * driven by a script of router replies and clock steps, the way
 * tests/test_mapping.c drives it: scripted backends stand in for the
 * sockets, and the replies are decoded by the real wire decoders.
 *
 * Datagrams go through the backends' own handlers (pm_pcp_handle,
 * pm_natpmp_probe_reply / pm_natpmp_mapping_reply after natpmp.c's
 * matching, pm_pcp_announce / pm_natpmp_announce); UPnP exchanges end in
 * the outcomes pm_upnp_done() can produce.
 *
 * Input: a sequence of commands, each a byte (mod 8) and its arguments:
 *   0 tick      u16 step (ms, or s when the top bit is set), then service
 *   1 pcp       u8 length, datagram
 *   2 natpmp    u8 target (mapping index, or the probe), u8 length, datagram
 *   3 upnp      u8 mapping, u8 error, u16 port, u32 lease
 *   4 probe     u8 method, u8 verdict, u32 external address
 *   5 release   u8 mapping, u16 deadline (ms from now)
 *   6 new       u8 flags, u16 internal port, u16 external port, u32 lifetime, u16 timeout
 *   7 announce  u8 length, datagram (PCP or NAT-PMP on 224.0.0.1:5350)
 * Mapping 0 (UDP 27015, nonce 01..0c as the lab seeds use) exists from
 * the start.
 *
 * Checked after every command: events follow the documented order (one
 * MAPPED, LOST and RESTORED alternating, nothing after RELEASED, only
 * RELEASED after FAILED), each event carries the state it announces, and
 * a mapping that still needs the engine always has a future deadline or
 * an exchange under way (otherwise the engine would sleep forever or spin).
 */
#include <arpa/inet.h>
#include <string.h>

#include "fuzz.h"
#include "core/core.h"
#include "proto/natpmp/natpmp.h"
#include "proto/pcp/pcp.h"
#include "proto/natpmp/natpmp_wire.h"
#include "proto/pcp/pcp_wire.h"

#define MAX_MAPPINGS 4
#define MAX_COMMANDS 512

static int fake_start(portmap_client *c, portmap_mapping *m, int64_t now)
{
    return 0;
}
static void fake_stop(portmap_client *c, portmap_mapping *m) {}
static int fake_probe(portmap_client *c, int fam, int64_t now)
{
    return 0;
}
static size_t fake_add(portmap_client *c, struct pollfd *f, size_t max, int64_t *d)
{
    return 0;
}
static size_t fake_count(portmap_client *c)
{
    return 0;
}
static void fake_dispatch(portmap_client *c, struct pollfd *f, size_t n, int64_t now) {}
static void fake_reset(portmap_client *c, int fam) {}

/* The real backends (their capabilities, state, handlers of datagrams)
 * with no I/O: nothing is sent, nothing polled. */
static pm_backend fakes[PORTMAP_METHOD_COUNT];
static const pm_backend *fake_table[PORTMAP_METHOD_COUNT];

static void make_fakes(void)
{
    for (int i = 1; i < PORTMAP_METHOD_COUNT; i++) {
        fakes[i] = *pm_backends_default[i];
        fakes[i].start = fake_start;
        fakes[i].stop = fake_stop;
        fakes[i].probe = fake_probe;
        fakes[i].add_pollfds = fake_add;
        fakes[i].count_pollfds = fake_count;
        fakes[i].dispatch = fake_dispatch;
        fakes[i].reset = fake_reset;
        fakes[i].abandon = NULL;
        fakes[i].listen = NULL;
        fake_table[i] = &fakes[i];
    }
}

/* What the events so far allow next, per mapping. */
typedef struct track {
    int mapped, lost, failed, released;
} track;

typedef struct world {
    portmap_client *c;
    portmap_mapping *m[MAX_MAPPINGS];
    track t[MAX_MAPPINGS];
    size_t n;
    int64_t now;
} world;

static int index_of(const world *w, const portmap_mapping *m)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->m[i] == m)
            return (int)i;
    return -1;
}

static void check_events(world *w)
{
    portmap_client *c = w->c;

    for (size_t i = 0; i < c->n_events; i++) {
        const pm_event *e = &c->events[i];
        int k = index_of(w, e->m);
        track *t;

        FUZZ_CHECK(k >= 0);
        t = &w->t[k];
        FUZZ_CHECK(!t->released);
        FUZZ_CHECK(!t->failed || e->ev == PORTMAP_EVENT_RELEASED);
        switch (e->ev) {
        case PORTMAP_EVENT_MAPPED:
            FUZZ_CHECK(!t->mapped && e->info.state == PORTMAP_STATE_MAPPED);
            t->mapped = 1;
            break;
        case PORTMAP_EVENT_CHANGED:
            FUZZ_CHECK(t->mapped && e->info.state == PORTMAP_STATE_MAPPED);
            break;
        case PORTMAP_EVENT_LOST:
            FUZZ_CHECK(t->mapped && !t->lost && e->info.state == PORTMAP_STATE_LOST);
            t->lost = 1;
            break;
        case PORTMAP_EVENT_RESTORED:
            FUZZ_CHECK(t->lost && e->info.state == PORTMAP_STATE_MAPPED);
            t->lost = 0;
            break;
        case PORTMAP_EVENT_FAILED:
            FUZZ_CHECK(e->info.state == PORTMAP_STATE_FAILED);
            t->failed = 1;
            break;
        case PORTMAP_EVENT_RELEASED:
            FUZZ_CHECK(e->info.state == PORTMAP_STATE_RELEASED);
            t->released = 1;
            break;
        default:
            FUZZ_CHECK(!"unknown event");
        }
        pm_mapping_unref(e->m);
    }
    c->n_events = 0;
}

static void check_mapping(const world *w, const portmap_mapping *m)
{
    FUZZ_CHECK(m->state >= PORTMAP_STATE_PENDING && m->state <= PORTMAP_STATE_RELEASED);
    FUZZ_CHECK(m->op >= PM_OP_NONE && m->op <= PM_OP_DELETE);
    if (m->op != PM_OP_NONE) {
        FUZZ_CHECK(m->op_method >= PORTMAP_METHOD_PCP && m->op_method <= PORTMAP_METHOD_UPNP);
        /* only a lost mapping retries without an end */
        FUZZ_CHECK(m->state == PORTMAP_STATE_LOST || m->op_deadline != PM_NEVER);
    }
    if (m->state == PORTMAP_STATE_MAPPED) {
        FUZZ_CHECK(m->ever_mapped);
        /* every backend rejects a success without a port, and a port
         * lost on renewal makes the mapping LOST */
        FUZZ_CHECK(m->ext_port != 0);
        FUZZ_CHECK(m->permanent || m->expires_at != PM_NEVER);
        FUZZ_CHECK(m->refresh_at != PM_NEVER);
    }
    if (m->state == PORTMAP_STATE_FAILED || m->state == PORTMAP_STATE_RELEASED)
        FUZZ_CHECK(m->op == PM_OP_NONE && !m->held);
    (void)w;
}

/* The engine's pass, with the deadline each mapping asks for once what
 * the state machine asked of the engine (probes) is done. */
static void service(world *w)
{
    portmap_client *c = w->c;

    if (!pm_net_all_probes_done(c, PM_V4) && w->now >= c->net[PM_V4].probe_deadline)
        for (int i = 1; i < PORTMAP_METHOD_COUNT; i++)
            if (c->net[PM_V4].avail[i] == PM_AVAIL_PROBING)
                pm_net_probe_done(c, PM_V4, (portmap_method)i, PM_AVAIL_NO, "no answer", w->now);
    for (int pass = 0; pass < 4; pass++) {
        int late = -1;
        for (size_t i = 0; i < w->n; i++) {
            portmap_mapping *m = w->m[i];
            int64_t d = PM_NEVER;

            pm_mapping_service(c, m, w->now, &d);
            if (m->state == PORTMAP_STATE_FAILED || m->state == PORTMAP_STATE_RELEASED ||
                m->op != PM_OP_NONE)
                continue; /* done, or the backend's timers run the exchange */
            if (d == PM_NEVER || d <= w->now)
                late = (int)i;
        }
        if (pm_net_run_wants(c, PM_V4, w->now))
            continue; /* the engine comes back at once */
        if (late >= 0)
            fprintf(stderr, "mapping %d: state %d with no deadline at %lld\n", late,
                    w->m[late]->state, (long long)w->now);
        FUZZ_CHECK(late < 0);
        return;
    }
}

static int active_on(const portmap_mapping *m, portmap_method meth)
{
    return m->op != PM_OP_NONE && m->op_method == meth;
}

/* ---- pcp.c and natpmp.c: what follows a datagram from the gateway ---- */

static void pcp_reply(world *w, const uint8_t *buf, size_t len)
{
    pm_pcp_handle(w->c, PM_V4, buf, len, w->now);
}

/* natpmp.c next_reply(): a reply counts for the exchange it answers */
static void natpmp_reply(world *w, unsigned target, const uint8_t *buf, size_t len)
{
    portmap_client *c = w->c;
    pm_natpmp_reply rep;
    portmap_mapping *m;

    if (pm_natpmp_decode(buf, len, &rep) != PM_NATPMP_OK)
        return;
    if (target >= w->n) { /* the public address request */
        if (c->net[PM_V4].avail[PORTMAP_METHOD_NATPMP] == PM_AVAIL_PROBING && rep.opcode == 0)
            pm_natpmp_probe_reply(c, &rep, w->now);
        return;
    }
    m = w->m[target];
    if (!active_on(m, PORTMAP_METHOD_NATPMP) || rep.opcode != (m->proto == PORTMAP_UDP ? 1 : 2) ||
        (rep.result == 0 && rep.internal_port != m->internal_port))
        return;
    pm_natpmp_mapping_reply(c, m, &rep, w->now);
}

/* ---- proto/upnp/map.c: pm_upnp_done() with what an exchange can end in ---- */

static void upnp_result(world *w, portmap_mapping *m, unsigned err, uint16_t port, uint32_t lease)
{
    static const portmap_error errs[] = {
        PORTMAP_OK, PORTMAP_ERR_NOT_AUTHORIZED, PORTMAP_ERR_PORT_IN_USE,
        PORTMAP_ERR_NO_RESOURCES, PORTMAP_ERR_REFUSED, PORTMAP_ERR_PROTOCOL,
        PORTMAP_ERR_NOT_FOUND,
    };
    pm_result r = { .err = errs[err % PM_ARRAY_SIZE(errs)] };

    if (!active_on(m, PORTMAP_METHOD_UPNP))
        return;
    if (r.err == PORTMAP_OK && m->op == PM_OP_MAP) {
        r.ext_port = port ? port : m->internal_port; /* map.c never asks for port 0 */
        r.lifetime = lease ? lease : m->want_lifetime;
        r.permanent = lease == 0;
        if (w->c->ext_addr)
            r.ext = pm_addr_from_v4(w->c->ext_addr);
    }
    pm_net_map_done(w->c, m, &r, w->now);
}

/* ---- releases: pm_mapping_start_release(), as portmap_mapping_release() calls it ---- */

static void release(world *w, portmap_mapping *m, int64_t deadline)
{
    pm_mapping_start_release(w->c, m, deadline, w->now);
}

/* ---- announcements to 224.0.0.1:5350 ---- */

static void announce(world *w, const uint8_t *buf, size_t len)
{
    /* each backend hears the datagram on its own socket */
    pm_pcp_announce(w->c, PM_V4, buf, len, w->now);
    pm_natpmp_announce(w->c, buf, len, w->now);
}

/* ---- setup ---- */

static int add_mapping(world *w, portmap_transport proto, uint16_t port, uint16_t ext,
                       uint32_t lifetime, portmap_method forced, int timeout_ms)
{
    portmap_request r;
    portmap_mapping *m;

    if (w->n == MAX_MAPPINGS || port == 0)
        return -1;
    for (size_t i = 0; i < w->n; i++) /* portmap_request_mapping() refuses a twin */
        if (w->m[i]->proto == proto && w->m[i]->internal_port == port &&
            w->m[i]->state != PORTMAP_STATE_FAILED && w->m[i]->state != PORTMAP_STATE_RELEASED &&
            w->m[i]->state != PORTMAP_STATE_RELEASING)
            return -1;
    memset(&r, 0, sizeof(r));
    r.protocol = proto;
    r.internal_port = port;
    r.external_port = ext;
    r.lifetime = lifetime;
    r.method = forced;
    r.timeout_ms = timeout_ms;
    m = pm_mapping_new(w->c, &r, w->now);
    if (!m)
        abort();
    /* the journal is file I/O and not what is tested here */
    m->internal = 1;
    /* fixed nonces, so that replies in the corpus can match them */
    for (int i = 0; i < PM_NONCE_LEN; i++)
        m->nonce[i] = (uint8_t)(i + 1);
    m->nonce[PM_NONCE_LEN - 1] = (uint8_t)(PM_NONCE_LEN + w->n);
    w->m[w->n] = m;
    w->t[w->n] = (track){ 0 };
    w->n++;
    return 0;
}

static void setup(world *w)
{
    portmap_settings set;
    portmap_client *c;

    portmap_default_settings(&set);
    set.timeout_ms = 10000;
    set.keep_orphans = 1; /* orphans live in the journal: file I/O */
    make_fakes();
    if (pm_client_new(&c, &set, fake_table, 1) != PORTMAP_OK)
        abort();
    memset(w, 0, sizeof(*w));
    w->c = c;
    w->now = 1000;
    c->net[PM_V4].route_ok = 1;
    c->net[PM_V4].route_read_at = 1;
    pm_addr_parse("10.77.0.1", &c->net[PM_V4].gateway);
    pm_addr_parse("10.77.0.2", &c->net[PM_V4].local);
    c->rng.s[0] = 1; /* a replay is the same run */
    c->rng.s[1] = 2;
    add_mapping(w, PORTMAP_UDP, 27015, 0, 60, PORTMAP_METHOD_AUTO, 10000);
}

static void teardown(world *w)
{
    portmap_client *c = w->c;

    pm_events_drop(c);
    for (size_t i = 0; i < w->n; i++) {
        pm_mapping_unlink(c, w->m[i]);
        pm_mapping_unref(w->m[i]); /* the caller's handle */
    }
    pm_client_free(c);
}

/* FUZZ_TRACE=1 in the environment prints every step of a replay. */
static void dump(const world *w, unsigned cmd)
{
    static const char *const names[] = { "tick", "pcp", "natpmp", "upnp", "probe", "release",
                                         "new", "announce" };

    fprintf(stderr, "t=%lld %-8s avail pcp %d natpmp %d upnp %d, ext %08x |", (long long)w->now,
            names[cmd], w->c->net[PM_V4].avail[1], w->c->net[PM_V4].avail[2], w->c->net[PM_V4].avail[3], ntohl(w->c->ext_addr));
    for (size_t i = 0; i < w->n; i++) {
        const portmap_mapping *m = w->m[i];
        fprintf(stderr, " [%zu %s op %d/%d port %u held %d]", i, portmap_state_name(m->state),
                m->op, m->op_method, m->ext_port, m->held);
    }
    for (size_t i = 0; i < w->c->n_events; i++)
        fprintf(stderr, " ev %s", portmap_event_name(w->c->events[i].ev));
    fprintf(stderr, "\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int trace = -1;
    fuzz_in in = { data, size };
    world w;
    const uint8_t *p;
    size_t len;

    if (trace < 0) {
        trace = getenv("FUZZ_TRACE") != NULL;
    }
    setup(&w);
    service(&w);
    check_events(&w);
    for (int n = 0; n < MAX_COMMANDS && fuzz_left(&in); n++) {
        unsigned cmd = fuzz_u8(&in) % 8;
        switch (cmd) {
        case 0: {
            uint16_t step = fuzz_u16(&in);
            w.now += step & 0x8000 ? (int64_t)(step & 0x7fff) * 1000 : step;
            service(&w);
            break;
        }
        case 1:
            len = fuzz_bytes(&in, &p, fuzz_u8(&in));
            pcp_reply(&w, p, len);
            break;
        case 2: {
            unsigned target = fuzz_u8(&in) % (MAX_MAPPINGS + 1);
            len = fuzz_bytes(&in, &p, fuzz_u8(&in));
            natpmp_reply(&w, target < w.n ? target : MAX_MAPPINGS, p, len);
            break;
        }
        case 3: {
            unsigned k = fuzz_u8(&in), err = fuzz_u8(&in);
            uint16_t port = fuzz_u16(&in);
            uint32_t lease = fuzz_u32(&in);
            if (k < w.n)
                upnp_result(&w, w.m[k], err, port, lease);
            break;
        }
        case 4: {
            portmap_method meth = (portmap_method)(1 + fuzz_u8(&in) % 3);
            pm_avail verdict = fuzz_u8(&in) & 1 ? PM_AVAIL_YES : PM_AVAIL_NO;
            uint32_t ext = fuzz_u32(&in);
            if (verdict == PM_AVAIL_YES && ext)
                pm_net_set_external(w.c, ext, w.now);
            pm_net_probe_done(w.c, PM_V4, meth, verdict, "fuzz", w.now);
            break;
        }
        case 5: {
            unsigned k = fuzz_u8(&in);
            int64_t deadline = w.now + fuzz_u16(&in);
            if (k < w.n)
                release(&w, w.m[k], deadline);
            break;
        }
        case 6: {
            uint8_t flags = fuzz_u8(&in);
            uint16_t port = fuzz_u16(&in), ext = fuzz_u16(&in);
            uint32_t life = fuzz_u32(&in);
            uint16_t timeout = fuzz_u16(&in);
            add_mapping(&w, flags & 1 ? PORTMAP_TCP : PORTMAP_UDP, port, ext, life,
                        (portmap_method)((flags >> 1) % PORTMAP_METHOD_COUNT),
                        timeout ? timeout : 1);
            break;
        }
        case 7:
            len = fuzz_bytes(&in, &p, fuzz_u8(&in));
            announce(&w, p, len);
            break;
        }
        if (trace)
            dump(&w, cmd);
        check_events(&w);
        for (size_t i = 0; i < w.n; i++)
            check_mapping(&w, w.m[i]);
    }
    teardown(&w);
    return 0;
}
