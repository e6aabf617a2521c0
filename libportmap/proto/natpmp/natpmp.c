/*
 * NAT-PMP client backend (RFC 6886) over libnatpmp, which builds and
 * sends every request: the probe and the router's checks (opcode 0) each
 * on a natpmp_t of their own, the mapping exchanges on sockets shared by
 * the exchanges started together (batch.c: a renewal is a send, not a
 * socket, a connect and a close, and a thousand of them one flow of the
 * router's per batch, not a thousand).
 *
 * Every socket is connected to the gateway, on a fresh ephemeral port (a
 * spoofer must guess the port too: for a mapping's exchange, the port of
 * its batch, which lives as long as the batch). The replies we read and
 * validate ourselves with pm_natpmp_decode(): the Debian libnatpmp neither
 * checks the length nor that a mapping reply answers the pending request,
 * and it keeps retransmitting after an error reply.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <natpmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "proto/backend.h"
#include "proto/natpmp/batch.h"
#include "proto/natpmp/natpmp.h"
#include "proto/natpmp/natpmp_wire.h"
#include "sys/epoch.h"
#include "sys/mcast.h"

typedef struct pmp_xchg {
    natpmp_t n;
    int open;
    uint8_t opcode;          /* 0 = public address, 1 = udp, 2 = tcp */
    uint16_t internal_port;
    int64_t retry_at;        /* monotonic time of libnatpmp's next resend */
} pmp_xchg;

#define PM_NATPMP_SERVER_PORT 5351

typedef struct pmp_state {
    pmp_xchg probe;
    unsigned long dropped;
    pm_epoch epoch;          /* the server's, from replies to our requests */
    int ann_fd;              /* 224.0.0.1:5350, or -1 */
    int checking;            /* the probe is a check of a router that answered */
    pmp_sock *current;       /* the mapping exchanges' socket being filled */
} pmp_state;

static void xchg_close(pmp_xchg *x);

static void *pmp_state_new(void)
{
    pmp_state *st = calloc(1, sizeof(*st));

    if (st)
        st->ann_fd = -1;
    return st;
}

static void pmp_state_free(void *p)
{
    pmp_state *st = p;

    xchg_close(&st->probe);
    pm_pmp_forget_current(&st->current);
    if (st->ann_fd >= 0)
        close(st->ann_fd);
    free(st);
}

static pmp_state *state(portmap_client *c)
{
    return pm_backend_state(c, PORTMAP_METHOD_NATPMP);
}

static pmp_state *state_if_any(portmap_client *c)
{
    return pm_backend_state_if_any(c, PORTMAP_METHOD_NATPMP);
}

/* The epoch of a reply to our request: gone back means a reboot. */
static void check_epoch(portmap_client *c, uint32_t epoch, int64_t now)
{
    pmp_state *st = state(c);
    int stalled;

    if (!st)
        return;
    stalled = pm_epoch_stalled(&st->epoch, epoch, now);
    PM_DEBUG(c, "natpmp: epoch %u s (was %u s, %lld ms ago)", epoch, st->epoch.server_s,
             (long long)(now - st->epoch.client_ms));
    if (!pm_epoch_check_natpmp(&st->epoch, epoch, now))
        pm_host_router_reset(c, PM_V4, PORTMAP_METHOD_NATPMP, epoch, now);
    else if (stalled)
        pm_host_router_restarted(c, PM_V4, PORTMAP_METHOD_NATPMP, now);
}

static void xchg_close(pmp_xchg *x)
{
    if (x->open)
        closenatpmp(&x->n);
    x->open = 0;
}

/* libnatpmp times its resends with gettimeofday(); convert to our clock,
 * rounded up: a resend due in 0.7 ms taken as due now would find
 * libnatpmp not ready yet, again and again until it is (a busy loop). */
static void note_retry(pmp_xchg *x, int64_t now)
{
    struct timeval tv;
    if (getnatpmprequesttimeout(&x->n, &tv) == 0)
        x->retry_at = now + PM_MAX(0, (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
    else
        x->retry_at = PM_NEVER;
}

/* What initnatpmp() does for a given gateway, with the socket made
 * non-blocking and close-on-exec at once: two fcntl() calls fewer for
 * each exchange (a renewal is one), and no descriptor left to a child
 * the caller spawns. */
static int xchg_open(portmap_client *c, pmp_xchg *x)
{
    struct sockaddr_in gw = { .sin_family = AF_INET, .sin_port = htons(PM_NATPMP_SERVER_PORT),
                              .sin_addr.s_addr = pm_gw4(c) };

    xchg_close(x);
    memset(&x->n, 0, sizeof(x->n));
    x->n.s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (x->n.s < 0)
        return -1;
    x->n.gateway = gw.sin_addr.s_addr;
    if (connect(x->n.s, (struct sockaddr *)&gw, sizeof(gw)) < 0) {
        close(x->n.s);
        return -1;
    }
    x->open = 1;
    return 0;
}

static int pmp_start(portmap_client *c, portmap_mapping *m, int64_t now)
{
    pmp_state *st = m->fam == PM_V4 ? state(c) : NULL; /* RFC 6886 has no IPv6 */

    return st ? pm_pmp_map_start(c, &st->current, m, now) : -1;
}

/* m's request may have made a mapping though no true answer came (lost,
 * or a forged refusal): a delete (RFC 6886 3.4: lifetime 0, external port
 * 0) undoes it, sent once without waiting. */
static void pmp_abandon(portmap_client *c, portmap_mapping *m)
{
    pmp_xchg x = { 0 };
    uint8_t op = m->proto == PORTMAP_UDP ? NATPMP_PROTOCOL_UDP : NATPMP_PROTOCOL_TCP;

    if (m->fam != PM_V4 || m->op != PM_OP_MAP || xchg_open(c, &x) != 0)
        return;
    c->counters.requests_sent++;
    sendnewportmappingrequest(&x.n, op, m->internal_port, 0, 0);
    xchg_close(&x);
}

static void pmp_stop(portmap_client *c, portmap_mapping *m)
{
    pm_pmp_map_stop(c, m);
    free(m->op_data);
    m->op_data = NULL;
}

static int pmp_probe(portmap_client *c, int fam, int64_t now)
{
    pmp_state *st = fam == PM_V4 ? state(c) : NULL; /* RFC 6886 has no IPv6 */

    if (!st || xchg_open(c, &st->probe) != 0)
        return -1;
    st->checking = 0;
    st->probe.opcode = 0;
    c->counters.requests_sent++;
    sendpublicaddressrequest(&st->probe.n);
    note_retry(&st->probe, now);
    return 0;
}

/* Optional: without it, renewals find resets. */
static void pmp_listen(portmap_client *c, int fam)
{
    pmp_state *st = fam == PM_V4 ? state(c) : NULL; /* RFC 6886 has no IPv6 */

    if (st && st->ann_fd < 0)
        st->ann_fd = pm_mcast_open_announce4();
}

/* What an announcement may have told, asked of the router: our own
 * opcode 0, whose reply gives the epoch and the address (pm_natpmp_probe_reply). */
static void pmp_check(portmap_client *c, int fam, int64_t now)
{
    pmp_state *st = state_if_any(c);

    if (fam != PM_V4 || !st)
        return;
    /* asked afresh: a request under way may have gone out before the
     * router restarted, and its answer would tell nothing new */
    xchg_close(&st->probe);
    if (pmp_probe(c, fam, now) != 0) {
        PM_DEBUG(c, "natpmp: the check could not be sent");
        return;
    }
    st->checking = 1;
    PM_DEBUG(c, "natpmp: checking the router (opcode 0)");
}

static int pmp_op_active(const portmap_mapping *m)
{
    return m->op != PM_OP_NONE && m->op_method == PORTMAP_METHOD_NATPMP && m->op_data &&
           ((pmp_map *)m->op_data)->sock;
}

static size_t pmp_count(portmap_client *c)
{
    /* the probe's socket, the announcements', at most one per exchange */
    return 2 + c->n_ops[PORTMAP_METHOD_NATPMP];
}

static size_t add_one(pmp_xchg *x, struct pollfd *fds, size_t i, size_t max, int64_t *deadline)
{
    if (!x->open || i >= max)
        return 0;
    fds[i] = (struct pollfd){ .fd = x->n.s, .events = POLLIN };
    *deadline = PM_MIN(*deadline, x->retry_at);
    return 1;
}

static size_t pmp_add_pollfds(portmap_client *c, struct pollfd *fds, size_t max, int64_t *deadline)
{
    pmp_state *st = state_if_any(c);
    size_t n = 0;

    if (st)
        n += add_one(&st->probe, fds, n, max, deadline);
    if (st && st->ann_fd >= 0 && n < max)
        fds[n++] = (struct pollfd){ .fd = st->ann_fd, .events = POLLIN };
    return n + pm_pmp_map_pollfds(c, fds + n, max - n, deadline);
}

static portmap_error map_result(uint16_t code, int *gone)
{
    *gone = 0;
    switch (code) {
    case 0: return PORTMAP_OK;
    case 1: /* unsupported version */
    case 5: /* unsupported opcode */
        *gone = 1;
        return PORTMAP_ERR_UNSUPPORTED;
    case 2: return PORTMAP_ERR_NOT_AUTHORIZED;
    case 3: return PORTMAP_ERR_NETWORK;
    case 4: return PORTMAP_ERR_NO_RESOURCES;
    default: return PORTMAP_ERR_REFUSED;
    }
}

/* Outcome of looking at the socket. */
enum { RX_NONE, RX_REPLY, RX_REFUSED, RX_UNREACHABLE };

/*
 * Read datagrams until one is a valid reply to x's request; discard the
 * malformed and the unrelated. On RX_REPLY *rep holds it and the exchange
 * is over for libnatpmp too (it would otherwise resend after an error
 * reply).
 */
static int next_reply(portmap_client *c, pmp_state *st, pmp_xchg *x, pm_natpmp_reply *rep)
{
    for (int i = 0; i < 16; i++) {
        uint8_t buf[1104];
        ssize_t n = recv(x->n.s, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT);
        if (n < 0 && errno == ECONNREFUSED)
            return RX_REFUSED;
        if (n < 0)
            return errno == EHOSTUNREACH || errno == ENETUNREACH ? RX_UNREACHABLE : RX_NONE;
        if ((size_t)n <= sizeof(buf) && pm_natpmp_decode(buf, (size_t)n, rep) == PM_NATPMP_OK &&
            rep->opcode == x->opcode &&
            (rep->result != 0 || x->opcode == 0 || rep->internal_port == x->internal_port)) {
            x->n.has_pending_request = 0;
            return RX_REPLY;
        }
        if (st)
            st->dropped++;
        c->counters.dropped_unmatched++;
        PM_DEBUG(c, "natpmp: dropped a malformed or unrelated reply (%zd bytes)", n);
    }
    return RX_NONE;
}

void pm_natpmp_probe_reply(portmap_client *c, const pm_natpmp_reply *rep, int64_t now)
{
    int gone;

    pm_host_heard(c, PM_V4, PORTMAP_METHOD_NATPMP, now);
    check_epoch(c, rep->epoch, now);
    if (rep->result != 0) {
        map_result(rep->result, &gone);
        if (gone)
            pm_host_unavailable(c, PM_V4, PORTMAP_METHOD_NATPMP, now,
                                "answered with result %u (unsupported)", rep->result);
        else
            pm_host_answered(c, PM_V4, PORTMAP_METHOD_NATPMP, now);
        return;
    }
    if (rep->public_addr)
        pm_host_set_external(c, rep->public_addr, now);
    pm_host_answered(c, PM_V4, PORTMAP_METHOD_NATPMP, now);
}

void pm_natpmp_mapping_reply(portmap_client *c, portmap_mapping *m, const pm_natpmp_reply *rep,
                             int64_t now)
{
    static const char *const names[] = { "success", "unsupported version", "not authorized",
                                         "network failure", "out of resources",
                                         "unsupported opcode" };
    pm_result r = { 0 };

    pm_host_heard(c, PM_V4, PORTMAP_METHOD_NATPMP, now);
    check_epoch(c, rep->epoch, now);
    if (rep->result != 0) {
        r.err = map_result(rep->result, &r.protocol_gone);
        pm_result_detail(&r, "result %u (%s)", rep->result,
                         rep->result < PM_ARRAY_SIZE(names) ? names[rep->result] : "unknown");
    } else {
        if (c->ext_addr) /* else the mapping waits for it (see held) */
            r.ext = pm_addr_from_v4(c->ext_addr);
        r.ext_port = rep->external_port;
        r.lifetime = rep->lifetime;
        if (m->op == PM_OP_MAP && (r.ext_port == 0 || r.lifetime == 0)) {
            r.err = PORTMAP_ERR_PROTOCOL;
            pm_result_detail(&r, "a success reply with port or lifetime 0");
        }
    }
    pm_host_map_done(c, m, &r, now);
}

/* libnatpmp read a reply itself (one that came between our read and its
 * own): take it as if we had read it. */
static void from_lib(const pmp_xchg *x, const natpmpresp_t *resp, pm_natpmp_reply *rep)
{
    memset(rep, 0, sizeof(*rep));
    rep->opcode = x->opcode;
    rep->result = resp->resultcode;
    rep->epoch = resp->epoch;
    if (x->opcode == 0) {
        rep->public_addr = resp->pnu.publicaddress.addr.s_addr;
    } else {
        rep->internal_port = resp->pnu.newportmapping.privateport;
        rep->external_port = resp->pnu.newportmapping.mappedpublicport;
        rep->lifetime = resp->pnu.newportmapping.lifetime;
    }
}

/* Resend when due (libnatpmp's timing). Returns 1 when libnatpmp read a
 * reply after all (into *resp), 0 while pending, -1 when it gave up (no
 * answer after its retries). */
static int lib_step(portmap_client *c, pmp_xchg *x, natpmpresp_t *resp, int64_t now)
{
    int tries = x->n.try_number;
    int r = readnatpmpresponseorretry(&x->n, resp);
    if (r == 0)
        return 1;
    if (x->n.try_number > tries) { /* libnatpmp sent it again */
        c->counters.requests_sent++;
        c->counters.retransmissions++;
    }
    note_retry(x, now);
    return r == NATPMP_TRYAGAIN ? 0 : -1;
}

static void probe_step(portmap_client *c, pmp_state *st, int readable, int64_t now)
{
    pmp_xchg *x = &st->probe;
    pm_natpmp_reply rep;
    natpmpresp_t resp;
    int rx = readable ? next_reply(c, st, x, &rep) : RX_NONE;

    if ((rx == RX_REFUSED || rx == RX_UNREACHABLE) && st->checking)
        rx = RX_NONE; /* a router starting up: asked again at libnatpmp's next try */
    if (rx == RX_REFUSED || rx == RX_UNREACHABLE) {
        xchg_close(x);
        pm_host_unavailable(c, PM_V4, PORTMAP_METHOD_NATPMP, now, "%s",
                               rx == RX_REFUSED ? PM_WHY_REFUSED_5351 : PM_WHY_UNREACHABLE);
        return;
    }
    if (rx == RX_NONE && now < x->retry_at)
        return;
    if (rx == RX_NONE) {
        int lr = lib_step(c, x, &resp, now);
        if (lr == 0)
            return;
        if (lr < 0) {
            xchg_close(x);
            if (!st->checking)
                pm_host_unavailable(c, PM_V4, PORTMAP_METHOD_NATPMP, now,
                                    "no answer after libnatpmp's retries");
            return;
        }
        from_lib(x, &resp, &rep);
    }
    xchg_close(x);
    pm_natpmp_probe_reply(c, &rep, now);
}

void pm_pmp_on_refused(portmap_client *c, portmap_mapping *m, int rx, int64_t now)
{
    pm_result r = { .err = PORTMAP_ERR_UNSUPPORTED, .protocol_gone = 1 };

    if (m->state != PORTMAP_STATE_PENDING)
        return; /* held mappings: the router may be restarting; keep trying */
    pm_result_detail(&r, "%s", rx == 1 ? PM_WHY_REFUSED_5351 : PM_WHY_UNREACHABLE);
    pm_host_map_done(c, m, &r, now);
}

void pm_pmp_on_reply(portmap_client *c, portmap_mapping *m, const pm_natpmp_reply *rep,
                     int64_t now)
{
    pmp_state *st = state_if_any(c);

    /* The engine holds a success without the address until it is known;
     * make sure opcode 0 is being asked. */
    if (rep->result == 0 && !c->ext_addr && !c->ext_addr_at && (!st || !st->probe.open))
        pmp_probe(c, PM_V4, now);
    pm_natpmp_mapping_reply(c, m, rep, now);
}

void pm_pmp_on_unmatched(portmap_client *c, ssize_t len)
{
    pmp_state *st = state_if_any(c);

    if (st)
        st->dropped++;
    c->counters.dropped_unmatched++;
    PM_DEBUG(c, "natpmp: dropped a malformed or unrelated reply (%zd bytes)", len);
}

/*
 * A NAT-PMP server sends its public address to all hosts when it restarts
 * or the address changes (RFC 6886 3.2.1): "check now". Anyone on the LAN
 * can forge one from the gateway's address, so nothing in it is taken:
 * the check asks the router itself (our own opcode 0, pmp_check), whose
 * reply carries the epoch and the address. PCP's announcements (version
 * 2) are the PCP backend's.
 */
void pm_natpmp_announce(portmap_client *c, const uint8_t *buf, size_t len, int64_t now)
{
    pm_natpmp_reply r;
    char addr[PORTMAP_ADDRSTRLEN];

    if (len < 1 || buf[0] != 0)
        return;
    if (pm_natpmp_decode(buf, len, &r) != PM_NATPMP_OK || r.opcode != 0 || r.result != 0) {
        c->counters.dropped_malformed++;
        return;
    }
    pm_addr_str(r.public_addr, addr, sizeof(addr));
    PM_INFO(c, "the router announced itself (NAT-PMP, epoch %u s, address %s): checking", r.epoch,
            addr);
    c->counters.announcements++;
    pm_host_announced(c, PM_V4, now);
}

static void read_announcements(portmap_client *c, pmp_state *st, int64_t now)
{
    /* bounded: a flood cannot keep the engine here */
    for (int i = 0; i < 16; i++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        uint8_t buf[64];
        ssize_t n = recvfrom(st->ann_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return;
        if (n < 1 || buf[0] != 0)
            continue; /* PCP's */
        if (fl != sizeof(from) || from.sin_port != htons(PM_NATPMP_SERVER_PORT) ||
            from.sin_addr.s_addr != pm_gw4(c)) {
            c->counters.dropped_wrong_source++;
            PM_DEBUG(c, "dropped an announcement that did not come from the gateway's port %u",
                     PM_NATPMP_SERVER_PORT);
            continue;
        }
        pm_natpmp_announce(c, buf, (size_t)n, now);
    }
}

static void dispatch_one(portmap_client *c, portmap_mapping *m, void *arg)
{
    if (pmp_op_active(m))
        pm_pmp_map_step(c, m, arg);
}

static void pmp_dispatch(portmap_client *c, struct pollfd *fds, size_t n, int64_t now)
{
    pmp_state *st = state_if_any(c);
    pm_dispatch d = { fds, n, now };

    if (st && st->probe.open)
        probe_step(c, st, pm_revents(&d, st->probe.n.s) != 0, now);
    if (st && pm_revents(&d, st->ann_fd))
        read_announcements(c, st, now);
    if (pm_ops_maybe(c, PORTMAP_METHOD_NATPMP))
        pm_host_each_op(c, PORTMAP_METHOD_NATPMP, dispatch_one, &d);
}

static void pmp_reset(portmap_client *c, int fam)
{
    if (fam == PM_V4)
        pm_backend_state_drop(c, PORTMAP_METHOD_NATPMP);
}

static int64_t pmp_refresh_delay_ms(uint32_t lifetime, double unit_rand)
{
    (void)unit_rand;
    return (int64_t)lifetime * 500; /* RFC 6886 3.3: at half the lease */
}

const pm_backend pm_backend_natpmp = {
    .method = PORTMAP_METHOD_NATPMP,
    .name = "natpmp",
    .label = "NAT-PMP",
    .families = 1u << PM_V4, /* RFC 6886 has no IPv6 */
    .allow = PM_ALLOW_NONE,
    .port = PM_NATPMP_SERVER_PORT,
    .refresh_delay_ms = pmp_refresh_delay_ms,
    .state_new = pmp_state_new,
    .state_free = pmp_state_free,
    .start = pmp_start,
    /* not start_sends: each exchange has a socket of its own, whose reply
     * waits for the engine to poll it; sent from the caller's thread the
     * request gained nothing, and the engine's round then met the reply
     * (bench natpmp, warm client: 25 us slower) */
    .stop = pmp_stop,
    .probe = pmp_probe,
    .listen = pmp_listen,
    .check = pmp_check,
    .abandon = pmp_abandon,
    .add_pollfds = pmp_add_pollfds,
    .count_pollfds = pmp_count,
    .dispatch = pmp_dispatch,
    .reset = pmp_reset,
};
