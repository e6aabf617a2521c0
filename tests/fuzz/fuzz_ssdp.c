/*
 * SSDP datagrams (search answers and NOTIFYs) through pm_ssdp_parse, then
 * what proto/upnp/ssdp.c does with an accepted answer: parse LOCATION with
 * pm_url_parse.
 *
 * The datagram is passed in a buffer of exactly its length with no NUL
 * after it (ssdp.c adds one, but the function takes a length and must not
 * need it), cut at 2047 bytes as recvfrom() into proto/upnp's buffer would.
 */
#include <string.h>

#include "fuzz.h"
#include "proto/upnp/upnp_wire.h"

static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = size < 2047 ? size : 2047;
    char *buf = malloc(n ? n : 1);
    pm_ssdp_answer a;
    pm_addr host;
    uint16_t port;
    char path[256];
    int rc;

    if (!buf)
        return 0;
    memcpy(buf, data, n);
    rc = pm_ssdp_parse(buf, n, &a);
    FUZZ_CHECK(terminated(a.location, sizeof(a.location)) && terminated(a.usn, sizeof(a.usn)));
    if (rc == 0) {
        FUZZ_CHECK(a.igd_version >= 0 && a.igd_version <= 2);
        FUZZ_CHECK(a.is_notify == (n >= 6 && memcmp(buf, "NOTIFY", 6) == 0));
        FUZZ_CHECK(a.byebye ? a.is_notify : a.location[0] != '\0');
        if (!a.byebye) {
            /* the URL the router sent, all of it, not a cut copy */
            char *loc = fuzz_header(buf, n, "LOCATION");
            FUZZ_CHECK(loc && strcmp(loc, a.location) == 0);
            free(loc);
        }
        if (!a.byebye && pm_url_parse(a.location, &host, &port, path, sizeof(path)) == 0) {
            FUZZ_CHECK(port != 0 && path[0] == '/');
            FUZZ_CHECK(host.family == AF_INET || host.family == AF_INET6);
            FUZZ_CHECK(terminated(path, sizeof(path)));
        }
    }
    free(buf);
    return 0;
}
