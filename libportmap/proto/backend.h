/*
 * The backend interface: the one header a protocol backend (proto/pcp,
 * proto/natpmp, proto/upnp) includes besides sys/. It holds
 *
 *   - the data the engine lends to backends: the client's per-family
 *     network (pm_net), the mappings and their exchange under way;
 *   - pm_backend, the vtable through which core/ reaches a backend (and
 *     nothing else of it);
 *   - pm_host, the services core/ lends to backends, as function
 *     pointers: a backend reports what the router said and never calls
 *     into core/ by name, so no dependency runs upwards.
 *
 * Everything here runs on the engine thread with the client lock held,
 * unless a comment says otherwise. The layer rules are checked by
 * tests/test_layers.c.
 */
#ifndef PM_PROTO_BACKEND_H
#define PM_PROTO_BACKEND_H

#include <poll.h>
#include <pthread.h>
#include <stdint.h>

#include "portmap/portmap.h"

#include "sys/addr.h"
#include "sys/clock.h"
#include "sys/heap.h"
#include "sys/log.h"
#include "sys/retx.h"
#include "sys/util.h"

/* Room for a reason given to the caller, in words. */
#define PM_REASON_LEN 384
/* PCP's mapping nonce (RFC 6887 11.1). Every mapping has one: the
 * journal keeps it so that another process can delete the mapping. */
#define PM_NONCE_LEN 12
/* The backends' reasons for the network's own answers. Each refusal
 * starts with PM_WHY_REFUSED: the engine reads it as "the router's host
 * is up and that port is closed". */
#define PM_WHY_REFUSED "refused"
#define PM_WHY_REFUSED_5351 PM_WHY_REFUSED " (nothing listens on port 5351)"
#define PM_WHY_REFUSED_SSDP PM_WHY_REFUSED " (nothing listens on port 1900 for SSDP)"
#define PM_WHY_UNREACHABLE "the router is unreachable (no answer to ARP or neighbour discovery)"

/* Subnets of our own on the router's link kept for each family */
#define PM_LAN_MAX 8

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
    /* the protocol refused what this mapping asks of it (another host:
     * PCP's THIRD_PARTY, UPnP's secure mode), not the port: the next
     * protocol may serve it */
    int cannot_serve;
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
    /* The engine's indexes (core/mappings.c), so that a round touches
     * only the mappings it has to: timer, its next deadline in
     * c->timers; watch_*, in c->watch while its state depends on the
     * network's (serviced every pass); op_*, in c->ops[op_listed] while an
     * exchange is under way; pass, the pass that last serviced it. */
    pm_heap_node timer;
    struct portmap_mapping *watch_next, *watch_prev;
    int watched;
    struct portmap_mapping *op_next, *op_prev;
    portmap_method op_listed; /* AUTO: in no exchange list */
    int lost_counted;         /* counted in c->n_lost */
    unsigned pass;
    struct portmap_mapping *again_next; /* kicked after its pass: the next one's */
    int again;
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
    /* The other host of the LAN the mapping is for (portmap_request.
     * internal_address), unset for this host. Once set, local is it:
     * the internal client everywhere, journal and owner checks too;
     * only PCP's header names our own address (pm_net.local). */
    pm_addr third;
    int cannot_third;         /* a protocol was passed over: it cannot map for another host */
    unsigned refused_methods; /* PORTMAP_HAVE(method): it refused to serve this (cannot_serve) */
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
    int waits_turn;           /* a renewal or delete due, waiting for room at the router */
    int64_t turn_since;       /* a delete: since when */
    int64_t retry_at;         /* next attempt after a failure; PM_NEVER none */
    int64_t backoff_ms;
    int lost_reported;
    int no_route;             /* failed for want of a route of its family */
    portmap_error last_error;
    /* last_error in words: a PM_REASON_LEN buffer made when there is one
     * to give (pm_mapping_set_reason), NULL else; a mapping that is doing
     * well carries none */
    char *reason;
    uint32_t renewals;
    int ever_mapped;
    int journaled;

    /* A success that came before the client knew its external address:
     * kept until the address is known, at most PM_HOLD_FOR_ADDR_MS, so
     * nobody is told "mapped" without the address to give to peers. */
    int held;
    int64_t held_until;
    pm_result *held_result;   /* made while held */

    /* the exchange under way */
    pm_op op;
    portmap_method op_method;
    int op_sent;              /* a request of this exchange left: the router may act on it */
    int64_t op_deadline;
    int64_t op_started;
    uint32_t op_lifetime;
    pm_retx retx;
    uint8_t nonce[PM_NONCE_LEN];
    void *op_data;            /* backend-owned per-exchange data */
    /* the exchange's own timer (its resends), in its backend's heap */
    pm_heap_node op_timer;
    int permanent;            /* the router only took lease 0 (UPnP 725/402) */
    int verify_owner;         /* delete only if the router says it is ours */
    int remap_after_reset;    /* lost in a router reset: counted when made again */
    int rediscover;           /* lost to a change of network: choose the protocol again */
    long orphan_of;           /* a dead process's mapping being released: its pid */
    int release_done;         /* the delete finished (ok or not) */
    int lease_cut;            /* PCP IPv6: a refused delete became a shortest-lease renewal */
    portmap_error release_err;
};

/* One address family's network: its router and our address, and what
 * that router speaks. IPv4 and IPv6 routers are found and probed each on
 * their own, at the same time; they are often one box, but need not be.
 * Written by core/net.c, but for what a backend alone learns of its own
 * protocol (why[] of its method while probing, pcp_version, upnp_*);
 * test_layers fails a backend that writes avail[] or the address. */
typedef struct pm_net {
    int fam;                  /* PM_V4 or PM_V6 */
    int route_ok;
    int64_t route_read_at;    /* when the kernel's routes were last read; 0 never */
    pm_addr gateway;          /* IPv6: usually link-local, with its zone */
    pm_addr local;
    pm_v6_kind local_kind;    /* IPv6: the kind of address picked for local */
    char ifname[16];
    /* The subnets of our addresses on that link (read by the engine after
     * the route once a request named another host: lan_read, lan_wanted):
     * the hosts a mapping may be made for (portmap_request.internal_address) */
    pm_addr lan[PM_LAN_MAX];
    uint8_t lan_len[PM_LAN_MAX];
    unsigned n_lan;
    /* IPv6: the router's addresses besides the gateway's link-local one,
     * as the neighbour table knows them (nobody maps ports to them) */
    pm_addr rtr_addrs[PM_LAN_MAX];
    unsigned n_rtr_addrs;
    int lan_read;             /* lan and rtr_addrs read since the route (pm_net_read_lan) */
    pm_avail avail[PORTMAP_METHOD_COUNT];
    int64_t probe_started[PORTMAP_METHOD_COUNT];
    int64_t probe_rtt[PORTMAP_METHOD_COUNT];   /* how long its answer took */
    /* when the router first said anything in this protocol since the
     * probe started (a reply of any kind, an SSDP answer): 0 never. A
     * protocol the router has said nothing in, while another answered,
     * is not waited for (see pm_net_silent_deadline) */
    int64_t heard_at[PORTMAP_METHOD_COUNT];
    int64_t verdict_at[PORTMAP_METHOD_COUNT];  /* when avail became YES or NO */
    /* The router's host said a protocol's port is closed (ICMP port
     * unreachable): it is up, and its silence in another protocol is most
     * likely the same refusal held back by ICMP rate limiting. */
    portmap_method refused;
    char why[PORTMAP_METHOD_COUNT][PM_REASON_LEN]; /* why NO, in words */
    int64_t probe_deadline;
    unsigned orphans_claimed; /* PORTMAP_HAVE(method): dead processes' entries taken */
    unsigned orphans_due;     /* PORTMAP_HAVE(method): answered, orphans not yet looked for */
    /* PORTMAP_HAVE(method): the journal holds dead processes' mappings
     * made through it on this router, which spoke it then; a cleanup
     * waits for its answer to the end of the probe, not giving it up for
     * silence while another protocol answered (a router busy with the
     * dead processes' last requests answers late) */
    unsigned expected;
    /* Announcements are prompts: at most one check of the router a
     * second, those in between coalesced into the next. */
    int check_due;
    int64_t check_next_at;
    /* What the mapping state machine asked of the engine in its pass:
     * a fresh read of the routes, probes (PM_PROBE_* bits, by when). */
    int want_route;
    int want_probe;           /* 0: none; else 1 + PM_PROBE_* */
    int64_t want_probe_deadline;
    /* the probes wanted follow a first request in this protocol (AUTO:
     * none, or several asks of the pass that disagree) */
    portmap_method want_behind;
    /* Probes held behind a first request (PORTMAP_HAVE bits; PROBING,
     * nothing sent yet): those on another port of the router, which may
     * serve that port first (miniupnpd's loop reads SSDP before PCP). They
     * go at held_until (pm_net_probe_behind). */
    unsigned held;
    int64_t held_until;
    int listen_due;           /* the route was read: listen for announcements */
    int pcp_version;
    int upnp_version;         /* IGD service version, 1 or 2; 0 unknown */
    char upnp_service[48];    /* e.g. "WANIPConnection:2", "WANIPv6FirewallControl:1" */
} pm_net;

/* What pm_net_probe_all asks: protocols never asked (UNKNOWN) always;
 * with RETRY also those found unavailable; with FRESH every one. */
#define PM_PROBE_UNKNOWN 0u
#define PM_PROBE_RETRY 1u
#define PM_PROBE_FRESH 2u

typedef struct pm_backend pm_backend;
typedef struct pm_host pm_host;
struct pm_event;
struct pm_journal_op;

struct portmap_client {
    /* ---- read by backends ---- */
    portmap_settings s;
    pm_logger log;
    const pm_host *host;      /* core's services, see pm_host */
    /* Each client its own table: tests put scripted backends in it. */
    const pm_backend *backends[PORTMAP_METHOD_COUNT];
    void *bstate[PORTMAP_METHOD_COUNT]; /* each backend's own, see pm_backend_state */
    portmap_method order[PORTMAP_METHOD_COUNT];
    unsigned n_order;
    /* the network of each family as last seen, and what its router speaks */
    pm_net net[PM_FAMS];
    /* The IPv4 NAT's external address and the double-NAT verdict: set
     * only through pm_host.set_external (core/net.c keeps them in step). */
    uint32_t ext_addr;
    int64_t ext_addr_at;      /* when ext_addr was learned; 0 never */
    int double_nat;           /* the external address is private or CGN */
    /* why the router's external address is unknown although it answered
     * (it gave one that no Internet host can have); "" otherwise */
    char ext_why[128];
    int ext_pending;          /* an external-address query is under way */
    portmap_counters counters;
    portmap_mapping *mappings;
    /* The exchanges under way, each method's in a list of its own (linked
     * through op_next) and counted, by method and by family: a backend
     * looks through its own exchanges, not every mapping held. */
    portmap_mapping *ops[PORTMAP_METHOD_COUNT];
    unsigned n_ops[PORTMAP_METHOD_COUNT];
    unsigned n_ops_fam[PM_FAMS];
    pm_rng rng;               /* for jitter only; nonces come from getrandom */

    /* ---- the engine's own (core/): backends never touch these ---- */
    pthread_mutex_t lock;
    pthread_cond_t cond;      /* any state change: waiters re-check */
    pthread_t thread;
    int thread_started;
    int wake_fd;              /* eventfd: wakes the engine's poll() */
    int nl_fd;                /* netlink route socket, -1 if none */
    int stopping;
    int closed;               /* engine has exited */
    int waiters;              /* threads blocked in a public call */
    int wake_due;             /* they are to be woken when the engine drops the lock */
    /* A caller in portmap_mapping_wait() reading its replies' sockets
     * itself (core/reader.c): while n_reader_fds is not 0, reader_fds are
     * its and the engine neither polls nor reads them (reader_masked: its
     * poll set left one out, and it is to be woken when the reader
     * leaves); reader_efd wakes the reader when what it polls or waits
     * for changed (pm_reader_stale), reader_m is the mapping it waits for
     * and reader_dispatching says the lock holder is the reader itself,
     * dispatching what it read (it wakes nobody's eventfd: not its own). */
    int reader_fds[PM_FAMS];
    unsigned n_reader_fds;    /* 0: no caller reads */
    int reader_efd;           /* -1 until a caller first reads */
    int reader_masked;
    int reader_dispatching;
    const portmap_mapping *reader_m;
    long pid;                 /* getpid() at open: the journal's owner (a syscall each) */
    char *gateway_override;
    char *state_dir;
    int route_dirty;          /* netlink said something changed */
    int lan_wanted;           /* a request named another host: the engine reads the LAN */
    /* The engine's indexes of the mappings (core/mappings.c): their next
     * deadlines; those serviced every pass (pending ones...); the lost
     * ones counted, and the one of each router and protocol that asks at
     * the scout's pace; the pass under way. */
    pm_heap timers;
    size_t n_listed;          /* the timers' room is kept for each of them */
    portmap_mapping *watch;
    unsigned n_watch;
    unsigned n_lost[PM_FAMS];
    portmap_mapping *scout[PM_FAMS][PORTMAP_METHOD_COUNT];
    unsigned pass;
    /* the engine's polls, and those that could not wait: for work queued
     * (events, journal), or for a timer that was due when the round's
     * pass ran, which a pass that acts on every due timer never leaves (a
     * busy loop); the debug log tells them at close */
    uint64_t polls, polls_for_work, polls_overdue;
    uint64_t read_by_waiter;  /* replies a waiting caller read (reader.c) */
    uint64_t reader_woken;    /* times its eventfd woke a waiting caller (reader.c) */
    unsigned fams_used;       /* 1 << PM_V6: IPv6 was asked for; probed from then on */
    /* events queued under the lock, delivered without it */
    struct pm_event *events;
    size_t n_events, cap_events;
    /* journal writes queued under the lock, done by the engine without it */
    struct pm_journal_op *jops;
    size_t n_jops, cap_jops;
    uint64_t jops_queued, jops_done; /* sequence numbers, for waiters */
    int journal_busy;         /* the engine is writing a batch */
    int jops_early;           /* a write queued is to be done before the events */
    int64_t jops_since;       /* when the oldest write queued was queued */
    int jops_waiters;         /* callers in pm_jq_barrier */
    int journal_warned;       /* the state directory's refusal was logged (atomic) */
    /* the engine's poll set */
    struct pollfd *pfds;
    size_t cap_pfds;
};

/* What a backend's dispatch step needs from the poll round. */
typedef struct pm_dispatch {
    struct pollfd *fds;
    size_t n;
    int64_t now;
} pm_dispatch;

/* revents of fd in this poll round, 0 if it was not polled. */
short pm_revents(const pm_dispatch *d, int fd);

/* Whether a protocol can restrict who may connect (portmap_request.allow). */
typedef enum pm_allow_kind {
    PM_ALLOW_NONE = 0,        /* anyone only (NAT-PMP) */
    PM_ALLOW_HOST,            /* anyone or one host (UPnP NewRemoteHost) */
    PM_ALLOW_PREFIX,          /* any prefix (PCP FILTER) */
} pm_allow_kind;

struct pm_backend {
    portmap_method method;
    const char *name;         /* "pcp": in the log */
    const char *label;        /* "PCP": in sentences for the caller */
    unsigned families;        /* 1u << PM_V4 | 1u << PM_V6 */
    pm_allow_kind allow;
    /* Families in which it can map a port for another host of the LAN
     * (PCP THIRD_PARTY, UPnP NewInternalClient): 1u << PM_V4 ... */
    unsigned third_party;
    /* The router's port it is served on: protocols on one port share the
     * router's refusal (ICMP port unreachable) of it. */
    uint16_t port;
    /* Families whose entries are named by something another host may
     * reuse (UPnP IPv4: the external port): deleting one this process
     * did not make asks the router whose it is first. */
    unsigned delete_checks_owner;
    /* Its first request needs what its probe learns (UPnP: the control
     * URL): a delete on a router not yet probed probes first. */
    int needs_probe;
    /* A mapping's reply tells the external address, which the protocol
     * has no other way to ask (PCP). */
    int map_tells_external;
    /* When to renew a lease of lifetime s granted now, in ms from now;
     * unit_rand in [0, 1) for protocols that spread renewals. */
    int64_t (*refresh_delay_ms)(uint32_t lifetime, double unit_rand);
    /* The backend's own state (sockets, per-family discovery), made on
     * first use by pm_backend_state and freed with the client. */
    void *(*state_new)(void);
    void (*state_free)(void *state);
    /* Send the first datagram of m's exchange (m->op, m->op_lifetime).
     * Also runs on a caller's thread (lock held): a release, and with
     * start_sends a new request (pm_mapping_start_at_once). */
    int (*start)(portmap_client *c, portmap_mapping *m, int64_t now);
    /* start() sends the request itself, a datagram on the one socket the
     * engine polls for the protocol (PCP; not UPnP's connections, nor
     * NAT-PMP's socket of each exchange): a new request in it is sent from
     * the caller's thread at once, its reply read as soon as it comes (the
     * engine, woken, polls the socket made for a first one). */
    int start_sends;
    /* Forget m's exchange (done, timed out or cancelled). */
    void (*stop)(portmap_client *c, portmap_mapping *m);
    /* Probe fam's gateway for this protocol; -1 when it cannot even try
     * (no socket). Only called for a family in families. */
    int (*probe)(portmap_client *c, int fam, int64_t now);
    /* Optional. Listen to fam's router's announcements (its restarts and
     * address changes), from when its route is known, whatever protocols
     * the client uses. An announcement is only a prompt (anyone on the
     * LAN can forge one): the backend tells pm_host.announced and takes
     * nothing from it. Cheap when listening already; reset() stops it. */
    void (*listen)(portmap_client *c, int fam);
    /* Optional. Ask fam's router now what an announcement may have told,
     * in requests of ours whose replies can be trusted: NAT-PMP its
     * opcode 0 (epoch, address), UPnP a search (BOOTID) and its external
     * address. A few requests, whatever the number of mappings; the core
     * calls it at most once a second per router. */
    void (*check)(portmap_client *c, int fam, int64_t now);
    /* The check of this protocol is the renewal of one of its mappings,
     * whose reply (matched by its nonce) carries the epoch (PCP). */
    int check_by_renewal;
    /* Append poll entries; lower *deadline to the next timer. */
    size_t (*add_pollfds)(portmap_client *c, struct pollfd *fds, size_t max, int64_t *deadline);
    /* Count of poll entries add_pollfds may add (for sizing). */
    size_t (*count_pollfds)(portmap_client *c);
    /* Handle readiness of its entries and timers due at now. Also runs
     * on a caller's thread (lock held), for reply_fd's sockets. */
    void (*dispatch)(portmap_client *c, struct pollfd *fds, size_t n, int64_t now);
    /* Optional. The socket m's reply will come on, when a caller waiting
     * for m may read it itself, or -1: a datagram socket that add_pollfds
     * adds and dispatch reads until it would block (PCP's socket of m's
     * family while m's exchange is under way). */
    int (*reply_fd)(portmap_client *c, const portmap_mapping *m);
    /* fam's gateway changed or the client closes: drop its sockets and
     * state of that family (its epoch and announcement sockets with
     * them). */
    void (*reset)(portmap_client *c, int fam);
    /* Optional. m's request, which may have reached the router, is given
     * up for another protocol: undo what it may have made, without
     * waiting for an answer (PCP: a delete with the request's nonce). */
    void (*abandon)(portmap_client *c, portmap_mapping *m);
    /* Optional: the router's whole table of mappings (UPnP). table_open
     * copies what the listing needs (lock held; 0, or -1 when the router
     * offers no table); table_list runs on the caller's thread without
     * the lock, bounded by deadline; table_close frees the copy. */
    int (*table_open)(portmap_client *c, void **ctx);
    int (*table_list)(void *ctx, uint32_t local, int64_t deadline, portmap_router_entry **out,
                      size_t *count);
    void (*table_close)(void *ctx);
};

/* The backends this library has, by method (NULL for AUTO): the table a
 * client starts from. */
extern const pm_backend *const pm_backends_default[PORTMAP_METHOD_COUNT];

/* c's backend for method, NULL when none (AUTO, or taken out by a test) */
static inline const pm_backend *pm_backend_of(const portmap_client *c, portmap_method m)
{
    return (unsigned)m < PORTMAP_METHOD_COUNT ? c->backends[m] : NULL;
}

/* method's own state in c, made on first use (NULL when out of memory),
 * or NULL when it has none yet (pm_backend_state_if_any). */
void *pm_backend_state(portmap_client *c, portmap_method method);
static inline void *pm_backend_state_if_any(const portmap_client *c, portmap_method method)
{
    return c->bstate[method];
}
/* Free method's state (its sockets closed by the backend first). */
void pm_backend_state_drop(portmap_client *c, portmap_method method);

/* Does method serve family fam? restrict the remote side to /prefix? */
int pm_backend_has_family(const pm_backend *b, int fam);
int pm_backend_can_allow(const pm_backend *b, uint8_t prefix);
/* Can b map m's port, whoever it is for (m->third) and whoever may
 * connect (m->allow_prefix)? */
int pm_backend_can_serve(const pm_backend *b, const portmap_mapping *m);
/* The sockets whose replies a caller waiting for m may read itself
 * (pm_backend.reply_fd): those of m's and its twin's exchanges under way,
 * each once, with their backends in bs. Returns how many (<= PM_FAMS). */
unsigned pm_backend_reply_fds(const portmap_client *c, const portmap_mapping *m,
                              int fds[PM_FAMS], const pm_backend *bs[PM_FAMS]);

/*
 * What core lends to backends. Engine thread, lock held. A backend
 * reports what the router said; the engine decides what it means for the
 * mappings and the network state.
 */
struct pm_host {
    /* The router said something in method (a reply of any kind): it is
     * there, though it may not have answered the probe itself yet. */
    void (*heard)(portmap_client *c, int fam, portmap_method method, int64_t now);
    /* The probe's verdict: YES (answered) or NO (why: in words). */
    void (*probe_done)(portmap_client *c, int fam, portmap_method method, pm_avail result,
                       const char *why, int64_t now);
    /* m's exchange ended with r. */
    void (*map_done)(portmap_client *c, portmap_mapping *m, const pm_result *r, int64_t now);
    /* The router's epoch, in a reply to a request of ours, says it lost
     * its mappings of method (a reboot). */
    void (*router_reset)(portmap_client *c, int fam, portmap_method method, uint32_t epoch,
                         int64_t now);
    /* A reply to a request of ours says the router restarted (UPnP: a
     * new BOOTID) without telling what it kept: method's mappings are
     * renewed soon. */
    void (*router_restarted)(portmap_client *c, int fam, portmap_method method, int64_t now);
    /* fam's router announced something (from its address, which proves
     * nothing): a prompt to check it (pm_backend.check), coalesced. */
    void (*announced)(portmap_client *c, int fam, int64_t now);
    /* The IPv4 NAT's external address as the router told it (0: it does
     * not know one); pending: a query for it is (1) or is no more (0)
     * under way, -1 leaves that as it is. */
    void (*set_external)(portmap_client *c, uint32_t addr, int64_t now);
    void (*external_pending)(portmap_client *c, int pending);
    /* Call fn for each mapping; fn may end the current one's exchange. */
    void (*each_mapping)(portmap_client *c, void (*fn)(portmap_client *, portmap_mapping *, void *),
                         void *arg);
    /* Call fn for each mapping with an exchange of method under way when
     * called; fn may end any exchange (those ended are skipped). */
    void (*each_op)(portmap_client *c, portmap_method method,
                    void (*fn)(portmap_client *, portmap_mapping *, void *), void *arg);
};

static inline void pm_host_heard(portmap_client *c, int fam, portmap_method m, int64_t now)
{
    c->host->heard(c, fam, m, now);
}
static inline void pm_host_answered(portmap_client *c, int fam, portmap_method m, int64_t now)
{
    c->host->probe_done(c, fam, m, PM_AVAIL_YES, NULL, now);
}
/* The probe found method unavailable at fam's router, and why. */
void pm_host_unavailable(portmap_client *c, int fam, portmap_method method, int64_t now,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline void pm_host_map_done(portmap_client *c, portmap_mapping *m, const pm_result *r,
                                    int64_t now)
{
    c->host->map_done(c, m, r, now);
}
static inline void pm_host_router_reset(portmap_client *c, int fam, portmap_method m,
                                        uint32_t epoch, int64_t now)
{
    c->host->router_reset(c, fam, m, epoch, now);
}
static inline void pm_host_router_restarted(portmap_client *c, int fam, portmap_method m,
                                            int64_t now)
{
    c->host->router_restarted(c, fam, m, now);
}
static inline void pm_host_announced(portmap_client *c, int fam, int64_t now)
{
    c->host->announced(c, fam, now);
}
static inline void pm_host_set_external(portmap_client *c, uint32_t addr, int64_t now)
{
    c->host->set_external(c, addr, now);
}
static inline void pm_host_external_pending(portmap_client *c, int pending)
{
    c->host->external_pending(c, pending);
}
static inline void pm_host_each_mapping(portmap_client *c,
                                        void (*fn)(portmap_client *, portmap_mapping *, void *),
                                        void *arg)
{
    c->host->each_mapping(c, fn, arg);
}

static inline void pm_host_each_op(portmap_client *c, portmap_method method,
                                   void (*fn)(portmap_client *, portmap_mapping *, void *),
                                   void *arg)
{
    c->host->each_op(c, method, fn, arg);
}

/* Has any mapping an exchange of this method under way? */
static inline int pm_ops_maybe(const portmap_client *c, portmap_method m)
{
    return c->n_ops[m] != 0;
}
/* The mappings for a backend to look through for its exchanges (all of
 * them, through next): NULL when none is under way. */
static inline portmap_mapping *pm_ops_mappings(const portmap_client *c, portmap_method m)
{
    return pm_ops_maybe(c, m) ? c->mappings : NULL;
}
/* The first of method's exchanges under way; the others through op_next.
 * A loop that may end exchanges uses pm_host_each_op instead. */
static inline portmap_mapping *pm_ops_first(const portmap_client *c, portmap_method m)
{
    return c->ops[m];
}

/* The caller's handle of m: m itself, or for a twin the handle holding it */
static inline portmap_mapping *pm_mapping_handle(portmap_mapping *m)
{
    return m->handle ? m->handle : m;
}

/* The host m maps for: the other host it names, else ours on its net */
static inline pm_addr pm_mapping_client(const portmap_client *c, const portmap_mapping *m)
{
    return pm_addr_is_set(&m->third) ? m->third : c->net[m->fam].local;
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

#endif /* PM_PROTO_BACKEND_H */
