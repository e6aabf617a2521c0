/*
 * Internal definitions shared by the library's modules. Nothing here is
 * exported; the `pm_` prefix marks internal symbols, `portmap_` public ones.
 */
#ifndef PM_INTERNAL_H
#define PM_INTERNAL_H

#include <poll.h>
#include <pthread.h>
#include <stdint.h>

#include "portmap/portmap.h"

#include "addr.h"
#include "epoch.h"
#include "natpmp_wire.h"
#include "pcp_wire.h"
#include "retx.h"

#define PM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PM_MAX(a, b) ((a) > (b) ? (a) : (b))
#define PM_NEVER INT64_MAX
/* Room for a reason given to the caller, in words. */
#define PM_REASON_LEN 384
/* The backends' reasons for the network's own answers. Each refusal
 * starts with PM_WHY_REFUSED: the engine reads it as "the router's host
 * is up and that port is closed" (pm_engine_probe_done). */
#define PM_WHY_REFUSED "refused"
#define PM_WHY_REFUSED_5351 PM_WHY_REFUSED " (nothing listens on port 5351)"
#define PM_WHY_REFUSED_SSDP PM_WHY_REFUSED " (nothing listens on port 1900 for SSDP)"
#define PM_WHY_UNREACHABLE "the router is unreachable (no answer to ARP or neighbour discovery)"

/* What a client knows about one protocol at the current gateway. */
typedef enum pm_avail {
    PM_AVAIL_UNKNOWN = 0,
    PM_AVAIL_PROBING,
    PM_AVAIL_YES,
    PM_AVAIL_NO,
} pm_avail;

/* What a mapping's exchange with the router is doing. */
typedef enum pm_op {
    PM_OP_NONE = 0,
    PM_OP_MAP,      /* create or renew */
    PM_OP_DELETE,   /* lifetime 0 */
} pm_op;

/* Outcome of one exchange, reported by a backend. */
typedef struct pm_result {
    portmap_error err;
    pm_addr ext;              /* unset when the reply did not say */
    uint16_t ext_port;
    uint32_t lifetime;        /* granted, or for errors the retry hint (s) */
    int protocol_gone;        /* the gateway does not speak this protocol */
    int permanent;            /* granted without a lease; we own its deletion */
    /* What the router said, in words, for the log and the caller's
     * reason (portmap_mapping_get_reason); "" when nothing to add. Held
     * in the result, not pointed to: two clients fail at once. */
    char detail[PM_REASON_LEN];
} pm_result;

/* Set r->detail from a format. */
void pm_result_detail(pm_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct portmap_mapping {
    portmap_client *c;
    struct portmap_mapping *next;
    int in_list;              /* linked in c->mappings (next is meaningful) */
    int refs;                 /* caller handle + engine list + waiters */
    int handle_dropped;       /* the caller released or the client closed */
    int internal;             /* made by the library itself (external-ip probe) */
    int fam;                  /* PM_V4: a NAT mapping; PM_V6: a firewall pinhole */
    /* A request for both families is two mappings: the caller's handle is
     * the first (IPv4), which holds the IPv6 one as its twin. The twin's
     * events go to the handle's callback with info.family telling which. */
    portmap_mapping *twin;
    portmap_mapping *handle;  /* the twin's handle, NULL on the handle itself */

    /* the request */
    portmap_transport proto;
    uint16_t internal_port;
    uint16_t want_ext_port;
    uint32_t want_lifetime;
    portmap_method forced;    /* AUTO: pick from discovery */
    char desc[64];
    uint32_t allow_addr;      /* network order; with allow_prefix 0: anyone */
    uint8_t allow_prefix;     /* 0-32 */
    int cannot_allow;         /* a protocol was passed over for allow */
    int64_t first_deadline;   /* the first success must come before this */
    int64_t created_at;       /* verdicts older than this are asked again once */
    int reprobed;             /* it asked them again already */
    portmap_mapping_callback cb;
    void *user;

    /* state */
    portmap_state state;
    portmap_method method;
    pm_addr local;            /* at the time of mapping */
    pm_v6_kind local_kind;    /* IPv6: what kind of address local is */
    pm_addr ext;
    uint16_t pinhole_id;      /* UPnP IPv6: the router's UniqueID of our pinhole */
    int has_pinhole;
    uint16_t ext_port;
    uint32_t lifetime;
    int64_t expires_at;       /* monotonic ms; PM_NEVER when not mapped */
    int64_t refresh_at;       /* next renewal; PM_NEVER when none */
    int64_t retry_at;         /* next attempt after a failure; PM_NEVER none */
    int64_t backoff_ms;
    int lost_reported;
    int no_route;             /* failed for want of a route of its family */
    portmap_error last_error;
    char reason[PM_REASON_LEN]; /* last_error in words, "" when none */
    uint32_t renewals;
    int ever_mapped;
    int journaled;

    /* A success that came before the client knew its external address:
     * kept until the address is known, at most PM_HOLD_FOR_ADDR_MS, so
     * nobody is told "mapped" without the address to give to peers. */
    int held;
    int64_t held_until;
    pm_result held_result;

    /* the exchange under way */
    pm_op op;
    portmap_method op_method;
    int op_sent;              /* a request of this exchange left: the router may act on it */
    int64_t op_deadline;
    int64_t op_started;
    uint32_t op_lifetime;
    pm_retx retx;
    uint8_t nonce[PM_PCP_NONCE_LEN];
    void *op_data;            /* backend-owned per-exchange data */
    int permanent;            /* the router only took lease 0 (UPnP 725/402) */
    int verify_owner;         /* delete only if the router says it is ours */
    int remap_after_reset;    /* lost in a router reset: counted when made again */
    int rediscover;           /* lost to a change of network: choose the protocol again */
    long orphan_of;           /* a dead process's mapping being released: its pid */
    int release_done;         /* the delete finished (ok or not) */
    int lease_cut;            /* PCP IPv6: a refused delete became a shortest-lease renewal */
    portmap_error release_err;
};

typedef struct pm_event {
    portmap_mapping *m;       /* holds a reference */
    portmap_event ev;
    portmap_mapping_info info;
} pm_event;

typedef struct pm_backend pm_backend;

/* One address family's network: its router and our address, and what
 * that router speaks. IPv4 and IPv6 routers are found and probed each on
 * their own, at the same time; they are often one box, but need not be. */
typedef struct pm_net {
    int fam;                  /* PM_V4 or PM_V6 */
    int route_ok;
    pm_addr gateway;          /* IPv6: usually link-local, with its zone */
    pm_addr local;
    pm_v6_kind local_kind;    /* IPv6: the kind of address picked for local */
    char ifname[16];
    pm_avail avail[PORTMAP_METHOD_COUNT];
    int64_t probe_started[PORTMAP_METHOD_COUNT];
    int64_t probe_rtt[PORTMAP_METHOD_COUNT];   /* how long its answer took */
    /* when the router first said anything in this protocol since the
     * probe started (a reply of any kind, an SSDP answer): 0 never. A
     * protocol the router has said nothing in, while another answered,
     * is not waited for (see pm_engine_silent_grace) */
    int64_t heard_at[PORTMAP_METHOD_COUNT];
    int64_t verdict_at[PORTMAP_METHOD_COUNT];  /* when avail became YES or NO */
    /* The router's host said a protocol's port is closed (ICMP port
     * unreachable): it is up, and its silence in another protocol is most
     * likely the same refusal held back by ICMP rate limiting. */
    portmap_method refused;
    char why[PORTMAP_METHOD_COUNT][PM_REASON_LEN]; /* why NO, in words */
    int64_t probe_deadline;
    pm_epoch epoch[PORTMAP_METHOD_COUNT];
    unsigned orphans_claimed; /* PORTMAP_HAVE(method): dead processes' entries taken */
    int pcp_version;
    int upnp_version;         /* IGD service version, 1 or 2; 0 unknown */
    char upnp_service[48];    /* e.g. "WANIPConnection:2", "WANIPv6FirewallControl:1" */
} pm_net;

struct portmap_client {
    pthread_mutex_t lock;
    pthread_cond_t cond;      /* any state change: waiters re-check */
    pthread_t thread;
    int thread_started;
    int wake_fd;              /* eventfd: wakes the engine's poll() */
    int nl_fd;                /* netlink route socket, -1 if none */
    int stopping;
    int closed;               /* engine has exited */
    int waiters;              /* threads blocked in a public call */

    portmap_settings s;
    char *gateway_override;
    char *state_dir;
    portmap_method order[PORTMAP_METHOD_COUNT];
    unsigned n_order;

    /* the network of each family as last seen, and what its router speaks */
    pm_net net[PM_FAMS];
    int route_dirty;          /* netlink said something changed */
    unsigned fams_used;       /* 1 << PM_V6: IPv6 was asked for; probed from then on */

    uint32_t ext_addr;        /* the IPv4 NAT's external address */
    int64_t ext_addr_at;      /* when ext_addr was learned; 0 never */
    int double_nat;           /* the external address is private or CGN */
    portmap_counters counters;
    int ann_fd;               /* 224.0.0.1:5350, or -1 */
    int notify_fd;            /* SSDP NOTIFY on 239.255.255.250:1900, or -1 */
    int ann6_fd;              /* [ff02::1%if]:5350 of the IPv6 router's link, or -1 */
    int ext_pending;          /* an external-address query is under way */
    /* PORTMAP_HAVE(method) of every exchange under way, as of the engine's
     * last pass over the mappings plus those started since: a backend
     * with none skips its own passes, so holding many mappings costs
     * nothing per round but the engine's one pass. */
    unsigned ops_mask;

    portmap_mapping *mappings;

    /* events queued under the lock, delivered without it */
    pm_event *events;
    size_t n_events, cap_events;

    /* backend private state */
    void *pcp;
    void *natpmp;
    void *upnp;

    /* the engine's poll set */
    struct pollfd *pfds;
    size_t cap_pfds;

    uint64_t rng_state[2];    /* for jitter only; nonces come from getrandom */
};

struct pm_backend {
    portmap_method method;
    const char *name;
    /* Send the first datagram of m's exchange (m->op, m->op_lifetime). */
    int (*start)(portmap_client *c, portmap_mapping *m, int64_t now);
    /* Forget m's exchange (done, timed out or cancelled). */
    void (*stop)(portmap_client *c, portmap_mapping *m);
    /* Probe fam's gateway for this protocol; -1 when it cannot even try
     * (no socket, or the protocol has no such family: NAT-PMP on IPv6). */
    int (*probe)(portmap_client *c, int fam, int64_t now);
    /* Append poll entries; lower *deadline to the next timer. */
    size_t (*add_pollfds)(portmap_client *c, struct pollfd *fds, size_t max, int64_t *deadline);
    /* Count of poll entries add_pollfds may add (for sizing). */
    size_t (*count_pollfds)(portmap_client *c);
    /* Handle readiness of its entries and timers due at now. */
    void (*dispatch)(portmap_client *c, struct pollfd *fds, size_t n, int64_t now);
    /* fam's gateway changed or the client closes: drop its sockets and
     * state. */
    void (*reset)(portmap_client *c, int fam);
    /* Optional. m's request, which may have reached the router, is given
     * up for another protocol: undo what it may have made, without
     * waiting for an answer (PCP: a delete with the request's nonce). */
    void (*abandon)(portmap_client *c, portmap_mapping *m);
};

extern const pm_backend pm_backend_pcp;

/* What the backends do with a datagram already received and checked for
 * its source: no I/O of their own, so tests and fuzzers drive them. */
void pm_pcp_handle(portmap_client *c, int fam, const uint8_t *buf, size_t len, int64_t now);
/* A NAT-PMP reply already matched to the pending request (opcode and port) */
void pm_natpmp_probe_reply(portmap_client *c, const pm_natpmp_reply *rep, int64_t now);
void pm_natpmp_mapping_reply(portmap_client *c, portmap_mapping *m,
                             const pm_natpmp_reply *rep, int64_t now);
extern const pm_backend pm_backend_natpmp;
extern const pm_backend pm_backend_upnp;

/* upnp.c: a copy of the IGD's control endpoint, for callers' own threads */
typedef struct pm_upnp_control {
    pm_addr addr;
    uint16_t port;
    char path[256];
    char service[128];
} pm_upnp_control;
int pm_upnp_get_control(portmap_client *c, pm_upnp_control *out); /* lock held */
struct pm_ssdp_answer;
int pm_upnp_notified(portmap_client *c, const struct pm_ssdp_answer *a);
int pm_upnp_list(const pm_upnp_control *ctl, uint32_t local, int64_t deadline,
                 portmap_router_entry **out, size_t *count);
const pm_backend *pm_backend_get(portmap_method m);
/* May mappings have an exchange of this method under way (see ops_mask)? */
static inline int pm_ops_maybe(const portmap_client *c, portmap_method m)
{
    return (c->ops_mask & PORTMAP_HAVE(m)) != 0;
}
/* The mappings for a backend to look through for its exchanges: NULL
 * when none can be under way. */
static inline portmap_mapping *pm_ops_mappings(const portmap_client *c, portmap_method m)
{
    return pm_ops_maybe(c, m) ? c->mappings : NULL;
}
void pm_backend_replace(portmap_method m, const pm_backend *b); /* tests only */

/* clock.c / util */
int64_t pm_now_ms(void);
int pm_random_bytes(void *buf, size_t len);
double pm_rand_unit(void *client); /* pm_rand_fn over client->rng_state */
void pm_addr_str(uint32_t addr_be, char *buf, size_t len);
/* "A.B.C.D" or "A.B.C.D/N" with no bits set past N; NULL or "" gives
 * prefix 0 (anyone). Returns 0, or -1 when malformed. */
int pm_allow_parse(const char *s, uint32_t *addr_be, uint8_t *prefix);
/* "A.B.C.D" for a /32, "A.B.C.D/N" otherwise, "" for anyone. */
void pm_allow_str(uint32_t addr_be, uint8_t prefix, char *buf, size_t len);
/* "PCP", "NAT-PMP", "UPnP-IGD": a protocol's name in a sentence */
const char *pm_method_label(portmap_method m);
/* Whether method can restrict the remote side to a /prefix (0: no need). */
int pm_method_can_allow(portmap_method method, uint8_t prefix);
/* Whether method works over family fam (NAT-PMP: IPv4 only). */
int pm_method_has_family(portmap_method method, int fam);
int pm_addr_is_private(uint32_t addr_be); /* RFC 1918, CGN, loopback, link-local, 0 */

/* log.c */
void pm_log(portmap_client *c, portmap_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define PM_ERR(c, ...) pm_log(c, PORTMAP_LOG_ERROR, __VA_ARGS__)
#define PM_WARN(c, ...) pm_log(c, PORTMAP_LOG_WARNING, __VA_ARGS__)
#define PM_INFO(c, ...) pm_log(c, PORTMAP_LOG_INFO, __VA_ARGS__)
#define PM_DEBUG(c, ...) pm_log(c, PORTMAP_LOG_DEBUG, __VA_ARGS__)

/* route.c: default IPv4 gateway and our address towards it */
int pm_route_default(uint32_t *gateway, char *ifname, size_t ifname_len);
int pm_route_local_for(uint32_t gateway, uint32_t *local);
/* The IPv6 default router (zone set for a link-local one) and its
 * interface, from a netlink dump of the main table. */
int pm_route_default6(pm_addr *gateway, uint32_t *oif, char *ifname, size_t ifname_len);
/* The fittest IPv6 address of ours on ifindex to open to the outside
 * (see pm_v6_kind); -1 when there is none fit. */
int pm_route_local6(uint32_t ifindex, pm_addr *local, pm_v6_kind *kind);
/* 1 when the kernel's neighbour table on ifname gives addr the link-layer
 * address of gateway (one router, two addresses); 0 when not, -1 when
 * either is not in the table. */
int pm_route_same_router(const pm_addr *gateway, const pm_addr *addr, const char *ifname);
int pm_route_netlink_open(void);
int pm_route_netlink_drain(int fd); /* 1 when an address/route message was seen */

/* engine.c: called with the lock held */
void pm_engine_wake(portmap_client *c);
void *pm_engine_main(void *arg);
int pm_engine_refresh_route(portmap_client *c, int fam, int64_t now);
/* What pm_engine_probe_all asks: protocols never asked (UNKNOWN) always;
 * with RETRY also those found unavailable; with FRESH every one. */
#define PM_PROBE_UNKNOWN 0u
#define PM_PROBE_RETRY 1u
#define PM_PROBE_FRESH 2u
void pm_engine_probe_all(portmap_client *c, int fam, int64_t now, int64_t deadline, unsigned what);
/* The router said something in method (a reply of any kind): it is
 * there, though it may not have answered the probe itself yet. */
void pm_engine_heard(portmap_client *c, int fam, portmap_method method, int64_t now);
/* method is not available at fam's router, and why, in words */
void pm_engine_probe_failed(portmap_client *c, int fam, portmap_method method, int64_t now,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/*
 * A protocol the router has said nothing in since its probe started is
 * given up PM_SILENT_GRACE_MS after that start once some protocol of one
 * of our routers answered: the same box answers its protocols alike, and
 * a request is not to wait out its timeout for a protocol the router does
 * not speak. When the router's host only refused another protocol (ICMP
 * port unreachable: up, but that port closed), PM_REFUSED_GRACE_MS: its
 * silence is likely a refusal held back by ICMP rate limiting, but four
 * transmissions are waited for first. The time that happens, PM_NEVER
 * when it does not apply.
 */
#define PM_SILENT_GRACE_MS 1000
#define PM_REFUSED_GRACE_MS 2000
int64_t pm_engine_silent_deadline(const portmap_client *c, int fam, portmap_method method);
/* ext_addr: the IPv4 external address the probe learnt, or 0 */
void pm_engine_probe_done(portmap_client *c, int fam, portmap_method method, pm_avail result,
                          uint32_t ext_addr, int64_t now);
void pm_engine_map_done(portmap_client *c, portmap_mapping *m, const pm_result *r, int64_t now);
void pm_engine_server_epoch(portmap_client *c, int fam, portmap_method method, uint32_t epoch,
                            int64_t now);
void pm_engine_queue_event(portmap_client *c, portmap_mapping *m, portmap_event ev);
int pm_engine_on_thread(portmap_client *c);
int pm_engine_all_probes_done(portmap_client *c, int fam);
/* What a backend's per-mapping dispatch step needs from the poll round. */
typedef struct pm_dispatch {
    struct pollfd *fds;
    size_t n;
    int64_t now;
} pm_dispatch;

/* revents of fd in this poll round, 0 if it was not polled. */
short pm_revents(const pm_dispatch *d, int fd);

/* Call fn for each mapping; fn may unlink or drop the current one. */
void pm_mappings_each(portmap_client *c, void (*fn)(portmap_client *, portmap_mapping *, void *),
                      void *arg);

/* The caller's handle of m: m itself, or for a twin the handle holding it */
static inline portmap_mapping *pm_mapping_handle(portmap_mapping *m)
{
    return m->handle ? m->handle : m;
}

static inline pm_net *pm_net_of(portmap_client *c, const portmap_mapping *m)
{
    return &c->net[m->fam];
}

/* The IPv4 gateway and our IPv4 address, network order; 0 when unknown */
static inline uint32_t pm_gw4(const portmap_client *c)
{
    return c->net[PM_V4].gateway.family == AF_INET ? c->net[PM_V4].gateway.u.v4 : 0;
}

static inline uint32_t pm_local4(const portmap_client *c)
{
    return c->net[PM_V4].local.family == AF_INET ? c->net[PM_V4].local.u.v4 : 0;
}

/* The public name of a kind of IPv6 address: the same order, from 1 */
static inline portmap_address_kind pm_address_kind(pm_v6_kind k)
{
    return k == PM_V6_UNFIT ? PORTMAP_ADDRESS_NA : (portmap_address_kind)(k + 1);
}
/* fam's protocols that did not answer and why, in words, for a reason:
 * "the router at 10.77.0.1: PCP: refused ...; UPnP-IGD: no answer ...",
 * or why there is no router to ask ("no IPv4 default route").
 * only: AUTO for the client's order, else that protocol; allow_prefix
 * leaves out those that cannot honour it. */
void pm_net_reason(portmap_client *c, int fam, portmap_method only, uint8_t allow_prefix,
                   char *buf, size_t len);

/* mapping.c: the per-mapping state machine, called with the lock held */
void pm_mapping_fill_info(const portmap_mapping *m, int64_t now, portmap_mapping_info *info);
void pm_mapping_ref(portmap_mapping *m);
void pm_mapping_unref(portmap_mapping *m); /* frees at zero; lock held */
int64_t pm_mapping_refresh_delay_ms(portmap_method method, uint32_t lifetime, double unit_rand);
void pm_mapping_service(portmap_client *c, portmap_mapping *m, int64_t now, int64_t *deadline);
void pm_mapping_on_result(portmap_client *c, portmap_mapping *m, const pm_result *r, int64_t now);
void pm_mapping_on_timeout(portmap_client *c, portmap_mapping *m, int64_t now);
void pm_mapping_start_op(portmap_client *c, portmap_mapping *m, pm_op op, int64_t now);
/* Cancel a pending request and delete what the router holds (or may hold)
 * for m, by deadline. Returns 0 when it is released or releasing already. */
int pm_mapping_start_release(portmap_client *c, portmap_mapping *m, int64_t deadline, int64_t now);
void pm_mapping_stop_op(portmap_client *c, portmap_mapping *m);
/* Put m at the head of the client's list; the list holds a reference
 * (the caller's, passed on). */
void pm_mapping_link(portmap_client *c, portmap_mapping *m);
void pm_mapping_unlink(portmap_client *c, portmap_mapping *m);
/* 1 when m is in the client's list. A handle stays listed while its twin
 * is: the twin's events go through it. */
int pm_mapping_listed(const portmap_client *c, const portmap_mapping *m);
/* m's exchange waits on a protocol the router turned out not to speak:
 * a pending request moves on to the next protocol, a release ends. */
void pm_mapping_protocol_gone(portmap_client *c, portmap_mapping *m);
/* The gateway or our address changed; 1 when m is to be made again. */
int pm_mapping_network_changed(portmap_client *c, portmap_mapping *m, int64_t now);

/* client.c */
portmap_mapping *pm_mapping_new(portmap_client *c, const portmap_request *r, int64_t now);

/* announce.c: unsolicited announcements on 224.0.0.1:5350 */
int pm_announce_open(void);
int pm_announce_ssdp_open(void);
/* fam's announcement socket is readable (c->ann_fd, c->ann6_fd) */
void pm_announce_read(portmap_client *c, int fam, int64_t now);
/* One datagram from the gateway to 224.0.0.1:5350, source already checked. */
void pm_announce_handle(portmap_client *c, const uint8_t *buf, size_t len, int64_t now);
void pm_announce_ssdp_read(portmap_client *c, int64_t now);
/* IPv6: PCP announcements to ff02::1:5350 on the interface ifindex */
int pm_announce_open6(uint32_t ifindex);
void pm_announce_handle_fam(portmap_client *c, int fam, const uint8_t *buf, size_t len,
                            int64_t now);

/* orphans.c: mappings that dead processes left on the router */
void pm_orphans_release(portmap_client *c, int fam, portmap_method method, int64_t now);

/* journal.c: mappings this host holds, across processes */
typedef struct pm_journal_entry {
    portmap_method method;
    portmap_transport proto;
    uint16_t internal_port;
    uint16_t external_port;
    pm_addr gateway;
    pm_addr local;
    uint8_t nonce[PM_PCP_NONCE_LEN];
    long pid;                 /* 0: detached (left to expire) */
    unsigned long long start_time; /* the pid's start time, clock ticks */
    int64_t expires_unix;
    uint32_t allow_addr;      /* the remote restriction, needed to delete it */
    uint8_t allow_prefix;
    int has_pinhole;          /* UPnP IPv6: the pinhole's UniqueID, to delete it */
    uint16_t pinhole_id;
} pm_journal_entry;

int pm_journal_put(const char *dir, const pm_journal_entry *e);
int pm_journal_remove(const char *dir, portmap_transport proto, uint16_t internal_port,
                      const pm_addr *local);
int pm_journal_find(const char *dir, portmap_transport proto, uint16_t internal_port,
                    const pm_addr *local, pm_journal_entry *out);
int pm_journal_detach_pid(const char *dir, long pid);
/* 1 when some entry is of our address local */
int pm_journal_has_local(const char *dir, const pm_addr *local);
/* Take over (for pid) the entries for gateway, local and method whose
 * process has died; up to max copied to out, the number returned. Drops
 * expired entries nobody holds on the way. */
size_t pm_journal_claim_orphans(const char *dir, const pm_addr *gateway, const pm_addr *local,
                                portmap_method method, long pid, pm_journal_entry *out, size_t max);
/* 1 when a live process (same pid and start time) holds this mapping. */
int pm_journal_held(const char *dir, portmap_transport proto, uint16_t internal_port,
                    const pm_addr *local);
char *pm_journal_default_dir(void);

#endif /* PM_INTERNAL_H */
