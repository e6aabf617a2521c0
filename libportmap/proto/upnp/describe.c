/*
 * The IGD's description: which service of it to use (on the gateway
 * only), then the external address (IPv4) or the firewall's status
 * (IPv6) before the protocol is declared available.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "proto/upnp/upnp.h"


void pm_upnp_start_extip(portmap_client *c, upnp_state *st, int64_t now)
{
    if (pm_upnp_soap_start(c, st, &st->extip, "GetExternalIPAddress", NULL, 0, now, now + HTTP_MAX_MS) != 0)
        PM_DEBUG(c, "upnp: GetExternalIPAddress could not start");
    else
        pm_host_external_pending(c, 1);
}

/* The description's service for this family into st; 0 when it has one
 * on the gateway, else with why (cap len) saying what is wrong: -1 for a
 * description of no use, -2 for one that is not the router's (IPv6). */
static int take_service(portmap_client *c, upnp_state *st, const pm_igd_desc *d, char *why,
                        size_t len)
{
    pm_addr addr = st->fam == PM_V6 ? d->fw_addr : d->ctl_addr;
    const char *what = st->fam == PM_V6 ? "WANIPv6FirewallControl" : "WANIPConnection or WANPPPConnection";
    char where[PM_ADDR_TEXT];

    if (st->fam == PM_V6 && !pm_upnp_on_gateway(c, st->fam, &st->desc_host)) {
        PM_WARN(c, "upnp: the description %s is not on the IPv6 router; ignored", st->location);
        c->counters.dropped_wrong_source++;
        pm_addr_fmt(&st->desc_host, where, sizeof(where));
        snprintf(why, len, "answers, but its description is on %s, which is not the IPv6 "
                 "router: refused (see SECURITY.md)", where);
        return -2;
    }
    if (st->fam == PM_V6 ? !d->has_fw : !d->has_wan) {
        PM_WARN(c, "upnp: %s describes no %s", st->location, what);
        snprintf(why, len, "%s", st->fam == PM_V6 ? "answers, but offers no IPv6 pinholes (no "
                                  "WANIPv6FirewallControl: an IGD v1 device?)"
                                : "answers, but offers no port-mapping service (no "
                                  "WANIPConnection or WANPPPConnection)");
        return -1;
    }
    if (pm_addr_is_link_local(&addr))
        addr.scope = c->net[st->fam].gateway.scope;
    /* the control point must be the router that answered, not elsewhere */
    if (!pm_upnp_on_gateway(c, st->fam, &addr)) {
        PM_WARN(c, "upnp: the control URL of %s is not on the gateway; ignored", st->location);
        c->counters.dropped_wrong_source++;
        pm_addr_fmt(&addr, where, sizeof(where));
        snprintf(why, len, "answers, but its control URL is on %s, which is not the gateway: "
                 "refused (see SECURITY.md)", where);
        return -1;
    }
    st->ctl_addr = addr;
    if (st->fam == PM_V6) {
        st->ctl_port = d->fw_port;
        snprintf(st->ctl_path, sizeof(st->ctl_path), "%s", d->fw_path);
        snprintf(st->service, sizeof(st->service), "%s", d->fw_service);
        snprintf(st->service_name, sizeof(st->service_name), "WANIPv6FirewallControl:1");
    } else {
        st->ctl_port = d->ctl_port;
        snprintf(st->ctl_path, sizeof(st->ctl_path), "%s", d->ctl_path);
        snprintf(st->service, sizeof(st->service), "%s", d->service);
        snprintf(st->service_name, sizeof(st->service_name), "%s", d->service_name);
    }
    st->igd_version = d->version;
    return 0;
}

/* The description could not be read: said so, and whether it is for
 * good (nothing listens there, or the router answers with an error) or
 * a later answer may tell it again (a timeout, a cut connection). */
static void desc_unread(portmap_client *c, upnp_state *st, int64_t now)
{
    int failed = st->desc.state == PM_HTTPC_FAILED;
    int definitive = failed ? !strcmp(st->desc.why, "connection refused") &&
                                  (st->fam == PM_V4 || pm_upnp_on_gateway(c, st->fam, &st->desc_host))
                            : st->desc.state == PM_HTTPC_DONE;
    enum desc_verdict v = definitive ? DESC_UNUSABLE : DESC_RETRY;
    char why[192], what[40];

    if (failed)
        snprintf(what, sizeof(what), "%.39s", st->desc.why);
    else
        snprintf(what, sizeof(what), "HTTP status %d", st->desc.resp.status);
    PM_DEBUG(c, "upnp: description fetch failed: %s", what);
    snprintf(why, sizeof(why), "answered, but its description %.70s could not be read (%s)",
             st->location, what);
    /* IPv6: an error from a host not known to be the router's proves nothing */
    if (st->fam == PM_V6 && definitive && !pm_upnp_on_gateway(c, st->fam, &st->desc_host))
        v = DESC_ELSEWHERE;
    pm_upnp_desc_failed(c, st, v, why, now);
}

void pm_upnp_finish_description(portmap_client *c, upnp_state *st, int64_t now)
{
    pm_net *net = &c->net[st->fam];
    char why[192];
    pm_igd_desc d;
    int rc;

    if (st->desc.state != PM_HTTPC_DONE || st->desc.resp.status != 200) {
        desc_unread(c, st, now);
        return;
    }
    pm_upnp_desc_parse(st->desc.resp.body, st->desc.resp.body_len, st->location, &d);
    if ((rc = take_service(c, st, &d, why, sizeof(why))) != 0) {
        /* that device offers nothing else: another answer may */
        pm_upnp_desc_failed(c, st, rc == -2 ? DESC_ELSEWHERE : DESC_UNUSABLE, why, now);
        return;
    }
    pm_http_reset(&st->desc);
    snprintf(net->upnp_service, sizeof(net->upnp_service), "%s", st->service_name);
    net->upnp_version = st->fam == PM_V6 ? 1 : d.version;
    st->searching = 0;
    PM_DEBUG(c, "upnp: %s at %s", st->service_name, st->location);
    if (st->fam == PM_V6) {
        /* usable once the firewall says it lets pinholes in */
        if (pm_upnp_soap_start(c, st, &st->extip, "GetFirewallStatus", NULL, 0, now, now + HTTP_MAX_MS) != 0)
            pm_upnp_unavailable(c, st, now, "GetFirewallStatus could not be sent");
        return;
    }
    st->have_igd = 1;
    pm_host_answered(c, st->fam, PORTMAP_METHOD_UPNP, now);
    pm_upnp_start_extip(c, st, now);
    pm_upnp_start_waiting(c, st->fam, now);
}

static void finish_fw_status(portmap_client *c, upnp_state *st, int64_t now)
{
    int enabled = 0, inbound = 0;
    int code = st->extip.state == PM_HTTPC_DONE
                   ? pm_upnp_fw_status_parse(st->extip.resp.body, st->extip.resp.body_len,
                                             st->extip.resp.status, &enabled, &inbound)
                   : -1;

    pm_http_reset(&st->extip);
    if (code != 0 || !enabled || !inbound) {
        /* A disabled firewall lets everything in already; one that takes
         * no pinholes cannot help: either way not ours to use. */
        const char *why = code != 0 ? "answers, but did not say its IPv6 firewall's status"
                          : !enabled ? "answers, but its IPv6 firewall is disabled: it needs no "
                                       "pinholes (nothing is blocked)"
                                     : "answers, but its IPv6 firewall does not allow inbound pinholes";
        PM_WARN(c, "upnp: the router %s", why);
        pm_upnp_unavailable(c, st, now, why);
        return;
    }
    st->have_igd = 1;
    pm_host_answered(c, st->fam, PORTMAP_METHOD_UPNP, now);
    pm_upnp_start_waiting(c, st->fam, now);
}

void pm_upnp_finish_extip(portmap_client *c, upnp_state *st, int64_t now)
{
    char addr[64];
    struct in_addr a;
    int code;

    if (st->fam == PM_V6) {
        finish_fw_status(c, st, now);
        return;
    }
    code = pm_upnp_soap_result(&st->extip, "NewExternalIPAddress", addr, sizeof(addr));
    pm_host_external_pending(c, 0);
    if (code != 0) {
        PM_DEBUG(c, "upnp: GetExternalIPAddress failed (%d)", code);
        pm_http_reset(&st->extip);
        return;
    }
    pm_http_reset(&st->extip);
    /* 0.0.0.0 (not connected), loopback and the like: the core keeps
     * the address unknown, says why, and nobody waits for it any longer */
    if (inet_pton(AF_INET, addr, &a) != 1)
        a.s_addr = 0;
    pm_host_set_external(c, a.s_addr, now);
}
