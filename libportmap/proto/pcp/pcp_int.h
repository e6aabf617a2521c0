/*
 * The PCP backend's own declarations, shared by its files:
 *   pcp.c    requests, replies, the vtable
 *   state.c  its state per router, the server's epoch, announcements
 */
#ifndef PM_PROTO_PCP_INT_H
#define PM_PROTO_PCP_INT_H

#include "proto/backend.h"
#include "proto/pcp/pcp.h"
#include "proto/pcp/pcp_wire.h"
#include "sys/epoch.h"

#define PM_PCP_SERVER_PORT 5351

typedef struct pcp_state {
    int fam;
    int fd;
    pm_addr gw, local;        /* what fd is bound and connected to */
    int probing;
    pm_retx probe_retx;
    unsigned long dropped;   /* replies that matched nothing or were malformed */
    int refused;             /* send() reported the gateway's ICMP unreachable */
    pm_epoch epoch;          /* the server's, from replies that matched ours */
    int ann_fd;              /* the router's announcements on its link, or -1 */
} pcp_state;

/* The mappings with a PCP exchange under way, by nonce: an open-addressed
 * table (linear probing), at most half full. */
typedef struct pcp_index {
    portmap_mapping **slot;
    size_t cap, n;
} pcp_index;

/* One server per family: the IPv4 and IPv6 routers are asked apart. The
 * exchanges under way, of both: found by nonce when a reply comes, and
 * their resends in a timer heap (m->op_timer). */
typedef struct pcp_states {
    pcp_state fam[PM_FAMS];
    pcp_index index;
    pm_heap resends;
} pcp_states;

void *pm_pcp_state_new(void);
void pm_pcp_state_free(void *p);
/* Close fam's sockets and forget its router (the epoch with it). */
void pm_pcp_close_fam(pcp_state *st);
/* fam's state, made on first use (NULL: out of memory), or only if any */
pcp_state *pm_pcp_state(portmap_client *c, int fam);
pcp_state *pm_pcp_state_if_any(portmap_client *c, int fam);
/* The epoch of a reply that matched a request of ours. */
void pm_pcp_check_epoch(portmap_client *c, pcp_state *st, uint32_t epoch, int64_t now);
void pm_pcp_listen(portmap_client *c, int fam);
/* The announcement socket of st is readable. */
void pm_pcp_read_announcements(portmap_client *c, pcp_state *st, int64_t now);

/* exchanges.c: the exchanges under way, indexed and timed. */
/* m's exchange starts: indexed by its nonce, its first resend armed
 * (m->retx); -1 when out of memory (nothing added). */
int pm_pcp_xchg_add(portmap_client *c, portmap_mapping *m);
void pm_pcp_xchg_remove(portmap_client *c, portmap_mapping *m);
/* The exchange of fam whose nonce, protocol and port the reply names;
 * NULL when none. */
portmap_mapping *pm_pcp_xchg_find(portmap_client *c, int fam, const uint8_t *nonce,
                                  uint8_t protocol, uint16_t internal_port);
/* The exchange whose resend is due soonest, when it is due (PM_NEVER
 * when none); take it out with pm_pcp_xchg_next. */
int64_t pm_pcp_xchg_due(portmap_client *c);
portmap_mapping *pm_pcp_xchg_next(portmap_client *c, int64_t now);
/* Re-arm m's resend at m->retx.next_ms. */
void pm_pcp_xchg_rearm(portmap_client *c, portmap_mapping *m);
/* Free what the states hold for the exchanges. */
void pm_pcp_xchg_free(pcp_states *all);

#endif
