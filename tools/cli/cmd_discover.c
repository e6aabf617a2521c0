/*
 * portmap-cli discover and external-ip: what the network offers. discover
 * asks afresh rather than from the library's cache: it is run to see the
 * network as it is now.
 */
#include <string.h>

#include "cli.h"

/* The IPv6 side of discover: a JSON member of the IPv4 object (or one
 * object with -6), or lines prefixed "ipv6". */
static void print_discovery6(const portmap_discovery *d, int member)
{
    int pcp = (d->methods & PORTMAP_HAVE(PORTMAP_METHOD_PCP)) != 0;
    int upnp = (d->methods & PORTMAP_HAVE(PORTMAP_METHOD_UPNP)) != 0;

    if (cli_json_mode) {
        printf("%s{\"gateway\":", member ? ",\"ipv6\":" : "");
        cli_json_string(stdout, d->gateway);
        printf(",\"local_address\":");
        cli_json_string(stdout, d->local_address);
        printf(",\"address_kind\":\"%s\",\"pcp\":%s,\"upnp\":%s,\"upnp_service\":\"%s\","
               "\"preferred\":\"%s\"}%s", portmap_address_kind_name(d->address_kind),
               cli_json_bool(pcp), cli_json_bool(upnp), d->upnp_service,
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

/* direct, nat or double_nat: an external address equal to ours means no
 * NAT at all, whatever the router reported. */
static const char *nat_kind(const portmap_discovery *d)
{
    if (d->external_address[0] && !strcmp(d->external_address, d->local_address))
        return "direct";
    return d->double_nat ? "double_nat" : "nat";
}

static void print_discovery4_json(const portmap_discovery *d, const portmap_discovery *d6)
{
    int pcp = (d->methods & PORTMAP_HAVE(PORTMAP_METHOD_PCP)) != 0;
    int pmp = (d->methods & PORTMAP_HAVE(PORTMAP_METHOD_NATPMP)) != 0;
    int upnp = (d->methods & PORTMAP_HAVE(PORTMAP_METHOD_UPNP)) != 0;

    printf("{\"gateway\":\"%s\",\"local_address\":\"%s\",\"external_address\":\"%s\","
           "\"pcp\":%s,\"pcp_version\":%d,\"natpmp\":%s,\"upnp\":%s,\"upnp_version\":%d,"
           "\"upnp_service\":\"%s\",\"nat\":\"%s\",\"preferred\":\"%s\"",
           d->gateway, d->local_address, d->external_address, cli_json_bool(pcp), d->pcp_version,
           cli_json_bool(pmp), cli_json_bool(upnp), d->upnp_version, d->upnp_service, nat_kind(d),
           d->methods ? portmap_method_name(d->preferred) : "none");
    if (d6)
        print_discovery6(d6, 1);
    printf("}\n");
}

/* why: the library's reason, shown when the external address is unknown
 * (a router that gave junk for it says so there) */
static void print_discovery4_text(const portmap_discovery *d, const portmap_discovery *d6,
                                  const char *why)
{
    const char *nat = nat_kind(d);

    printf("gateway %s\nlocal address %s\nexternal address %s\n", d->gateway, d->local_address,
           d->external_address[0] ? d->external_address : "?");
    if (!d->external_address[0] && strstr(why, "which is not an external address")) {
        const char *own = strstr(why, "; the router gave ");
        printf("external address unknown: %s\n", own ? own + 2 : why);
    }
    if (d->methods & PORTMAP_HAVE(PORTMAP_METHOD_PCP))
        printf("pcp yes (version %d)\n", d->pcp_version);
    else
        printf("pcp no\n");
    printf("natpmp %s\n", d->methods & PORTMAP_HAVE(PORTMAP_METHOD_NATPMP) ? "yes" : "no");
    if (d->methods & PORTMAP_HAVE(PORTMAP_METHOD_UPNP))
        printf("upnp yes (IGD v%d, %s)\n", d->upnp_version, d->upnp_service);
    else
        printf("upnp no\n");
    printf("verdict: %s\n", !strcmp(nat, "double_nat")
                                 ? "behind double NAT / carrier-grade NAT: the router's own "
                                   "address is not public"
                             : !strcmp(nat, "direct") ? "direct" : "behind NAT");
    if (d6)
        print_discovery6(d6, 0);
}

static int discover_ipv6(portmap_client *c, const cli_options *o)
{
    portmap_discovery d6;
    int rc = portmap_discover_dual(c, NULL, &d6, PORTMAP_DISCOVER_FRESH, o->timeout_s * 1000);

    if (rc == PORTMAP_OK || d6.gateway[0])
        print_discovery6(&d6, 0);
    return rc;
}

/* IPv4, and IPv6 with it unless -4: both at once. What was found is
 * shown even when the discovery as a whole failed. */
static int discover_ipv4(portmap_client *c, const cli_options *o)
{
    portmap_discovery d, d6;
    int want6 = o->family != PORTMAP_IPV4;
    int rc = portmap_discover_dual(c, &d, want6 ? &d6 : NULL, PORTMAP_DISCOVER_FRESH,
                                   o->timeout_s * 1000);
    const portmap_discovery *have6 = want6 && d6.gateway[0] ? &d6 : NULL;
    char why[512] = "";

    if (rc != PORTMAP_OK && !d.gateway[0])
        return rc;
    if (cli_json_mode) {
        print_discovery4_json(&d, have6);
    } else {
        portmap_discover_reason(c, PORTMAP_IPV4, why, sizeof(why));
        print_discovery4_text(&d, have6, why);
    }
    return rc;
}

int cli_cmd_discover(const cli_options *o, const cli_pair *pairs, int n)
{
    portmap_client *c = NULL;
    int rc;

    (void)pairs;
    (void)n;
    if ((rc = cli_open_client(o, &c, 1)) != 0)
        return rc;
    rc = o->family == PORTMAP_IPV6 ? discover_ipv6(c, o) : discover_ipv4(c, o);
    if (rc != PORTMAP_OK)
        rc = cli_explain(c, o, rc);
    portmap_close(&c);
    return rc;
}

int cli_cmd_external_ip(const cli_options *o, const cli_pair *pairs, int n)
{
    portmap_client *c = NULL;
    char addr[PORTMAP_ADDRSTRLEN], why[512] = "";
    int rc;

    (void)pairs;
    (void)n;
    if ((rc = cli_open_client(o, &c, 1)) != 0)
        return rc;
    rc = portmap_external_ip(c, addr, sizeof(addr), o->timeout_s * 1000);
    if (rc == PORTMAP_OK) {
        printf(cli_json_mode ? "{\"external_address\":\"%s\"}\n" : "%s\n", addr);
    } else if (rc == PORTMAP_ERR_PROTOCOL &&
               (portmap_discover_reason(c, PORTMAP_IPV4, why, sizeof(why)), strstr(why, "which "
                                                           "is not an external address"))) {
        /* it answered, with junk for an address: not a malformed reply */
        rc = cli_fail(cli_exit_code_for(rc), "the external address is unknown: %s", why);
    } else {
        rc = cli_explain(c, o, rc);
    }
    portmap_close(&c);
    return rc;
}
