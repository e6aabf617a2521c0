/*
 * core/: the library above the backends. Its modules, lowest first; each
 * calls only those before it (tests/test_layers.c checks this):
 *
 *   names.c     public names and strerror
 *   journal.c   the journal file (flock, fsync): see journal.h
 *   jqueue.c    journal writes queued under the lock, done by the engine
 *   mappings.c  the mapping objects: creation, references, the list, info
 *   events.c    events queued under the lock, delivered without it
 *   netinfo.c   reading the network state: verdicts, reasons, capabilities
 *   mapping.c   the per-mapping state machine: no I/O, no calls upwards
 *   service.c   when each mapping acts: the protocol it takes, renewals
 *   net.c       the one writer of the network state (routes, probes,
 *               verdicts, the external address) and the host services
 *   orphans.c   releasing what dead processes left on the router
 *   engine.c    the engine thread: poll, dispatch, the state machine's
 *               wants, journal writes and callbacks without the lock
 *   client.c    the client's life, and waiting in a public call
 *   reader.c    a caller waiting for its mapping reads the reply itself
 *   discover.c, request.c, release.c, table.c: the public API
 *
 * Everything here runs with the client lock held unless it says
 * otherwise.
 */
#ifndef PM_CORE_H
#define PM_CORE_H

#include <unistd.h>

#include "core/journal.h"
#include "proto/backend.h"

/* ---- jqueue.c: journal writes, queued under the lock ---- */

typedef pm_journal_op pm_jop; /* put 1: put e; 0: remove e's key */

/* early: the write is to be done before the events queued with it are
 * delivered (a lease that never ends, see pm_jq_run); otherwise after. */
void pm_jq_put(portmap_client *c, const pm_journal_entry *e, int early);
void pm_jq_remove(portmap_client *c, portmap_transport proto, uint16_t internal_port,
                  const pm_addr *local);
/* Do the queued writes in order, in one journal store per batch. With
 * unlock, c->lock is held on entry and released while writing (the
 * engine); without, nobody holds it (tests, the engine's last act). */
void pm_jq_run(portmap_client *c, int unlock);
/* pm_jq_run when a write queued is early (pm_jq_put), else nothing: the
 * engine's turn before it delivers events. */
void pm_jq_run_early(portmap_client *c);
/* Whether the engine is to run the queued writes now: one is early, a
 * caller waits for them (pm_jq_barrier), the client closes, or the
 * oldest has waited PM_JQ_BATCH_MS for others to join its batch; if not,
 * *deadline is lowered to when it will be. */
int pm_jq_due(const portmap_client *c, int64_t now, int64_t *deadline);
/* Wait until every write queued so far is done, or deadline (at least
 * 2 s from now: the caller is owed the writes it caused). Lock held;
 * not on the engine thread. */
void pm_jq_barrier(portmap_client *c, int64_t deadline);
void pm_jq_free(portmap_client *c);
/* After a journal call on this thread: a state directory refused as
 * unsafe (pm_journal_refusal) is a warning, once per client; the client
 * goes on without the journal. Any thread, lock held or not. */
void pm_jq_check_refusal(portmap_client *c);

/* ---- mappings.c: the mapping objects ---- */

/* A new mapping for request r, linked in the client's list; two
 * references: the caller's and the list's. */
portmap_mapping *pm_mapping_new(portmap_client *c, const portmap_request *r, int64_t now);
void pm_mapping_ref(portmap_mapping *m);
void pm_mapping_unref(portmap_mapping *m); /* frees at zero */
/* Put m at the head of the client's list; the list holds a reference
 * (the caller's, passed on). */
void pm_mapping_link(portmap_client *c, portmap_mapping *m);
void pm_mapping_unlink(portmap_client *c, portmap_mapping *m);
/* 1 when m is in the client's list. A handle stays listed while its twin
 * is: the twin's events go through it. */
int pm_mapping_listed(const portmap_client *c, const portmap_mapping *m);
/* Call fn for each mapping; fn may unlink or drop the current one. */
void pm_mappings_each(portmap_client *c, void (*fn)(portmap_client *, portmap_mapping *, void *),
                      void *arg);
void pm_mapping_fill_info(const portmap_mapping *m, int64_t now, portmap_mapping_info *info);
/* m's reason in words (portmap_mapping_get_reason), "" when none. */
static inline const char *pm_mapping_reason(const portmap_mapping *m)
{
    return m->reason ? m->reason : "";
}
void pm_mapping_set_reason(portmap_mapping *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pm_mapping_clear_reason(portmap_mapping *m);
/* Drop m's held success (the hold is over or superseded). */
void pm_mapping_drop_held(portmap_mapping *m);
/* Free every mapping still listed (the client is being freed). */
void pm_mappings_free_all(portmap_client *c);

/* The engine's indexes of the listed mappings, so that a round costs what
 * is due, not what is held: each mapping's next deadline in a timer heap
 * (c->timers), those whose state depends on the network's (pending
 * requests, held successes...) in a list serviced every pass (c->watch),
 * the exchanges under way per method (c->ops), the lost ones counted
 * (c->n_lost). A mapping changed outside its own service (a reply, a
 * reset, a release, a renewal asked for) is kicked: its pass comes in
 * the engine's next round. */
void pm_mapping_kick(portmap_client *c, portmap_mapping *m);
/* After m's service: its next deadline (PM_NEVER: none); watch: serviced
 * every pass instead. */
void pm_mapping_schedule(portmap_client *c, portmap_mapping *m, int64_t next, int watch);
/* The watched mappings, each held (unref each, free the array); NULL and
 * *n 0 when none (or out of memory: the next pass tries again). */
portmap_mapping **pm_watch_list(portmap_client *c, size_t *n);
/* Every change of state goes through here: the lost ones are counted. */
void pm_mapping_set_state(portmap_client *c, portmap_mapping *m, portmap_state s);
/* m's exchange (m->op_method) starts / ends: listed and counted. */
void pm_ops_add(portmap_client *c, portmap_mapping *m);
void pm_ops_remove(portmap_client *c, portmap_mapping *m);
/* pm_host.each_op */
void pm_ops_each(portmap_client *c, portmap_method method,
                 void (*fn)(portmap_client *, portmap_mapping *, void *), void *arg);

/* ---- events.c ---- */

typedef struct pm_event {
    portmap_mapping *m;       /* holds a reference */
    portmap_event ev;
    portmap_mapping_info info;
} pm_event;

void pm_event_queue(portmap_client *c, portmap_mapping *m, portmap_event ev);
/* Call the queued callbacks without the lock (held on entry and exit). */
void pm_events_deliver(portmap_client *c);
/* Drop queued events unseen (tests). */
void pm_events_drop(portmap_client *c);

/* ---- netinfo.c: reading the network state ---- */

/* c's backend for method serves fam / can restrict to /prefix */
int pm_method_has_family(const portmap_client *c, portmap_method method, int fam);
int pm_method_can_allow(const portmap_client *c, portmap_method method, uint8_t prefix);
/* Can method map a port for another host of fam's LAN? Can it serve m
 * (its host and its remote restriction)? */
int pm_method_third_party(const portmap_client *c, portmap_method method, int fam);
int pm_method_can_serve(const portmap_client *c, portmap_method method, const portmap_mapping *m);
/* "PCP", "NAT-PMP", "UPnP-IGD": a protocol's name in a sentence */
const char *pm_method_label(const portmap_client *c, portmap_method m);
/* Read the subnets of net's link and the router's other addresses (for
 * a request naming another host): the engine's pass, once per route read
 * after a request did (portmap_client.lan_wanted) */
void pm_net_read_lan(pm_net *net);
int pm_net_all_probes_done(const portmap_client *c, int fam);
/* The first protocol, in the client's order, that a router of ours (of
 * either family) answered; AUTO when none has. */
portmap_method pm_net_first_answered(const portmap_client *c);
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
/*
 * Many mappings asked for at once go out at once, up to this many
 * exchanges under way at one router: a burst of 1,000 datagrams
 * overflows a router's socket buffer (~200 of them), and the ones it
 * dropped would each wait out a retransmission (250 ms, then 500...).
 * The others go as answers come, one round trip apart per 64.
 */
#define PM_INFLIGHT_MAX 64
#define PM_SILENT_GRACE_MS 1000
#define PM_REFUSED_GRACE_MS 2000
int64_t pm_net_silent_deadline(const portmap_client *c, int fam, portmap_method method);
/* What made a silent protocol not worth waiting for: "PCP answered" */
void pm_net_who_answered(const portmap_client *c, int fam, char *buf, size_t len);
/* fam's protocols that did not answer and why, in words, for a reason:
 * "the router at 10.77.0.1: PCP: refused ...; UPnP-IGD: no answer ...",
 * or why there is no router to ask ("no IPv4 default route").
 * only: AUTO for the client's order, else that protocol; allow_prefix
 * leaves out those that cannot honour it. */
void pm_net_reason(const portmap_client *c, int fam, portmap_method only, uint8_t allow_prefix,
                   char *buf, size_t len);
/* The same for a request that names another host (third): protocols
 * that cannot map for one say so */
void pm_net_reason_third(const portmap_client *c, int fam, portmap_method only,
                         uint8_t allow_prefix, int third, char *buf, size_t len);
/* The public name of a kind of IPv6 address: the same order, from 1 */
static inline portmap_address_kind pm_address_kind(pm_v6_kind k)
{
    return k == PM_V6_UNFIT ? PORTMAP_ADDRESS_NA : (portmap_address_kind)(k + 1);
}

/* Whether the IPv4 external address is known (0.0.0.0 counts: the router
 * said it has none) */
static inline int pm_ext_addr_known(const portmap_client *c)
{
    return c->ext_addr || c->ext_addr_at;
}
/* A success that came before the external address was known is held at
 * most this long, so nobody is told "mapped" without the address. */
#define PM_HOLD_FOR_ADDR_MS 2000

/* ---- mapping.c: the per-mapping state machine ----
 * No I/O and no calls upwards: it changes the mapping, queues events
 * and journal writes, sends through the backend's vtable (a datagram or
 * a non-blocking connect, never a wait), and asks the engine for what it
 * cannot do itself through fam's pm_net: want_route (read the routes
 * again), want_probe (probe the protocols). */
void pm_mapping_on_result(portmap_client *c, portmap_mapping *m, const pm_result *r, int64_t now);
void pm_mapping_on_timeout(portmap_client *c, portmap_mapping *m, int64_t now);
void pm_mapping_start_op(portmap_client *c, portmap_mapping *m, pm_op op, int64_t now);
/* Cancel a pending request and delete what the router holds (or may hold)
 * for m, by deadline. Returns 0 when it is released or releasing already. */
int pm_mapping_start_release(portmap_client *c, portmap_mapping *m, int64_t deadline, int64_t now);
void pm_mapping_stop_op(portmap_client *c, portmap_mapping *m);
/* m (RELEASING) sends its delete now, or once there is room at the router
 * (waits_turn, serviced every pass), PM_TURN_WAIT_MS at the latest. */
#define PM_TURN_WAIT_MS 1000
void pm_mapping_start_delete(portmap_client *c, portmap_mapping *m, int64_t now);
/* m's exchange waits on a protocol the router turned out not to speak:
 * a pending request moves on to the next protocol, a release ends. */
void pm_mapping_protocol_gone(portmap_client *c, portmap_mapping *m);
/* The gateway or our address changed; 1 when m is to be made again. */
int pm_mapping_network_changed(portmap_client *c, portmap_mapping *m, int64_t now);
/* The router lost m in a reset (its epoch went back): made again after
 * spread_ms. 1 when m was affected. */
int pm_mapping_router_reset(portmap_client *c, portmap_mapping *m, int64_t retry_at);
/* When a lease of lifetime s granted at now is to be renewed */
int64_t pm_mapping_refresh_time(const portmap_client *c, portmap_method method, uint32_t lifetime,
                                int64_t now, double unit_rand);
/* Ask the engine to probe fam's protocols (PM_PROBE_* what) by deadline */
void pm_mapping_want_probe(portmap_client *c, int fam, unsigned what, int64_t deadline);
/* The same, right after a first request went out in behind: the probes
 * of protocols on another port of the router are held a moment behind it
 * (pm_net_probe_behind) */
void pm_mapping_want_probe_behind(portmap_client *c, int fam, unsigned what, int64_t deadline,
                                  portmap_method behind);
/* The end states: FAILED with err (and the reason in words), RELEASED */
void pm_mapping_fail(portmap_client *c, portmap_mapping *m, portmap_error err);
void pm_mapping_set_released(portmap_client *c, portmap_mapping *m, portmap_error err);

/* ---- service.c: when each mapping acts (above mapping.c) ---- */

/* m's part of the engine's pass at now; lowers *deadline to its next. */
void pm_mapping_service(portmap_client *c, portmap_mapping *m, int64_t now, int64_t *deadline);
/* A new request m whose protocol (the pass's pick: one that answered, or
 * the first not refused) sends the request itself in start
 * (pm_backend.start_sends, PCP): started now, on the caller's thread, as
 * the engine's pass would start it, so the request does not wait for the
 * engine to wake up. The engine owns the exchange from there
 * (retransmissions, the reply, the deadline, the probes it asked for)
 * and is to be woken to take it into its timers and poll set. 1 when
 * started; 0 when the pass is to decide (no route read yet, a full
 * window, another host's request). */
int pm_mapping_start_at_once(portmap_client *c, portmap_mapping *m, int64_t now);
/* m's service depends on more than its own deadlines (the network's
 * verdicts, the exchanges under way, the external address): it is to be
 * serviced every pass, not only when its deadline comes or it is kicked. */
int pm_mapping_watched(const portmap_mapping *m);

/* ---- net.c: the one writer of the network state ---- */

/* The services lent to backends (pm_host). */
extern const pm_host pm_host_engine;
/* Read fam's route again; 0 when there is one. A change of gateway or
 * address forgets what the old router spoke. */
int pm_net_refresh_route(portmap_client *c, int fam, int64_t now);
void pm_net_probe_all(portmap_client *c, int fam, int64_t now, int64_t deadline, unsigned what);
/*
 * pm_net_probe_all right after a first request went out in behind: the
 * protocols served on another port of the router are held (PROBING,
 * nothing sent) until the millisecond clock ticks (PM_PROBE_HOLD_MS: up
 * to 1 ms). A router serves its sockets in its own order (miniupnpd
 * reads SSDP before PCP): four M-SEARCHes that land with the request
 * would be answered first; once it has read the request (a wake-up,
 * mostly well within the hold) they wait their turn behind it. Not until
 * behind is answered or refused: a router that keeps it silent (a
 * firewall, or the kernel's rate limit on ICMP refusals, as the lab's
 * UPnP-only router under repeated requests) would cost UPnP that longer
 * wait. Measured (bench_ab fresh, bench_mapped upnp): 2 ms cut the full
 * router's p90 a little more, but cost UPnP-only 1.9 ms where 1 costs
 * 0.6-0.9 (bench/RESULTS.md).
 */
#define PM_PROBE_HOLD_MS 1
void pm_net_probe_behind(portmap_client *c, int fam, int64_t now, int64_t deadline, unsigned what,
                         portmap_method behind);
void pm_net_heard(portmap_client *c, int fam, portmap_method method, int64_t now);
/* The verdict on method at fam's router; why (NO only) in words. */
void pm_net_probe_done(portmap_client *c, int fam, portmap_method method, pm_avail result,
                       const char *why, int64_t now);
void pm_net_probe_failed(portmap_client *c, int fam, portmap_method method, int64_t now,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Give up the probes that are over (deadline, or silent while another
 * protocol answered); lower *deadline to the next such time. */
void pm_net_end_probes(portmap_client *c, int fam, int64_t now, int64_t *deadline);
/* The IPv4 NAT's external address (0: the router knows none), with the
 * double-NAT verdict; the one setter. */
void pm_net_set_external(portmap_client *c, uint32_t addr, int64_t now);
void pm_net_forget_external(portmap_client *c);
/* m's exchange ended with r: the network state learns from it, then the
 * state machine. */
void pm_net_map_done(portmap_client *c, portmap_mapping *m, const pm_result *r, int64_t now);
/* fam's router lost its mappings of method (its epoch went back). */
void pm_net_router_reset(portmap_client *c, int fam, portmap_method method, uint32_t epoch,
                         int64_t now);
/* The check of fam's router that announcements asked for, once its
 * time has come; lowers *deadline to that time. */
void pm_net_run_checks(portmap_client *c, int fam, int64_t now, int64_t *deadline);
/* Do what the state machine asked of fam's network in its pass. 1 when
 * something was done (the mappings are to be looked at again). */
int pm_net_run_wants(portmap_client *c, int fam, int64_t now);

/* ---- orphans.c ---- */

/* Start the release of the journal entries e (claimed from dead
 * processes), found on fam's router through method. */
void pm_orphans_release(portmap_client *c, const pm_journal_entry *e, size_t n, int64_t now);

/* ---- the reader (reader.c): a caller that reads its replies ---- */

/* The eventfd that wakes the caller reading its replies, -1 when none
 * reads (lock held: read it before the lock is dropped). */
static inline int pm_reader_efd(const portmap_client *c)
{
    return c->n_reader_fds ? c->reader_efd : -1;
}
/* Whether the reader's wait is to be looked at again (lock held): the
 * sockets it would poll now are not those it polls (its mapping's
 * exchange ended or moved to another protocol, a socket was replaced),
 * or the client stops. Anything else leaves it asleep: a wake-up of a
 * thread for nothing costs a CPU the router's reply may be waiting for. */
static inline int pm_reader_stale(const portmap_client *c)
{
    int fds[PM_FAMS];
    const pm_backend *bs[PM_FAMS];
    unsigned n;

    if (c->stopping || c->closed || !c->reader_m)
        return 1;
    n = pm_backend_reply_fds(c, c->reader_m, fds, bs);
    if (n != c->n_reader_fds)
        return 1;
    for (unsigned i = 0; i < n; i++)
        if (fds[i] != c->reader_fds[i])
            return 1;
    return 0;
}
/* pm_reader_efd when the reader is to be woken, else -1 (lock held).
 * Never while the reader itself dispatches what it read: it looks at its
 * wait again on its way back. */
static inline int pm_reader_efd_if_stale(const portmap_client *c)
{
    return c->n_reader_fds && !c->reader_dispatching && pm_reader_stale(c) ? c->reader_efd
                                                                           : -1;
}
/* Wake the reader of efd (pm_reader_efd's; -1: none). No lock needed:
 * the eventfd lives as long as the client. */
static inline void pm_reader_wake(int efd)
{
    uint64_t one = 1;
    ssize_t n;

    if (efd < 0)
        return;
    n = write(efd, &one, sizeof(one));
    (void)n; /* EAGAIN: a wake-up is pending already */
}

/* ---- engine.c ---- */

void pm_engine_wake(portmap_client *c);
void *pm_engine_main(void *arg);
/* Whether the calling thread is c's engine (inline: every module asks) */
static inline int pm_engine_on_thread(const portmap_client *c)
{
    return c->thread_started && pthread_equal(pthread_self(), c->thread);
}
/* Something a waiting caller may wait for changed (lock held): they are
 * woken now, or, on the engine thread, when it next drops the lock
 * (pm_unlock_and_wake). A caller woken while the engine holds the lock
 * would only wake to wait for it: a second wake-up, with the switches
 * of both, on the way from a reply to its waiter. */
static inline void pm_wake_waiters(portmap_client *c)
{
    if (pm_engine_on_thread(c)) {
        c->wake_due = 1;
    } else {
        pthread_cond_broadcast(&c->cond);
        pm_reader_wake(pm_reader_efd_if_stale(c));
    }
}
/* Drop the lock, then wake the callers pm_wake_waiters told of. */
static inline void pm_unlock_and_wake(portmap_client *c)
{
    int due = c->wake_due, efd = due ? pm_reader_efd_if_stale(c) : -1;

    c->wake_due = 0;
    pthread_mutex_unlock(&c->lock);
    if (due) {
        pthread_cond_broadcast(&c->cond);
        pm_reader_wake(efd);
    }
}
/* One pass over the mappings that are due, kicked or watched and what
 * they asked for, as the engine does each round (no I/O but sends; the
 * tests drive it with their clock). */
void pm_engine_pass(portmap_client *c, int64_t now, int64_t *deadline);
/* Stop every exchange: the client closes. */
void pm_engine_cancel_all(portmap_client *c);

/* ---- client.c ---- */

/* A client with backends (NULL: pm_backends_default) and no thread and
 * no sockets when bare: the tests' and fuzzers' state machine. */
int pm_client_new(portmap_client **out, const portmap_settings *s,
                  const pm_backend *const backends[PORTMAP_METHOD_COUNT], int bare);
void pm_client_free(portmap_client *c);

#endif /* PM_CORE_H */
