/*
 * portmap-cli request: the outcome of each family part of a request (the
 * IPv4 mapping and the IPv6 pinhole), and how it is reported. A part the
 * user did not ask for by name may fail quietly; a required one fails
 * the command.
 */
#include <string.h>

#include "cli.h"

static void print_event_json(const char *event, const portmap_mapping_info *i)
{
    printf("{\"event\":\"%s\",\"protocol\":\"%s\",\"internal_port\":%u,", event,
           cli_proto_name(i->protocol), i->internal_port);
    printf("\"internal_address\":");
    cli_json_string(stdout, i->internal_address);
    printf(",\"external_address\":");
    cli_json_string(stdout, i->external_address);
    printf(",\"external_port\":%u,\"method\":\"%s\",\"lifetime\":%u", i->external_port,
           portmap_method_name(i->method) ? portmap_method_name(i->method) : "auto", i->lifetime);
    printf(",\"family\":\"%s\"", i->family == PORTMAP_IPV6 ? "ipv6" : "ipv4");
    if (i->address_kind)
        printf(",\"address_kind\":\"%s\"", portmap_address_kind_name(i->address_kind));
    if (i->permanent)
        printf(",\"permanent\":true");
    if (i->last_error)
        printf(",\"error\":\"%s\"", portmap_strerror(i->last_error));
    printf("}\n");
}

static void print_event_text(const char *event, const portmap_mapping_info *i)
{
    int v6 = i->family == PORTMAP_IPV6;

    printf("%s %s ", event, cli_proto_name(i->protocol));
    /* another host's (--internal-address): named */
    if (cli_internal_host && i->internal_address[0])
        printf("%s%s%s:", v6 ? "[" : "", i->internal_address, v6 ? "]" : "");
    printf("%u -> %s%s%s:%u via %s, lifetime %u s", i->internal_port, v6 ? "[" : "",
           i->external_address[0] ? i->external_address : "?", v6 ? "]" : "", i->external_port,
           portmap_method_name(i->method), i->lifetime);
    if (v6)
        printf(" (IPv6 pinhole%s%s%s)", i->address_kind ? " for this host's " : "",
               portmap_address_kind_name(i->address_kind), i->address_kind ? " address" : "");
    if (i->last_error)
        printf(" (%s)", portmap_strerror(i->last_error));
    printf("\n");
}

/* Called from the engine thread too, hence the lock and the flush. */
void cli_print_event(const char *event, const portmap_mapping_info *i)
{
    pthread_mutex_lock(&cli_out_lock);
    cli_live_erase();
    if (cli_json_mode)
        print_event_json(event, i);
    else
        print_event_text(event, i);
    fflush(stdout);
    pthread_mutex_unlock(&cli_out_lock);
}

void cli_read_parts(portmap_mapping *m, cli_parts *p)
{
    for (int f = 0; f < 2; f++) {
        portmap_family fam = f ? PORTMAP_IPV6 : PORTMAP_IPV4;
        p->reason[f][0] = '\0';
        p->have[f] = portmap_mapping_get_family_info(m, fam, &p->info[f]) == PORTMAP_OK;
        if (p->have[f])
            portmap_mapping_get_reason(m, fam, p->reason[f], sizeof(p->reason[f]));
    }
}

int cli_parts_pending(const cli_parts *p)
{
    for (int f = 0; f < 2; f++)
        if (p->have[f] && p->info[f].state == PORTMAP_STATE_PENDING)
            return 1;
    return 0;
}

/* A router that refuses finite leases leaves a port open for good unless
 * someone deletes it: say so, and who will. */
static void note_permanent(const portmap_mapping_info *i, int once)
{
    pthread_mutex_lock(&cli_out_lock);
    fprintf(stderr, "portmap-cli: the router answered UPnP error 725: it only accepts permanent "
                    "mappings; retried with a permanent one. ");
    if (once)
        fprintf(stderr, "It will NOT expire: remove it with 'portmap-cli release %u %s%s%s' "
                        "or 'portmap-cli audit --prune'.\n", i->internal_port,
                cli_proto_name(i->protocol), cli_internal_host ? " --internal-address " : "",
                cli_internal_host ? cli_internal_host : "");
    else
        fprintf(stderr, "It is deleted when portmap-cli exits.\n");
    pthread_mutex_unlock(&cli_out_lock);
}

static int no_route(const cli_parts *p, int f)
{
    return p->have[f] && p->info[f].state == PORTMAP_STATE_FAILED && p->info[f].no_route;
}

/* The parts a request must get for the command to succeed (bit f for
 * part f): what -4/-6 named, else IPv4 where the host has an IPv4 route
 * and IPv6 otherwise; a part not required is made where it can be. With
 * no route in either family, IPv4 is the one the failure is told of
 * (not "no IPv6 ...; -4 asks for IPv4 only", which could not help). */
static unsigned required_parts(const cli_options *o, const cli_parts *p)
{
    if (o->family != PORTMAP_FAMILY_DEFAULT)
        return (o->family & PORTMAP_IPV4 ? 1u : 0u) | (o->family & PORTMAP_IPV6 ? 2u : 0u);
    if (p->have[0] && (!no_route(p, 0) || !p->have[1] || no_route(p, 1)))
        return 1u;
    return p->have[1] ? 2u : 1u;
}

/* Why part f failed, in words: the library's reason, never "success". */
static const char *part_reason(const cli_parts *p, int f)
{
    if (p->reason[f][0])
        return p->reason[f];
    if (p->info[f].state == PORTMAP_STATE_PENDING || p->info[f].last_error == PORTMAP_OK)
        return "no answer within the timeout";
    return portmap_strerror(p->info[f].last_error);
}

static int part_error(const cli_parts *p, int f)
{
    if (p->info[f].state == PORTMAP_STATE_PENDING || p->info[f].last_error == PORTMAP_OK)
        return PORTMAP_ERR_TIMEOUT;
    return p->info[f].last_error;
}

/* The kind of failure in a few words, ahead of the router's reason. */
static const char *part_summary(const cli_parts *p, int f)
{
    switch (part_error(p, f)) {
    case PORTMAP_ERR_NO_GATEWAY: return p->info[f].no_route ? "no route" : "no gateway answered";
    case PORTMAP_ERR_UNSUPPORTED: return "not supported by the router";
    case PORTMAP_ERR_TIMEOUT: return "timed out";
    default: return portmap_strerror(part_error(p, f));
    }
}

/* Say that part f of a request did not get mapped. */
static void say_unmapped(const cli_parts *p, int f, int required)
{
    const portmap_mapping_info *i = &p->info[f];
    const char *what = f ? "IPv6 pinhole" : "IPv4 mapping";

    pthread_mutex_lock(&cli_out_lock);
    if (cli_json_mode) {
        printf("{\"event\":\"%s\",\"protocol\":\"%s\",\"internal_port\":%u,\"family\":\"%s\","
               "\"error\":\"%s\",\"reason\":", required ? "failed" : "unavailable",
               cli_proto_name(i->protocol), i->internal_port, f ? "ipv6" : "ipv4",
               portmap_strerror(part_error(p, f)));
        cli_json_string(stdout, part_reason(p, f));
        printf("}\n");
        fflush(stdout);
    } else {
        fprintf(stderr, "portmap-cli: %s %u: no %s, %s: %s\n", cli_proto_name(i->protocol),
                i->internal_port, what, part_summary(p, f), part_reason(p, f));
    }
    pthread_mutex_unlock(&cli_out_lock);
}

/* A hint after a failure, where one helps. */
static void hint(const cli_options *o, const cli_parts *p, int f)
{
    int err = part_error(p, f);

    if (cli_json_mode)
        return;
    if (p->info[f].no_route && !f && !o->gateway)
        cli_fail(0, "hint: this host has no IPv4 default route; --gateway ADDR names a router");
    else if (p->info[f].no_route && f)
        cli_fail(0, "hint: this host has no IPv6 default route or no global IPv6 address; -4 "
                    "asks for IPv4 only");
    else if (strstr(part_reason(p, f), "(see SECURITY.md)"))
        cli_fail(0, "hint: the router points elsewhere than its own address; libportmap will "
                    "not follow (see SECURITY.md)");
    else if (o->internal && err == PORTMAP_ERR_UNSUPPORTED)
        cli_fail(0, "hint: mapping for another host needs PCP (THIRD_PARTY) or UPnP-IGD; NAT-PMP "
                    "maps only for the host that asks");
    else if (o->internal && err == PORTMAP_ERR_NOT_AUTHORIZED)
        cli_fail(0, "hint: the router's settings decide whether one host may map ports for "
                    "another (miniupnpd: secure_mode, pcp_allow_thirdparty)");
    else if (err == PORTMAP_ERR_NO_GATEWAY || err == PORTMAP_ERR_UNSUPPORTED)
        cli_fail(0, "hint: is %s enabled on the router?", cli_methods_tried(o->method));
}

/*
 * Print each part of a finished request: the mapped ones, and the ones
 * that failed (an error when required, a note otherwise; a family the
 * host has no route for is noted only with -v). Returns PORTMAP_OK, or
 * the error of a required part that failed.
 */
int cli_report_parts(const cli_options *o, const cli_parts *p)
{
    unsigned req = required_parts(o, p);
    int rc = PORTMAP_OK, failed = -1;

    for (int f = 0; f < 2; f++) {
        int required = (req >> f) & 1;
        if (!p->have[f])
            continue;
        if (p->info[f].state == PORTMAP_STATE_MAPPED) {
            cli_print_event("mapped", &p->info[f]);
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
