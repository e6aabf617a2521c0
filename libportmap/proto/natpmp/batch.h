/*
 * NAT-PMP's mapping exchanges on shared sockets (batch.c). libnatpmp
 * keeps one request per socket, and a socket per exchange costs a
 * renewal a socket, a connect and a close (and the router a new flow):
 * most of what holding mappings costs. Exchanges started together share
 * a socket instead, up to PM_PMP_BATCH of them: a fresh ephemeral port
 * connected to the gateway, closed when its last exchange ends, so a
 * spoofer still has to guess a port that lives only as long as its
 * batch. A reply is matched by its opcode and internal port among the
 * exchanges of the socket it came on. libnatpmp builds and sends each
 * request on the socket's natpmp_t; its resend state is per natpmp_t, so
 * resends are timed here, at libnatpmp's pace (250 ms, doubling, nine
 * sends, then over again). Replies are read and checked with
 * pm_natpmp_decode(), as everywhere in this backend.
 */
#ifndef PM_PROTO_NATPMP_BATCH_H
#define PM_PROTO_NATPMP_BATCH_H

#include "proto/backend.h"
#include "proto/natpmp/natpmp_wire.h"

#define PM_PMP_BATCH 64

typedef struct pmp_sock pmp_sock;

/* A mapping's exchange (m->op_data). */
typedef struct pmp_map {
    pmp_sock *sock;          /* NULL: not under way */
    unsigned slot;           /* its place among the socket's exchanges */
    uint8_t opcode;          /* 1 udp, 2 tcp (libnatpmp's NATPMP_PROTOCOL_*) */
    uint16_t internal_port;
    uint16_t external_port;  /* asked for; 0 in a delete */
    uint32_t lifetime;
    int tries;               /* sends of this request */
    int64_t retry_at;
} pmp_map;

/* What the backend is told of an exchange's socket: a reply matched to
 * m; the router refused the socket's datagrams (rx: 1 ICMP port
 * unreachable, 2 host or network unreachable). Defined in natpmp.c. */
void pm_pmp_on_reply(portmap_client *c, portmap_mapping *m, const pm_natpmp_reply *rep,
                     int64_t now);
void pm_pmp_on_refused(portmap_client *c, portmap_mapping *m, int rx, int64_t now);
/* A datagram on a socket that matched no exchange of it. */
void pm_pmp_on_unmatched(portmap_client *c, ssize_t len);

/* Send m's request (m->op, m->op_lifetime) on the socket being filled
 * (*current, made when there is none or it is full); -1 when no socket
 * could be had or the send failed (resent at the next try all the same
 * once it has a socket). */
int pm_pmp_map_start(portmap_client *c, pmp_sock **current, portmap_mapping *m, int64_t now);
/* m's exchange ends: it leaves its socket, closed when it was the last. */
void pm_pmp_map_stop(portmap_client *c, portmap_mapping *m);
/* The state holding *current goes: the socket stays with its exchanges. */
void pm_pmp_forget_current(pmp_sock **current);
/* Each socket of the exchanges under way once in fds; *deadline lowered
 * to the next resend. */
size_t pm_pmp_map_pollfds(portmap_client *c, struct pollfd *fds, size_t max, int64_t *deadline);
/* m's part of the dispatch: its socket read (once a round, for every
 * exchange on it), its resend when due. */
void pm_pmp_map_step(portmap_client *c, portmap_mapping *m, const pm_dispatch *d);

#endif
