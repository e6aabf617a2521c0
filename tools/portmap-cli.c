/*
 * portmap-cli: map a port on the local router from a shell.
 *
 * Exit codes: 0 ok, 1 negative answer, 2 usage, 3 no gateway, 4 the router
 * refused, 5 timeout, 6 other error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <portmap/portmap.h>

#include "cli.h"

pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
int json_mode;

static const char *const command_help[][2] = {
    { "request", "usage: portmap-cli request PORT tcp|udp [PORT tcp|udp ...] [options]\n"
                 "Map the ports on the router and keep them mapped (renewing the leases)\n"
                 "until SIGINT or SIGTERM, then release them. Events (mapped, changed, lost,\n"
                 "restored, released) are printed as they happen. With --once, map, print\n"
                 "and exit: the leases then run out by themselves.\n"
                 "With --allow ADDR[/PREFIX] only that host or network may connect (PCP,\n"
                 "or UPnP-IGD for one host; never falls back to open-to-all).\n"
                 "Options: --protocol, --lifetime, --external-port (one port only),\n"
                 "--description, --allow, --gateway, --timeout, --once, --json, -v.\n" },
    { "release", "usage: portmap-cli release PORT tcp|udp [--protocol P] [options]\n"
                 "Release this host's mapping of PORT, e.g. one left by request --once.\n" },
    { "discover", "usage: portmap-cli discover [--json] [options]\n"
                  "Show the gateway, the local address, which protocols answered, the\n"
                  "external address and a verdict: direct, behind NAT, or behind double\n"
                  "NAT / carrier-grade NAT.\n" },
    { "external-ip", "usage: portmap-cli external-ip [options]\n"
                     "Print the router's external address, one line, for scripts.\n" },
    { "list", "usage: portmap-cli list [--json] [options]\n"
              "Print the router's mapping table (UPnP-IGD); this host's entries are marked.\n" },
    { "audit", "usage: portmap-cli audit [--prune] [--json] [options]\n"
               "Read the router's mapping table and flag, one line each with the reason:\n"
               "mappings to this host that no running process holds (stale), permanent\n"
               "leases, risky services exposed (telnet, SMB, RDP, VNC, databases, ...),\n"
               "mappings to other hosts. Exit 0 when nothing is flagged, 1 otherwise.\n"
               "--prune deletes the stale mappings that belong to this host.\n" },
    { "cleanup", "usage: portmap-cli cleanup [--json] [options]\n"
                 "Release the mappings that processes which have died (SIGKILL, crash)\n"
                 "left on the router, as recorded in the journal. Any libportmap client\n"
                 "does this by itself when it starts; this does it now and reports.\n" },
    { "check", "usage: portmap-cli check PORT tcp|udp [--external-port N] [--json] [options]\n"
               "Is PORT really open? Shows whether the router has a mapping for it\n"
               "(UPnP-IGD table), whether a process on this host listens on it (TCP) or\n"
               "is bound to it (UDP), and connects to the external address to see whether\n"
               "the connection comes back to this host through the router (NAT loopback).\n"
               "Verdict: open, closed or filtered, with the reason. Exit 0 when open.\n" },
};

static void usage(FILE *f)
{
    fputs("usage: portmap-cli [OPTIONS] COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  request PORT PROTO [PORT PROTO ...]  map, keep alive until SIGINT/SIGTERM, release\n"
          "  release PORT PROTO   release this host's mapping of PORT\n"
          "  discover             gateway, protocols, external address, NAT verdict\n"
          "  external-ip          print the router's external address\n"
          "  list                 the router's mapping table (UPnP-IGD), ours marked\n"
          "  audit [--prune]      flag stale, permanent, risky and foreign mappings\n"
          "  cleanup              release what dead processes left on the router\n"
          "  check PORT PROTO     is the port open: mapping, listener, loopback connection\n"
          "\n"
          "options:\n"
          "  --protocol pcp|natpmp|upnp|auto  protocol to use (default auto)\n"
          "  --lifetime SECONDS           lease to ask for (default 7200)\n"
          "  --external-port N            external port to suggest\n"
          "  --description TEXT           description stored on the router\n"
          "  --allow ADDR[/PREFIX]        only this remote host or network may connect\n"
          "  -4, -6                       IPv4 mapping, IPv6 firewall pinhole; both if both\n"
          "                               given (default: both where the network has them)\n"
          "  --gateway ADDR               gateway to use instead of the default route's\n"
          "  --timeout SECONDS            give up after this long (default 10)\n"
          "  --once                       map, print and exit; the mapping expires by itself\n"
          "  --json                       one JSON object per line\n"
          "  -v, --verbose                show the library's log on stderr\n"
          "  -h, --help                   this text; COMMAND --help for one command\n"
          "  --version                    print the version\n"
          "\n"
          "exit codes: 0 ok, 1 negative answer, 2 usage, 3 no gateway answered,\n"
          "4 the router refused, 5 timeout, 6 other error.\n",
          f);
}

static void help_for(const char *cmd)
{
    for (size_t i = 0; cmd && i < sizeof(command_help) / sizeof(command_help[0]); i++) {
        if (!strcmp(cmd, command_help[i][0])) {
            fputs(command_help[i][1], stdout);
            return;
        }
    }
    usage(stdout);
}

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

const char *proto_name(portmap_transport p)
{
    return p == PORTMAP_TCP ? "tcp" : "udp";
}

static void print_event(const char *event, const portmap_mapping_info *i)
{
    pthread_mutex_lock(&out_lock);
    if (json_mode) {
        printf("{\"event\":\"%s\",\"protocol\":\"%s\",\"internal_port\":%u,", event,
               proto_name(i->protocol), i->internal_port);
        printf("\"internal_address\":");
        json_string(stdout, i->internal_address);
        printf(",\"external_address\":");
        json_string(stdout, i->external_address);
        printf(",\"external_port\":%u,\"method\":\"%s\",\"lifetime\":%u", i->external_port,
               portmap_method_name(i->method) ? portmap_method_name(i->method) : "auto",
               i->lifetime);
        printf(",\"family\":\"%s\"", i->family == PORTMAP_IPV6 ? "ipv6" : "ipv4");
        if (i->address_kind)
            printf(",\"address_kind\":\"%s\"", portmap_address_kind_name(i->address_kind));
        if (i->permanent)
            printf(",\"permanent\":true");
        if (i->last_error)
            printf(",\"error\":\"%s\"", portmap_strerror(i->last_error));
        printf("}\n");
    } else {
        int v6 = i->family == PORTMAP_IPV6;
        printf("%s %s %u -> %s%s%s:%u via %s, lifetime %u s", event, proto_name(i->protocol),
               i->internal_port, v6 ? "[" : "", i->external_address[0] ? i->external_address : "?",
               v6 ? "]" : "", i->external_port, portmap_method_name(i->method), i->lifetime);
        if (v6)
            printf(" (IPv6 pinhole%s%s%s)", i->address_kind ? " for this host's " : "",
                   portmap_address_kind_name(i->address_kind), i->address_kind ? " address" : "");
        if (i->last_error)
            printf(" (%s)", portmap_strerror(i->last_error));
        printf("\n");
    }
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

/* Engine thread: print what changes after the first mapping. */
static void on_event(portmap_mapping *m, portmap_event ev, const portmap_mapping_info *info,
                     void *user)
{
    (void)m;
    (void)user;
    if (ev == PORTMAP_EVENT_MAPPED || ev == PORTMAP_EVENT_RELEASED || ev == PORTMAP_EVENT_FAILED)
        return; /* main() prints these itself, in order */
    print_event(portmap_event_name(ev), info);
}

static void on_log(void *user, portmap_log_level level, const char *msg)
{
    static const char *const names[] = { "error", "warning", "info", "debug" };
    (void)user;
    pthread_mutex_lock(&out_lock);
    fprintf(stderr, "portmap: %s: %s\n", names[level], msg);
    pthread_mutex_unlock(&out_lock);
}

int fail(int code, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&out_lock);
    fputs("portmap-cli: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&out_lock);
    return code;
}

int exit_code_for(int err)
{
    switch (err) {
    case PORTMAP_OK: return EX_OK;
    case PORTMAP_ERR_NO_GATEWAY:
    case PORTMAP_ERR_UNSUPPORTED: return EX_NOGW;
    case PORTMAP_ERR_REFUSED:
    case PORTMAP_ERR_NOT_AUTHORIZED:
    case PORTMAP_ERR_NO_RESOURCES:
    case PORTMAP_ERR_PORT_IN_USE: return EX_REFUSED;
    case PORTMAP_ERR_TIMEOUT: return EX_TIMEOUT;
    case PORTMAP_ERR_NOT_FOUND: return EX_NEGATIVE;
    default: return EX_OTHER;
    }
}

static int parse_port(const char *s, uint16_t *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < 1 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static int parse_proto(const char *s, portmap_transport *out)
{
    if (!strcmp(s, "udp"))
        *out = PORTMAP_UDP;
    else if (!strcmp(s, "tcp"))
        *out = PORTMAP_TCP;
    else
        return -1;
    return 0;
}

static const char *methods_tried(portmap_method m)
{
    switch (m) {
    case PORTMAP_METHOD_PCP: return "PCP";
    case PORTMAP_METHOD_NATPMP: return "NAT-PMP";
    case PORTMAP_METHOD_UPNP: return "UPnP-IGD";
    default: return "PCP, NAT-PMP or UPnP";
    }
}

/* Explain a failure of a command that asked the router something: the
 * library's reason (what each protocol said), and a hint. */
int explain(portmap_client *c, const options *o, int err)
{
    portmap_family fam = o->family == PORTMAP_IPV6 ? PORTMAP_IPV6 : PORTMAP_IPV4;
    char why[512] = "";

    portmap_discover_reason(c, fam, why, sizeof(why));
    if (err == PORTMAP_ERR_UNSUPPORTED && o->allow)
        return fail(exit_code_for(err), "%s cannot restrict who connects to %s: --allow needs "
                    "PCP (any ADDR/PREFIX) or UPnP-IGD (one host). Nothing was mapped; without "
                    "--allow the port is open to everyone", why, o->allow);
    if (!strncmp(why, "no IPv", 6))
        return fail(EX_NOGW, "%s%s", why,
                    fam == PORTMAP_IPV4 && !o->gateway ? "; --gateway ADDR names a router" : "");
    if (err == PORTMAP_ERR_NO_GATEWAY || err == PORTMAP_ERR_TIMEOUT || err == PORTMAP_ERR_UNSUPPORTED)
        return fail(exit_code_for(err), "%s: %s; is %s enabled on the router?",
                    portmap_strerror(err), why, methods_tried(o->method));
    return fail(exit_code_for(err), "%s: %s", portmap_strerror(err), why);
}

int open_client(const options *o, portmap_client **c, int release_on_close)
{
    portmap_settings s;
    int rc;

    portmap_default_settings(&s);
    s.timeout_ms = o->timeout_s * 1000;
    s.gateway = o->gateway;
    s.release_on_close = release_on_close;
    s.close_timeout_ms = 3000;
    if (o->method != PORTMAP_METHOD_AUTO)
        s.methods[0] = o->method;
    if (o->lifetime)
        s.default_lifetime = o->lifetime;
    s.log_callback = on_log;
    s.log_level = o->verbose ? PORTMAP_LOG_DEBUG : PORTMAP_LOG_ERROR;
    s.keep_orphans = o->keep_orphans;
    rc = portmap_open(c, &s);
    if (rc)
        return fail(exit_code_for(rc), "cannot start: %s", portmap_strerror(rc));
    return 0;
}

static int wait_for_signal(void)
{
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigwait(&set, &sig);
    return sig;
}

#define MAX_PAIRS 32
/* a failing command's releases: short, the failure is already known */
#define PM_MIN_RELEASE_MS(o) ((o)->timeout_s * 1000 < 3000 ? (o)->timeout_s * 1000 : 3000)

typedef struct pair {
    uint16_t port;
    portmap_transport proto;
} pair;

/* On a terminal, say what is going on while it takes more than a moment;
 * never on a pipe or a file. */
int status_shown;

void status(const char *text)
{
    if (!isatty(STDERR_FILENO) || json_mode)
        return;
    pthread_mutex_lock(&out_lock);
    fprintf(stderr, "\r\033[K%s", text);
    status_shown = text[0] != '\0';
    pthread_mutex_unlock(&out_lock);
}

static const char *probing_text(portmap_method m)
{
    switch (m) {
    case PORTMAP_METHOD_PCP: return "probing PCP...";
    case PORTMAP_METHOD_NATPMP: return "probing NAT-PMP...";
    case PORTMAP_METHOD_UPNP: return "probing UPnP...";
    default: return "probing PCP, NAT-PMP, UPnP...";
    }
}

/* A signal that ends the command: taken when pending, without waiting. */
static int signal_pending(void)
{
    static const struct timespec zero = { 0, 0 };
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sig = sigtimedwait(&set, NULL, &zero);
    return sig > 0 ? sig : 0;
}

/* Each family part of a request: [0] IPv4, [1] IPv6. */
typedef struct parts {
    int have[2];
    portmap_mapping_info info[2];
    char reason[2][256];
} parts;

static void read_parts(portmap_mapping *m, parts *p)
{
    for (int f = 0; f < 2; f++) {
        portmap_family fam = f ? PORTMAP_IPV6 : PORTMAP_IPV4;
        p->reason[f][0] = '\0';
        p->have[f] = portmap_mapping_get_family_info(m, fam, &p->info[f]) == PORTMAP_OK;
        if (p->have[f])
            portmap_mapping_get_reason(m, fam, p->reason[f], sizeof(p->reason[f]));
    }
}

static int parts_pending(const parts *p)
{
    for (int f = 0; f < 2; f++)
        if (p->have[f] && p->info[f].state == PORTMAP_STATE_PENDING)
            return 1;
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait until every part of every request has an outcome (the library
 * bounds each by the timeout), showing a status line after 300 ms on a
 * terminal. Returns the signal that interrupted the wait, else 0.
 */
static int wait_all(const options *o, portmap_mapping *const *m, int n)
{
    int64_t start = mono_ms(), limit = start + (int64_t)o->timeout_s * 1000 + 2000;
    int sig = 0;

    for (;;) {
        portmap_mapping *waiting = NULL;
        for (int i = 0; i < n && !waiting; i++) {
            parts p;
            read_parts(m[i], &p);
            if (parts_pending(&p))
                waiting = m[i];
        }
        if (!waiting || mono_ms() >= limit)
            break;
        if ((sig = signal_pending()) != 0)
            break;
        portmap_mapping_wait(waiting, 100, NULL);
        if (mono_ms() - start >= 300)
            status(probing_text(o->method));
    }
    if (status_shown)
        status("");
    return sig;
}

/* A router that refuses finite leases leaves a port open for good unless
 * someone deletes it: say so, and who will. */
static void note_permanent(const portmap_mapping_info *i, int once)
{
    pthread_mutex_lock(&out_lock);
    fprintf(stderr, "portmap-cli: the router answered UPnP error 725: it only accepts permanent "
                    "mappings; retried with a permanent one. ");
    if (once)
        fprintf(stderr, "It will NOT expire: remove it with 'portmap-cli release %u %s' "
                        "or 'portmap-cli audit --prune'.\n", i->internal_port, proto_name(i->protocol));
    else
        fprintf(stderr, "It is deleted when portmap-cli exits.\n");
    pthread_mutex_unlock(&out_lock);
}

/* The parts a request must get for the command to succeed (bit f for
 * part f): what -4/-6 named, else IPv4 where the host has an IPv4 route
 * and IPv6 otherwise; a part not required is made where it can be. */
static unsigned required_parts(const options *o, const parts *p)
{
    if (o->family != PORTMAP_FAMILY_DEFAULT)
        return (o->family & PORTMAP_IPV4 ? 1u : 0u) | (o->family & PORTMAP_IPV6 ? 2u : 0u);
    if (p->have[0] && !(p->info[0].state == PORTMAP_STATE_FAILED && p->info[0].no_route))
        return 1u;
    return p->have[1] ? 2u : 1u;
}

/* Why part f failed, in words: the library's reason, never "success". */
static const char *part_reason(const parts *p, int f)
{
    if (p->reason[f][0])
        return p->reason[f];
    if (p->info[f].state == PORTMAP_STATE_PENDING || p->info[f].last_error == PORTMAP_OK)
        return "no answer within the timeout";
    return portmap_strerror(p->info[f].last_error);
}

static int part_error(const parts *p, int f)
{
    if (p->info[f].state == PORTMAP_STATE_PENDING || p->info[f].last_error == PORTMAP_OK)
        return PORTMAP_ERR_TIMEOUT;
    return p->info[f].last_error;
}

/* The kind of failure in a few words, ahead of the router's reason. */
static const char *part_summary(const parts *p, int f)
{
    switch (part_error(p, f)) {
    case PORTMAP_ERR_NO_GATEWAY: return p->info[f].no_route ? "no route" : "no gateway answered";
    case PORTMAP_ERR_UNSUPPORTED: return "not supported by the router";
    case PORTMAP_ERR_TIMEOUT: return "timed out";
    default: return portmap_strerror(part_error(p, f));
    }
}

/* Say that part f of a request did not get mapped. */
static void say_unmapped(const parts *p, int f, int required)
{
    const portmap_mapping_info *i = &p->info[f];
    const char *what = f ? "IPv6 pinhole" : "IPv4 mapping";

    pthread_mutex_lock(&out_lock);
    if (json_mode) {
        printf("{\"event\":\"%s\",\"protocol\":\"%s\",\"internal_port\":%u,\"family\":\"%s\","
               "\"error\":\"%s\",\"reason\":", required ? "failed" : "unavailable",
               proto_name(i->protocol), i->internal_port, f ? "ipv6" : "ipv4",
               portmap_strerror(part_error(p, f)));
        json_string(stdout, part_reason(p, f));
        printf("}\n");
        fflush(stdout);
    } else {
        fprintf(stderr, "portmap-cli: %s %u: no %s, %s: %s\n", proto_name(i->protocol),
                i->internal_port, what, part_summary(p, f), part_reason(p, f));
    }
    pthread_mutex_unlock(&out_lock);
}

/* A hint after a failure, where one helps. */
static void hint(const options *o, const parts *p, int f)
{
    int err = part_error(p, f);

    if (json_mode)
        return;
    if (p->info[f].no_route && !f && !o->gateway)
        fail(0, "hint: this host has no IPv4 default route; --gateway ADDR names a router");
    else if (p->info[f].no_route && f)
        fail(0, "hint: this host has no IPv6 default route or no global IPv6 address; -4 asks "
                "for IPv4 only");
    else if (err == PORTMAP_ERR_NO_GATEWAY || err == PORTMAP_ERR_UNSUPPORTED)
        fail(0, "hint: is %s enabled on the router?", methods_tried(o->method));
}

/*
 * Print each part of a finished request: the mapped ones, and the ones
 * that failed (an error when required, a note otherwise; a family the
 * host has no route for is noted only with -v). Returns PORTMAP_OK, or
 * the error of a required part that failed.
 */
static int report_parts(const options *o, const parts *p)
{
    unsigned req = required_parts(o, p);
    int rc = PORTMAP_OK, failed = -1;

    for (int f = 0; f < 2; f++) {
        int required = (req >> f) & 1;
        if (!p->have[f])
            continue;
        if (p->info[f].state == PORTMAP_STATE_MAPPED) {
            print_event("mapped", &p->info[f]);
            if (p->info[f].permanent)
                note_permanent(&p->info[f], o->once);
            continue;
        }
        if (required || !p->info[f].no_route || o->verbose)
            say_unmapped(p, f, required);
        if (required && rc == PORTMAP_OK) {
            rc = part_error(p, f);
            failed = f;
        }
    }
    if (failed >= 0)
        hint(o, p, failed);
    return rc;
}

/* The family a request asks for: -4/-6, else both where they work. */
static portmap_family request_family(const options *o)
{
    if (o->family != PORTMAP_FAMILY_DEFAULT)
        return o->family;
    /* --allow names IPv4 peers and NAT-PMP has no IPv6 */
    if (o->allow || o->method == PORTMAP_METHOD_NATPMP)
        return PORTMAP_IPV4;
    return PORTMAP_IPV4_IPV6;
}

/* Release one request and print each part that was mapped; the worst
 * exit code. */
static int release_one(const options *o, portmap_mapping **m, const pair *pr)
{
    parts p;
    int rc, printed = 0;

    read_parts(*m, &p);
    rc = portmap_mapping_release(m, o->timeout_s * 1000);
    for (int f = 0; f < 2; f++) {
        portmap_mapping_info *i = &p.info[f];
        if (!p.have[f] || (i->state != PORTMAP_STATE_MAPPED && i->state != PORTMAP_STATE_LOST))
            continue;
        i->state = PORTMAP_STATE_RELEASED;
        i->last_error = rc;
        print_event("released", i);
        printed = 1;
    }
    if (rc == PORTMAP_OK)
        return EX_OK;
    if (!printed && (rc == PORTMAP_ERR_CANCELLED || rc == PORTMAP_ERR_TIMEOUT))
        return EX_OK; /* nothing was mapped: nothing to release */
    fail(0, "release of %s %u: %s", proto_name(pr->proto), pr->port, portmap_strerror(rc));
    return exit_code_for(rc);
}

/* Release what is held, for a command that is failing; errors are left
 * to the failure already reported. */
static void release_all(const options *o, portmap_mapping **m, int n)
{
    for (int i = 0; i < n; i++)
        if (m[i])
            portmap_mapping_release(&m[i], PM_MIN_RELEASE_MS(o));
}

static int start_requests(const options *o, portmap_client *c, const pair *pairs, int n,
                          portmap_mapping **m)
{
    for (int i = 0; i < n; i++) {
        portmap_request r;
        int rc;
        portmap_request_init(&r);
        r.protocol = pairs[i].proto;
        r.internal_port = pairs[i].port;
        r.external_port = n == 1 ? o->external_port : 0;
        r.lifetime = o->lifetime;
        r.description = o->description;
        r.allow = o->allow;
        r.method = o->method;
        r.family = request_family(o);
        r.callback = on_event;
        rc = portmap_request_mapping(c, &r, &m[i]);
        if (rc == PORTMAP_OK)
            continue;
        if (rc == PORTMAP_ERR_INVALID_ARGUMENT && o->allow && (r.family & PORTMAP_IPV6))
            return fail(EX_USAGE_, "--allow takes IPv4 peers only: use it with -4");
        if (rc == PORTMAP_ERR_UNSUPPORTED && r.family == PORTMAP_IPV6)
            return fail(exit_code_for(rc), "-6: %s has no IPv6; use PCP or UPnP-IGD",
                        methods_tried(o->method));
        if (rc == PORTMAP_ERR_UNSUPPORTED && o->allow)
            return fail(exit_code_for(rc), "%s %u: --allow %s cannot be honoured by %s, which "
                        "cannot restrict who connects (PCP can; UPnP-IGD for one host)",
                        proto_name(pairs[i].proto), pairs[i].port, o->allow,
                        o->method == PORTMAP_METHOD_NATPMP ? "NAT-PMP" : "UPnP-IGD");
        return fail(exit_code_for(rc), "%s %u: %s", proto_name(pairs[i].proto), pairs[i].port,
                    portmap_strerror(rc));
    }
    return EX_OK;
}

static int cmd_request(const options *o, const pair *pairs, int n)
{
    portmap_client *c = NULL;
    portmap_mapping *m[MAX_PAIRS] = { NULL };
    int rc, sig, worst = EX_OK;

    if ((rc = open_client(o, &c, !o->once)) != 0)
        return rc;
    if ((rc = start_requests(o, c, pairs, n, m)) != EX_OK) {
        release_all(o, m, n);
        portmap_close(&c);
        return rc;
    }
    /* All requests are under way together; each is reported once all
     * have an outcome, in the order given. */
    sig = wait_all(o, m, n);
    for (int i = 0; i < n && !sig; i++) {
        parts p;
        read_parts(m[i], &p);
        rc = report_parts(o, &p);
        if (rc != PORTMAP_OK) {
            /* nothing is left behind by a command that failed, --once or not */
            release_all(o, m, n);
            portmap_close(&c);
            return exit_code_for(rc);
        }
    }
    if (!sig && o->once) {
        portmap_close(&c); /* release_on_close is off: the leases run out by themselves */
        return EX_OK;
    }
    if (!sig)
        sig = wait_for_signal();
    for (int i = 0; i < n; i++) {
        int r = release_one(o, &m[i], &pairs[i]);
        if (r != EX_OK)
            worst = r;
    }
    portmap_close(&c);
    return worst;
}

/* Why a release found nothing to do it with, in words. */
static int explain_release(portmap_client *c, const options *o, int rc, const pair *pr)
{
    char why[512] = "";

    if (rc == PORTMAP_ERR_NO_GATEWAY || rc == PORTMAP_ERR_UNSUPPORTED || rc == PORTMAP_ERR_TIMEOUT)
        portmap_discover_reason(c, o->family == PORTMAP_IPV6 ? PORTMAP_IPV6 : PORTMAP_IPV4, why,
                                sizeof(why));
    return fail(exit_code_for(rc), "release of %s %u: %s%s%s", proto_name(pr->proto), pr->port,
                portmap_strerror(rc), why[0] ? ": " : "", why);
}

static int cmd_release(const options *o, uint16_t port, portmap_transport proto)
{
    portmap_client *c = NULL;
    pair pr = { port, proto };
    int rc;

    if ((rc = open_client(o, &c, 1)) != 0)
        return rc;
    rc = portmap_release_port(c, proto, port, o->method, o->timeout_s * 1000);
    if (rc == PORTMAP_OK) {
        pthread_mutex_lock(&out_lock);
        if (json_mode)
            printf("{\"event\":\"released\",\"protocol\":\"%s\",\"internal_port\":%u}\n",
                   proto_name(proto), port);
        else
            printf("released %s %u\n", proto_name(proto), port);
        pthread_mutex_unlock(&out_lock);
    } else {
        rc = explain_release(c, o, rc, &pr);
    }
    portmap_close(&c);
    return rc;
}

/* The IPv6 side of discover: a JSON member of the IPv4 object (or one
 * object with -6), or lines prefixed "ipv6". */
static void print_discovery6(const portmap_discovery *d, int member)
{
    int pcp = (d->methods & PORTMAP_HAVE(PORTMAP_METHOD_PCP)) != 0;
    int upnp = (d->methods & PORTMAP_HAVE(PORTMAP_METHOD_UPNP)) != 0;

    if (json_mode) {
        printf("%s{\"gateway\":", member ? ",\"ipv6\":" : "");
        json_string(stdout, d->gateway);
        printf(",\"local_address\":");
        json_string(stdout, d->local_address);
        printf(",\"address_kind\":\"%s\",\"pcp\":%s,\"upnp\":%s,\"upnp_service\":\"%s\","
               "\"preferred\":\"%s\"}%s", portmap_address_kind_name(d->address_kind),
               pcp ? "true" : "false", upnp ? "true" : "false", d->upnp_service,
               d->methods ? portmap_method_name(d->preferred) : "none", member ? "" : "\n");
        return;
    }
    printf("ipv6 gateway %s\nipv6 local address %s%s%s%s\n", d->gateway,
           d->local_address[0] ? d->local_address : "none fit for a pinhole",
           d->address_kind ? " (" : "", portmap_address_kind_name(d->address_kind),
           d->address_kind ? ")" : "");
    printf("ipv6 pcp %s\n", pcp ? "yes" : "no");
    if (upnp)
        printf("ipv6 upnp yes (%s)\n", d->upnp_service);
    else
        printf("ipv6 upnp no\n");
}

static int cmd_discover(const options *o)
{
    portmap_client *c = NULL;
    portmap_discovery d, d6;
    int rc, have6 = 0;

    if ((rc = open_client(o, &c, 1)) != 0)
        return rc;
    if (o->family == PORTMAP_IPV4 || o->family == PORTMAP_FAMILY_DEFAULT || o->family == PORTMAP_IPV4_IPV6) {
        /* both at once when IPv6 is wanted too (the default) */
        int want6 = o->family != PORTMAP_IPV4;
        rc = portmap_discover_dual(c, &d, want6 ? &d6 : NULL, PORTMAP_DISCOVER_FRESH,
                                   o->timeout_s * 1000);
        have6 = want6 && d6.gateway[0];
    } else {
        rc = portmap_discover_dual(c, NULL, &d6, PORTMAP_DISCOVER_FRESH, o->timeout_s * 1000);
        have6 = d6.gateway[0] != '\0';
        memset(&d, 0, sizeof(d));
        if (rc == PORTMAP_OK || have6)
            print_discovery6(&d6, 0);
        if (rc != PORTMAP_OK)
            rc = explain(c, o, rc);
        portmap_close(&c);
        return rc;
    }
    if (rc == PORTMAP_OK || d.gateway[0]) {
        const char *nat = d.double_nat ? "double_nat" : "nat";
        int pcp = (d.methods & PORTMAP_HAVE(PORTMAP_METHOD_PCP)) != 0;
        int pmp = (d.methods & PORTMAP_HAVE(PORTMAP_METHOD_NATPMP)) != 0;
        int upnp = (d.methods & PORTMAP_HAVE(PORTMAP_METHOD_UPNP)) != 0;
        if (d.external_address[0] && !strcmp(d.external_address, d.local_address))
            nat = "direct";
        if (json_mode) {
            printf("{\"gateway\":\"%s\",\"local_address\":\"%s\",\"external_address\":\"%s\","
                   "\"pcp\":%s,\"pcp_version\":%d,\"natpmp\":%s,\"upnp\":%s,\"upnp_version\":%d,"
                   "\"upnp_service\":\"%s\",\"nat\":\"%s\",\"preferred\":\"%s\"",
                   d.gateway, d.local_address, d.external_address, pcp ? "true" : "false",
                   d.pcp_version, pmp ? "true" : "false", upnp ? "true" : "false", d.upnp_version,
                   d.upnp_service, nat, d.methods ? portmap_method_name(d.preferred) : "none");
            if (have6)
                print_discovery6(&d6, 1);
            printf("}\n");
        } else {
            printf("gateway %s\nlocal address %s\nexternal address %s\n", d.gateway,
                   d.local_address, d.external_address[0] ? d.external_address : "?");
            if (pcp)
                printf("pcp yes (version %d)\n", d.pcp_version);
            else
                printf("pcp no\n");
            printf("natpmp %s\n", pmp ? "yes" : "no");
            if (upnp)
                printf("upnp yes (IGD v%d, %s)\n", d.upnp_version, d.upnp_service);
            else
                printf("upnp no\n");
            printf("verdict: %s\n", !strcmp(nat, "double_nat")
                                         ? "behind double NAT / carrier-grade NAT: the router's own "
                                           "address is not public"
                                     : !strcmp(nat, "direct") ? "direct" : "behind NAT");
            if (have6)
                print_discovery6(&d6, 0);
        }
    }
    if (rc != PORTMAP_OK)
        rc = explain(c, o, rc);
    portmap_close(&c);
    return rc;
}

static int cmd_external_ip(const options *o)
{
    portmap_client *c = NULL;
    char addr[PORTMAP_ADDRSTRLEN];
    int rc;

    if ((rc = open_client(o, &c, 1)) != 0)
        return rc;
    rc = portmap_external_ip(c, addr, sizeof(addr), o->timeout_s * 1000);
    if (rc == PORTMAP_OK)
        printf(json_mode ? "{\"external_address\":\"%s\"}\n" : "%s\n", addr);
    else
        rc = explain(c, o, rc);
    portmap_close(&c);
    return rc;
}

/* The router's table, or an explained failure (client closed then). */
static int fetch_table(const options *o, portmap_client **c, portmap_router_entry **e, size_t *n,
                       const char *why_upnp)
{
    int rc;

    if ((rc = open_client(o, c, 1)) != 0)
        return rc;
    rc = portmap_router_mappings(*c, e, n, o->timeout_s * 1000);
    if (rc == PORTMAP_OK)
        return EX_OK;
    rc = rc == PORTMAP_ERR_UNSUPPORTED ? fail(EX_NOGW, "%s", why_upnp) : explain(*c, o, rc);
    portmap_close(c);
    return rc;
}

static int cmd_cleanup(const options *o)
{
    options mine = *o;
    portmap_client *c = NULL;
    unsigned n = 0;
    int rc;

    mine.keep_orphans = 1; /* this command does it itself, and counts */
    if ((rc = open_client(&mine, &c, 1)) != 0)
        return rc;
    rc = portmap_cleanup(c, o->timeout_s * 1000, &n);
    if (rc == PORTMAP_OK || n) {
        if (json_mode)
            printf("{\"released\":%u}\n", n);
        else
            printf("released %u mapping%s left by dead processes\n", n, n == 1 ? "" : "s");
    }
    if (rc != PORTMAP_OK)
        rc = rc == PORTMAP_ERR_NO_GATEWAY || rc == PORTMAP_ERR_TIMEOUT
                 ? explain(c, o, rc)
                 : fail(exit_code_for(rc), "cleanup: %s", portmap_strerror(rc));
    portmap_close(&c);
    return rc;
}

static int cmd_list(const options *o)
{
    portmap_client *c = NULL;
    portmap_router_entry *e = NULL;
    size_t n = 0;
    int rc;

    if ((rc = fetch_table(o, &c, &e, &n,
                          "the router offers no UPnP-IGD, which is needed to list its table")))
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (json_mode) {
            printf("{\"protocol\":\"%s\",\"external_port\":%u,\"internal_client\":", proto_name(e[i].protocol),
                   e[i].external_port);
            json_string(stdout, e[i].internal_client);
            printf(",\"internal_port\":%u,\"description\":", e[i].internal_port);
            json_string(stdout, e[i].description);
            printf(",\"lease\":%u,\"enabled\":%s,\"ours\":%s}\n", e[i].lease,
                   e[i].enabled ? "true" : "false", e[i].ours ? "true" : "false");
        } else {
            printf("%s %5u -> %s:%u  lease %s%u  %s%s\n", proto_name(e[i].protocol), e[i].external_port,
                   e[i].internal_client, e[i].internal_port, e[i].lease ? "" : "permanent ",
                   e[i].lease, e[i].description, e[i].ours ? "  (this host)" : "");
        }
    }
    portmap_router_entries_free(e);
    portmap_close(&c);
    return EX_OK;
}

/* Services that should not face the Internet. Documented in portmap-cli(1). */
static const struct risky {
    uint16_t lo, hi;
    const char *what;
} risky_ports[] = {
    { 21, 21, "FTP" },          { 23, 23, "telnet" },          { 135, 135, "MS RPC" },
    { 137, 139, "NetBIOS/SMB" }, { 445, 445, "SMB" },            { 1433, 1433, "MS SQL" },
    { 1900, 1900, "SSDP" },     { 2375, 2376, "Docker API" },  { 3306, 3306, "MySQL" },
    { 3389, 3389, "RDP" },      { 5432, 5432, "PostgreSQL" },  { 5900, 5903, "VNC" },
    { 5984, 5984, "CouchDB" },  { 6379, 6379, "Redis" },       { 9200, 9200, "Elasticsearch" },
    { 11211, 11211, "memcached" }, { 27017, 27017, "MongoDB" },
};

static const char *risky_service(uint16_t port)
{
    for (size_t i = 0; i < sizeof(risky_ports) / sizeof(risky_ports[0]); i++)
        if (port >= risky_ports[i].lo && port <= risky_ports[i].hi)
            return risky_ports[i].what;
    return NULL;
}

/* Is something on this host listening on port (TCP) or bound to it (UDP)? */
int locally_bound(portmap_transport proto, uint16_t port)
{
    const char *files[2] = { proto == PORTMAP_TCP ? "/proc/net/tcp" : "/proc/net/udp",
                             proto == PORTMAP_TCP ? "/proc/net/tcp6" : "/proc/net/udp6" };
    for (int i = 0; i < 2; i++) {
        char line[512];
        FILE *f = fopen(files[i], "re");
        if (!f)
            continue;
        while (fgets(line, sizeof(line), f)) {
            char local[64];
            unsigned st;
            char *colon;
            if (sscanf(line, " %*d: %63s %*s %x", local, &st) != 2)
                continue;
            colon = strrchr(local, ':');
            if (!colon || strtoul(colon + 1, NULL, 16) != port)
                continue;
            if (proto == PORTMAP_UDP || st == 0x0A) { /* TCP_LISTEN */
                fclose(f);
                return 1;
            }
        }
        fclose(f);
    }
    return 0;
}

typedef struct finding {
    int stale, permanent, other_host;
    const char *risky;
} finding;

static int assess(const portmap_router_entry *e, finding *f)
{
    memset(f, 0, sizeof(*f));
    f->stale = e->ours && !e->held && !locally_bound(e->protocol, e->internal_port);
    f->permanent = e->lease == 0;
    f->other_host = !e->ours;
    f->risky = risky_service(e->external_port) ? risky_service(e->external_port)
                                               : risky_service(e->internal_port);
    return f->stale || f->permanent || f->other_host || f->risky;
}

static void print_finding(const portmap_router_entry *e, const finding *f, const char *pruned)
{
    char why[512] = "";
    size_t n = 0;

    if (f->stale)
        n += (size_t)snprintf(why + n, sizeof(why) - n, "%sstale: maps to this host but no running "
                              "process holds it or listens on port %u", n ? "; " : "", e->internal_port);
    if (f->permanent)
        n += (size_t)snprintf(why + n, sizeof(why) - n, "%spermanent lease: it never expires",
                              n ? "; " : "");
    if (f->risky)
        n += (size_t)snprintf(why + n, sizeof(why) - n, "%sexposes %s, which should not face the "
                              "Internet", n ? "; " : "", f->risky);
    if (f->other_host)
        n += (size_t)snprintf(why + n, sizeof(why) - n, "%smaps to another host on the LAN (%s)",
                              n ? "; " : "", e->internal_client);
    if (json_mode) {
        printf("{\"protocol\":\"%s\",\"external_port\":%u,\"internal_client\":",
               proto_name(e->protocol), e->external_port);
        json_string(stdout, e->internal_client);
        printf(",\"internal_port\":%u,\"description\":", e->internal_port);
        json_string(stdout, e->description);
        printf(",\"lease\":%u,\"ours\":%s,\"stale\":%s,\"permanent\":%s,\"risky\":",
               e->lease, e->ours ? "true" : "false", f->stale ? "true" : "false",
               f->permanent ? "true" : "false");
        if (f->risky)
            json_string(stdout, f->risky);
        else
            printf("null");
        printf(",\"other_host\":%s,\"reason\":", f->other_host ? "true" : "false");
        json_string(stdout, why);
        if (pruned)
            printf(",\"pruned\":%s", pruned);
        printf("}\n");
    } else {
        printf("%s %u -> %s:%u: %s%s%s\n", proto_name(e->protocol), e->external_port,
               e->internal_client, e->internal_port, why, pruned ? " -- pruned: " : "",
               pruned ? pruned : "");
    }
}

static int cmd_audit(const options *o, int prune)
{
    portmap_client *c = NULL;
    portmap_router_entry *e = NULL;
    size_t n = 0, flagged = 0;
    int rc;

    if ((rc = fetch_table(o, &c, &e, &n,
                          "audit needs the router's mapping table, which only UPnP-IGD offers, "
                          "and the router does not speak it")))
        return rc;
    for (size_t i = 0; i < n; i++) {
        finding f;
        const char *pruned = NULL;
        if (!assess(&e[i], &f))
            continue;
        if (prune && f.stale) {
            int prc = portmap_router_delete(c, &e[i], o->timeout_s * 1000);
            pruned = prc == PORTMAP_OK ? "true" : "false";
            if (prc != PORTMAP_OK)
                fail(exit_code_for(prc), "could not prune %s %u: %s", proto_name(e[i].protocol),
                     e[i].external_port, portmap_strerror(prc));
            else if (!f.permanent && !f.risky && !f.other_host) {
                print_finding(&e[i], &f, pruned);
                continue; /* fixed: not counted as still flagged */
            }
        }
        print_finding(&e[i], &f, pruned);
        flagged++;
    }
    if (!json_mode && !flagged)
        printf("nothing to flag in %zu mapping%s\n", n, n == 1 ? "" : "s");
    portmap_router_entries_free(e);
    portmap_close(&c);
    return flagged ? EX_NEGATIVE : EX_OK;
}

static int parse_method(const char *s, portmap_method *m)
{
    if (!strcmp(s, "auto"))
        *m = PORTMAP_METHOD_AUTO;
    else if (!strcmp(s, "pcp"))
        *m = PORTMAP_METHOD_PCP;
    else if (!strcmp(s, "natpmp") || !strcmp(s, "nat-pmp"))
        *m = PORTMAP_METHOD_NATPMP;
    else if (!strcmp(s, "upnp"))
        *m = PORTMAP_METHOD_UPNP;
    else
        return -1;
    return 0;
}

static int parse_uint(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    *out = strtol(s, &end, 10);
    return errno || *end || *out < min || *out > max ? -1 : 0;
}

/* The library checks it again; this is for a message that names --allow. */
static int valid_allow(const char *s)
{
    char host[INET_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    struct in_addr a;
    long bits = 32;

    if (n == 0 || n >= sizeof(host))
        return 0;
    memcpy(host, s, n);
    host[n] = '\0';
    if (inet_pton(AF_INET, host, &a) != 1 || (slash && parse_uint(slash + 1, 1, 32, &bits)))
        return 0;
    return bits == 32 || (ntohl(a.s_addr) & (0xffffffffu >> bits)) == 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "protocol", required_argument, NULL, 'p' },
        { "lifetime", required_argument, NULL, 'l' },
        { "external-port", required_argument, NULL, 'e' },
        { "gateway", required_argument, NULL, 'g' },
        { "timeout", required_argument, NULL, 't' },
        { "description", required_argument, NULL, 'd' },
        { "allow", required_argument, NULL, 'a' },
        { "once", no_argument, NULL, 'o' },
        { "prune", no_argument, NULL, 'P' },
        { "json", no_argument, NULL, 'j' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "ipv4", no_argument, NULL, '4' },
        { "ipv6", no_argument, NULL, '6' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    options o = { .timeout_s = 10 };
    int want_help = 0;
    sigset_t set;
    long v;
    int ch;

    /* A line as soon as it is known: a script reading a held request
     * through a pipe sees "mapped" when it happens, not at exit. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((ch = getopt_long(argc, argv, "vh46", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            if (parse_method(optarg, &o.method))
                return fail(EX_USAGE_, "--protocol takes pcp, natpmp, upnp or auto, not '%s'", optarg);
            break;
        case 'l':
            if (parse_uint(optarg, 1, 0x7fffffff, &v))
                return fail(EX_USAGE_, "--lifetime takes seconds > 0, not '%s'", optarg);
            o.lifetime = (uint32_t)v;
            break;
        case 'e':
            if (parse_port(optarg, &o.external_port))
                return fail(EX_USAGE_, "--external-port takes 1-65535, not '%s'", optarg);
            break;
        case 'g': o.gateway = optarg; break;
        case 'd': o.description = optarg; break;
        case 'a':
            if (!valid_allow(optarg))
                return fail(EX_USAGE_, "--allow takes an IPv4 ADDR or ADDR/PREFIX with no host "
                            "bits set (e.g. 198.51.100.0/24), not '%s'", optarg);
            o.allow = optarg;
            break;
        case 't':
            if (parse_uint(optarg, 1, 3600, &v))
                return fail(EX_USAGE_, "--timeout takes 1-3600 seconds, not '%s'", optarg);
            o.timeout_s = (int)v;
            break;
        case 'o': o.once = 1; break;
        case 'P': o.prune = 1; break;
        case 'j': o.json = 1; break;
        case 'v': o.verbose = 1; break;
        case '4': o.family |= PORTMAP_IPV4; break;
        case '6': o.family |= PORTMAP_IPV6; break;
        case 'h': want_help = 1; break;
        case 'V': printf("portmap-cli %s\n", portmap_version()); return EX_OK;
        default: usage(stderr); return EX_USAGE_;
        }
    }
    json_mode = o.json;
    if (want_help) {
        help_for(optind < argc ? argv[optind] : NULL);
        return EX_OK;
    }
    if (optind >= argc) {
        usage(stderr);
        return EX_USAGE_;
    }
    /* Signals are taken by sigwait() in the main thread only; the
     * library's thread inherits this mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    const char *cmd = argv[optind];
    int nargs = argc - optind - 1;
    char **args = argv + optind + 1;
    if (!strcmp(cmd, "request")) {
        pair pairs[MAX_PAIRS];
        int n = nargs / 2;
        if (nargs < 2 || nargs % 2 || n > MAX_PAIRS)
            return fail(EX_USAGE_, "usage: portmap-cli request PORT tcp|udp [PORT tcp|udp ...] [options]");
        for (int i = 0; i < n; i++)
            if (parse_port(args[2 * i], &pairs[i].port) || parse_proto(args[2 * i + 1], &pairs[i].proto))
                return fail(EX_USAGE_, "'%s %s' is not PORT tcp|udp", args[2 * i], args[2 * i + 1]);
        return cmd_request(&o, pairs, n);
    }
    if (!strcmp(cmd, "release")) {
        uint16_t port;
        portmap_transport proto;
        if (nargs != 2 || parse_port(args[0], &port) || parse_proto(args[1], &proto))
            return fail(EX_USAGE_, "usage: portmap-cli release PORT tcp|udp [options]");
        return cmd_release(&o, port, proto);
    }
    if (!strcmp(cmd, "check")) {
        uint16_t port;
        portmap_transport proto;
        if (nargs != 2 || parse_port(args[0], &port) || parse_proto(args[1], &proto))
            return fail(EX_USAGE_, "usage: portmap-cli check PORT tcp|udp [options]");
        return cmd_check(&o, port, proto);
    }
    if (!strcmp(cmd, "discover") && nargs == 0)
        return cmd_discover(&o);
    if (!strcmp(cmd, "external-ip") && nargs == 0)
        return cmd_external_ip(&o);
    if (!strcmp(cmd, "cleanup") && nargs == 0)
        return cmd_cleanup(&o);
    if (!strcmp(cmd, "list") && nargs == 0)
        return cmd_list(&o);
    if (!strcmp(cmd, "audit") && nargs == 0)
        return cmd_audit(&o, o.prune);
    usage(stderr);
    return EX_USAGE_;
}
