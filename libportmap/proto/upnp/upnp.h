/*
 * The UPnP-IGD backend's own declarations, shared by its files:
 *   upnp.c      the backend's state, vtable and poll plumbing
 *   ssdp.c      finding the IGD (M-SEARCH, answers, ICMP verdicts, NOTIFY)
 *   describe.c  its description, the service to use, the external address
 *   map.c       IPv4 port mappings (WANIPConnection)
 *   pinhole.c   IPv6 pinholes (WANIPv6FirewallControl)
 *   table.c     the router's whole table, read on the caller's thread
 * Nothing outside proto/upnp/ includes this header: core/ knows the
 * backend through pm_backend_upnp alone.
 */
#ifndef PM_PROTO_UPNP_H
#define PM_PROTO_UPNP_H

#include "proto/backend.h"
#include "proto/upnp/http.h"
#include "proto/upnp/upnp_reply.h"
#include "proto/upnp/upnp_wire.h"

#define SSDP_PORT 1900
#define SSDP_MAX_ANSWERS 64            /* per search */
#define HTTP_MAX_MS 5000               /* any one HTTP exchange */
#define MAX_CONFLICT_TRIES 8
/* HTTP exchanges with one router at a time, per client and family: a
 * router's HTTP server is small (miniupnpd takes a few connections in its
 * listen queue and drops the SYNs beyond, each costing a 1 s
 * retransmission), so many deletes at once queue here instead */
#define UPNP_MAX_CONNS 4
/* descriptions told by one probe's answers, each read once at most */
#define UPNP_CANDIDATES 4
/* Answers whose LOCATION is not on the gateway end a probe only this long
 * after it began: one forged datagram could say as much, so the router
 * has four searches (0, 0.25, 0.75, 1.75 s) and the answer time of the
 * last (MX 1 s) to give a usable answer first */
#define UPNP_REFUSED_GRACE_MS 3000
/* WANIPv6FirewallControl:1 takes leases of 1 to 86400 s */
#define PINHOLE_MAX_LEASE 86400

/* A description an SSDP answer told of */
typedef struct upnp_cand {
    enum { CAND_FREE, CAND_PENDING, CAND_READING, CAND_UNUSABLE, CAND_ELSEWHERE } state;
    char location[256];
    long bootid;
    int root;                  /* it answered a search for root devices */
} upnp_cand;

typedef struct upnp_state {
    int fam;                   /* PM_V4: WANIPConnection; PM_V6: WANIPv6FirewallControl */
    int ssdp_fd;
    int searching;
    pm_retx ssdp_retx;
    int answers;
    pm_http desc;
    pm_addr desc_host;         /* where the description came from */
    char location[256];
    int have_igd;
    pm_addr ctl_addr;
    uint16_t ctl_port;
    char ctl_path[256];
    char service[sizeof(((pm_igd_desc *)0)->service)];
    int igd_version;
    char service_name[48];
    pm_http extip;             /* IPv4: GetExternalIPAddress; IPv6: GetFirewallStatus */
    unsigned long dropped;
    long bootid;               /* BOOTID.UPNP.ORG of the answer we use, -1 none */
    int notify_fd;             /* IPv4: SSDP NOTIFY on 239.255.255.250:1900, or -1 */
    int checking;              /* a check's search is out (pm_upnp_check) */
    /* this probe's answers: the descriptions they told of, how many were
     * refused (LOCATION not on the gateway), why the last unusable one
     * was; every one unusable ends the probe at once */
    upnp_cand cand[UPNP_CANDIDATES];
    int refused;
    int64_t refused_until;     /* refused answers alone end the probe then; PM_NEVER none */
    char why[192];
    unsigned rounds;           /* searches sent this probe */
    int by_root;               /* the IGD answered a search for root devices */
} upnp_state;

/* The IPv4 IGD and the IPv6 one are found apart: over SSDP on
 * 239.255.255.250 and on ff02::c. */
typedef struct upnp_states {
    upnp_state fam[PM_FAMS];
} upnp_states;

enum xstep {
    X_WAIT_IGD, X_ADD, X_ADD_ANY, X_CHECK, X_DELETE, X_OWNER,
    X_CONFLICT, /* whose is the port an AddPortMapping got 501 for? */
    /* IPv6 pinholes (WANIPv6FirewallControl:1) */
    X_PH_ADD, X_PH_UPDATE, X_PH_DELETE, X_PH_FIND,
};

/* One mapping's exchange (m->op_data). */
typedef struct upnp_xchg {
    pm_http h;
    enum xstep step;
    uint16_t try_port;
    uint32_t lease;
    unsigned conflicts;
    int conflict_code;         /* the add's error X_CONFLICT asks about (501, 718) */
    int tried_lease0, tried_same_port;
    char fault[80];            /* the router's words for the last add's fault */
    int64_t retry_at;          /* after a failed exchange; PM_NEVER none */
    int queued;                /* ready to send, waiting for a connection of the pool */
} upnp_xchg;

extern const pm_backend pm_backend_upnp;

/* miniupnpd's secure mode (secure_mode=yes) maps ports only to the host
 * asking (error 606 or 718): the words for a request naming another */
#define UPNP_SECURE_MODE "the router allows mappings only for the asking host (secure mode)"
/* WANIPv6FirewallControl without a security policy (miniupnpd whatever
 * its secure_mode) opens pinholes only for the asking host */
#define UPNP_PINHOLE_OWN                                                                          \
    "the router opens pinholes only for the asking host (secure mode, or no security policy "    \
    "for other hosts, as in miniupnpd)"


/* m has a UPnP exchange under way (m->op_data is its upnp_xchg). */
static inline int pm_upnp_op_active(const portmap_mapping *m)
{
    return m->op != PM_OP_NONE && m->op_method == PORTMAP_METHOD_UPNP && m->op_data;
}

/* upnp.c */
upnp_state *pm_upnp_state(portmap_client *c, int fam);
upnp_state *pm_upnp_state_if_any(portmap_client *c, int fam);
int pm_upnp_soap_start(portmap_client *c, upnp_state *st, pm_http *h, const char *action,
                       const pm_soap_arg *args, size_t n, int64_t now, int64_t deadline);
int pm_upnp_soap_result(pm_http *h, const char *want, char *out, size_t out_len);

/* ssdp.c */
int pm_upnp_probe(portmap_client *c, int fam, int64_t now);
void pm_upnp_ssdp_send(portmap_client *c, upnp_state *st);
void pm_upnp_read_ssdp(portmap_client *c, upnp_state *st, int64_t now);
void pm_upnp_listen(portmap_client *c, int fam);
void pm_upnp_check(portmap_client *c, int fam, int64_t now);
/* The SSDP NOTIFY socket is readable. */
void pm_upnp_read_notify(portmap_client *c, upnp_state *st, int64_t now);
/* Whether addr is fam's gateway (IPv6: or one of its global addresses). */
int pm_upnp_on_gateway(portmap_client *c, int fam, const pm_addr *addr);
/* UPnP is not to be had at st's router, and why. */
void pm_upnp_unavailable(portmap_client *c, upnp_state *st, int64_t now, const char *why);
/* What is wrong with the description being read */
enum desc_verdict {
    DESC_RETRY,     /* not read this time: a later answer may tell it again */
    DESC_UNUSABLE,  /* the router's own, and of no use: ends the probe when the last */
    DESC_ELSEWHERE, /* not the router's (IPv6): as an answer pointing elsewhere */
};
/* The description being read failed (why); the next one told is read,
 * or, when every answer was unusable, UPnP is not to be had. */
void pm_upnp_desc_failed(portmap_client *c, upnp_state *st, enum desc_verdict v, const char *why,
                         int64_t now);
/* Read the next description told, if none is being read; 0 when one is
 * being read or the IGD is known. */
int pm_upnp_next_description(portmap_client *c, upnp_state *st, int64_t now);
/* The probe's answers were all refused and their grace is over by now:
 * UPnP is not to be had at st's router (see UPNP_REFUSED_GRACE_MS). */
void pm_upnp_refused_expired(portmap_client *c, upnp_state *st, int64_t now);

/* describe.c */
/* Ask the IGD for the external address (GetExternalIPAddress). */
void pm_upnp_start_extip(portmap_client *c, upnp_state *st, int64_t now);
void pm_upnp_finish_description(portmap_client *c, upnp_state *st, int64_t now);
void pm_upnp_finish_extip(portmap_client *c, upnp_state *st, int64_t now);

/* map.c */
int pm_upnp_start(portmap_client *c, portmap_mapping *m, int64_t now);
void pm_upnp_stop(portmap_client *c, portmap_mapping *m);
int pm_upnp_send_step(portmap_client *c, portmap_mapping *m, int64_t now);
void pm_upnp_done(portmap_client *c, portmap_mapping *m, portmap_error err, const char *detail,
                  int64_t now);
/* The IGD of fam was found: the requests that waited for it go out. */
void pm_upnp_start_waiting(portmap_client *c, int fam, int64_t now);
void pm_upnp_step_mapping(portmap_client *c, portmap_mapping *m, short revents, int64_t now);
/* The exchanges that queued for a connection of fam's pool go out, as
 * many as there are free connections, in the order of the client's list. */
void pm_upnp_start_queued(portmap_client *c, int fam, int64_t now);
/* Some exchange of fam waits in the queue while a connection is free (an
 * exchange was stopped, not finished): the engine must not sleep. */
int pm_upnp_queue_ready(portmap_client *c, int fam);

/* pinhole.c */
void pm_upnp_first_pinhole_step(portmap_mapping *m, upnp_xchg *x);
/* The arguments of a pinhole action into a; returns the action. */
const char *pm_upnp_pinhole_args(const portmap_mapping *m, const upnp_xchg *x, pm_soap_arg *a,
                                 size_t *n, char *client, size_t client_len, char *in,
                                 char *lease, char *uid);
void pm_upnp_pinhole_reply(portmap_client *c, portmap_mapping *m, int code, const char *value,
                           int64_t now);

/* table.c */
int pm_upnp_table_open(portmap_client *c, void **ctx);
int pm_upnp_table_list(void *ctx, uint32_t local, int64_t deadline, portmap_router_entry **out,
                       size_t *count);
void pm_upnp_table_close(void *ctx);

#endif
