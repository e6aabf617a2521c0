/*
 * portmap-cli check PORT PROTO --via CHECKER: the port seen from outside.
 * A checker on the Internet (portmap-cli serve-check, or an echoip
 * service's GET /port/N) connects back to the address our request comes
 * from, which is the only place that can tell open from closed and
 * filtered. When nothing on this host uses the port, the CLI holds it
 * itself for the check, so a mapping can be checked before its service
 * runs: a TCP listener that accepts, or a UDP socket that answers the
 * checker's token.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_cmd.h"

/* The checker's own probe takes CLI_CHECK_PROBE_MS; this is on top. */
#define VIA_MARGIN_MS 4000
#define VIA_BODY_MAX 4096

typedef struct via {
    const cli_options *o;
    cli_checker checker;
    int own;                 /* the socket holding the port for the check, or -1 */
    char token[17];
    int reached_own;         /* the checker's probe came to our own socket */
    int64_t deadline;
    cli_check_reply reply;
    char why[512];           /* the checker could not be asked: why */
} via;

/* SO_REUSEADDR for a TCP listener: the connection an earlier check
 * accepted may still be in TIME_WAIT on the port (a listening service
 * still keeps the port from us: Linux refuses the bind then). */
static int reuse_addr(int fd, portmap_transport proto)
{
    int one = 1;
    return proto == PORTMAP_TCP ? setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) : 0;
}

/* Hold the port, dual stack where the host has IPv6: the socket, or -1
 * (something bound to one address only, say 127.0.0.1, holds it too). */
static int hold_port(portmap_transport proto, uint16_t port)
{
    int type = (proto == PORTMAP_TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
    struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
    struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
    int fd = socket(AF_INET6, type, 0), zero = 0;

    if (fd >= 0 && (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
                    reuse_addr(fd, proto) || bind(fd, (struct sockaddr *)&a6, sizeof(a6)))) {
        close(fd);
        fd = -1;
    }
    if (fd < 0 && (fd = socket(AF_INET, type, 0)) >= 0 &&
        (reuse_addr(fd, proto) || bind(fd, (struct sockaddr *)&a4, sizeof(a4)))) {
        close(fd);
        fd = -1;
    }
    if (fd >= 0 && proto == PORTMAP_TCP && listen(fd, 8)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* What came to our own socket: a connection (TCP), or the token (UDP),
 * which is sent back so that the checker sees an answer. */
static void serve_own(via *v, portmap_transport proto)
{
    char buf[128];
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t r;

    if (proto == PORTMAP_TCP) {
        int fd = accept4(v->own, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            v->reached_own = 1;
            close(fd);
        }
        return;
    }
    r = recvfrom(v->own, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
    if (r != (ssize_t)strlen(v->token) || memcmp(buf, v->token, (size_t)r))
        return; /* not the checker's: no answer to strangers */
    v->reached_own = 1;
    sendto(v->own, v->token, (size_t)r, MSG_DONTWAIT, (struct sockaddr *)&from, fl);
}

/* Connect to the checker by the deadline: the socket, or -1 (v->why). */
static int dial(via *v)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai, *a;
    char port[8];
    int fd = -1, rc;

    snprintf(port, sizeof(port), "%u", v->checker.port);
    if ((rc = getaddrinfo(v->checker.host, port, &hints, &ai))) {
        snprintf(v->why, sizeof(v->why), "cannot resolve %s: %s", v->checker.host,
                 gai_strerror(rc));
        return -1;
    }
    snprintf(v->why, sizeof(v->why), "no address of %s", v->checker.host);
    for (a = ai; a && fd < 0; a = a->ai_next) {
        struct pollfd p = { .events = POLLOUT };
        int err = 0;
        socklen_t el = sizeof(err);
        int64_t left;
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        p.fd = fd;
        if (connect(fd, a->ai_addr, a->ai_addrlen) && errno != EINPROGRESS)
            err = errno;
        else if ((left = v->deadline - cli_mono_ms()) <= 0 || poll(&p, 1, (int)left) != 1)
            err = ETIMEDOUT;
        else
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            snprintf(v->why, sizeof(v->why), "cannot reach the checker %s port %s: %s",
                     v->checker.host, port, strerror(err));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    return fd;
}

/* Send out, then read the answer into buf until the peer closes (or,
 * with line, until a newline), serving our own socket meanwhile: the
 * length read, or -1 (v->why). */
static int exchange(via *v, int fd, const char *out, char *buf, size_t size, int line,
                    portmap_transport proto)
{
    size_t n = 0;

    if (send(fd, out, strlen(out), MSG_NOSIGNAL) != (ssize_t)strlen(out)) {
        snprintf(v->why, sizeof(v->why), "the checker closed the connection: %s", strerror(errno));
        return -1;
    }
    for (;;) {
        struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = v->own, .events = POLLIN } };
        int64_t left = v->deadline - cli_mono_ms();
        ssize_t r;
        if (left <= 0 || cli_signal_pending()) {
            snprintf(v->why, sizeof(v->why), "%s", left <= 0 ? "the checker did not answer in time"
                                                             : "interrupted");
            return -1;
        }
        if (poll(p, v->own >= 0 ? 2 : 1, left < 250 ? (int)left : 250) <= 0)
            continue; /* a quarter of a second at most: a signal is seen soon */
        if (v->own >= 0 && (p[1].revents & POLLIN))
            serve_own(v, proto);
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        r = recv(fd, buf + n, size - 1 - n, 0);
        if (r < 0) {
            snprintf(v->why, sizeof(v->why), "reading the checker's answer: %s", strerror(errno));
            return -1;
        }
        n += (size_t)r;
        buf[n] = '\0';
        if (r == 0 || n == size - 1 || (line && memchr(buf, '\n', n)))
            return (int)n;
    }
}

/* The checker's answer, in v->reply: 0, or -1 (v->why). */
static int ask_native(via *v, const check *k)
{
    cli_check_request rq = { .udp = k->proto == PORTMAP_UDP, .port = k->external_port };
    char out[CLI_CHECK_LINE_MAX], in[CLI_CHECK_LINE_MAX + 1];
    int fd, n;

    /* the token is for our own socket alone: a service never gets it */
    if (rq.udp && v->own >= 0)
        snprintf(rq.token, sizeof(rq.token), "%s", v->token);
    cli_check_format_request(&rq, out, sizeof(out));
    if ((fd = dial(v)) < 0)
        return -1;
    n = exchange(v, fd, out, in, sizeof(in), 1, k->proto);
    close(fd);
    if (n < 0)
        return -1;
    if (cli_check_parse_reply(in, &v->reply)) {
        snprintf(v->why, sizeof(v->why), "the checker's answer is not %s: it may not be a "
                 "portmap-cli serve-check", CLI_CHECK_MAGIC);
        return -1;
    }
    if (v->reply.verdict == CLI_V_ERROR) {
        snprintf(v->why, sizeof(v->why), "the checker refused: %s", v->reply.error);
        return -1;
    }
    return 0;
}

/* An echoip answer (HTTP status line, headers, JSON body) into v->reply. */
static int echoip_reply(via *v, const char *resp, int http_status_known, const check *k)
{
    const char *body = strstr(resp, "\r\n\r\n");
    unsigned port;
    int reachable;

    if (!http_status_known) {
        if (strncmp(resp, "HTTP/1.", 7) || strlen(resp) < 12 || strncmp(resp + 9, "200", 3)) {
            snprintf(v->why, sizeof(v->why), "the checker answered %.40s", resp);
            return -1;
        }
        body = body ? body + 4 : "";
    } else {
        body = resp;
    }
    if (cli_echoip_parse(body, v->reply.address, sizeof(v->reply.address), &port, &reachable) ||
        port != k->external_port) {
        snprintf(v->why, sizeof(v->why), "the checker's answer is not echoip's "
                 "{\"ip\":..,\"port\":%u,\"reachable\":..}", k->external_port);
        return -1;
    }
    v->reply.port = (uint16_t)port;
    /* echoip tells reachable or not, not closed from filtered */
    v->reply.verdict = reachable ? CLI_V_OPEN : CLI_V_FILTERED;
    return 0;
}

static int ask_http(via *v, const check *k)
{
    char out[512], in[VIA_BODY_MAX];
    const char *h = v->checker.host;
    int fd, n, v6 = strchr(h, ':') != NULL;

    snprintf(out, sizeof(out), "GET %s/port/%u HTTP/1.0\r\nHost: %s%s%s:%u\r\n"
             "User-Agent: portmap-cli/%s\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
             v->checker.prefix, k->external_port, v6 ? "[" : "", h, v6 ? "]" : "",
             v->checker.port, portmap_version());
    if ((fd = dial(v)) < 0)
        return -1;
    n = exchange(v, fd, out, in, sizeof(in), 0, k->proto);
    close(fd);
    return n < 0 ? -1 : echoip_reply(v, in, 0, k);
}

static int ask_https(via *v, const check *k)
{
    char url[512], body[VIA_BODY_MAX];
    const char *h = v->checker.host;
    int v6 = strchr(h, ':') != NULL;
    int64_t left = v->deadline - cli_mono_ms();
    struct pollfd p = { .fd = v->own, .events = POLLIN };

    snprintf(url, sizeof(url), "https://%s%s%s:%u%s/port/%u", v6 ? "[" : "", h, v6 ? "]" : "",
             v->checker.port, v->checker.prefix, k->external_port);
    if (cli_https_get(url, v->o->cacert, left > 0 ? (int)left : 1, body, sizeof(body), v->why,
                      sizeof(v->why)))
        return -1;
    /* the kernel completed the checker's connection to our listener meanwhile */
    if (v->own >= 0 && poll(&p, 1, 0) == 1)
        serve_own(v, k->proto);
    return echoip_reply(v, body, 1, k);
}

/* A 16-digit token for the UDP probe, from the kernel's random source. */
static void make_token(char *tok)
{
    unsigned char r[8] = { 0 };

    if (getrandom(r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
        for (size_t i = 0; i < sizeof(r); i++)
            r[i] = (unsigned char)(cli_mono_ms() >> (i * 3));
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(tok + 2 * i, 3, "%02x", r[i]);
}

static void say(check *k, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(check *k, size_t *n, const char *fmt, ...)
{
    va_list ap;

    if (*n >= sizeof(k->reason))
        return;
    va_start(ap, fmt);
    *n += (size_t)vsnprintf(k->reason + *n, sizeof(k->reason) - *n, fmt, ap);
    va_end(ap);
}

/* A second NAT in front of the router: first, since it is why the
 * router's mapping cannot help, and what to do about it. */
static void explain_double_nat(check *k, const via *v, size_t *n)
{
    const cli_check_reply *r = &v->reply;

    if (r->verdict == CLI_V_OPEN) {
        say(k, n, "double NAT: the checker reached this network at %s, not at the router's "
                  "external address %s, so a second NAT in front of the router forwards the "
                  "port; ", r->address, k->external);
        return;
    }
    say(k, n, "double NAT: the checker reached this network at %s, not at the router's external "
              "address %s: a second NAT (the provider's carrier-grade NAT, or a modem-router "
              "in front of this router) has no mapping for port %u, so %s on this router "
              "cannot be reached from the Internet (ask the provider for a public IPv4 address "
              "or a forwarded port, put the box in front in bridge mode or map the port there "
              "too, or use IPv6); ", r->address, k->external, k->external_port,
        k->mapping == 1 ? "the mapping" : "a mapping");
}

/* The verdict of the checker, and what it means given the router's table
 * and this host's sockets. */
static void explain(check *k, const via *v, int double_nat)
{
    const cli_check_reply *r = &v->reply;
    const char *p = cli_proto_name(k->proto);
    size_t n = 0;

    k->state = cli_verdict_name(r->verdict);
    if (double_nat)
        explain_double_nat(k, v, &n);
    switch (r->verdict) {
    case CLI_V_OPEN:
        say(k, &n, "the checker %s %s:%u from outside", k->proto == PORTMAP_TCP
                    ? "connected to" : "got an answer from", r->address, r->port);
        if (v->own >= 0)
            say(k, &n, v->reached_own ? "; portmap-cli's own %s here answered for the check: "
                                        "the mapping works, start the service"
                                      : "; it did not come to this host (%s held for the check): "
                                        "something else answers there",
                k->proto == PORTMAP_TCP ? "listener" : "socket");
        break;
    case CLI_V_CLOSED:
        say(k, &n, "%s:%u refused the checker's %s (%s)", r->address, r->port,
            k->proto == PORTMAP_TCP ? "connection" : "datagram",
            k->proto == PORTMAP_TCP ? "TCP reset" : "ICMP port unreachable");
        if (double_nat)
            break; /* the second NAT refused, whatever this router has */
        if (k->mapping == 0)
            say(k, &n, ": the router has no mapping for %s %u (portmap-cli request %u %s)", p,
                k->port, k->port, p);
        else if (!k->listening && v->own < 0)
            say(k, &n, ": nothing on this host %s %s %u", k->proto == PORTMAP_TCP
                        ? "listens on" : "is bound to", p, k->port);
        break;
    case CLI_V_FILTERED:
        if (v->checker.kind == CLI_CHECKER_NATIVE)
            say(k, &n, "no answer from %s:%u within %d s: something drops the checker's packets",
                r->address, r->port, CLI_CHECK_PROBE_MS / 1000);
        else /* how long an echoip service waits is its own */
            say(k, &n, "the checker could not connect to %s:%u (echoip does not tell closed "
                       "from filtered)", r->address, r->port);
        break;
    case CLI_V_OPEN_FILTERED:
        say(k, &n, "neither an answer nor an error from %s:%u: a UDP service that ignores "
                   "unknown datagrams looks like a firewall that drops them", r->address, r->port);
        if (v->own < 0)
            say(k, &n, "; checked before the service starts, portmap-cli's own socket answers");
        break;
    case CLI_V_ERROR:
        break;
    }
    if (r->verdict != CLI_V_OPEN && k->mapping == 1 && !double_nat)
        say(k, &n, "; the router has a mapping for it, yet the port is not reachable from "
                   "outside: a firewall in front of the router, or a second NAT that rewrites "
                   "to the router's own address");
}

static void print_via(const check *k, const via *v, int double_nat, const char *checker)
{
    if (cli_json_mode) {
        printf("{\"protocol\":\"%s\",\"internal_port\":%u,\"external_port\":%u,\"checker\":",
               cli_proto_name(k->proto), k->port, k->external_port);
        cli_json_string(stdout, checker);
        printf(",\"seen_address\":");
        cli_json_string(stdout, v->reply.address);
        printf(",\"router_external_address\":");
        cli_json_string(stdout, k->external);
        printf(",\"mapping\":%s,\"listening\":%s,\"own_listener\":%s,\"state\":\"%s\","
               "\"reached_this_host\":%s,\"double_nat\":%s,\"reason\":",
               k->mapping < 0 ? "null" : cli_json_bool(k->mapping), cli_json_bool(k->listening),
               cli_json_bool(v->own >= 0), k->state,
               v->own >= 0 ? cli_json_bool(v->reached_own) : "null", cli_json_bool(double_nat));
        cli_json_string(stdout, k->reason);
        printf(",\"mapping_detail\":");
        cli_json_string(stdout, k->mapping_note);
        printf("}\n");
        return;
    }
    printf("port %u/%s is %s from outside (checker %s): %s\n", k->port, cli_proto_name(k->proto),
           k->state, checker, k->reason);
    printf("  mapping on the router: %s\n", k->mapping_note);
    printf("  local %s: %s\n", k->proto == PORTMAP_TCP ? "listener" : "socket",
           k->listening ? "yes" : v->own >= 0 ? "none (portmap-cli held the port for the check)"
                                              : "none");
}

int cli_check_via(const cli_options *o, check *k)
{
    via v = { .o = o, .own = -1 };
    int rc, double_nat;

    cli_checker_parse(o->via, &v.checker); /* checked with the options, as echoip's TCP only */
    make_token(v.token);
    if (!k->listening)
        v.own = hold_port(k->proto, k->port);
    v.deadline = cli_mono_ms() + CLI_CHECK_PROBE_MS + VIA_MARGIN_MS +
                 (int64_t)o->timeout_s * 1000;
    cli_status("asking the checker...");
    rc = v.checker.kind == CLI_CHECKER_NATIVE ? ask_native(&v, k)
         : v.checker.kind == CLI_CHECKER_HTTP ? ask_http(&v, k)
                                              : ask_https(&v, k);
    cli_status_clear();
    if (v.own >= 0)
        close(v.own);
    if (rc)
        return cli_fail(CLI_EX_OTHER, "check via %s: %s", o->via, v.why);
    /* an IPv6 answer (the checker reached over IPv6) says nothing of the IPv4 NAT */
    double_nat = k->external[0] && !strchr(v.reply.address, ':') &&
                 strcmp(k->external, v.reply.address) != 0;
    explain(k, &v, double_nat);
    print_via(k, &v, double_nat, o->via);
    return v.reply.verdict == CLI_V_OPEN ? CLI_EX_OK : CLI_EX_NEGATIVE;
}
