/*
 * libportmap: open ports on the local router (PCP, NAT-PMP, UPnP-IGD).
 *
 * Threading model, in one paragraph: every client owns one engine thread.
 * The engine does the network I/O, retransmissions and lease refreshes, and
 * it is the only thread that ever calls your mapping callbacks. All public
 * functions are thread-safe unless a comment says otherwise; they take the
 * client's lock, change state, wake the engine and return. One exception
 * to the I/O: a request on a router that has already answered in PCP,
 * and a release, send their first datagram from the calling
 * thread (under the lock, without waiting); the engine still owns the
 * exchange (retransmissions, the events). A caller blocked in
 * portmap_mapping_wait() while a PCP exchange of the mapping is under way
 * reads its reply itself (one reply, one wake-up). Blocking functions (portmap_discover,
 * portmap_external_ip, portmap_mapping_wait, portmap_release_port,
 * portmap_cleanup, portmap_router_mappings, portmap_router_delete and
 * portmap_mapping_release with a timeout) always honour their timeout.
 *
 * From inside a callback you may call every function except portmap_close()
 * and the blocking ones (portmap_discover, portmap_external_ip,
 * portmap_mapping_wait, portmap_release_port, portmap_cleanup,
 * portmap_router_mappings, portmap_router_delete, and
 * portmap_mapping_release with a timeout): those return
 * PORTMAP_ERR_WOULD_DEADLOCK at once instead of waiting on the thread that
 * is running your callback.
 *
 * Reference: man 3 libportmap (doc/man3), one page per function.
 */
#ifndef PORTMAP_PORTMAP_H
#define PORTMAP_PORTMAP_H

#include <stddef.h>
#include <stdint.h>

#include "portmap/common.h"
#include "portmap/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Error codes. The numbers are part of the ABI: they are never reused or
 * renumbered, new codes are appended. Functions return 0 on success and one
 * of these (as a positive int) on failure.
 */
typedef enum portmap_error {
    PORTMAP_OK = 0,
    PORTMAP_ERR_INVALID_ARGUMENT = 1, /* a parameter is out of range or NULL */
    PORTMAP_ERR_NO_MEMORY = 2,
    PORTMAP_ERR_NO_GATEWAY = 3,    /* no default gateway, or none answered any protocol */
    PORTMAP_ERR_TIMEOUT = 4,       /* the gateway did not answer in time */
    PORTMAP_ERR_CANCELLED = 5,     /* the client was closed while the call was pending */
    PORTMAP_ERR_REFUSED = 6,       /* the gateway refused the request (see the log) */
    PORTMAP_ERR_NOT_AUTHORIZED = 7,/* the gateway does not allow this mapping */
    PORTMAP_ERR_NO_RESOURCES = 8,  /* the gateway has no port or table room left */
    PORTMAP_ERR_UNSUPPORTED = 9,   /* the gateway does not speak the requested protocol */
    PORTMAP_ERR_NETWORK = 10,      /* the gateway reported a network failure */
    PORTMAP_ERR_SYSTEM = 11,       /* a local OS call failed (socket, thread, file) */
    PORTMAP_ERR_BAD_STATE = 12,    /* the object is in a state that does not allow this */
    PORTMAP_ERR_PROTOCOL = 13,     /* the gateway sent a malformed or inconsistent reply */
    PORTMAP_ERR_WOULD_DEADLOCK = 14,/* a blocking call was made from a callback */
    PORTMAP_ERR_NOT_FOUND = 15,    /* no such mapping */
    PORTMAP_ERR_PORT_IN_USE = 16,  /* the external port is taken by another mapping */
} portmap_error;

/* A short English description of an error code; never NULL. Thread-safe. */
PORTMAP_API const char *portmap_strerror(int err);

/* Mapping methods (wire protocols). */
typedef enum portmap_method {
    PORTMAP_METHOD_AUTO = 0, /* in preferences: use the default order */
    PORTMAP_METHOD_PCP = 1,
    PORTMAP_METHOD_NATPMP = 2,
    PORTMAP_METHOD_UPNP = 3,
} portmap_method;
#define PORTMAP_METHOD_COUNT 4

/* "pcp", "natpmp", "upnp", "auto"; NULL for an unknown value. */
PORTMAP_API const char *portmap_method_name(portmap_method m);

/*
 * Address families of a request (since API 0.3). IPv4 makes a NAT port
 * mapping; IPv6 opens a pinhole in the router's firewall for one of this
 * host's IPv6 addresses (there is no translation: the outside reaches
 * that address and the same port). Both does each where the network has
 * it.
 */
typedef enum portmap_family {
    PORTMAP_FAMILY_DEFAULT = 0,  /* in a request: IPv4, as before API 0.3 */
    PORTMAP_IPV4 = 1,
    PORTMAP_IPV6 = 2,
    PORTMAP_IPV4_IPV6 = 3,       /* PORTMAP_IPV4 | PORTMAP_IPV6 */
} portmap_family;

/* What kind of IPv6 address a pinhole was opened for (info.address_kind).
 * The library picks a stable address over a temporary (privacy) one,
 * which the system replaces within a day, and a global over a
 * unique-local one. */
typedef enum portmap_address_kind {
    PORTMAP_ADDRESS_NA = 0,             /* IPv4, or not known yet */
    PORTMAP_ADDRESS_STABLE = 1,         /* global, not temporary */
    PORTMAP_ADDRESS_STABLE_ULA = 2,     /* unique-local (fc00::/7), not temporary */
    PORTMAP_ADDRESS_TEMPORARY = 3,      /* global privacy address: no stable one */
    PORTMAP_ADDRESS_TEMPORARY_ULA = 4,
} portmap_address_kind;

/* "stable", "stable unique-local", "temporary", ...; "" for NA. */
PORTMAP_API const char *portmap_address_kind_name(portmap_address_kind k);

/* Transport protocols, with their IANA numbers. */
typedef enum portmap_transport {
    PORTMAP_TCP = 6,
    PORTMAP_UDP = 17,
} portmap_transport;

typedef enum portmap_log_level {
    PORTMAP_LOG_ERROR = 0,
    PORTMAP_LOG_WARNING = 1,
    PORTMAP_LOG_INFO = 2,
    PORTMAP_LOG_DEBUG = 3,
} portmap_log_level;

/*
 * Log callback. Called from the engine thread or from the thread inside a
 * public call, possibly with the client's lock held: it must not call any
 * portmap_* function of the same client (copy msg, which is valid only
 * during the call, and act on it elsewhere).
 */
typedef void (*portmap_log_callback)(void *user, portmap_log_level level, const char *msg);

/*
 * Client settings. Always start from portmap_default_settings(); the
 * reserved bytes must stay zero so that future fields keep their defaults.
 */
typedef struct portmap_settings {
    /* Protocols to use, most preferred first, ended by AUTO (0). All zero
     * means the default order: PCP, NAT-PMP, then UPnP-IGD. */
    portmap_method methods[PORTMAP_METHOD_COUNT];
    /* Lease in seconds for requests that do not give one. Default 7200.
     * The library never asks for a permanent mapping on its own. */
    uint32_t default_lifetime;
    /* Default bound in milliseconds for discovery and for the first reply
     * to a request. Default 10000. */
    int timeout_ms;
    /* Address of the gateway to use instead of the routing table's
     * default gateway, or NULL. Copied by portmap_open(). An IPv4 one
     * rules IPv6 out and the other way round; an IPv6 link-local one may
     * carry its zone ("fe80::1%eth0"), else the default route's link is
     * taken. */
    const char *gateway;
    /* Non-zero: portmap_close() releases every mapping still held (bounded
     * by close_timeout_ms). Default 1. */
    int release_on_close;
    int close_timeout_ms; /* default 2000 */
    /* Directory for the journal of held mappings, or NULL for the default:
     * $PORTMAP_STATE_DIR, else /run/portmap for root, else
     * $XDG_RUNTIME_DIR/portmap, else /tmp/portmap-UID. Copied. */
    const char *state_dir;
    portmap_log_callback log_callback; /* NULL: no logging */
    void *log_user;
    portmap_log_level log_level;       /* default PORTMAP_LOG_WARNING */
    /* Zero (the default): once the client has found the router, it releases
     * the mappings that processes which have since died (SIGKILL, crash)
     * left there, per the journal in state_dir (pid and start time
     * checked). Non-zero: leave them, e.g. for portmap_cleanup(). */
    int keep_orphans;
    uint8_t reserved[60];
} portmap_settings;

/* Fill s with defaults. */
PORTMAP_API void portmap_default_settings(portmap_settings *s);

typedef struct portmap_client portmap_client;
typedef struct portmap_mapping portmap_mapping;

/* Library version, e.g. "0.1.0", and the API number PORTMAP_API_VERSION
 * the library was built with. */
PORTMAP_API const char *portmap_version(void);
PORTMAP_API unsigned portmap_version_api(void);

/*
 * Create a client and start its engine thread. No network traffic is sent
 * until a discovery or a request asks for it. On success *out owns the
 * client; free it with portmap_close().
 */
PORTMAP_API int portmap_open(portmap_client **out, const portmap_settings *s);

/*
 * Close a client: release its mappings if release_on_close is set (waiting
 * at most close_timeout_ms for the router), fail every pending blocking call
 * and mapping with PORTMAP_ERR_CANCELLED, join the engine thread, free every
 * mapping handle of the client, free the client and set *c to NULL.
 * Safe with requests in flight in other threads. Not allowed from inside a
 * callback (returns PORTMAP_ERR_WOULD_DEADLOCK). NULL or *c == NULL is a no-op.
 */
PORTMAP_API int portmap_close(portmap_client **c);

/* Bits of portmap_discovery.methods. */
#define PORTMAP_HAVE(m) (1u << (m))

typedef struct portmap_discovery {
    char gateway[PORTMAP_ADDRSTRLEN];
    char local_address[PORTMAP_ADDRSTRLEN];
    char external_address[PORTMAP_ADDRSTRLEN]; /* "" when no protocol told */
    unsigned methods;          /* PORTMAP_HAVE(method) for each that answered */
    portmap_method preferred;  /* what a request with method AUTO will use */
    int pcp_version;           /* 2 when PCP answered, else 0 */
    int upnp_version;          /* IGD service version 1 or 2 when UPnP answered */
    char upnp_service[48];     /* e.g. "WANIPConnection:2", "WANPPPConnection:1" */
    /* Non-zero when the router's own external address is private, in
     * 100.64.0.0/10 or 0.0.0.0: it is itself behind NAT (double NAT or
     * carrier-grade NAT) and a mapping on it alone does not make a port
     * reachable from the Internet. */
    int double_nat;
    /* Since API 0.3: which family this describes. For IPv6, gateway is
     * the router (a link-local one with "%zone"), local_address the
     * address pinholes are opened for and address_kind its kind;
     * external_address stays "" (no translation); upnp_service is
     * "WANIPv6FirewallControl:1". */
    portmap_family family;
    portmap_address_kind address_kind;
    uint8_t reserved[56];
} portmap_discovery;

#define PORTMAP_DISCOVER_FRESH 1u /* ignore the cached result, probe again */

/*
 * Find the gateway and local address from the routing table and probe the
 * gateway for every allowed protocol at the same time. Blocks at most
 * timeout_ms (<= 0: the client's timeout). The result is cached until the
 * gateway or the local address changes, or a protocol stops answering.
 * Returns PORTMAP_ERR_NO_GATEWAY when there is no default route or nothing
 * answered; out is filled as far as known in every case.
 */
PORTMAP_API int portmap_discover(portmap_client *c, portmap_discovery *out, unsigned flags,
                                 int timeout_ms);

/*
 * Discover both families at once, within one timeout: the IPv4 gateway
 * (as portmap_discover) into v4 and the IPv6 default router (PCP over
 * IPv6, UPnP-IGD's WANIPv6FirewallControl over SSDP on ff02::c) into v6.
 * Either may be NULL to leave that family out. Returns PORTMAP_OK when
 * any asked-for family has a router that answered, else
 * PORTMAP_ERR_NO_GATEWAY (or another error). Since API 0.3.
 */
PORTMAP_API int portmap_discover_dual(portmap_client *c, portmap_discovery *v4,
                                      portmap_discovery *v6, unsigned flags, int timeout_ms);

/*
 * What the last discovery of family (PORTMAP_IPV4 or PORTMAP_IPV6) found
 * of each protocol, in words (since API 0.4): "no IPv4 default route", or
 * "the router at 10.77.0.1: PCP: answered; NAT-PMP: refused (nothing
 * listens on port 5351); UPnP-IGD: no answer within 1.0 s, while PCP
 * answered". For a message after portmap_discover() or a failed request.
 * Never blocks.
 */
PORTMAP_API int portmap_discover_reason(portmap_client *c, portmap_family family, char *buf,
                                        size_t len);

/*
 * Ask the gateway for its external IPv4 address now (NAT-PMP opcode 0, or
 * a short-lived PCP mapping that is deleted again). Writes a NUL-terminated
 * string into buf (at least PORTMAP_ADDRSTRLEN bytes). Blocks <= timeout_ms.
 * An address no Internet host can have (127.0.0.1, 0.0.0.0, ...) is not
 * written: PORTMAP_ERR_PROTOCOL, and portmap_discover_reason() says what
 * the router gave.
 */
PORTMAP_API int portmap_external_ip(portmap_client *c, char *buf, size_t len, int timeout_ms);

typedef enum portmap_state {
    PORTMAP_STATE_PENDING = 0,   /* first request under way */
    PORTMAP_STATE_MAPPED = 1,    /* the router holds the mapping */
    PORTMAP_STATE_LOST = 2,      /* the router stopped answering or lost it; retrying */
    PORTMAP_STATE_FAILED = 3,    /* gave up; last_error says why */
    PORTMAP_STATE_RELEASING = 4,
    PORTMAP_STATE_RELEASED = 5,
} portmap_state;

typedef enum portmap_event {
    PORTMAP_EVENT_MAPPED = 1,    /* first success */
    PORTMAP_EVENT_CHANGED = 2,   /* external address or port changed */
    PORTMAP_EVENT_LOST = 3,      /* was mapped, now lost; the library keeps retrying */
    /* mapped again after LOST, e.g. after a router reset; a renewal that
     * itself re-creates the mapping on a rebooted router reports nothing,
     * since the mapping was never missing for the caller */
    PORTMAP_EVENT_RESTORED = 4,
    PORTMAP_EVENT_FAILED = 5,    /* gave up; no more events but RELEASED */
    /* released (or the client closed); the last event. info.last_error
     * is PORTMAP_OK when the router confirmed the release, else why not */
    PORTMAP_EVENT_RELEASED = 6,
} portmap_event;

/* "pending", "mapped", ...; NULL for an unknown value. */
PORTMAP_API const char *portmap_state_name(portmap_state s);
PORTMAP_API const char *portmap_event_name(portmap_event e);

typedef struct portmap_mapping_info {
    portmap_state state;
    portmap_method method;      /* AUTO while not yet decided */
    portmap_transport protocol;
    uint16_t internal_port;
    uint16_t external_port;     /* assigned by the router; 0 until mapped */
    char internal_address[PORTMAP_ADDRSTRLEN];
    char external_address[PORTMAP_ADDRSTRLEN];
    uint32_t lifetime;          /* seconds granted by the router */
    int64_t refresh_in_ms;      /* until the next renewal, -1 if none due */
    int64_t expires_in_ms;      /* until the lease runs out, -1 if not mapped */
    portmap_error last_error;   /* why the last attempt failed, or PORTMAP_OK */
    uint32_t renewals;          /* successful renewals so far */
    /* The router only accepted a permanent mapping (UPnP error 725/402):
     * lifetime is 0, the library checks it at each refresh and deletes it
     * on release and close. */
    int permanent;
    int double_nat;             /* see portmap_discovery.double_nat */
    /* Since API 0.3: PORTMAP_IPV4 (a NAT mapping) or PORTMAP_IPV6 (a
     * pinhole: external_address is internal_address, reachable from
     * outside on external_port) */
    portmap_family family;
    portmap_address_kind address_kind;  /* IPv6: what internal_address is */
    /* Since API 0.4: non-zero when last_error is PORTMAP_ERR_NO_GATEWAY
     * because this host has no default route of the family (or, IPv6, no
     * address fit for a pinhole): the network lacks the family, as
     * opposed to a router that did not answer. */
    int no_route;
    uint8_t reserved[52];
} portmap_mapping_info;

/*
 * Mapping callback. Called on the client's engine thread with no lock held;
 * info is a snapshot valid during the call, m stays valid during the call
 * even after RELEASED. See the top of this file for what may be called
 * from inside.
 */
typedef void (*portmap_mapping_callback)(portmap_mapping *m, portmap_event ev,
                                         const portmap_mapping_info *info, void *user);

typedef struct portmap_request {
    portmap_transport protocol;
    uint16_t internal_port;     /* 1-65535 */
    uint16_t external_port;     /* suggestion; 0 = any (the router may still choose) */
    uint32_t lifetime;          /* seconds; 0 = the client's default_lifetime */
    const char *description;    /* copied; NULL = "libportmap" */
    portmap_method method;      /* AUTO = the client's preference order */
    int timeout_ms;             /* bound on the first success; <= 0: client's timeout */
    portmap_mapping_callback callback; /* may be NULL */
    void *user;
    /*
     * Who may connect: "ADDR" (one host) or "ADDR/PREFIX" (a network),
     * IPv4; NULL or "" = anyone. Copied. PCP passes it as a FILTER
     * option, UPnP-IGD as NewRemoteHost (one host only, so a PREFIX under
     * 32 rules UPnP out); NAT-PMP cannot restrict at all. A protocol that
     * cannot honour it is never used for this mapping: rather than open
     * the port to everyone, the request fails with
     * PORTMAP_ERR_UNSUPPORTED (since API 0.2).
     */
    const char *allow;
    /*
     * Since API 0.3. DEFAULT or IPV4: a NAT mapping. IPV6: a firewall
     * pinhole (PCP or UPnP-IGD v2; NAT-PMP has no IPv6). IPV4_IPV6: both
     * for the same service, each where the network has that family: the
     * one handle holds both, its callback gets the events of each (info.
     * family tells which), portmap_mapping_get_info() describes the IPv4
     * one and portmap_mapping_get_family_info() either. allow is IPv4
     * only: with IPV6 in family it must be NULL.
     */
    portmap_family family;
    /*
     * Since API 0.6: map the port for another host of the LAN instead of
     * this one: its address, IPv4 for a NAT mapping, IPv6 for a pinhole
     * (family IPV6; both families at once cannot name one host). ""
     * (the default) = this host. It must be on the subnet of the
     * interface towards the router and not the router itself; otherwise
     * the request fails with PORTMAP_ERR_INVALID_ARGUMENT and
     * portmap_mapping_get_reason() says why. PCP sends it as a
     * THIRD_PARTY option, UPnP-IGD as NewInternalClient (InternalClient
     * of a pinhole, which miniupnpd opens for the asking host only);
     * NAT-PMP cannot map for another host and is never
     * used for such a request, nor does the library ever map the port
     * for this host instead. A protocol the router refuses it in (PCP
     * NOT_AUTHORIZED or UNSUPP_OPTION, miniupnpd's secure mode) gives way
     * to the next that can (method AUTO); when none can, the request
     * fails with PORTMAP_ERR_NOT_AUTHORIZED or PORTMAP_ERR_UNSUPPORTED
     * and each cause in words. Libraries before 0.6 refuse a request that sets it
     * (PORTMAP_ERR_INVALID_ARGUMENT: its bytes were reserved).
     */
    char internal_address[PORTMAP_ADDRSTRLEN];
    uint8_t reserved[6];
} portmap_request;

/* Fill r with defaults (all zero but protocol = UDP). */
PORTMAP_API void portmap_request_init(portmap_request *r);

/*
 * Ask for a mapping. Returns at once with a handle in *out; the work goes
 * on in the engine thread and the callback reports the outcome. The
 * handle is owned by the caller until portmap_mapping_release() or
 * portmap_close().
 */
PORTMAP_API int portmap_request_mapping(portmap_client *c, const portmap_request *r,
                                        portmap_mapping **out);

/*
 * Block until the mapping leaves PENDING or timeout_ms passes (<= 0: wait
 * up to the request's own timeout). Returns PORTMAP_OK when mapped, the
 * mapping's error when it failed, PORTMAP_ERR_TIMEOUT otherwise. info may
 * be NULL. For a request of both families: waits for both; PORTMAP_OK
 * when either is mapped (a family the network lacks fails on its own with
 * PORTMAP_ERR_NO_GATEWAY), info describes the IPv4 one.
 */
PORTMAP_API int portmap_mapping_wait(portmap_mapping *m, int timeout_ms, portmap_mapping_info *info);

/*
 * Since API 0.5: wait until the journal of held mappings (see
 * portmap_settings.state_dir) names every mapping this client reported
 * mapped so far. The MAPPED event and portmap_mapping_wait() come first;
 * the journal is written just after, in batches: a program killed between
 * the two leaves a mapping that no later client releases, which lasts
 * until its lease runs out. A program that may be killed the moment it
 * knows and wants the next client to release what it held calls this.
 * timeout_ms <= 0: the client's timeout. PORTMAP_OK, or
 * PORTMAP_ERR_TIMEOUT (the journal's lock stayed taken).
 */
PORTMAP_API int portmap_sync_journal(portmap_client *c, int timeout_ms);

/* Copy the current state. Never blocks on the network. */
PORTMAP_API int portmap_mapping_get_info(portmap_mapping *m, portmap_mapping_info *info);

/* The state of the mapping's IPv4 or IPv6 part (family PORTMAP_IPV4 or
 * PORTMAP_IPV6); PORTMAP_ERR_NOT_FOUND when the request did not ask for
 * that family. Since API 0.3. */
PORTMAP_API int portmap_mapping_get_family_info(portmap_mapping *m, portmap_family family,
                                                portmap_mapping_info *info);

/*
 * Why the mapping's last attempt failed, in words, as the router or the
 * network put it (since API 0.4): e.g. "UPnP-IGD: UPnP error 718:
 * ConflictInMappingEntry", or for a request no router answered "the
 * router at 10.77.0.1: PCP: refused (nothing listens on port 5351);
 * UPnP-IGD: no answer within 10.0 s". "" when nothing failed. family:
 * PORTMAP_IPV4 or PORTMAP_IPV6 for that part of a request of both
 * families (PORTMAP_ERR_NOT_FOUND when it has no such part),
 * PORTMAP_FAMILY_DEFAULT for the handle's own. NUL-terminated, cut to
 * len. Never blocks.
 */
PORTMAP_API int portmap_mapping_get_reason(portmap_mapping *m, portmap_family family, char *buf,
                                           size_t len);

/* Renew now instead of at the scheduled time. Asynchronous. */
PORTMAP_API int portmap_mapping_renew(portmap_mapping *m);

/*
 * Release the mapping on the router, drop the caller's handle and set *m
 * to NULL. With timeout_ms > 0, block until the router confirmed (or the
 * timeout passed: PORTMAP_ERR_TIMEOUT, the release goes on in the
 * background); with 0, return at once. The callback gets RELEASED.
 */
PORTMAP_API int portmap_mapping_release(portmap_mapping **m, int timeout_ms);

/*
 * Release a mapping of this host that this client does not hold, e.g. one
 * left by `portmap-cli request --once`: looks the mapping up in the journal
 * (for the PCP nonce), asks the router to delete it and removes it from the
 * journal. method AUTO tries the method recorded in the journal, else
 * every allowed method. Blocks at most timeout_ms.
 */
PORTMAP_API int portmap_release_port(portmap_client *c, portmap_transport protocol,
                                     uint16_t internal_port, portmap_method method, int timeout_ms);

/*
 * portmap_release_port() for a mapping made for another host of the LAN
 * (portmap_request.internal_address): internal_address names that host
 * (IPv4 or IPv6; NULL or "" = this host, as portmap_release_port()). The
 * journal's entry for that host and port gives the protocol and what
 * deleting it needs; without one, only UPnP-IGD, which can tell whom an
 * entry maps to, deletes it. Blocks at most timeout_ms. Since API 0.6.
 */
PORTMAP_API int portmap_release_port_for(portmap_client *c, const char *internal_address,
                                         portmap_transport protocol, uint16_t internal_port,
                                         portmap_method method, int timeout_ms);

/*
 * Release now, and wait for, the mappings on the current router that
 * processes which have since died left behind (see keep_orphans). Blocks
 * at most timeout_ms. *released (may be NULL) gets how many went; entries
 * the router would not release stay in the journal for a later try.
 */
PORTMAP_API int portmap_cleanup(portmap_client *c, int timeout_ms, unsigned *released);

/* What a client has done so far, for monitoring and bug reports. */
typedef struct portmap_counters {
    uint64_t requests_sent;          /* datagrams and SOAP calls to the router, resends included */
    uint64_t retransmissions;        /* of those, resends after no answer */
    uint64_t responses;              /* replies that completed a mapping exchange */
    uint64_t dropped_wrong_source;   /* replies or announcements not from the gateway */
    uint64_t dropped_unmatched;      /* well-formed, but answering no request of ours */
    uint64_t dropped_malformed;      /* truncated, oversized or undecodable */
    uint64_t renewals;               /* leases renewed */
    uint64_t remaps_after_reset;     /* mappings made again after the router lost them */
    uint64_t announcements;          /* unsolicited announcements accepted from the gateway */
    uint64_t errors[32];             /* failed exchanges by portmap_error code */
    uint8_t reserved[64];
} portmap_counters;

/* Copy the client's counters into *out. Thread-safe, never blocks long. */
PORTMAP_API int portmap_get_counters(portmap_client *c, portmap_counters *out);

/* One entry of the router's own port-mapping table (UPnP-IGD). */
typedef struct portmap_router_entry {
    portmap_transport protocol;
    uint16_t external_port;
    uint16_t internal_port;
    char internal_client[PORTMAP_ADDRSTRLEN];
    char remote_host[PORTMAP_ADDRSTRLEN];  /* "" = any */
    char description[64];
    uint32_t lease;            /* seconds left; 0 = permanent */
    int enabled;
    int ours;                  /* internal_client is this host's address */
    /* ours and held by a running process on this host, per the journal
     * of libportmap's clients (pid and process start time checked); since
     * 0.6 also an entry this host made for another host of the LAN
     * (portmap_request.internal_address; ours is 0) while held */
    int held;
    /* 1: an IPv6 firewall pinhole (portmap_router_pinholes()): no
     * translation, external_port is internal_port (since 0.5) */
    uint8_t ipv6;
    uint8_t reserved[31];
} portmap_router_entry;

/*
 * Read the router's whole mapping table (UPnP-IGD GetGenericPortMappingEntry
 * by index until the end, at most 4096 entries). Blocks at most timeout_ms;
 * the exchanges run on the calling thread, never holding up the engine.
 * On success *out is an array of *count entries, freed with
 * portmap_router_entries_free(). PORTMAP_ERR_UNSUPPORTED when the router
 * offers no UPnP-IGD, PORTMAP_ERR_NO_GATEWAY when there is no gateway or
 * no protocol answered at all (as portmap_discover), PORTMAP_ERR_TIMEOUT
 * when UPnP-IGD did not answer in time.
 */
PORTMAP_API int portmap_router_mappings(portmap_client *c, portmap_router_entry **out,
                                        size_t *count, int timeout_ms);
PORTMAP_API void portmap_router_entries_free(portmap_router_entry *entries);

/*
 * This host's IPv6 firewall pinholes, as the journal of libportmap's
 * clients records them (held ones and ones left by `request --once` or by
 * a process that died), since neither UPnP-IGD's WANIPv6FirewallControl
 * nor PCP has a request that lists a router's pinholes. Pinholes whose
 * lease has run out and nobody holds are left out. Each entry has ipv6
 * set, ours set (0 for one made from here for another host),
 * internal_client the IPv6 address the pinhole is for and
 * lease the seconds left. Reads the journal only: never waits for the
 * network. Free with portmap_router_entries_free(); delete one that is
 * this host's current address's with portmap_release_port(). (since 0.5)
 */
PORTMAP_API int portmap_router_pinholes(portmap_client *c, portmap_router_entry **out,
                                        size_t *count);

/*
 * This host's IPv4 mappings on its current router (any router before the
 * client has read its default route), as the journal of libportmap's
 * clients records them: the ones made through PCP or NAT-PMP too, whose
 * router's table cannot be read (portmap_router_mappings() answers
 * PORTMAP_ERR_UNSUPPORTED there). Held ones and ones left by
 * `request --once` or by a process that died; those whose lease has run
 * out and that nobody holds are left out. Each entry has ours set (0 for
 * one made from here for another host), internal_client the address the
 * mapping is for, external_port the one
 * the router granted, description the protocol that made it (pcp,
 * natpmp, upnp) and lease the seconds left. Reads the journal only: never
 * waits for the network. Free with portmap_router_entries_free(); delete
 * one with portmap_release_port(), another host's with
 * portmap_release_port_for(). (since 0.6)
 */
PORTMAP_API int portmap_journal_mappings(portmap_client *c, portmap_router_entry **out,
                                         size_t *count);

/*
 * Delete an entry of the router's table (UPnP-IGD) that maps to this host,
 * e.g. a stale one found with portmap_router_mappings(). The router is
 * asked first whom the entry maps to: entries of other hosts are refused
 * with PORTMAP_ERR_NOT_AUTHORIZED. Blocks at most timeout_ms.
 */
PORTMAP_API int portmap_router_delete(portmap_client *c, const portmap_router_entry *entry,
                                      int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* PORTMAP_PORTMAP_H */
