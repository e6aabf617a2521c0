/*
 * The IGD device description, along upnp.c's path: the HTTP reply framed
 * by pm_http_parse (description cap, body NUL-terminated in place), then
 * finish_description(): miniupnpc's parserootdesc() and GetUPNPUrls(), the
 * control URL through pm_url_parse, and the service type picked apart.
 *
 * finish_description() is static in upnp.c and does I/O around the
 * parsing, so its parsing steps are repeated here in the same order with
 * the same buffer sizes; keep them in step with upnp.c.
 *
 * Input: the HTTP reply, or (when it does not start with "HTTP/") the
 * description body alone.
 */
#include <miniupnpc/igd_desc_parse.h>
#include <miniupnpc/miniupnpc.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "http_feed.h"

#define DESC_MAX_BYTES (128 * 1024) /* upnp.c */
#define LOCATION "http://10.77.0.1:5000/rootDesc.xml"

static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static void check_service(const struct IGDdatas_service *s)
{
    FUZZ_CHECK(terminated(s->controlurl, sizeof(s->controlurl)));
    FUZZ_CHECK(terminated(s->eventsuburl, sizeof(s->eventsuburl)));
    FUZZ_CHECK(terminated(s->scpdurl, sizeof(s->scpdurl)));
    FUZZ_CHECK(terminated(s->servicetype, sizeof(s->servicetype)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_http h;
    const char *body;
    size_t len;
    int status;
    struct IGDdatas d;
    struct UPNPUrls urls;
    char service[MINIUPNPC_URL_MAXSIZE], name[48], path[256];
    const char *svc, *colon;
    uint32_t addr;
    uint16_t port;
    int version;

    if (fuzz_upnp_body(&h, data, size, DESC_MAX_BYTES, &body, &len, &status) != 0 ||
        (status != 0 && status != 200)) {
        fuzz_http_free(&h);
        return 0;
    }
    memset(&d, 0, sizeof(d));
    memset(&urls, 0, sizeof(urls));
    parserootdesc(body, (int)len, &d);
    FUZZ_CHECK(terminated(d.urlbase, sizeof(d.urlbase)));
    FUZZ_CHECK(terminated(d.presentationurl, sizeof(d.presentationurl)));
    check_service(&d.first);
    check_service(&d.second);
    check_service(&d.CIF);
    check_service(&d.IPv6FC);
    if (!d.first.servicetype[0] || !d.first.controlurl[0])
        goto out;
    GetUPNPUrls(&urls, &d, LOCATION, 0);
    if (!urls.controlURL || pm_url_parse(urls.controlURL, &addr, &port, path, sizeof(path)) != 0)
        goto out;
    FUZZ_CHECK(port != 0 && path[0] == '/');
    snprintf(service, sizeof(service), "%s", d.first.servicetype);
    svc = strstr(service, ":service:");
    snprintf(name, sizeof(name), "%.47s", svc ? svc + 9 : service);
    colon = strrchr(service, ':');
    version = colon && colon[1] == '2' ? 2 : 1;
    FUZZ_CHECK(version == 1 || version == 2);
out:
    FreeUPNPUrls(&urls);
    fuzz_http_free(&h);
    return 0;
}
