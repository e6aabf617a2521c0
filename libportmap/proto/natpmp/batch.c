/*
 * NAT-PMP's mapping exchanges on shared sockets: see batch.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <natpmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/natpmp/batch.h"

#define PMP_PORT 5351
#define PMP_TRIES 9          /* libnatpmp's: 250 ms doubling, about 64 s */
#define PMP_FIRST_RT_MS 250

struct pmp_sock {
    natpmp_t nat;            /* its socket (nat.s) and gateway: libnatpmp sends on it */
    unsigned n;              /* exchanges on it */
    portmap_mapping *member[PM_PMP_BATCH];
    struct pollfd *pfd;      /* its entry in this round's poll set */
    int held;                /* read under way: not freed until it is over */
    pmp_sock **current;      /* the state's pointer to it while being filled */
};

static pmp_sock *sock_new(portmap_client *c)
{
    struct sockaddr_in gw = { .sin_family = AF_INET, .sin_port = htons(PMP_PORT),
                              .sin_addr.s_addr = pm_gw4(c) };
    pmp_sock *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    /* initnatpmp()'s socket, made non-blocking and close-on-exec at once */
    s->nat.gateway = gw.sin_addr.s_addr;
    s->nat.s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->nat.s < 0 || connect(s->nat.s, (struct sockaddr *)&gw, sizeof(gw)) < 0) {
        if (s->nat.s >= 0)
            close(s->nat.s);
        free(s);
        return NULL;
    }
    return s;
}

static void sock_free_if_unused(pmp_sock *s)
{
    if (s->n || s->held)
        return;
    if (s->current && *s->current == s)
        *s->current = NULL;
    closenatpmp(&s->nat);
    free(s);
}

void pm_pmp_forget_current(pmp_sock **current)
{
    pmp_sock *s = *current;

    if (!s)
        return;
    *current = NULL;
    s->current = NULL;
    sock_free_if_unused(s);
}

/* A socket with room for one more exchange: the one being filled, or a
 * new one. */
static pmp_sock *sock_with_room(portmap_client *c, pmp_sock **current)
{
    pmp_sock *s = *current;

    if (s && s->n < PM_PMP_BATCH)
        return s;
    if (s)
        s->current = NULL; /* full: it lives on with its exchanges */
    *current = NULL;
    if (!(s = sock_new(c)))
        return NULL;
    s->current = current;
    *current = s;
    return s;
}

static int send_req(portmap_client *c, pmp_map *x, int64_t now)
{
    int64_t rt = (int64_t)PMP_FIRST_RT_MS << x->tries;

    x->tries++;
    x->retry_at = now + rt;
    c->counters.requests_sent++;
    /* libnatpmp builds and sends it; its one pending request per natpmp_t
     * is of no use here (the socket's exchanges are ours to time and
     * match), so each send is a new request of the socket's natpmp_t */
    return sendnewportmappingrequest(&x->sock->nat, x->opcode, x->internal_port, x->external_port,
                                     x->lifetime) < 0 ? -1 : 0;
}

int pm_pmp_map_start(portmap_client *c, pmp_sock **current, portmap_mapping *m, int64_t now)
{
    pmp_map *x = m->op_data;
    uint16_t ext = m->ext_port ? m->ext_port : m->want_ext_port;
    pmp_sock *s;

    if (!x) {
        if (!(x = calloc(1, sizeof(*x))))
            return -1;
        m->op_data = x;
    }
    pm_pmp_map_stop(c, m); /* a new request: on the socket being filled */
    if (!(s = sock_with_room(c, current)))
        return -1;
    for (x->slot = 0; s->member[x->slot]; x->slot++)
        ;
    s->member[x->slot] = m;
    s->n++;
    x->sock = s;
    x->opcode = m->proto == PORTMAP_UDP ? 1 : 2;
    x->internal_port = m->internal_port;
    /* RFC 6886 3.4: a delete names the internal port, external port 0 */
    if (m->op == PM_OP_DELETE)
        ext = 0;
    x->external_port = ext;
    x->lifetime = m->op_lifetime;
    x->tries = 0;
    if (send_req(c, x, now) != 0)
        return -1;
    m->op_sent = 1;
    return 0;
}

void pm_pmp_map_stop(portmap_client *c, portmap_mapping *m)
{
    pmp_map *x = m->op_data;
    pmp_sock *s = x ? x->sock : NULL;

    (void)c;
    if (!s)
        return;
    s->member[x->slot] = NULL;
    s->n--;
    x->sock = NULL;
    sock_free_if_unused(s);
}

size_t pm_pmp_map_pollfds(portmap_client *c, struct pollfd *fds, size_t max, int64_t *deadline)
{
    size_t n = 0;

    for (portmap_mapping *m = pm_ops_first(c, PORTMAP_METHOD_NATPMP); m; m = m->op_next) {
        pmp_map *x = m->op_data;
        if (x && x->sock)
            x->sock->pfd = NULL;
    }
    for (portmap_mapping *m = pm_ops_first(c, PORTMAP_METHOD_NATPMP); m; m = m->op_next) {
        pmp_map *x = m->op_data;
        if (!x || !x->sock)
            continue;
        *deadline = PM_MIN(*deadline, x->retry_at);
        if (x->sock->pfd || n >= max)
            continue;
        fds[n] = (struct pollfd){ .fd = x->sock->nat.s, .events = POLLIN };
        x->sock->pfd = &fds[n++];
    }
    return n;
}

/* The exchange of s that rep answers, NULL when none: the one of its
 * opcode and internal port; for an error reply that names another port,
 * the one exchange of its opcode if there is only one (as when each
 * exchange had its socket). */
static portmap_mapping *match(const pmp_sock *s, const pm_natpmp_reply *rep)
{
    portmap_mapping *only = NULL;
    unsigned same_op = 0;

    for (unsigned i = 0; i < PM_PMP_BATCH; i++) {
        portmap_mapping *m = s->member[i];
        const pmp_map *x = m ? m->op_data : NULL;
        if (!x || x->opcode != rep->opcode)
            continue;
        if (x->internal_port == rep->internal_port)
            return m;
        only = m;
        same_op++;
    }
    return rep->result != 0 && same_op == 1 ? only : NULL;
}

/* The router refused what went out on s: each exchange on it is told. */
static void refused(portmap_client *c, pmp_sock *s, int rx, int64_t now)
{
    portmap_mapping *members[PM_PMP_BATCH];
    unsigned n = 0;

    /* a copy: each one told may end its exchange (mappings are freed
     * only in the engine's pass, not while a backend dispatches) */
    for (unsigned i = 0; i < PM_PMP_BATCH; i++)
        if (s->member[i])
            members[n++] = s->member[i];
    for (unsigned i = 0; i < n; i++) {
        const pmp_map *x = members[i]->op_data;
        if (x && x->sock == s)
            pm_pmp_on_refused(c, members[i], rx, now);
    }
}

/* Every datagram waiting on s (bounded: a flood cannot keep the engine
 * here), each to the exchange it answers. */
static void drain(portmap_client *c, pmp_sock *s, int64_t now)
{
    s->held = 1;
    for (int i = 0; i < 64 && s->n; i++) {
        uint8_t buf[1104];
        pm_natpmp_reply rep;
        portmap_mapping *m;
        ssize_t n = recv(s->nat.s, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT);
        if (n < 0 && (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)) {
            refused(c, s, errno == ECONNREFUSED ? 1 : 2, now);
            continue;
        }
        if (n < 0)
            break;
        if ((size_t)n > sizeof(buf) || pm_natpmp_decode(buf, (size_t)n, &rep) != PM_NATPMP_OK ||
            !(m = match(s, &rep))) {
            pm_pmp_on_unmatched(c, n);
            continue;
        }
        pm_pmp_on_reply(c, m, &rep, now);
    }
    s->held = 0;
    sock_free_if_unused(s);
}

void pm_pmp_map_step(portmap_client *c, portmap_mapping *m, const pm_dispatch *d)
{
    pmp_map *x = m->op_data;
    pmp_sock *s = x ? x->sock : NULL;

    if (!s)
        return;
    /* read once a round for all on it: the entry is spent once read */
    if (s->pfd && s->pfd >= d->fds && s->pfd < d->fds + d->n && s->pfd->fd == s->nat.s &&
        s->pfd->revents) {
        s->pfd->revents = 0;
        drain(c, s, d->now); /* may end m's exchange, and free s */
    }
    x = m->op_data;
    if (!x || !x->sock || d->now < x->retry_at)
        return; /* answered, or not yet time */
    if (x->tries >= PMP_TRIES)
        x->tries = 0; /* libnatpmp's nine are spent: over again, while m's deadline allows */
    else
        c->counters.retransmissions++;
    send_req(c, x, d->now);
}
