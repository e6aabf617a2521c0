/*
 * portmap-cli list and audit: the router's mapping table. Only UPnP-IGD
 * lets a host read it; PCP and NAT-PMP have no such request.
 */
#include <string.h>

#include "cli.h"

/* Services that should not face the Internet. Documented in portmap-cli(1). */
static const struct cli_risky {
    uint16_t lo, hi;
    const char *what;
} cli_risky_ports[] = {
    { 21, 21, "FTP" },          { 23, 23, "telnet" },          { 135, 135, "MS RPC" },
    { 137, 139, "NetBIOS/SMB" }, { 445, 445, "SMB" },            { 1433, 1433, "MS SQL" },
    { 1900, 1900, "SSDP" },     { 2375, 2376, "Docker API" },  { 3306, 3306, "MySQL" },
    { 3389, 3389, "RDP" },      { 5432, 5432, "PostgreSQL" },  { 5900, 5903, "VNC" },
    { 5984, 5984, "CouchDB" },  { 6379, 6379, "Redis" },       { 9200, 9200, "Elasticsearch" },
    { 11211, 11211, "memcached" }, { 27017, 27017, "MongoDB" },
};

typedef struct finding {
    int stale, permanent, other_host;
    const char *risky;
} finding;

/* The router's table, or an explained failure (client closed then). */
static int fetch_table(const cli_options *o, portmap_client **c, portmap_router_entry **e,
                       size_t *n, const char *why_upnp)
{
    int rc;

    if ((rc = cli_open_client(o, c, 1)) != 0)
        return rc;
    rc = portmap_router_mappings(*c, e, n, o->timeout_s * 1000);
    if (rc == PORTMAP_OK)
        return CLI_EX_OK;
    rc = rc == PORTMAP_ERR_UNSUPPORTED ? cli_fail(CLI_EX_NOGW, "%s", why_upnp)
                                       : cli_explain(*c, o, rc);
    portmap_close(c);
    return rc;
}

static void print_entry(const portmap_router_entry *e)
{
    if (cli_json_mode) {
        printf("{\"protocol\":\"%s\",\"external_port\":%u,\"internal_client\":",
               cli_proto_name(e->protocol), e->external_port);
        cli_json_string(stdout, e->internal_client);
        printf(",\"internal_port\":%u,\"description\":", e->internal_port);
        cli_json_string(stdout, e->description);
        printf(",\"lease\":%u,\"enabled\":%s,\"ours\":%s}\n", e->lease, cli_json_bool(e->enabled),
               cli_json_bool(e->ours));
        return;
    }
    printf("%s %5u -> %s:%u  lease %s%u  %s%s\n", cli_proto_name(e->protocol), e->external_port,
           e->internal_client, e->internal_port, e->lease ? "" : "permanent ", e->lease,
           e->description, e->ours ? "  (this host)" : "");
}

int cli_cmd_list(const cli_options *o, const cli_pair *pairs, int n)
{
    portmap_client *c = NULL;
    portmap_router_entry *e = NULL;
    size_t count = 0;
    int rc;

    (void)pairs;
    (void)n;
    if ((rc = fetch_table(o, &c, &e, &count,
                          "the router offers no UPnP-IGD, which is needed to list its table")))
        return rc;
    for (size_t i = 0; i < count; i++)
        print_entry(&e[i]);
    portmap_router_entries_free(e);
    portmap_close(&c);
    return CLI_EX_OK;
}

static const char *risky_service(uint16_t port)
{
    for (size_t i = 0; i < sizeof(cli_risky_ports) / sizeof(cli_risky_ports[0]); i++)
        if (port >= cli_risky_ports[i].lo && port <= cli_risky_ports[i].hi)
            return cli_risky_ports[i].what;
    return NULL;
}

static int assess(const portmap_router_entry *e, finding *f)
{
    memset(f, 0, sizeof(*f));
    f->stale = e->ours && !e->held && !cli_locally_bound(e->protocol, e->internal_port);
    f->permanent = e->lease == 0;
    f->other_host = !e->ours;
    f->risky = risky_service(e->external_port) ? risky_service(e->external_port)
                                               : risky_service(e->internal_port);
    return f->stale || f->permanent || f->other_host || f->risky;
}

/* The reasons an entry is flagged, joined with "; ". */
static void finding_reason(const portmap_router_entry *e, const finding *f, char *why,
                           size_t size)
{
    size_t n = 0;

    why[0] = '\0';
    if (f->stale)
        n += (size_t)snprintf(why + n, size - n, "%sstale: maps to this host but no running "
                              "process holds it or listens on port %u", n ? "; " : "",
                              e->internal_port);
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
                               const char *pruned)
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
    printf(",\"other_host\":%s,\"reason\":", cli_json_bool(f->other_host));
    cli_json_string(stdout, why);
    if (pruned)
        printf(",\"pruned\":%s", pruned);
    printf("}\n");
}

static void print_finding(const portmap_router_entry *e, const finding *f, const char *pruned)
{
    char why[512];

    finding_reason(e, f, why, sizeof(why));
    if (cli_json_mode)
        print_finding_json(e, f, why, pruned);
    else
        printf("%s %u -> %s:%u: %s%s%s\n", cli_proto_name(e->protocol), e->external_port,
               e->internal_client, e->internal_port, why, pruned ? " -- pruned: " : "",
               pruned ? pruned : "");
}

/* Delete a stale entry; "true" or "false" for the report. */
static const char *prune(portmap_client *c, const cli_options *o, const portmap_router_entry *e)
{
    int rc = portmap_router_delete(c, e, o->timeout_s * 1000);

    if (rc == PORTMAP_OK)
        return "true";
    cli_fail(cli_exit_code_for(rc), "could not prune %s %u: %s", cli_proto_name(e->protocol),
             e->external_port, portmap_strerror(rc));
    return "false";
}

/* Report one entry; 1 when it is still flagged. A pruned entry with no
 * other finding is fixed, and no longer counts. */
static int audit_entry(portmap_client *c, const cli_options *o, const portmap_router_entry *e)
{
    finding f;
    const char *pruned = NULL;

    if (!assess(e, &f))
        return 0;
    if (o->prune && f.stale)
        pruned = prune(c, o, e);
    print_finding(e, &f, pruned);
    return !(pruned && !strcmp(pruned, "true") && !f.permanent && !f.risky && !f.other_host);
}

int cli_cmd_audit(const cli_options *o, const cli_pair *pairs, int n)
{
    portmap_client *c = NULL;
    portmap_router_entry *e = NULL;
    size_t count = 0, flagged = 0;
    int rc;

    (void)pairs;
    (void)n;
    if ((rc = fetch_table(o, &c, &e, &count,
                          "audit needs the router's mapping table, which only UPnP-IGD offers, "
                          "and the router does not speak it")))
        return rc;
    for (size_t i = 0; i < count; i++)
        flagged += (size_t)audit_entry(c, o, &e[i]);
    if (!cli_json_mode && !flagged)
        printf("nothing to flag in %zu mapping%s\n", count, count == 1 ? "" : "s");
    portmap_router_entries_free(e);
    portmap_close(&c);
    return flagged ? CLI_EX_NEGATIVE : CLI_EX_OK;
}
