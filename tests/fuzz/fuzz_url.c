/*
 * URLs: pm_url_parse on its own (SSDP LOCATION) and after miniupnpc's
 * GetUPNPUrls has joined a description's URLBase and controlURL with the
 * LOCATION, as proto/upnp's finish_description does.
 *
 * Input: up to three strings separated by '\n': LOCATION, URLBase,
 * controlURL. Missing ones are empty. Hosts are IPv4 or bracketed IPv6
 * literals.
 */
#include <miniupnpc/igd_desc_parse.h>
#include <miniupnpc/miniupnpc.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "proto/upnp/upnp_wire.h"

/* upnp.c keeps paths in char[256]; so does this. */
#define PATH_CAP 256

static void check_url(const char *url)
{
    pm_addr host, host2;
    uint16_t port, port2;
    char path[PATH_CAP], again[16 + PM_ADDR_TEXT + PATH_CAP], hs[PM_ADDR_TEXT];
    char path2[PATH_CAP];

    if (pm_url_parse(url, &host, &port, path, sizeof(path)) != 0) {
        FUZZ_CHECK(!pm_addr_is_set(&host)); /* never half a result */
        return;
    }
    FUZZ_CHECK(strncasecmp(url, "http://", 7) == 0);
    FUZZ_CHECK(port != 0 && path[0] == '/' && strlen(path) < sizeof(path));
    /* nothing that could end a request line or start a header */
    for (const char *c = path; *c; c++)
        FUZZ_CHECK((unsigned char)*c > ' ' && *c != 0x7f);
    /* the path is the URL's tail, unless the URL had none */
    FUZZ_CHECK(strcmp(path, "/") == 0 || strstr(url, path) != NULL);
    /* a literal of either family, IPv6 in brackets, never with a zone:
     * that is the caller's to add */
    FUZZ_CHECK(host.family == AF_INET || host.family == AF_INET6);
    FUZZ_CHECK(host.scope == 0);
    FUZZ_CHECK((host.family == AF_INET6) == (url[7] == '['));
    /* printed back and parsed again, the URL means the same */
    pm_addr_url_host(&host, hs, sizeof(hs));
    FUZZ_CHECK(hs[0] != '\0');
    snprintf(again, sizeof(again), "http://%s:%u%s", hs, port, path);
    FUZZ_CHECK(pm_url_parse(again, &host2, &port2, path2, sizeof(path2)) == 0);
    FUZZ_CHECK(pm_addr_eq(&host2, &host) && port2 == port && strcmp(path2, path) == 0);
}

/* Copy the next '\n'-terminated piece into a fixed miniupnpc field. */
static const uint8_t *piece(const uint8_t *p, const uint8_t *end, char *out, size_t cap)
{
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    const uint8_t *stop = nl ? nl : end;
    size_t n = (size_t)(stop - p);

    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return nl ? nl + 1 : end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char location[256]; /* upnp.c: st->location */
    struct IGDdatas d;
    struct UPNPUrls urls;

    memset(&d, 0, sizeof(d));
    p = piece(p, end, location, sizeof(location));
    p = piece(p, end, d.urlbase, sizeof(d.urlbase));
    piece(p, end, d.first.controlurl, sizeof(d.first.controlurl));
    check_url(location);

    /* finish_description: join, then the control URL must parse and
     * point at the gateway (the address comparison is not ours to fuzz) */
    strcpy(d.first.servicetype, "urn:schemas-upnp-org:service:WANIPConnection:2");
    memset(&urls, 0, sizeof(urls));
    GetUPNPUrls(&urls, &d, location, 0);
    if (urls.controlURL)
        check_url(urls.controlURL);
    FreeUPNPUrls(&urls);
    return 0;
}
