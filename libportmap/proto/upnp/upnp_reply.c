/*
 * Reading UPnP replies: see upnp_reply.h. Every copy out of the router's
 * text is bounded by the destination; numbers are checked for range, not
 * cut down to fit.
 */
#include <errno.h>
#include <miniupnpc/igd_desc_parse.h>
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpreplyparse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/upnp/upnp_reply.h"
#include "proto/upnp/upnp_wire.h"

#if !defined(MINIUPNPC_API_VERSION) || MINIUPNPC_API_VERSION < 10
#error "miniupnpc API 10 or newer is needed (GetUPNPUrls with a scope id)"
#endif

_Static_assert(sizeof(((pm_igd_desc *)0)->service) >= MINIUPNPC_URL_MAXSIZE &&
               sizeof(((pm_igd_desc *)0)->fw_service) >= MINIUPNPC_URL_MAXSIZE,
               "service and fw_service hold miniupnpc's servicetype whole");

static void take_service(pm_igd_desc *out, const char *type)
{
    const char *svc, *colon;

    snprintf(out->service, sizeof(out->service), "%s", type);
    svc = strstr(out->service, ":service:");
    snprintf(out->service_name, sizeof(out->service_name), "%.47s", svc ? svc + 9 : out->service);
    colon = strrchr(out->service, ':');
    out->version = colon && colon[1] == '2' ? 2 : 1;
}

/* A control URL as miniupnpc resolved it (NULL when it could not): kept
 * as written for messages in shown, parsed into addr, port and path.
 * Returns 0, or -1 with addr unset. */
static int take_control_url(const char *url, pm_addr *addr, uint16_t *port, char *path,
                            size_t path_len, char *shown, size_t shown_len)
{
    snprintf(shown, shown_len, "%s", url ? url : "(none)");
    if (!url)
        return -1;
    return pm_url_parse(url, addr, port, path, path_len);
}

static pm_desc_status read_wan(pm_igd_desc *out, const struct IGDdatas *data,
                               const struct UPNPUrls *urls)
{
    if (!data->first.servicetype[0] || !data->first.controlurl[0])
        return PM_DESC_NO_SERVICE;
    if (take_control_url(urls->controlURL, &out->ctl_addr, &out->ctl_port, out->ctl_path,
                         sizeof(out->ctl_path), out->control_url, sizeof(out->control_url)) != 0)
        return PM_DESC_BAD_URL;
    take_service(out, data->first.servicetype);
    out->has_wan = 1;
    return PM_DESC_OK;
}

/* miniupnpc files any WANIPv6FirewallControl service under IPv6FC (the
 * last one listed wins); its type is kept whole, the SOAP actions are
 * addressed to it. */
static void read_fw(pm_igd_desc *out, const struct IGDdatas *data, const struct UPNPUrls *urls)
{
    if (!data->IPv6FC.servicetype[0] || !data->IPv6FC.controlurl[0])
        return;
    if (take_control_url(urls->controlURL_6FC, &out->fw_addr, &out->fw_port, out->fw_path,
                         sizeof(out->fw_path), out->fw_control_url,
                         sizeof(out->fw_control_url)) != 0)
        return;
    snprintf(out->fw_service, sizeof(out->fw_service), "%s", data->IPv6FC.servicetype);
    out->has_fw = 1;
}

static int is_blank(char ch);

/* Where the element named by open ("<tag>") that holds p begins: the
 * last open before p in body, or NULL. Bounded by body. */
static const char *element_start(const char *body, const char *p, const char *open)
{
    size_t n = strlen(open);

    for (size_t back = n; back <= (size_t)(p - body); back++)
        if (!memcmp(p - back, open, n))
            return p - back;
    return NULL;
}

/* The text of <tag> inside [from, to), blanks around it trimmed, into
 * out (cap); 0, or -1 when absent or too long. */
static int element_text(const char *from, const char *to, const char *tag, char *out, size_t cap)
{
    char open[32], close[32];
    const char *p, *e;

    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    p = memmem(from, (size_t)(to - from), open, strlen(open));
    if (!p)
        return -1;
    p += strlen(open);
    e = memmem(p, (size_t)(to - p), close, strlen(close));
    if (!e)
        return -1;
    while (p < e && is_blank(*p))
        p++;
    while (e > p && is_blank(e[-1]))
        e--;
    if ((size_t)(e - p) >= cap)
        return -1;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return 0;
}

/*
 * TR-064 (the Broadband Forum's management of DSL routers) offers the
 * WAN connection services under urn:dslforum-org with the same actions
 * and arguments as UPnP's, which miniupnpc does not look for. The first
 * such service the description lists into *out, as miniupnpc would have
 * filed a UPnP one; 0, or -1 when there is none.
 */
static int find_tr064_service(const char *body, size_t len, struct IGDdatas_service *out)
{
    static const char *const types[] = { "urn:dslforum-org:service:WANIPConnection:1",
                                         "urn:dslforum-org:service:WANPPPConnection:1" };
    const char *best = NULL, *end = body + len;
    const char *type = NULL;

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const char *p = memmem(body, len, types[i], strlen(types[i]));
        if (p && (!best || p < best)) {
            best = p;
            type = types[i];
        }
    }
    if (!best)
        return -1;
    {
        const char *svc = element_start(body, best, "<service>");
        const char *svc_end = memmem(best, (size_t)(end - best), "</service>", 10);
        char st[MINIUPNPC_URL_MAXSIZE];
        if (!svc || !svc_end ||
            element_text(svc, svc_end, "serviceType", st, sizeof(st)) != 0 || strcmp(st, type) ||
            element_text(svc, svc_end, "controlURL", out->controlurl,
                         sizeof(out->controlurl)) != 0)
            return -1;
        snprintf(out->servicetype, sizeof(out->servicetype), "%s", type);
    }
    return 0;
}

pm_desc_status pm_upnp_desc_parse(const char *body, size_t len, const char *location,
                                  pm_igd_desc *out)
{
    struct IGDdatas data;
    struct UPNPUrls urls;
    pm_desc_status rc;

    memset(out, 0, sizeof(*out));
    memset(&data, 0, sizeof(data));
    memset(&urls, 0, sizeof(urls));
    if (len > INT32_MAX)
        return PM_DESC_NO_SERVICE;
    parserootdesc(body, (int)len, &data);
    if (!data.first.servicetype[0])
        find_tr064_service(body, len, &data.first);
    /* scope 0: no zone is written into link-local URLs, pm_url_parse
     * would refuse it; the caller knows the link */
    GetUPNPUrls(&urls, &data, location, 0);
    rc = read_wan(out, &data, &urls);
    read_fw(out, &data, &urls);
    FreeUPNPUrls(&urls);
    return rc;
}

/* Surrounding blanks are tolerated: some routers pad their values. */
static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* A decimal number in 0..max, blanks around it allowed, nothing else:
 * returns 0 with *out set, -1 otherwise (no sign, no junk, no overflow). */
static int decimal(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v;

    if (!s)
        return -1;
    while (is_blank(*s))
        s++;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    while (is_blank(*end))
        end++;
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* UPnP error codes are small positive numbers written in decimal. */
static int error_code(const char *s)
{
    unsigned long long v;

    return decimal(s, 9999, &v) == 0 && v > 0 ? (int)v : 501;
}

static void copy_value(struct NameValueParserData *pd, const char *name, char *out, size_t cap)
{
    const char *v = GetValueFromNameValueList(pd, name);
    snprintf(out, cap, "%s", v ? v : "");
}

/* Parse a SOAP reply into pd (cleared by the caller, whatever the
 * result): 0 for success, else the fault's UPnP error code (501 for a
 * body too long to parse, or a fault without a valid code). */
static int parse_reply(const char *body, size_t len, int status, struct NameValueParserData *pd)
{
    memset(pd, 0, sizeof(*pd));
    if (len > INT32_MAX)
        return 501;
    ParseNameValue(body, (int)len, pd);
    return status != 200 ? error_code(GetValueFromNameValueList(pd, "errorCode")) : 0;
}

int pm_soap_result(const char *body, size_t len, int status, const char *want, char *out,
                   size_t out_len)
{
    struct NameValueParserData pd;
    int code = parse_reply(body, len, status, &pd);

    if (code == 0 && want && out && out_len)
        copy_value(&pd, want, out, out_len);
    ClearNameValueList(&pd);
    return code;
}

void pm_soap_fault_text(const char *body, size_t len, char *out, size_t out_len)
{
    struct NameValueParserData pd;
    const char *v, *e;
    size_t n = 0;

    if (!out_len)
        return;
    out[0] = '\0';
    parse_reply(body, len, 500, &pd);
    v = GetValueFromNameValueList(&pd, "errorDescription");
    if (v) {
        while (is_blank(*v))
            v++;
        for (e = v + strlen(v); e > v && is_blank(e[-1]); e--)
            ;
        /* the router's text goes to logs and terminals: printable only */
        for (; v < e && n + 1 < out_len; v++)
            out[n++] = (unsigned char)*v < 0x20 || *v == 0x7f ? ' ' : *v;
        out[n] = '\0';
    }
    ClearNameValueList(&pd);
}

int pm_upnp_unique_id(const char *s, uint16_t *out)
{
    unsigned long long v;

    if (decimal(s, 65535, &v) != 0)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* A UPnP boolean (UDA 1.0 2.5): "1" or "0"; "true", "false", "yes" and
 * "no" are not to be sent but are to be accepted. Blanks around it as
 * for numbers. Returns 1, 0, or -1 for anything else. */
static int upnp_boolean(const char *s)
{
    static const char *const truth[] = { "1", "true", "yes" };
    static const char *const lies[] = { "0", "false", "no" };
    size_t n;

    if (!s)
        return -1;
    while (is_blank(*s))
        s++;
    n = strlen(s);
    while (n && is_blank(s[n - 1]))
        n--;
    for (size_t i = 0; i < sizeof(truth) / sizeof(truth[0]); i++) {
        if (n == strlen(truth[i]) && strncasecmp(s, truth[i], n) == 0)
            return 1;
        if (n == strlen(lies[i]) && strncasecmp(s, lies[i], n) == 0)
            return 0;
    }
    return -1;
}

int pm_upnp_fw_status_parse(const char *body, size_t len, int status, int *enabled,
                            int *inbound_allowed)
{
    struct NameValueParserData pd;
    int code = 0, e, in;

    if ((code = parse_reply(body, len, status, &pd)) != 0)
        goto out;
    e = upnp_boolean(GetValueFromNameValueList(&pd, "FirewallEnabled"));
    in = upnp_boolean(GetValueFromNameValueList(&pd, "InboundPinholeAllowed"));
    if (e < 0 || in < 0) {
        code = -1;
        goto out;
    }
    *enabled = e;
    *inbound_allowed = in;
out:
    ClearNameValueList(&pd);
    return code;
}

/* WANIPv6FirewallControl:1's own faults (7xx) and the UDA ones its
 * actions give; 0 and -1 as pm_upnp_fw_status_parse returns them. */
static const struct {
    int code;
    portmap_error err;
    const char *why;
} pinhole_faults[] = {
    { 0, PORTMAP_OK, "success" },
    { -1, PORTMAP_ERR_PROTOCOL, "the router's reply could not be read" },
    { 401, PORTMAP_ERR_UNSUPPORTED, "Invalid Action (401): the router does not offer it" },
    { 402, PORTMAP_ERR_REFUSED, "Invalid Args (402): the router refused the arguments" },
    { 501, PORTMAP_ERR_REFUSED, "Action Failed (501)" },
    { 606, PORTMAP_ERR_NOT_AUTHORIZED,
      "Action not authorized (606): the router refuses this host or this internal address" },
    { 701, PORTMAP_ERR_NO_RESOURCES,
      "PinholeSpaceExhausted (701): the router has no room for another pinhole" },
    /* not "already open": a router that says so tells nothing of what it
     * lets in, and nothing is opened */
    { 702, PORTMAP_ERR_UNSUPPORTED,
      "FirewallDisabled (702): the router's IPv6 firewall is disabled" },
    { 703, PORTMAP_ERR_NOT_AUTHORIZED,
      "InboundPinholeNotAllowed (703): the router allows no inbound pinholes" },
    { 704, PORTMAP_ERR_NOT_FOUND, "NoSuchEntry (704): the router has no such pinhole" },
    { 705, PORTMAP_ERR_UNSUPPORTED,
      "ProtocolNotSupported (705): the router cannot open pinholes for this protocol" },
    { 706, PORTMAP_ERR_REFUSED,
      "InternalPortWildcardingNotAllowed (706): the router wants an internal port" },
    { 707, PORTMAP_ERR_REFUSED,
      "ProtocolWildcardingNotAllowed (707): the router wants a protocol" },
    { 708, PORTMAP_ERR_REFUSED,
      "WildCardNotPermittedInSrcIP (708): the router wants a remote host" },
    { 709, PORTMAP_ERR_REFUSED,
      "NoTrafficReceived (709): nothing has gone through the pinhole" },
};

portmap_error pm_upnp_pinhole_error(int code, const char **why)
{
    for (size_t i = 0; i < sizeof(pinhole_faults) / sizeof(pinhole_faults[0]); i++) {
        if (pinhole_faults[i].code == code) {
            if (why)
                *why = pinhole_faults[i].why;
            return pinhole_faults[i].err;
        }
    }
    if (why)
        *why = "the router refused it with an unknown UPnP error";
    return PORTMAP_ERR_REFUSED;
}

uint16_t pm_upnp_port(const char *s)
{
    unsigned long long v;

    return decimal(s, 65535, &v) == 0 ? (uint16_t)v : 0; /* 0 is no port either */
}

static uint32_t lease_value(const char *s)
{
    unsigned long long v;

    return decimal(s, UINT32_MAX, &v) == 0 ? (uint32_t)v : 0;
}

int pm_upnp_entry_parse(const char *body, size_t len, int status, const char *mine,
                        portmap_router_entry *e)
{
    struct NameValueParserData pd;
    char v[64];
    int code = 0;

    if ((code = parse_reply(body, len, status, &pd)) != 0)
        goto out;
    memset(e, 0, sizeof(*e));
    copy_value(&pd, "NewProtocol", v, sizeof(v));
    e->protocol = !strcmp(v, "TCP") ? PORTMAP_TCP : PORTMAP_UDP;
    copy_value(&pd, "NewExternalPort", v, sizeof(v));
    e->external_port = pm_upnp_port(v);
    copy_value(&pd, "NewInternalPort", v, sizeof(v));
    e->internal_port = pm_upnp_port(v);
    copy_value(&pd, "NewInternalClient", e->internal_client, sizeof(e->internal_client));
    copy_value(&pd, "NewRemoteHost", e->remote_host, sizeof(e->remote_host));
    copy_value(&pd, "NewPortMappingDescription", e->description, sizeof(e->description));
    copy_value(&pd, "NewLeaseDuration", v, sizeof(v));
    e->lease = lease_value(v);
    copy_value(&pd, "NewEnabled", v, sizeof(v));
    e->enabled = strcmp(v, "0") != 0;
    e->ours = strcmp(e->internal_client, mine) == 0;
out:
    ClearNameValueList(&pd);
    return code;
}
