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
    uint32_t ext_addr;        /* network byte order, 0 unknown */
    uint16_t ext_port;
    uint32_t lifetime;        /* granted, or for errors the retry hint (s) */
    int protocol_gone;        /* the gateway does not speak this protocol */
    int permanent;            /* granted without a lease; we own its deletion */
    const char *detail;       /* static text for the log, may be NULL */
} pm_result;

struct portmap_mapping {
    portmap_client *c;
    struct portmap_mapping *next;
    int refs;                 /* caller handle + engine list + waiters */
    int handle_dropped;       /* the caller released or the client closed */
    int internal;             /* made by the library itself (external-ip probe) */

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
    portmap_mapping_callback cb;
    void *user;

    /* state */
    portmap_state state;
    portmap_method method;
    uint32_t local_addr;      /* network byte order, at the time of mapping */
    uint32_t ext_addr;
    uint16_t ext_port;
    uint32_t lifetime;
    int64_t expires_at;       /* monotonic ms; PM_NEVER when not mapped */
    int64_t refresh_at;       /* next renewal; PM_NEVER when none */
    int64_t retry_at;         /* next attempt after a failure; PM_NEVER none */
    int64_t backoff_ms;
    int lost_reported;
    portmap_error last_error;
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
    portmap_error release_err;
};

typedef struct pm_event {
    portmap_mapping *m;       /* holds a reference */
    portmap_event ev;
    portmap_mapping_info info;
} pm_event;

typedef struct pm_backend pm_backend;

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

    /* the network as last seen */
    int route_ok;
    uint32_t gateway;         /* network byte order */
    uint32_t local;
    int route_dirty;          /* netlink said something changed */

    /* discovery */
    pm_avail avail[PORTMAP_METHOD_COUNT];
    int64_t probe_started[PORTMAP_METHOD_COUNT];
    int64_t probe_rtt[PORTMAP_METHOD_COUNT];   /* how long its answer took */
    int64_t probe_deadline;
    uint32_t ext_addr;
    int64_t ext_addr_at;      /* when ext_addr was learned; 0 never */
    int pcp_version;
    int double_nat;           /* the external address is private or CGN */
    portmap_counters counters;
    int ann_fd;               /* 224.0.0.1:5350, or -1 */
    int notify_fd;            /* SSDP NOTIFY on 239.255.255.250:1900, or -1 */
    unsigned orphans_claimed; /* PORTMAP_HAVE(method): dead processes' entries taken */
    int upnp_version;         /* IGD service version, 1 or 2; 0 unknown */
    char upnp_service[48];    /* e.g. "WANIPConnection:2" */
    pm_epoch epoch[PORTMAP_METHOD_COUNT];
    unsigned probe_gen;       /* bumped per fresh probe */
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
    /* Probe the gateway for this protocol. */
    int (*probe)(portmap_client *c, int64_t now);
    /* Append poll entries; lower *deadline to the next timer. */
    size_t (*add_pollfds)(portmap_client *c, struct pollfd *fds, size_t max, int64_t *deadline);
    /* Count of poll entries add_pollfds may add (for sizing). */
    size_t (*count_pollfds)(portmap_client *c);
    /* Handle readiness of its entries and timers due at now. */
    void (*dispatch)(portmap_client *c, struct pollfd *fds, size_t n, int64_t now);
    /* The gateway changed or the client closes: drop sockets and state. */
    void (*reset)(portmap_client *c);
};

extern const pm_backend pm_backend_pcp;

/* What the backends do with a datagram already received and checked for
 * its source: no I/O of their own, so tests and fuzzers drive them. */
void pm_pcp_handle(portmap_client *c, const uint8_t *buf, size_t len, int64_t now);
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
/* Whether method can restrict the remote side to a /prefix (0: no need). */
int pm_method_can_allow(portmap_method method, uint8_t prefix);
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
int pm_route_netlink_open(void);
int pm_route_netlink_drain(int fd); /* 1 when an address/route message was seen */

/* engine.c: called with the lock held */
void pm_engine_wake(portmap_client *c);
void *pm_engine_main(void *arg);
int pm_engine_refresh_route(portmap_client *c, int64_t now);
void pm_engine_probe_all(portmap_client *c, int64_t now, int64_t deadline, int fresh);
void pm_engine_probe_done(portmap_client *c, portmap_method method, pm_avail result,
                          uint32_t ext_addr, int64_t now);
void pm_engine_map_done(portmap_client *c, portmap_mapping *m, const pm_result *r, int64_t now);
void pm_engine_server_epoch(portmap_client *c, portmap_method method, uint32_t epoch, int64_t now);
void pm_engine_queue_event(portmap_client *c, portmap_mapping *m, portmap_event ev);
int pm_engine_on_thread(portmap_client *c);
int pm_engine_all_probes_done(portmap_client *c);
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
void pm_mapping_unlink(portmap_client *c, portmap_mapping *m);
/* The gateway or our address changed; 1 when m is to be made again. */
int pm_mapping_network_changed(portmap_client *c, portmap_mapping *m, int64_t now);

/* client.c */
portmap_mapping *pm_mapping_new(portmap_client *c, const portmap_request *r, int64_t now);

/* announce.c: unsolicited announcements on 224.0.0.1:5350 */
int pm_announce_open(void);
int pm_announce_ssdp_open(void);
void pm_announce_read(portmap_client *c, int64_t now);
/* One datagram from the gateway to 224.0.0.1:5350, source already checked. */
void pm_announce_handle(portmap_client *c, const uint8_t *buf, size_t len, int64_t now);
void pm_announce_ssdp_read(portmap_client *c, int64_t now);

/* orphans.c: mappings that dead processes left on the router */
void pm_orphans_release(portmap_client *c, portmap_method method, int64_t now);

/* journal.c: mappings this host holds, across processes */
typedef struct pm_journal_entry {
    portmap_method method;
    portmap_transport proto;
    uint16_t internal_port;
    uint16_t external_port;
    uint32_t gateway;
    uint32_t local;
    uint8_t nonce[PM_PCP_NONCE_LEN];
    long pid;                 /* 0: detached (left to expire) */
    unsigned long long start_time; /* the pid's start time, clock ticks */
    int64_t expires_unix;
    uint32_t allow_addr;      /* the remote restriction, needed to delete it */
    uint8_t allow_prefix;
} pm_journal_entry;

int pm_journal_put(const char *dir, const pm_journal_entry *e);
int pm_journal_remove(const char *dir, portmap_transport proto, uint16_t internal_port,
                      uint32_t local);
int pm_journal_find(const char *dir, portmap_transport proto, uint16_t internal_port,
                    uint32_t local, pm_journal_entry *out);
int pm_journal_detach_pid(const char *dir, long pid);
/* Take over (for pid) the entries for gateway, local and method whose
 * process has died; up to max copied to out, the number returned. Drops
 * expired entries nobody holds on the way. */
size_t pm_journal_claim_orphans(const char *dir, uint32_t gateway, uint32_t local,
                                portmap_method method, long pid, pm_journal_entry *out, size_t max);
/* 1 when a live process (same pid and start time) holds this mapping. */
int pm_journal_held(const char *dir, portmap_transport proto, uint16_t internal_port, uint32_t local);
char *pm_journal_default_dir(void);

#endif /* PM_INTERNAL_H */
