/*
 * PCP client backend (RFC 6887), IPv4 and IPv6. One UDP socket per client
 * and family, connected to gateway:5351: the kernel then drops datagrams from any
 * other source, and an ICMP port-unreachable arrives as ECONNREFUSED,
 * which tells us at once that the gateway has no PCP server.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/pcp/pcp_int.h"

/* IPv6: bound to the address we ask for, since the server checks that the
 * request comes from the client address inside it (RFC 6887 8.1), and the
 * kernel would pick a temporary address as the source. */
static int ensure_socket(portmap_client *c, pcp_state *st)
{
    pm_net *net = &c->net[st->fam];
    struct sockaddr_storage ss;
    socklen_t sl;

    if (st->fd >= 0 && pm_addr_eq(&st->gw, &net->gateway) && pm_addr_eq(&st->local, &net->local))
        return 0;
    if (st->fd >= 0)
        close(st->fd);
    st->fd = socket(pm_fam_af(st->fam), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (st->fd < 0)
        return -1;
    if (st->fam == PM_V6) {
        sl = pm_addr_sockaddr(&net->local, 0, &ss);
        if (!sl || bind(st->fd, (struct sockaddr *)&ss, sl) < 0)
            goto fail;
    }
    sl = pm_addr_sockaddr(&net->gateway, PM_PCP_PORT, &ss);
    if (!sl || ss.ss_family != pm_fam_af(st->fam) || connect(st->fd, (struct sockaddr *)&ss, sl) < 0)
        goto fail;
    st->gw = net->gateway;
    st->local = net->local;
    return 0;
fail:
    close(st->fd);
    st->fd = -1;
    return -1;
}

static int send_request(portmap_client *c, pcp_state *st, const pm_pcp_request *req)
{
    uint8_t buf[PM_PCP_MAX_MSG];
    size_t len = pm_pcp_encode_request(req, buf, sizeof(buf));

    if (!len || ensure_socket(c, st) != 0)
        return -1;
    c->counters.requests_sent++;
    if (send(st->fd, buf, len, 0) < 0) {
        /* ECONNREFUSED reports the ICMP error of an earlier datagram and
         * consumes it: remember it for the dispatcher, which runs next. */
        if (errno == ECONNREFUSED)
            st->refused = 1;
        return -1;
    }
    return 0;
}

static void build_map(portmap_client *c, const portmap_mapping *m, pm_pcp_request *req)
{
    const pm_addr *local = pm_addr_is_set(&m->local) ? &m->local : &pm_net_of(c, m)->local;

    memset(req, 0, sizeof(*req));
    req->opcode = PM_PCP_OP_MAP;
    req->lifetime = m->op_lifetime;
    if (pm_addr_is_set(&m->third)) {
        /* the header names the sender (our own address, which the router
         * checks against the source); the option the host mapped for */
        pm_addr_to_pcp(&pm_net_of(c, m)->local, req->client_addr);
        req->third_party = 1;
        pm_addr_to_pcp(&m->third, req->third_party_addr);
    } else {
        pm_addr_to_pcp(local, req->client_addr);
    }
    memcpy(req->nonce, m->nonce, sizeof(req->nonce));
    req->protocol = (uint8_t)m->proto;
    req->internal_port = m->internal_port;
    /* Renewals and deletes name what we hold; first requests suggest: a
     * pinhole's is its internal port (no translation), which miniupnpd
     * 2.3.1 echoes when it renews a pinhole another nonce made */
    req->external_port = m->ext_port ? m->ext_port : m->want_ext_port;
    if (!req->external_port && m->fam == PM_V6)
        req->external_port = m->internal_port;
    /* no preference is the family's all-zero address (RFC 6887 11.1):
     * ::ffff:0.0.0.0 for IPv4, :: for IPv6, which the memset left */
    if (m->fam == PM_V4 || pm_addr_is_set(&m->ext))
        pm_addr_to_pcp(&m->ext, req->external_addr);
    /* Sent with every renewal too: a MAP without FILTER would drop it
     * (RFC 6887 13.3). The prefix counts on the IPv4-mapped form. */
    if (m->allow_prefix) {
        req->n_filters = 1;
        req->filters[0].prefix_len = (uint8_t)(96 + m->allow_prefix);
        req->filters[0].remote_port = 0;
        pm_pcp_addr_from_ipv4(req->filters[0].remote_addr, m->allow_addr);
    }
}

static int pcp_start(portmap_client *c, portmap_mapping *m, int64_t now)
{
    pcp_state *st = pm_pcp_state(c, m->fam);
    pm_pcp_request req;

    (void)now;
    /* indexed and timed before it leaves: a failed send is resent */
    if (!st || pm_pcp_xchg_add(c, m) != 0)
        return -1;
    build_map(c, m, &req);
    if (send_request(c, st, &req) != 0)
        return -1;
    m->op_sent = 1;
    return 0;
}

/* The MAP may have been made though its answer never came: a delete with
 * its nonce undoes exactly that (a router deletes only what the nonce
 * made), sent once without waiting. */
static void pcp_abandon(portmap_client *c, portmap_mapping *m)
{
    pcp_state *st = pm_pcp_state_if_any(c, m->fam);
    pm_pcp_request req;
    uint32_t lifetime = m->op_lifetime;

    if (!st || st->fd < 0 || m->op != PM_OP_MAP)
        return;
    m->op_lifetime = 0;
    build_map(c, m, &req);
    m->op_lifetime = lifetime;
    send_request(c, st, &req);
}

static void pcp_stop(portmap_client *c, portmap_mapping *m)
{
    pm_pcp_xchg_remove(c, m); /* the nonce stays with the mapping */
}

static int pcp_probe(portmap_client *c, int fam, int64_t now)
{
    pcp_state *st = pm_pcp_state(c, fam);
    pm_pcp_request req = { .opcode = PM_PCP_OP_ANNOUNCE };

    if (!st)
        return -1;
    pm_addr_to_pcp(&c->net[fam].local, req.client_addr);
    st->probing = 1;
    pm_retx_start(&st->probe_retx, &pm_retx_fast, now, pm_rand_unit, &c->rng);
    if (send_request(c, st, &req) != 0)
        PM_DEBUG(c, "pcp: probe send failed: %s", strerror(errno));
    return 0;
}


static size_t pcp_count(portmap_client *c)
{
    (void)c;
    return 2 * PM_FAMS; /* per family: the server's socket, the announcements' */
}

static int pcp_op_active(const portmap_mapping *m)
{
    return m->op != PM_OP_NONE && m->op_method == PORTMAP_METHOD_PCP;
}

static size_t pcp_add_pollfds(portmap_client *c, struct pollfd *fds, size_t max, int64_t *deadline)
{
    size_t n = 0;

    if (!pm_backend_state_if_any(c, PORTMAP_METHOD_PCP) || max < 2 * PM_FAMS)
        return 0;
    for (int fam = 0; fam < PM_FAMS; fam++) {
        pcp_state *st = pm_pcp_state_if_any(c, fam);
        if (st->probing && c->net[fam].avail[PORTMAP_METHOD_PCP] == PM_AVAIL_PROBING)
            *deadline = PM_MIN(*deadline, st->probe_retx.next_ms);
        if (st->refused)
            *deadline = 0; /* handle it at once */
        fds[n++] = (struct pollfd){ .fd = st->fd, .events = POLLIN };
        fds[n++] = (struct pollfd){ .fd = st->ann_fd, .events = POLLIN };
    }
    *deadline = PM_MIN(*deadline, pm_pcp_xchg_due(c));
    return n;
}

static int pcp_reply_fd(portmap_client *c, const portmap_mapping *m)
{
    pcp_state *st = pm_pcp_state_if_any(c, m->fam);

    return st && pcp_op_active(m) ? st->fd : -1;
}

static portmap_error map_result_code(unsigned code, int *gone)
{
    *gone = 0;
    switch (code) {
    case PM_PCP_SUCCESS: return PORTMAP_OK;
    case PM_PCP_NOT_AUTHORIZED: return PORTMAP_ERR_NOT_AUTHORIZED;
    case PM_PCP_NETWORK_FAILURE: return PORTMAP_ERR_NETWORK;
    case PM_PCP_NO_RESOURCES:
    case PM_PCP_USER_EX_QUOTA: return PORTMAP_ERR_NO_RESOURCES;
    case PM_PCP_CANNOT_PROVIDE_EXTERNAL: return PORTMAP_ERR_PORT_IN_USE;
    case PM_PCP_UNSUPP_PROTOCOL: return PORTMAP_ERR_UNSUPPORTED;
    case PM_PCP_MALFORMED_REQUEST:
    case PM_PCP_MALFORMED_OPTION: return PORTMAP_ERR_PROTOCOL;
    case PM_PCP_UNSUPP_VERSION:
    case PM_PCP_UNSUPP_OPCODE:
        *gone = 1;
        return PORTMAP_ERR_UNSUPPORTED;
    default: return PORTMAP_ERR_REFUSED;
    }
}

/* PCP is not spoken here at all (ICMP unreachable or a version answer). */
static void pcp_gone(portmap_client *c, pcp_state *st, int64_t now, const char *why)
{
    pm_result r = { .err = PORTMAP_ERR_UNSUPPORTED, .protocol_gone = 1 };

    pm_result_detail(&r, "%s", why);
    st->probing = 0;
    if (c->net[st->fam].avail[PORTMAP_METHOD_PCP] == PM_AVAIL_PROBING)
        pm_host_unavailable(c, st->fam, PORTMAP_METHOD_PCP, now, "%s", why);
    /* Rare: every mapping (the list stays while exchanges end) */
    for (portmap_mapping *m = pm_ops_mappings(c, PORTMAP_METHOD_PCP); m; m = m->next) {
        /* Held mappings keep trying: a refusal while the router restarts
         * must not make us give them up. */
        if (pcp_op_active(m) && m->fam == st->fam && m->state == PORTMAP_STATE_PENDING)
            pm_host_map_done(c, m, &r, now);
    }
}

static portmap_mapping *find_mapping(portmap_client *c, int fam, const pm_pcp_response *rsp)
{
    return pm_pcp_xchg_find(c, fam, rsp->nonce, rsp->protocol, rsp->internal_port);
}

/*
 * The answer to a MAP for another host (THIRD_PARTY): a refusal of the
 * option is told as such (the mapping is never made for us instead), a
 * success must name that host. 0: the reply is not for m after all.
 */
static int third_party_answer(portmap_client *c, portmap_mapping *m, const pm_pcp_response *rsp,
                              pm_result *r)
{
    char who[PM_ADDR_TEXT];
    uint8_t want[16];

    pm_addr_fmt(&m->third, who, sizeof(who));
    if (rsp->result == PM_PCP_UNSUPP_OPTION) {
        r->err = PORTMAP_ERR_UNSUPPORTED;
        r->cannot_serve = 1;
        pm_result_detail(r, "the router's PCP does not support mapping for another host "
                            "(THIRD_PARTY option for %s: UNSUPP_OPTION)", who);
    } else if (rsp->result == PM_PCP_NOT_AUTHORIZED && m->op == PM_OP_MAP) {
        r->cannot_serve = 1;
        pm_result_detail(r, "the router does not allow mapping for another host (THIRD_PARTY "
                            "option for %s: NOT_AUTHORIZED; miniupnpd: pcp_allow_thirdparty=no)",
                         who);
    }
    if (rsp->result != PM_PCP_SUCCESS)
        return 1;
    /* RFC 6887 13.1: the success echoes the option with the same host */
    pm_addr_to_pcp(&m->third, want);
    if (!rsp->third_party || memcmp(rsp->third_party_addr, want, 16) != 0) {
        c->counters.dropped_malformed++;
        PM_WARN(c, "pcp: ignored a success reply for port %u of %s without its THIRD_PARTY "
                   "option", m->internal_port, who);
        return 0;
    }
    return 1;
}

static void handle_map(portmap_client *c, pcp_state *st, const pm_pcp_response *rsp, int64_t now)
{
    portmap_mapping *m;
    pm_result r = { 0 };

    if (!rsp->has_map) {
        st->dropped++;
        c->counters.dropped_malformed++;
        PM_DEBUG(c, "pcp: dropped a short %s reply", pm_pcp_result_name(rsp->result));
        return;
    }
    m = find_mapping(c, st->fam, rsp);
    if (!m) {
        st->dropped++;
        c->counters.dropped_unmatched++;
        PM_DEBUG(c, "pcp: dropped a MAP reply matching no request (port %u)", rsp->internal_port);
        return;
    }
    r.err = map_result_code(rsp->result, &r.protocol_gone);
    r.lifetime = rsp->lifetime;
    if (rsp->result != PM_PCP_SUCCESS)
        pm_result_detail(&r, "%s (result %u)", pm_pcp_result_name(rsp->result), rsp->result);
    if (pm_addr_is_set(&m->third) && !third_party_answer(c, m, rsp, &r))
        return;
    if (r.err == PORTMAP_ERR_NO_RESOURCES && m->op == PM_OP_DELETE && !m->lease_cut) {
        /* miniupnpd's answer to a delete of a mapping it does not hold
         * (RFC 6887 would say SUCCESS): gone already, not a full router */
        r.err = PORTMAP_ERR_NOT_FOUND;
        pm_result_detail(&r, "the router holds no such mapping (it answered NO_RESOURCES)");
    }
    if (r.err == PORTMAP_ERR_NOT_AUTHORIZED && m->op == PM_OP_DELETE && st->fam == PM_V6 &&
        !m->lease_cut) {
        /* miniupnpd 2.3.1 refuses to delete an IPv6 pinhole once it has
         * been renewed, though our nonce made it: the nearest thing is a
         * renewal for the shortest lease, which the router clamps to its
         * minimum and then lets run out */
        pm_pcp_request req;
        PM_WARN(c, "pcp: the router will not delete the IPv6 pinhole of port %u; cutting its "
                   "lease to the shortest it allows instead", m->internal_port);
        m->lease_cut = 1;
        m->op_lifetime = 1;
        build_map(c, m, &req);
        send_request(c, st, &req);
        return;
    }
    if (m->lease_cut && m->op == PM_OP_DELETE && r.err == PORTMAP_OK)
        PM_INFO(c, "pcp: the IPv6 pinhole of port %u closes in %u s", m->internal_port,
                rsp->lifetime);
    if (rsp->result == PM_PCP_ADDRESS_MISMATCH) {
        /* REFUSED alone sends people looking at the router's settings;
         * the cause is on our side of it (RFC 6887 8.1) */
        char local[PM_ADDR_TEXT];
        pm_addr_fmt(&m->local, local, sizeof(local));
        pm_result_detail(&r, "ADDRESS_MISMATCH: the request arrived from another source "
                             "address than the one inside it");
        PM_WARN(c, "pcp: the router refused port %u with ADDRESS_MISMATCH: the request for %s "
                   "reached it from another source address (a NAT or a proxy between this host "
                   "and the router?)", m->internal_port, local);
    }
    if (r.err == PORTMAP_OK && m->op == PM_OP_MAP) {
        /* the external address is of the family asked for; a pinhole's
         * port is the internal one, whatever the reply left unset */
        uint16_t ext_port = rsp->external_port || st->fam == PM_V4 ? rsp->external_port
                                                                   : m->internal_port;
        if (pm_pcp_addr_is_ipv4(rsp->external_addr) != (st->fam == PM_V4) || ext_port == 0 ||
            rsp->lifetime == 0) {
            st->dropped++;
            c->counters.dropped_malformed++;
            PM_WARN(c, "pcp: ignored an inconsistent success reply for port %u", m->internal_port);
            return;
        }
        r.ext = pm_addr_from_pcp(rsp->external_addr, 0);
        r.ext_port = ext_port;
    }
    /* RFC 6887 13.3: a server that applies a FILTER returns it */
    if (m->allow_prefix && r.err == PORTMAP_OK && rsp->n_filters == 0)
        PM_WARN(c, "pcp: the router did not confirm the FILTER for port %u: it may let anyone "
                   "connect", m->internal_port);
    /* Only now does the reply speak for the router: its source address
     * proves nothing on a LAN where anyone can forge the gateway's, the
     * nonce of our request does. */
    pm_pcp_check_epoch(c, st, rsp->epoch, now);
    pm_host_map_done(c, m, &r, now);
}

void pm_pcp_handle(portmap_client *c, int fam, const uint8_t *buf, size_t len, int64_t now)
{
    pcp_state *st = pm_pcp_state(c, fam);
    pm_net *net = &c->net[fam];
    pm_pcp_response rsp;
    pm_pcp_decode_status s = pm_pcp_decode_response(buf, len, &rsp);

    if (!st) /* never from read_socket(), which has the state */
        return;

    if (s == PM_PCP_DECODE_VERSION) {
        /* RFC 6887 9: a NAT-PMP server answers version 2 with version 0. */
        net->pcp_version = 0;
        pm_host_heard(c, fam, PORTMAP_METHOD_PCP, now);
        pcp_gone(c, st, now, rsp.version == 0 ? "the router speaks only NAT-PMP"
                                              : "the router speaks another PCP version");
        return;
    }
    if (s != PM_PCP_DECODE_OK) {
        st->dropped++;
        c->counters.dropped_malformed++;
        PM_DEBUG(c, "pcp: dropped a malformed reply (%zu bytes, status %d)", len, (int)s);
        return;
    }
    net->pcp_version = PM_PCP_VERSION;
    /* from the gateway (the socket is connected): it speaks PCP */
    pm_host_heard(c, fam, PORTMAP_METHOD_PCP, now);
    if (rsp.opcode == PM_PCP_OP_ANNOUNCE) {
        /* no nonce: its epoch could be anyone's (only MAP replies that
         * match our nonce speak for the router, see handle_map) */
        st->probing = 0;
        if (net->avail[PORTMAP_METHOD_PCP] != PM_AVAIL_YES)
            pm_host_answered(c, fam, PORTMAP_METHOD_PCP, now);
        return;
    }
    if (rsp.opcode == PM_PCP_OP_MAP) {
        handle_map(c, st, &rsp, now);
        return;
    }
    st->dropped++;
    c->counters.dropped_unmatched++;
}

static void read_socket(portmap_client *c, pcp_state *st, int64_t now)
{
    /* Bounded: a flood cannot keep the engine here forever. */
    for (int i = 0; i < 64 && st->fd >= 0; i++) {
        uint8_t buf[PM_PCP_MAX_MSG + 4];
        ssize_t n = recv(st->fd, buf, sizeof(buf), MSG_TRUNC);
        if (n < 0) {
            int gone = errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH;
            if (errno == ECONNREFUSED)
                pcp_gone(c, st, now, PM_WHY_REFUSED_5351);
            else if (gone)
                pcp_gone(c, st, now, PM_WHY_UNREACHABLE);
            else if (errno != EAGAIN && errno != EINTR)
                PM_DEBUG(c, "pcp: recv: %s", strerror(errno));
            if (!gone)
                return;
            continue;
        }
        if ((size_t)n > PM_PCP_MAX_MSG) {
            st->dropped++;
            c->counters.dropped_malformed++;
            PM_DEBUG(c, "pcp: dropped an oversized reply (%zd bytes)", n);
            continue;
        }
        pm_pcp_handle(c, st->fam, buf, (size_t)n, now);
        /* A waiting caller reads its reply and goes: a recv that finds
         * nothing more is a syscall on its way back; what else came is
         * still there for its next poll, or the engine's. */
        if (c->reader_dispatching)
            return;
    }
}

static void run_timers(portmap_client *c, pcp_state *st, int64_t now)
{
    if (st->probing && c->net[st->fam].avail[PORTMAP_METHOD_PCP] == PM_AVAIL_PROBING &&
        now >= st->probe_retx.next_ms) {
        pm_pcp_request req = { .opcode = PM_PCP_OP_ANNOUNCE };
        pm_addr_to_pcp(&c->net[st->fam].local, req.client_addr);
        pm_retx_advance(&st->probe_retx, now, pm_rand_unit, &c->rng);
        c->counters.retransmissions++;
        send_request(c, st, &req);
    }
}

/* The exchanges whose resend is due, and those only. */
static void resend_due(portmap_client *c, int64_t now)
{
    portmap_mapping *m;

    while ((m = pm_pcp_xchg_next(c, now))) {
        pcp_state *st = pm_pcp_state_if_any(c, m->fam);
        pm_pcp_request req;
        if (!st || !pcp_op_active(m))
            continue;
        if (!pm_retx_advance(&m->retx, now, pm_rand_unit, &c->rng))
            continue; /* exhausted: the mapping's deadline ends it */
        pm_pcp_xchg_rearm(c, m);
        build_map(c, m, &req);
        c->counters.retransmissions++;
        if (send_request(c, st, &req) == 0)
            m->op_sent = 1;
    }
}



static void dispatch_one(portmap_client *c, pcp_state *st, struct pollfd *fds, size_t n,
                         int64_t now)
{
    if (st->refused) {
        st->refused = 0;
        pcp_gone(c, st, now, PM_WHY_REFUSED_5351);
    }
    pm_dispatch d = { fds, n, now };

    if (pm_revents(&d, st->fd))
        read_socket(c, st, now);
    if (pm_revents(&d, st->ann_fd))
        pm_pcp_read_announcements(c, st, now);
    run_timers(c, st, now);
}

static void pcp_dispatch(portmap_client *c, struct pollfd *fds, size_t n, int64_t now)
{
    for (int fam = 0; fam < PM_FAMS && pm_backend_state_if_any(c, PORTMAP_METHOD_PCP); fam++)
        dispatch_one(c, pm_pcp_state_if_any(c, fam), fds, n, now);
    resend_due(c, now);
}

static void pcp_reset(portmap_client *c, int fam)
{
    pcp_state *st = pm_pcp_state_if_any(c, fam);

    if (!st)
        return;
    pm_pcp_close_fam(st);
    for (int f = 0; f < PM_FAMS; f++)
        if (pm_pcp_state_if_any(c, f)->fd >= 0 || pm_pcp_state_if_any(c, f)->ann_fd >= 0 ||
            pm_pcp_state_if_any(c, f)->probing)
            return;
    pm_backend_state_drop(c, PORTMAP_METHOD_PCP); /* neither family in use */
}

static int64_t pcp_refresh_delay_ms(uint32_t lifetime, double unit_rand)
{
    int64_t life_ms = (int64_t)lifetime * 1000;
    /* RFC 6887 11.2.1: between 1/2 and 5/8 of the lease */
    return life_ms / 2 + (int64_t)((double)(life_ms / 8) * unit_rand);
}

const pm_backend pm_backend_pcp = {
    .method = PORTMAP_METHOD_PCP,
    .name = "pcp",
    .label = "PCP",
    .families = 1u << PM_V4 | 1u << PM_V6,
    .allow = PM_ALLOW_PREFIX,
    .third_party = 1u << PM_V4 | 1u << PM_V6, /* THIRD_PARTY */
    .port = PM_PCP_SERVER_PORT,
    .check_by_renewal = 1,
    .map_tells_external = 1,
    .refresh_delay_ms = pcp_refresh_delay_ms,
    .state_new = pm_pcp_state_new,
    .state_free = pm_pcp_state_free,
    .start = pcp_start,
    .start_sends = 1,
    .stop = pcp_stop,
    .probe = pcp_probe,
    .listen = pm_pcp_listen,
    .add_pollfds = pcp_add_pollfds,
    .count_pollfds = pcp_count,
    .dispatch = pcp_dispatch,
    .reply_fd = pcp_reply_fd,
    .reset = pcp_reset,
    .abandon = pcp_abandon,
};
