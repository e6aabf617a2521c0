/*
 * portmap-cli check PORT PROTO: is the port really open?
 *
 * Three independent pieces of evidence, each reported on its own line:
 * the router's table (UPnP-IGD; PCP and NAT-PMP cannot be queried), a
 * listening or bound socket on this host (/proc/net), and a connection to
 * the external address that comes back to this host through the router
 * (NAT loopback, "hairpin"). From inside, a port is open only with
 * proof and closed only when nothing here listens; otherwise the verdict
 * is unknown, and --via CHECKER asks a host outside the NAT (check_via.c),
 * whose verdicts are the port scanners' open, closed, filtered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_cmd.h"

/* A loopback probe that gets no answer within this proves nothing. */
#define CHECK_PROBE_MS 3000

/* A router without UPnP-IGD has no table to read: this host's journal
 * still knows the mappings libportmap's clients made there. */
static void find_in_journal(portmap_client *c, const cli_options *o, check *k)
{
    portmap_router_entry *e = NULL;
    size_t n = 0;

    k->mapping = -1;
    snprintf(k->mapping_note, sizeof(k->mapping_note), "unknown: the router's table cannot be "
             "read over PCP or NAT-PMP, and this host's journal has no mapping for %s %u",
             cli_proto_name(k->proto), k->port);
    if (portmap_journal_mappings(c, &e, &n) != PORTMAP_OK)
        return;
    for (size_t i = 0; i < n; i++)
        if (e[i].protocol == k->proto && e[i].internal_port == k->port &&
            (!o->external_port || e[i].external_port == o->external_port)) {
            k->mapping = 1;
            k->external_port = e[i].external_port;
            k->lease = e[i].lease;
            snprintf(k->mapping_note, sizeof(k->mapping_note), "%s:%u -> %s:%u, made with %s, "
                     "per this host's journal (the router's table cannot be read over PCP or "
                     "NAT-PMP)", k->external, e[i].external_port, e[i].internal_client,
                     e[i].internal_port, e[i].description);
            break;
        }
    portmap_router_entries_free(e);
}

/* Look the port up in the router's table; only UPnP-IGD has one. */
static void find_mapping(portmap_client *c, const cli_options *o, check *k)
{
    portmap_router_entry *e = NULL;
    size_t n = 0;
    uint16_t want_ext = o->external_port ? o->external_port : k->port;
    int rc = portmap_router_mappings(c, &e, &n, o->timeout_s * 1000);

    k->external_port = want_ext;
    if (rc == PORTMAP_ERR_UNSUPPORTED) {
        find_in_journal(c, o, k);
        return;
    }
    if (rc != PORTMAP_OK) {
        k->mapping = -1;
        snprintf(k->mapping_note, sizeof(k->mapping_note), "%s", portmap_strerror(rc));
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

/* Connect to the external address; 0 when it was accepted, else the
 * errno that ended it (ETIMEDOUT: nothing came back). Sets k->reached_us
 * when the connection came to this host's port. Only TCP is probed from
 * inside: a UDP probe would write into the very service being asked
 * about, and its silence proves nothing. */
static int probe_tcp(check *k)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(k->external_port) };
    struct sockaddr_in me;
    socklen_t ml = sizeof(me), el = sizeof(int);
    struct pollfd p = { .events = POLLOUT };
    int64_t deadline = cli_mono_ms() + CHECK_PROBE_MS;
    int fd, err = 0;

    if (inet_pton(AF_INET, k->external, &sa.sin_addr) != 1)
        return EAFNOSUPPORT;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    p.fd = fd;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS) {
        err = errno;
        goto out;
    }
    err = ETIMEDOUT;
    for (int64_t left; (left = deadline - cli_mono_ms()) > 0;)
        if (poll(&p, 1, (int)left) == 1) {
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
            break;
        }
    /* looked up while the connection still exists on both ends */
    if (!err)
        k->reached_us = getsockname(fd, (struct sockaddr *)&me, &ml) == 0 &&
                        cli_tcp_arrived(k->port, ntohs(me.sin_port));
out:
    close(fd);
    return err;
}

/* What the router's table says, for a reason. */
static const char *mapping_words(const check *k)
{
    return k->mapping == 1   ? "the router has a mapping for it"
           : k->mapping == 0 ? "the router's table has no mapping for it"
                             : "whether the router has a mapping for it cannot be read";
}

/*
 * The verdict from inside: open only with proof (a connection that came
 * back to this host through the router), closed only when nothing here
 * could answer; anything else is unknown, since only a host outside the
 * NAT can tell (check --via).
 */
static void verdict(check *k)
{
    const char *p = cli_proto_name(k->proto);
    int err;

    if (!k->listening) {
        k->state = "closed";
        snprintf(k->reason, sizeof(k->reason),
                 "nothing on this host %s %s %u, so nothing can answer (%s): start the service",
                 k->proto == PORTMAP_TCP ? "listens on" : "is bound to", p, k->port,
                 mapping_words(k));
        return;
    }
    k->state = "unknown";
    if (k->proto == PORTMAP_UDP) {
        snprintf(k->reason, sizeof(k->reason),
                 "a socket on this host is bound to udp %u and %s; a probe from inside would "
                 "write into the service and its silence proves nothing: only a check from "
                 "outside can tell (--via CHECKER)", k->port, mapping_words(k));
        return;
    }
    err = probe_tcp(k);
    if (!err && k->reached_us) {
        k->state = "open";
        snprintf(k->reason, sizeof(k->reason),
                 "a TCP connection to %s:%u came back through the router to port %u on this host "
                 "(NAT loopback)", k->external, k->external_port, k->port);
    } else if (!err) {
        snprintf(k->reason, sizeof(k->reason),
                 "something at %s:%u accepted the connection, but it did not reach port %u on "
                 "this host: probably the router itself, which hides any mapping from inside; "
                 "%s; check from outside (--via CHECKER)", k->external, k->external_port,
                 k->port, mapping_words(k));
    } else {
        snprintf(k->reason, sizeof(k->reason),
                 "a connection from inside to %s:%u %s; %s and a service listens, but routers "
                 "often do not loop connections from the LAN back in (NAT loopback): only a "
                 "check from outside can tell (--via CHECKER)", k->external, k->external_port,
                 err == ECONNREFUSED ? "was refused"
                 : err == ETIMEDOUT  ? "got no answer within 3 s"
                                     : strerror(err), mapping_words(k));
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
               cli_json_bool(k->listening), k->state, cli_json_bool(k->reached_us == 1));
        cli_json_string(stdout, k->reason);
        printf(",\"mapping_detail\":");
        cli_json_string(stdout, k->mapping_note);
        printf("}\n");
        return;
    }
    printf("port %u/%s is %s at %s:%u from inside: %s\n", k->port, cli_proto_name(k->proto),
           k->state, k->external, k->external_port, k->reason);
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
    check k = { .port = pairs[0].port, .proto = pairs[0].proto, .reached_us = -1 };
    cli_checker ck = { .kind = CLI_CHECKER_NATIVE };
    int rc;

    (void)n;
    /* usage errors before any wait for the router */
    if (o->via)
        cli_checker_parse(o->via, &ck); /* checked with the options */
    if (o->cacert && (!o->via || ck.kind != CLI_CHECKER_HTTPS))
        return cli_fail(CLI_EX_USAGE, "--cacert is for an https:// checker (--via https://HOST)");
    if (o->via && ck.kind != CLI_CHECKER_NATIVE && k.proto == PORTMAP_UDP)
        return cli_fail(CLI_EX_USAGE, "an echoip checker (%s) tests TCP only; UDP needs a "
                        "portmap-cli serve-check checker", o->via);
    if ((rc = cli_open_client(o, &c, 1)) != 0)
        return rc;
    k.external_port = o->external_port ? o->external_port : k.port;
    if ((rc = find_addresses(c, o, &k)) != PORTMAP_OK) {
        cli_status_clear();
        /* from outside, the router need not answer us for the checker to */
        if (!o->via) {
            rc = cli_explain(c, o, rc);
            portmap_close(&c);
            return rc;
        }
        k.mapping = -1;
        snprintf(k.mapping_note, sizeof(k.mapping_note), "unknown: the router did not answer (%s)",
                 portmap_strerror(rc));
    } else {
        cli_status("reading the router's table...");
        find_mapping(c, o, &k);
    }
    portmap_close(&c);
    k.listening = cli_locally_bound(k.proto, k.port);
    if (o->via)
        return cli_check_via(o, &k);
    cli_status("connecting to the external address...");
    verdict(&k);
    cli_status_clear();
    print_check(&k);
    return !strcmp(k.state, "open") ? CLI_EX_OK : CLI_EX_NEGATIVE;
}
