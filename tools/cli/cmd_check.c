/*
 * portmap-cli check PORT PROTO: is the port really open?
 *
 * Three independent pieces of evidence, each reported on its own line:
 * the router's table (UPnP-IGD; PCP and NAT-PMP cannot be queried), a
 * listening or bound socket on this host (/proc/net), and a connection to
 * the external address that comes back to this host through the router
 * (NAT loopback, "hairpin"). The verdict uses the words port-checker
 * websites use: open, closed, filtered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"

/* A probe that gets no answer within this is called filtered. */
#define CHECK_PROBE_MS 3000
#define CHECK_RESEND_MS 700

typedef struct check {
    uint16_t port;
    portmap_transport proto;
    char local[PORTMAP_ADDRSTRLEN];
    char external[PORTMAP_ADDRSTRLEN];
    uint16_t external_port;
    int mapping;                 /* 1 present, 0 absent, -1 cannot tell */
    uint32_t lease;
    char mapping_note[160];
    int listening;
    const char *state;           /* open, closed, filtered */
    int reached_us;              /* the probe arrived at this host's port */
    char reason[384];
} check;

/* Look the port up in the router's table; only UPnP-IGD has one. */
static void find_mapping(portmap_client *c, const cli_options *o, check *k)
{
    portmap_router_entry *e = NULL;
    size_t n = 0;
    uint16_t want_ext = o->external_port ? o->external_port : k->port;
    int rc = portmap_router_mappings(c, &e, &n, o->timeout_s * 1000);

    k->external_port = want_ext;
    if (rc != PORTMAP_OK) {
        k->mapping = -1;
        snprintf(k->mapping_note, sizeof(k->mapping_note), "%s",
                 rc == PORTMAP_ERR_UNSUPPORTED
                     ? "unknown: the router offers no table to read (PCP and NAT-PMP cannot be queried)"
                     : portmap_strerror(rc));
        return;
    }
    k->mapping = 0;
    snprintf(k->mapping_note, sizeof(k->mapping_note), "none for %s %u on the router",
             cli_proto_name(k->proto), k->port);
    for (size_t i = 0; i < n; i++) {
        if (e[i].protocol != k->proto)
            continue;
        if (e[i].ours && e[i].internal_port == k->port &&
            (!o->external_port || e[i].external_port == o->external_port)) {
            k->mapping = 1;
            k->external_port = e[i].external_port;
            k->lease = e[i].lease;
            snprintf(k->mapping_note, sizeof(k->mapping_note), "%s:%u -> %s:%u, %s", k->external,
                     e[i].external_port, e[i].internal_client, e[i].internal_port,
                     e[i].lease ? "lease running" : "permanent");
            break;
        }
        if (e[i].external_port == want_ext && !e[i].ours)
            snprintf(k->mapping_note, sizeof(k->mapping_note),
                     "none for this host: external port %u goes to %s:%u", want_ext,
                     e[i].internal_client, e[i].internal_port);
    }
    portmap_router_entries_free(e);
}

/* Wait for the answer to a connect (TCP) or to datagrams (UDP) on fd:
 * 0, or the errno that ended it (ETIMEDOUT: nothing came back). */
static int await_answer(int fd, int tcp, int64_t deadline)
{
    int err = 0;

    for (int64_t next_send = 0;;) {
        struct pollfd p = { .fd = fd, .events = tcp ? POLLOUT : POLLIN };
        int64_t now = cli_mono_ms(), left = deadline - now, wait = left;
        socklen_t el = sizeof(err);
        char buf[64];
        if (left <= 0)
            return ETIMEDOUT;
        /* UDP: send again now and then, since the datagram or the ICMP
         * error may be lost, and hosts rate-limit ICMP errors (one a
         * second once a burst is spent). */
        if (!tcp && now >= next_send) {
            if (send(fd, "portmap-cli check\n", 18, 0) < 0) /* ECONNREFUSED: closed */
                return errno;
            next_send = now + CHECK_RESEND_MS;
        }
        if (!tcp && next_send - now < wait)
            wait = next_send - now;
        if (poll(&p, 1, (int)wait) <= 0)
            continue; /* EINTR or a deadline: the loop decides */
        if (tcp) {
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
            return err;
        }
        err = recv(fd, buf, sizeof(buf), 0) < 0 ? errno : 0;
        if (err != EAGAIN)
            return err;
    }
}

/* Connect (TCP) or send (UDP) to the external address; 0 on an answer,
 * else the errno that ended it (ETIMEDOUT: nothing came back). Sets
 * k->reached_us when the answer came from this host's port. */
static int probe(check *k)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(k->external_port) };
    struct sockaddr_in me;
    socklen_t ml = sizeof(me);
    int tcp = k->proto == PORTMAP_TCP;
    int fd, err;
    int64_t deadline = cli_mono_ms() + CHECK_PROBE_MS;

    if (inet_pton(AF_INET, k->external, &sa.sin_addr) != 1)
        return EAFNOSUPPORT;
    fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS) {
        err = errno;
        goto out;
    }
    err = await_answer(fd, tcp, deadline);
    /* a UDP answer can only come from the service; a TCP one is looked up
     * while the connection still exists on both ends */
    if (!err)
        k->reached_us = !tcp || (getsockname(fd, (struct sockaddr *)&me, &ml) == 0 &&
                                 cli_tcp_arrived(k->port, ntohs(me.sin_port)));
out:
    close(fd);
    return err;
}

static void verdict(check *k)
{
    const char *p = cli_proto_name(k->proto);
    int err = probe(k);

    if (!err && k->reached_us) {
        k->state = "open";
        snprintf(k->reason, sizeof(k->reason),
                 k->proto == PORTMAP_TCP
                     ? "a TCP connection to %s:%u came back through the router to port %u on this host"
                     : "a datagram to %s:%u came back through the router to port %u on this host, "
                       "and the service answered",
                 k->external, k->external_port, k->port);
    } else if (!err) {
        k->state = "open";
        snprintf(k->reason, sizeof(k->reason),
                 "something at %s:%u accepted the connection, but it did not reach port %u on this "
                 "host: probably the router itself, which then hides any mapping", k->external,
                 k->external_port, k->port);
    } else if (err == ECONNREFUSED && k->mapping == 1 && !k->listening) {
        k->state = "closed";
        snprintf(k->reason, sizeof(k->reason),
                 "the router forwarded it, but nothing on this host %s %s %u: start the service",
                 k->proto == PORTMAP_TCP ? "listens on" : "is bound to", p, k->port);
    } else if (err == ECONNREFUSED && k->mapping == 0) {
        k->state = "closed";
        snprintf(k->reason, sizeof(k->reason),
                 "the router refused it: it has no mapping for %s %u (portmap-cli request %u %s)", p,
                 k->port, k->port, p);
    } else if (err == ECONNREFUSED) {
        k->state = "closed";
        snprintf(k->reason, sizeof(k->reason),
                 "%s:%u refused it: %s", k->external, k->external_port,
                 k->listening ? "the router may not loop connections from the LAN back in (NAT "
                                "loopback); check from outside the network"
                              : "nothing on this host listens on the port");
    } else if (err == ETIMEDOUT && k->proto == PORTMAP_UDP && k->listening && k->mapping != 0) {
        /* No ICMP error while a socket is bound: the usual sight of a UDP
         * service that ignores unknown datagrams, and all UDP can tell. */
        k->state = "open";
        snprintf(k->reason, sizeof(k->reason),
                 "a datagram to %s:%u drew no error and a socket on this host is bound to udp %u; "
                 "the service did not answer, as UDP services often do not", k->external,
                 k->external_port, k->port);
    } else {
        k->state = "filtered";
        snprintf(k->reason, sizeof(k->reason),
                 err == ETIMEDOUT
                     ? "no answer from %s:%u within %d s: a firewall drops it, or the router does "
                       "not loop connections from the LAN back in (NAT loopback); check from "
                       "outside the network"
                     : "%s:%u cannot be reached (%d s): %s",
                 k->external, k->external_port, CHECK_PROBE_MS / 1000, strerror(err));
    }
}

static void print_check(const check *k)
{
    if (cli_json_mode) {
        printf("{\"protocol\":\"%s\",\"internal_port\":%u,\"local_address\":\"%s\","
               "\"external_address\":\"%s\",\"external_port\":%u,\"mapping\":%s,\"lease\":%u,"
               "\"listening\":%s,\"state\":\"%s\",\"reached_this_host\":%s,\"reason\":",
               cli_proto_name(k->proto), k->port, k->local, k->external, k->external_port,
               k->mapping < 0 ? "null" : cli_json_bool(k->mapping), k->lease,
               cli_json_bool(k->listening), k->state, cli_json_bool(k->reached_us));
        cli_json_string(stdout, k->reason);
        printf(",\"mapping_detail\":");
        cli_json_string(stdout, k->mapping_note);
        printf("}\n");
        return;
    }
    printf("port %u/%s is %s at %s:%u: %s\n", k->port, cli_proto_name(k->proto), k->state,
           k->external, k->external_port, k->reason);
    printf("  mapping on the router: %s\n", k->mapping_note);
    printf("  local %s: %s\n", k->proto == PORTMAP_TCP ? "listener" : "socket",
           k->listening ? "yes" : "none");
}

/* Where the port would be reached from outside: this host's address and
 * the router's external one. */
static int find_addresses(portmap_client *c, const cli_options *o, check *k)
{
    portmap_discovery d;
    int rc;

    cli_status("probing PCP, NAT-PMP, UPnP...");
    rc = portmap_discover(c, &d, 0, o->timeout_s * 1000);
    if (rc == PORTMAP_OK && !d.external_address[0])
        rc = portmap_external_ip(c, d.external_address, sizeof(d.external_address),
                                 o->timeout_s * 1000);
    if (rc != PORTMAP_OK)
        return rc;
    snprintf(k->local, sizeof(k->local), "%s", d.local_address);
    snprintf(k->external, sizeof(k->external), "%s", d.external_address);
    return PORTMAP_OK;
}

int cli_cmd_check(const cli_options *o, const cli_pair *pairs, int n)
{
    portmap_client *c = NULL;
    check k = { .port = pairs[0].port, .proto = pairs[0].proto };
    int rc;

    (void)n;
    if ((rc = cli_open_client(o, &c, 1)) != 0)
        return rc;
    if ((rc = find_addresses(c, o, &k)) != PORTMAP_OK) {
        cli_status_clear();
        rc = cli_explain(c, o, rc);
        portmap_close(&c);
        return rc;
    }
    cli_status("reading the router's table...");
    find_mapping(c, o, &k);
    portmap_close(&c);
    k.listening = cli_locally_bound(k.proto, k.port);
    cli_status("connecting to the external address...");
    verdict(&k);
    cli_status_clear();
    print_check(&k);
    /* open but answered by something else is not the user's service */
    return !strcmp(k.state, "open") && (k.reached_us || k.proto == PORTMAP_UDP) ? CLI_EX_OK
                                                                                : CLI_EX_NEGATIVE;
}
