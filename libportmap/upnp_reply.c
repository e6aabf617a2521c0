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

#include "upnp_reply.h"
#include "upnp_wire.h"

#if !defined(MINIUPNPC_API_VERSION) || MINIUPNPC_API_VERSION < 10
#error "miniupnpc API 10 or newer is needed (GetUPNPUrls with a scope id)"
#endif

_Static_assert(sizeof(((pm_igd_desc *)0)->service) >= MINIUPNPC_URL_MAXSIZE,
               "service holds miniupnpc's servicetype whole");

static void take_service(pm_igd_desc *out, const char *type)
{
    const char *svc, *colon;

    snprintf(out->service, sizeof(out->service), "%s", type);
    svc = strstr(out->service, ":service:");
    snprintf(out->service_name, sizeof(out->service_name), "%.47s", svc ? svc + 9 : out->service);
    colon = strrchr(out->service, ':');
    out->version = colon && colon[1] == '2' ? 2 : 1;
}

pm_desc_status pm_upnp_desc_parse(const char *body, size_t len, const char *location,
                                  pm_igd_desc *out)
{
    struct IGDdatas data;
    struct UPNPUrls urls;
    pm_desc_status rc = PM_DESC_OK;

    memset(out, 0, sizeof(*out));
    memset(&data, 0, sizeof(data));
    memset(&urls, 0, sizeof(urls));
    if (len > INT32_MAX)
        return PM_DESC_NO_SERVICE;
    parserootdesc(body, (int)len, &data);
    if (!data.first.servicetype[0] || !data.first.controlurl[0])
        return PM_DESC_NO_SERVICE;
    GetUPNPUrls(&urls, &data, location, 0);
    snprintf(out->control_url, sizeof(out->control_url), "%s",
             urls.controlURL ? urls.controlURL : "(none)");
    if (!urls.controlURL || pm_url_parse(urls.controlURL, &out->ctl_addr, &out->ctl_port,
                                         out->ctl_path, sizeof(out->ctl_path)) != 0) {
        out->ctl_addr = 0;
        rc = PM_DESC_BAD_URL;
        goto out;
    }
    take_service(out, data.first.servicetype);
out:
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

int pm_soap_result(const char *body, size_t len, int status, const char *want, char *out,
                   size_t out_len)
{
    struct NameValueParserData pd;
    int code = 0;

    if (len > INT32_MAX)
        return 501;
    memset(&pd, 0, sizeof(pd));
    ParseNameValue(body, (int)len, &pd);
    if (status != 200)
        code = error_code(GetValueFromNameValueList(&pd, "errorCode"));
    else if (want && out && out_len)
        copy_value(&pd, want, out, out_len);
    ClearNameValueList(&pd);
    return code;
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

    if (len > INT32_MAX)
        return 501;
    memset(&pd, 0, sizeof(pd));
    ParseNameValue(body, (int)len, &pd);
    if (status != 200) {
        code = error_code(GetValueFromNameValueList(&pd, "errorCode"));
        goto out;
    }
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
