/*
 * Reading the network state: which protocols answered, how long a silent
 * one is still waited for, what each backend can do, and why there is no
 * mapping, in words for the caller. Nothing here writes.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

int pm_method_has_family(const portmap_client *c, portmap_method method, int fam)
{
    return pm_backend_has_family(pm_backend_of(c, method), fam);
}

int pm_method_can_allow(const portmap_client *c, portmap_method method, uint8_t prefix)
{
    return pm_backend_can_allow(pm_backend_of(c, method), prefix);
}

int pm_method_third_party(const portmap_client *c, portmap_method method, int fam)
{
    const pm_backend *b = pm_backend_of(c, method);

    return b && (b->third_party & (1u << fam)) != 0;
}

int pm_method_can_serve(const portmap_client *c, portmap_method method, const portmap_mapping *m)
{
    return pm_backend_can_serve(pm_backend_of(c, method), m);
}

const char *pm_method_label(const portmap_client *c, portmap_method m)
{
    const pm_backend *b = pm_backend_of(c, m);

    return b && b->label ? b->label : "?";
}

int pm_net_all_probes_done(const portmap_client *c, int fam)
{
    for (int i = 1; i < PORTMAP_METHOD_COUNT; i++)
        if (c->net[fam].avail[i] == PM_AVAIL_PROBING)
            return 0;
    return 1;
}

/* The first protocol, in the client's order, that a router of ours (of
 * either family) answered; AUTO when none has. */
portmap_method pm_net_first_answered(const portmap_client *c)
{
    for (unsigned i = 0; i < c->n_order; i++)
        for (int f = 0; f < PM_FAMS; f++)
            if (c->net[f].avail[c->order[i]] == PM_AVAIL_YES)
                return c->order[i];
    return PORTMAP_METHOD_AUTO;
}

/* Whether any router of ours answered in some protocol, or fam's router
 * refused one: then a protocol it has said nothing in is not waited for
 * long. */
static int anything_answered(const portmap_client *c, int fam)
{
    return c->net[fam].refused || pm_net_first_answered(c) != PORTMAP_METHOD_AUTO;
}

int64_t pm_net_silent_deadline(const portmap_client *c, int fam, portmap_method method)
{
    const pm_net *net = &c->net[fam];

    if (net->avail[method] != PM_AVAIL_PROBING || net->heard_at[method] ||
        (net->expected & PORTMAP_HAVE(method)) || !anything_answered(c, fam))
        return PM_NEVER;
    /* A refusal alone is a weaker hint than an answer: the silent
     * protocol gets time for four transmissions (a lossy link) */
    return net->probe_started[method] +
           (pm_net_first_answered(c) != PORTMAP_METHOD_AUTO ? PM_SILENT_GRACE_MS : PM_REFUSED_GRACE_MS);
}

/* What made a silent protocol not worth waiting for, for its reason:
 * "PCP answered", "the router refused PCP" */
void pm_net_who_answered(const portmap_client *c, int fam, char *buf, size_t len)
{
    portmap_method first = pm_net_first_answered(c);

    if (first != PORTMAP_METHOD_AUTO)
        snprintf(buf, len, "%s answered", pm_method_label(c, first));
    else if (c->net[fam].refused)
        snprintf(buf, len, "the router refused %s", pm_method_label(c, c->net[fam].refused));
    else
        snprintf(buf, len, "another protocol answered");
}

/* Why fam has no router to ask, in words: no default route, or a
 * gateway setting of the other family. */
static void no_route_reason(const portmap_client *c, int fam, char *buf, size_t len)
{
    pm_addr gw;
    int other = c->gateway_override && pm_addr_parse(c->gateway_override, &gw) == 0 &&
                (gw.family == AF_INET6) != (fam == PM_V6);

    if (other)
        snprintf(buf, len, "the gateway was set to %s, which rules IPv%d out",
                 c->gateway_override, fam == PM_V6 ? 6 : 4);
    else if (fam == PM_V6)
        snprintf(buf, len, "no IPv6 default route, or no global or unique-local IPv6 address on "
                           "its link");
    else
        snprintf(buf, len, "no IPv4 default route%s", c->gateway_override ? " to that gateway" : "");
}

void pm_net_reason(const portmap_client *c, int fam, portmap_method only, uint8_t allow_prefix,
                   char *buf, size_t len)
{
    pm_net_reason_third(c, fam, only, allow_prefix, 0, buf, len);
}

void pm_net_reason_third(const portmap_client *c, int fam, portmap_method only,
                         uint8_t allow_prefix, int third, char *buf, size_t len)
{
    const pm_net *net = &c->net[fam];
    char gw[PM_ADDR_TEXT + 20];
    size_t n;
    int parts = 0;

    if (!net->route_ok) {
        no_route_reason(c, fam, buf, len);
        return;
    }
    pm_addr_fmt(&net->gateway, gw, sizeof(gw));
    if (net->gateway.scope && net->ifname[0])
        snprintf(gw + strlen(gw), sizeof(gw) - strlen(gw), "%%%s", net->ifname);
    n = (size_t)snprintf(buf, len, "the %srouter at %s: ", fam == PM_V6 ? "IPv6 " : "", gw);
    for (unsigned i = 0; i < c->n_order && n < len; i++) {
        portmap_method meth = c->order[i];
        const char *label = pm_method_label(c, meth);
        if ((only && meth != only) || !pm_method_has_family(c, meth, fam))
            continue;
        if (third && !pm_method_third_party(c, meth, fam))
            n += (size_t)snprintf(buf + n, len - n, "%s%s: cannot map a port for another host",
                                  parts++ ? "; " : "", label);
        else if (!pm_method_can_allow(c, meth, allow_prefix))
            n += (size_t)snprintf(buf + n, len - n, "%s%s: cannot restrict who connects",
                                  parts++ ? "; " : "", label);
        else if (net->avail[meth] == PM_AVAIL_NO)
            n += (size_t)snprintf(buf + n, len - n, "%s%s: %s", parts++ ? "; " : "", label,
                                  net->why[meth][0] ? net->why[meth] : "no answer");
        else if (net->avail[meth] == PM_AVAIL_YES)
            n += (size_t)snprintf(buf + n, len - n, "%s%s: answered", parts++ ? "; " : "", label);
        else if (net->avail[meth] == PM_AVAIL_PROBING)
            n += (size_t)snprintf(buf + n, len - n, "%s%s: %s within %.1f s", parts++ ? "; " : "",
                                  label, net->heard_at[meth] ? "no full answer" : "no answer",
                                  (double)(pm_now_ms() - net->probe_started[meth]) / 1000.0);
        else
            n += (size_t)snprintf(buf + n, len - n, "%s%s: not asked", parts++ ? "; " : "",
                                  label);
    }
    if (!parts && n < len)
        n += (size_t)snprintf(buf + n, len - n, "%s", only ? "that protocol has no such family"
                                                           : "no protocol to ask");
    if (fam == PM_V4 && !c->ext_addr && c->ext_why[0] && n < len)
        snprintf(buf + n, len - n, "; %s", c->ext_why);
}
