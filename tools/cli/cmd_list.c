/*
 * portmap-cli list and audit: the router's mapping table. Only UPnP-IGD
 * lets a host read it; PCP and NAT-PMP have no such request, so on a
 * router without UPnP-IGD this host's own mappings come from the journal
 * of libportmap's clients (portmap_journal_mappings()), and other hosts'
 * cannot be known. IPv6 pinholes cannot be listed by any protocol: this
 * host's own come from the journal too (portmap_router_pinholes()).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CLI_T (1u << PORTMAP_TCP)
#define CLI_U (1u << PORTMAP_UDP)

/* Services that should not face the Internet, on the transport they use
 * (udp/27017 is not MongoDB). Documented in portmap-cli(1). */
static const struct cli_risky {
    uint16_t lo, hi;
    unsigned protos;
    const char *what;
} cli_risky_ports[] = {
    { 21, 21, CLI_T, "FTP" },                 { 23, 23, CLI_T, "telnet" },
    { 135, 135, CLI_T | CLI_U, "MS RPC" },    { 137, 138, CLI_U, "NetBIOS" },
    { 139, 139, CLI_T, "NetBIOS/SMB" },       { 445, 445, CLI_T, "SMB" },
    { 1433, 1433, CLI_T, "MS SQL" },          { 1434, 1434, CLI_U, "MS SQL browser" },
    { 1900, 1900, CLI_U, "SSDP" },            { 2375, 2376, CLI_T, "Docker API" },
    { 3306, 3306, CLI_T, "MySQL" },           { 3389, 3389, CLI_T | CLI_U, "RDP" },
    { 5432, 5432, CLI_T, "PostgreSQL" },      { 5900, 5903, CLI_T, "VNC" },
    { 5984, 5984, CLI_T, "CouchDB" },         { 6379, 6379, CLI_T, "Redis" },
    { 9200, 9200, CLI_T, "Elasticsearch" },   { 11211, 11211, CLI_T | CLI_U, "memcached" },
    { 27017, 27017, CLI_T, "MongoDB" },
};

typedef struct finding {
    int stale, permanent, other_host;
    const char *risky;
} finding;

/* The IPv4 part: the router's table, or on a router without UPnP-IGD
 * this host's own mappings from the journal (*journal set, and said). */
static int fetch_ipv4(const cli_options *o, portmap_client *c, portmap_router_entry **t,
                      size_t *nt, int *journal)
{
    int rc = portmap_router_mappings(c, t, nt, o->timeout_s * 1000);

    if (rc != PORTMAP_ERR_UNSUPPORTED)
        return rc;
    if ((rc = portmap_journal_mappings(c, t, nt)) != PORTMAP_OK)
        return rc;
    *journal = 1;
    cli_fail(0, "the router's table cannot be read over PCP or NAT-PMP (only UPnP-IGD lists "
                "it): shown are this host's own mappings, from its journal; other hosts' "
                "cannot be known");
    return PORTMAP_OK;
}

/* The router's table (IPv4, unless -6 alone) and this host's IPv6
 * pinholes (unless -4 alone) in one array, or an explained failure
 * (client closed then). */
static int fetch_table(const cli_options *o, portmap_client **c, portmap_router_entry **e,
                       size_t *n, int *journal)
{
    portmap_router_entry *t = NULL, *p = NULL, *all;
    size_t nt = 0, np = 0;
    int rc;

    *journal = 0;
    if ((rc = cli_open_client(o, c, 1)) != 0)
        return rc;
    if (o->family != PORTMAP_IPV6 && (rc = fetch_ipv4(o, *c, &t, &nt, journal)) != PORTMAP_OK) {
        rc = cli_explain(*c, o, rc);
        portmap_close(c);
        return rc;
    }
    /* neither UPnP-IGD nor PCP lists pinholes: this host's journal does */
    if (o->family != PORTMAP_IPV4 && (rc = portmap_router_pinholes(*c, &p, &np)) != PORTMAP_OK)
        cli_fail(0, "this host's IPv6 pinholes are not shown: %s", portmap_strerror(rc));
    if (!(all = calloc(nt + np + 1, sizeof(*all)))) {
        portmap_router_entries_free(t);
        portmap_router_entries_free(p);
        portmap_close(c);
        return cli_fail(CLI_EX_OTHER, "out of memory");
    }
    *n = 0;
    for (size_t i = 0; i < nt + np; i++) {
        const portmap_router_entry *x = i < nt ? &t[i] : &p[i - nt];
        /* --ports: only those external ports */
        if (!o->ports_lo || (x->external_port >= o->ports_lo && x->external_port <= o->ports_hi))
            all[(*n)++] = *x;
    }
    portmap_router_entries_free(t);
    portmap_router_entries_free(p);
    *e = all;
    return CLI_EX_OK;
}

/* Where an entry comes from: the router's table, or this host's journal
 * (pinholes always; mappings on a router without UPnP-IGD). */
static const char *source(const portmap_router_entry *e, int journal)
{
    return e->ipv6 || journal ? "journal" : "router";
}

static void print_entry(const portmap_router_entry *e, int journal)
{
    if (cli_json_mode) {
        printf("{\"protocol\":\"%s\",\"external_port\":%u,\"internal_client\":",
               cli_proto_name(e->protocol), e->external_port);
        cli_json_string(stdout, e->internal_client);
        printf(",\"internal_port\":%u,\"description\":", e->internal_port);
        cli_json_string(stdout, e->description);
        printf(",\"lease\":%u,\"enabled\":%s,\"held\":%s,\"family\":\"%s\",\"ours\":%s,"
               "\"source\":\"%s\"}\n", e->lease, cli_json_bool(e->enabled), cli_json_bool(e->held),
               e->ipv6 ? "ipv6" : "ipv4", cli_json_bool(e->ours), source(e, journal));
        return;
    }
    if (journal && !e->ipv6) {
        printf("%s %5u -> %s:%u  lease %u  made with %s  (%s%s, from the journal)\n",
               cli_proto_name(e->protocol), e->external_port, e->internal_client,
               e->internal_port, e->lease, e->description,
               e->ours ? "this host" : "for another host, from here", e->held ? ", held" : "");
        return;
    }
    /* not ours yet held: made from here for that host (--internal-address) */
    if (e->ipv6) {
        printf("%s pinhole [%s]:%u  lease %u  opened with %s  (%s%s)\n",
               cli_proto_name(e->protocol), e->internal_client, e->internal_port, e->lease,
               e->description, e->ours ? "this host" : "for another host, from here",
               e->held ? ", held" : "");
        return;
    }
    printf("%s %5u -> %s:%u  lease %s%u  %s%s\n", cli_proto_name(e->protocol), e->external_port,
           e->internal_client, e->internal_port, e->lease ? "" : "permanent ", e->lease,
           e->description, e->ours ? "  (this host)"
                           : e->held ? "  (for another host, held here)" : "");
}

int cli_cmd_list(const cli_options *o, const cli_pair *pairs, int n)
{
    portmap_client *c = NULL;
    portmap_router_entry *e = NULL;
    size_t count = 0;
    int rc, journal;

    (void)pairs;
    (void)n;
    if ((rc = fetch_table(o, &c, &e, &count, &journal)))
        return rc;
    for (size_t i = 0; i < count; i++)
        print_entry(&e[i], journal);
    portmap_router_entries_free(e);
    portmap_close(&c);
    return CLI_EX_OK;
}

static const char *risky_service(portmap_transport proto, uint16_t port)
{
    for (size_t i = 0; i < sizeof(cli_risky_ports) / sizeof(cli_risky_ports[0]); i++)
        if (port >= cli_risky_ports[i].lo && port <= cli_risky_ports[i].hi &&
            (cli_risky_ports[i].protos & (1u << proto)))
            return cli_risky_ports[i].what;
    return NULL;
}

/* Stale: ours, and no running process holds it (per the journal) or, as
 * far as this host can tell, listens on its port. With --ports the user
 * named the range to clear: a listener alone does not keep an entry. */
static int assess(const cli_options *o, const portmap_router_entry *e, finding *f)
{
    memset(f, 0, sizeof(*f));
    f->stale = e->ours && !e->held &&
               (o->ports_lo || !cli_locally_bound(e->protocol, e->internal_port));
    f->permanent = e->lease == 0 && !e->ipv6; /* a pinhole's lease is the journal's */
    /* a mapping a process here holds for another host was asked for */
    f->other_host = !e->ours && !e->held;
    f->risky = risky_service(e->protocol, e->external_port)
                   ? risky_service(e->protocol, e->external_port)
                   : risky_service(e->protocol, e->internal_port);
    return f->stale || f->permanent || f->other_host || f->risky;
}

/* The reasons an entry is flagged, joined with "; ". */
static void finding_reason(const portmap_router_entry *e, const finding *f, char *why,
                           size_t size)
{
    size_t n = 0;

    why[0] = '\0';
    if (f->stale)
        n += (size_t)snprintf(why + n, size - n, "%sstale: %s this host but no running "
                              "process holds it or listens on port %u", n ? "; " : "",
                              e->ipv6 ? "an IPv6 pinhole for" : "maps to", e->internal_port);
    if (f->permanent)
        n += (size_t)snprintf(why + n, size - n, "%spermanent lease: it never expires",
                              n ? "; " : "");
    if (f->risky)
        n += (size_t)snprintf(why + n, size - n, "%sexposes %s, which should not face the "
                              "Internet", n ? "; " : "", f->risky);
    if (f->other_host)
        n += (size_t)snprintf(why + n, size - n, "%smaps to another host on the LAN (%s)",
                              n ? "; " : "", e->internal_client);
}

static void print_finding_json(const portmap_router_entry *e, const finding *f, const char *why,
                               const char *pruned, int journal)
{
    printf("{\"protocol\":\"%s\",\"external_port\":%u,\"internal_client\":",
           cli_proto_name(e->protocol), e->external_port);
    cli_json_string(stdout, e->internal_client);
    printf(",\"internal_port\":%u,\"description\":", e->internal_port);
    cli_json_string(stdout, e->description);
    printf(",\"lease\":%u,\"ours\":%s,\"stale\":%s,\"permanent\":%s,\"risky\":", e->lease,
           cli_json_bool(e->ours), cli_json_bool(f->stale), cli_json_bool(f->permanent));
    if (f->risky)
        cli_json_string(stdout, f->risky);
    else
        printf("null");
    printf(",\"other_host\":%s,\"family\":\"%s\",\"source\":\"%s\",\"reason\":",
           cli_json_bool(f->other_host), e->ipv6 ? "ipv6" : "ipv4", source(e, journal));
    cli_json_string(stdout, why);
    if (pruned)
        printf(",\"pruned\":%s", pruned);
    printf("}\n");
}

static void print_finding(const portmap_router_entry *e, const finding *f, const char *pruned,
                          int journal)
{
    char why[512];

    finding_reason(e, f, why, sizeof(why));
    if (cli_json_mode)
        print_finding_json(e, f, why, pruned, journal);
    else if (e->ipv6)
        printf("%s pinhole [%s]:%u: %s%s%s\n", cli_proto_name(e->protocol), e->internal_client,
               e->internal_port, why, pruned ? " -- pruned: " : "", pruned ? pruned : "");
    else
        printf("%s %u -> %s:%u: %s%s%s\n", cli_proto_name(e->protocol), e->external_port,
               e->internal_client, e->internal_port, why, pruned ? " -- pruned: " : "",
               pruned ? pruned : "");
}

/* Delete a stale entry; "true" or "false" for the report. A pinhole, or
 * a mapping known from the journal alone, is released by its journal
 * entry, which names this host's current address only: a pinhole for an
 * IPv6 address given up since runs out by itself. */
static const char *prune(portmap_client *c, const cli_options *o, const portmap_router_entry *e,
                         int journal, int *released)
{
    int by_port = e->ipv6 || journal;
    int rc;

    /* a release by port ends the port's mapping and pinhole at once */
    if (by_port && *released)
        return "true";
    rc = by_port ? portmap_release_port(c, e->protocol, e->internal_port, PORTMAP_METHOD_AUTO,
                                        o->timeout_s * 1000)
                 : portmap_router_delete(c, e, o->timeout_s * 1000);
    *released = by_port && rc == PORTMAP_OK;

    if (rc == PORTMAP_OK)
        return "true";
    if (e->ipv6 && rc == PORTMAP_ERR_NOT_FOUND)
        cli_fail(0, "could not prune the %s pinhole of port %u: it is for %s, no longer this "
                 "host's IPv6 address; it runs out in %u s", cli_proto_name(e->protocol),
                 e->internal_port, e->internal_client, e->lease);
    else
        cli_fail(cli_exit_code_for(rc), "could not prune %s %u: %s", cli_proto_name(e->protocol),
                 e->external_port, portmap_strerror(rc));
    return "false";
}

/* Report one entry; 1 when it is still flagged. A pruned entry with no
 * other finding is fixed, and no longer counts. */
static int audit_entry(portmap_client *c, const cli_options *o, const portmap_router_entry *e,
                       int journal, int *released)
{
    finding f;
    const char *pruned = NULL;

    if (!assess(o, e, &f))
        return 0;
    if (o->prune && f.stale)
        pruned = prune(c, o, e, journal, released);
    print_finding(e, &f, pruned, journal);
    return !(pruned && !strcmp(pruned, "true") && !f.permanent && !f.risky && !f.other_host);
}

int cli_cmd_audit(const cli_options *o, const cli_pair *pairs, int n)
{
    portmap_client *c = NULL;
    portmap_router_entry *e = NULL;
    size_t count = 0, flagged = 0;
    unsigned char *gone; /* released by port (with the port's other family) */
    int rc, journal;

    (void)pairs;
    (void)n;
    if ((rc = fetch_table(o, &c, &e, &count, &journal)))
        return rc;
    if (!(gone = calloc(count + 1, 1))) {
        portmap_router_entries_free(e);
        portmap_close(&c);
        return cli_fail(CLI_EX_OTHER, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        int released = 0; /* an earlier entry of the same port was released by port */
        for (size_t j = 0; j < i && !released; j++)
            released = e[j].protocol == e[i].protocol && e[j].internal_port == e[i].internal_port &&
                       gone[j];
        flagged += (size_t)audit_entry(c, o, &e[i], journal, &released);
        gone[i] = (unsigned char)released;
    }
    if (!cli_json_mode && !flagged)
        printf("nothing to flag in %zu mapping%s%s\n", count, count == 1 ? "" : "s",
               journal ? " of this host (from its journal)" : "");
    free(gone);
    portmap_router_entries_free(e);
    portmap_close(&c);
    return flagged ? CLI_EX_NEGATIVE : CLI_EX_OK;
}
