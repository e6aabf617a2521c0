/*
 * One GetGenericPortMappingEntry reply, along pm_upnp_list()'s path in
 * upnp.c: the HTTP reply framed by pm_http_parse (SOAP cap), then
 * pm_upnp_entry_parse(): the fault's errorCode (713/714 end the table) or
 * the entry's fields read into a portmap_router_entry.
 *
 * Input: the HTTP reply, or (when it does not start with "HTTP/") the
 * SOAP body alone, read both as an entry and as a fault.
 */
#include <string.h>

#include "fuzz.h"
#include "http_feed.h"
#include "proto/upnp/upnp_reply.h"

static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static void check(const char *body, size_t len, int status)
{
    portmap_router_entry e;
    int code = pm_upnp_entry_parse(body, len, status, "10.77.0.2", &e);

    if (status != 200) {
        FUZZ_CHECK(code > 0 && code <= 9999);
        return;
    }
    FUZZ_CHECK(code == 0);
    FUZZ_CHECK(terminated(e.internal_client, sizeof(e.internal_client)));
    FUZZ_CHECK(terminated(e.remote_host, sizeof(e.remote_host)));
    FUZZ_CHECK(terminated(e.description, sizeof(e.description)));
    FUZZ_CHECK(e.protocol == PORTMAP_TCP || e.protocol == PORTMAP_UDP);
    FUZZ_CHECK(e.ours == !strcmp(e.internal_client, "10.77.0.2"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_soap_reply(data, size, PM_UPNP_SOAP_MAX, check);
    return 0;
}
