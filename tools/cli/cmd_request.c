/*
 * portmap-cli request PORT PROTO [PORT PROTO ...]: map, hold until SIGINT
 * or SIGTERM, release; or with --once map and leave the leases to run out.
 */
#include "cli.h"

/* A failing command's releases are short: the failure is already known. */
#define MIN_RELEASE_MS(o) ((o)->timeout_s * 1000 < 3000 ? (o)->timeout_s * 1000 : 3000)

/* Engine thread: print what changes after the first mapping. */
static void on_event(portmap_mapping *m, portmap_event ev, const portmap_mapping_info *info,
                     void *user)
{
    (void)m;
    (void)user;
    if (ev == PORTMAP_EVENT_MAPPED || ev == PORTMAP_EVENT_RELEASED || ev == PORTMAP_EVENT_FAILED)
        return; /* the main thread prints these itself, in order */
    cli_print_event(portmap_event_name(ev), info);
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

static portmap_mapping *first_pending(portmap_mapping *const *m, int n)
{
    for (int i = 0; i < n; i++) {
        cli_parts p;
        cli_read_parts(m[i], &p);
        if (cli_parts_pending(&p))
            return m[i];
    }
    return NULL;
}

/*
 * Wait until every part of every request has an outcome (the library
 * bounds each by the timeout), showing a status line after 300 ms on a
 * terminal. Returns the signal that interrupted the wait, else 0.
 */
static int wait_all(const cli_options *o, portmap_mapping *const *m, int n)
{
    int64_t start = cli_mono_ms(), limit = start + (int64_t)o->timeout_s * 1000 + 2000;
    int sig = 0;

    for (;;) {
        portmap_mapping *waiting = first_pending(m, n);
        if (!waiting || cli_mono_ms() >= limit)
            break;
        if ((sig = cli_signal_pending()) != 0)
            break;
        portmap_mapping_wait(waiting, 100, NULL);
        if (cli_mono_ms() - start >= 300)
            cli_status(probing_text(o->method));
    }
    cli_status_clear();
    return sig;
}

/* The family a request asks for: -4/-6, else both where they work. */
static portmap_family request_family(const cli_options *o)
{
    if (o->internal)
        return o->internal_family; /* one host, one family */
    if (o->family != PORTMAP_FAMILY_DEFAULT)
        return o->family;
    /* --allow names IPv4 peers and NAT-PMP has no IPv6 */
    if (o->allow || o->method == PORTMAP_METHOD_NATPMP)
        return PORTMAP_IPV4;
    return PORTMAP_IPV4_IPV6;
}

/* Release one request within timeout_ms and print each part that was
 * mapped; the worst exit code. */
static int release_one(portmap_mapping **m, const cli_pair *pr, int timeout_ms)
{
    cli_parts p;
    int rc, printed = 0;

    cli_read_parts(*m, &p);
    rc = portmap_mapping_release(m, timeout_ms);
    for (int f = 0; f < 2; f++) {
        portmap_mapping_info *i = &p.info[f];
        if (!p.have[f] || (i->state != PORTMAP_STATE_MAPPED && i->state != PORTMAP_STATE_LOST))
            continue;
        i->state = PORTMAP_STATE_RELEASED;
        i->last_error = rc;
        cli_print_event("released", i);
        printed = 1;
    }
    if (rc == PORTMAP_OK)
        return CLI_EX_OK;
    if (!printed && (rc == PORTMAP_ERR_CANCELLED || rc == PORTMAP_ERR_TIMEOUT))
        return CLI_EX_OK; /* nothing was mapped: nothing to release */
    cli_fail(0, "release of %s %u: %s", cli_proto_name(pr->proto), pr->port, portmap_strerror(rc));
    return cli_exit_code_for(rc);
}

/* Release what is held, for a command that is failing; errors are left
 * to the failure already reported. */
static void release_all(const cli_options *o, portmap_mapping **m, int n)
{
    for (int i = 0; i < n; i++)
        if (m[i])
            portmap_mapping_release(&m[i], MIN_RELEASE_MS(o));
}

/* A request the library would not even start: say which option is why. */
static int refused_request(const cli_options *o, const portmap_request *r, int rc)
{
    const char *proto = cli_proto_name(r->protocol);

    if (rc == PORTMAP_ERR_INVALID_ARGUMENT && o->allow && (r->family & PORTMAP_IPV6))
        return cli_fail(CLI_EX_USAGE, "--allow takes IPv4 peers only: use it with -4");
    if (rc == PORTMAP_ERR_UNSUPPORTED && o->internal)
        return cli_fail(cli_exit_code_for(rc), "%s %u: --internal-address %s: %s cannot map a "
                        "port for another host (it maps only for the host that asks); PCP "
                        "(THIRD_PARTY) or UPnP-IGD can", proto, r->internal_port, o->internal,
                        cli_methods_tried(o->method));
    if (rc == PORTMAP_ERR_INVALID_ARGUMENT && o->internal)
        return cli_fail(CLI_EX_USAGE, "%s %u: --internal-address %s: not an address a %s "
                        "request can map for", proto, r->internal_port, o->internal,
                        r->family == PORTMAP_IPV6 ? "IPv6" : "IPv4");
    if (rc == PORTMAP_ERR_UNSUPPORTED && r->family == PORTMAP_IPV6)
        return cli_fail(cli_exit_code_for(rc), "-6: %s has no IPv6; use PCP or UPnP-IGD",
                        cli_methods_tried(o->method));
    if (rc == PORTMAP_ERR_UNSUPPORTED && o->allow)
        return cli_fail(cli_exit_code_for(rc), "%s %u: --allow %s cannot be honoured by %s, which "
                        "cannot restrict who connects (PCP can; UPnP-IGD for one host)",
                        proto, r->internal_port, o->allow,
                        o->method == PORTMAP_METHOD_NATPMP ? "NAT-PMP" : "UPnP-IGD");
    return cli_fail(cli_exit_code_for(rc), "%s %u: %s", proto, r->internal_port,
                    portmap_strerror(rc));
}

static int start_requests(const cli_options *o, portmap_client *c, const cli_pair *pairs, int n,
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
        if (o->internal)
            snprintf(r.internal_address, sizeof(r.internal_address), "%s", o->internal);
        r.method = o->method;
        r.family = request_family(o);
        r.callback = on_event;
        rc = portmap_request_mapping(c, &r, &m[i]);
        if (rc != PORTMAP_OK)
            return refused_request(o, &r, rc);
    }
    return CLI_EX_OK;
}

/* Report each request, in the order given; on a failure nothing is left
 * behind, --once or not. */
static int report_all(const cli_options *o, portmap_mapping **m, int n)
{
    for (int i = 0; i < n; i++) {
        cli_parts p;
        int rc;
        cli_read_parts(m[i], &p);
        rc = cli_report_parts(o, &p);
        if (rc != PORTMAP_OK) {
            release_all(o, m, n);
            return cli_exit_code_for(rc);
        }
    }
    return CLI_EX_OK;
}

/* Hold the mappings until a signal (unless one came already), then
 * release them; the worst exit code. */
static int hold_and_release(const cli_options *o, portmap_mapping **m, const cli_pair *pairs,
                            int n, int sig)
{
    int worst = CLI_EX_OK;
    int64_t deadline;

    if (!sig && cli_live_wanted(o))
        cli_live_hold(m, n);
    else if (!sig)
        cli_wait_for_signal();
    /* what is held goes within a second, however the router answers */
    deadline = cli_mono_ms() + (o->timeout_s * 1000 < CLI_SIGNAL_RELEASE_MS ? o->timeout_s * 1000
                                                                          : CLI_SIGNAL_RELEASE_MS);
    for (int i = 0; i < n; i++) {
        int64_t left = deadline - cli_mono_ms();
        int r = release_one(&m[i], &pairs[i], left > 1 ? (int)left : 1);
        if (r != CLI_EX_OK)
            worst = r;
    }
    return worst;
}

int cli_cmd_request(const cli_options *o, const cli_pair *pairs, int n)
{
    portmap_client *c = NULL;
    portmap_mapping *m[CLI_MAX_PAIRS] = { NULL };
    int rc, sig;

    /* one host has one address: its family is the request's */
    if (o->internal && o->family != PORTMAP_FAMILY_DEFAULT && o->family != o->internal_family)
        return cli_fail(CLI_EX_USAGE, "--internal-address %s is an IPv%d address: %s asks for "
                        "the other family", o->internal,
                        o->internal_family == PORTMAP_IPV6 ? 6 : 4,
                        o->family == PORTMAP_IPV4_IPV6 ? "-4 -6" : o->family == PORTMAP_IPV4
                                                                  ? "-4" : "-6");
    if (o->internal && o->allow && o->internal_family == PORTMAP_IPV6)
        return cli_fail(CLI_EX_USAGE, "--allow takes IPv4 peers only: it cannot go with an IPv6 "
                        "--internal-address");
    cli_internal_host = o->internal;
    if ((rc = cli_open_client(o, &c, !o->once)) != 0)
        return rc;
    cli_hold_on_signal();
    if ((rc = start_requests(o, c, pairs, n, m)) != CLI_EX_OK) {
        release_all(o, m, n);
        goto out;
    }
    /* All requests are under way together; each is reported once all
     * have an outcome. */
    sig = wait_all(o, m, n);
    /* what is printed as mapped is in the journal: killed right after,
     * this process leaves it to the next client's cleanup */
    if (!sig)
        portmap_sync_journal(c, 0);
    if (!sig && (rc = report_all(o, m, n)) != CLI_EX_OK)
        goto out;
    /* --once: release_on_close is off, the leases run out by themselves */
    if (sig || !o->once)
        rc = hold_and_release(o, m, pairs, n, sig);
out:
    portmap_close(&c);
    return rc;
}
