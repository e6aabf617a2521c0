/*
 * One GetGenericPortMappingEntry reply, along pm_upnp_list()'s path in
 * upnp.c: the HTTP reply framed by pm_http_parse (SOAP cap), miniupnpc's
 * ParseNameValue, then either the fault's errorCode (713/714 end the
 * table) or the entry's fields copied into a portmap_router_entry.
 *
 * pm_upnp_list() runs its SOAP exchanges itself, so its per-entry parsing
 * is repeated here with the same buffer sizes; keep it in step.
 *
 * Input: the HTTP reply, or (when it does not start with "HTTP/") the
 * SOAP body alone, read both as an entry and as a fault.
 */
#include <miniupnpc/upnpreplyparse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http_feed.h"
#include "portmap/portmap.h"

#define SOAP_MAX_BYTES (64 * 1024) /* upnp.c */

static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* upnp.c: copy_value() */
static void copy_value(struct NameValueParserData *pd, const char *name, char *out, size_t cap)
{
    const char *v = GetValueFromNameValueList(pd, name);
    snprintf(out, cap, "%s", v ? v : "");
}

/* Returns 1 for an entry, 0 at the end of the table, -1 on a refusal. */
static int parse_entry(const char *body, size_t len, int status, const char *mine,
                       portmap_router_entry *e)
{
    struct NameValueParserData pd;
    char v[64];
    int rc = 1;

    memset(&pd, 0, sizeof(pd));
    ParseNameValue(body, (int)len, &pd);
    if (status != 200) {
        const char *code = GetValueFromNameValueList(&pd, "errorCode");
        rc = !code || (atoi(code) != 713 && atoi(code) != 714) ? -1 : 0;
        ClearNameValueList(&pd);
        return rc;
    }
    memset(e, 0, sizeof(*e));
    copy_value(&pd, "NewProtocol", v, sizeof(v));
    e->protocol = !strcmp(v, "TCP") ? PORTMAP_TCP : PORTMAP_UDP;
    copy_value(&pd, "NewExternalPort", v, sizeof(v));
    e->external_port = (uint16_t)strtoul(v, NULL, 10);
    copy_value(&pd, "NewInternalPort", v, sizeof(v));
    e->internal_port = (uint16_t)strtoul(v, NULL, 10);
    copy_value(&pd, "NewInternalClient", e->internal_client, sizeof(e->internal_client));
    copy_value(&pd, "NewRemoteHost", e->remote_host, sizeof(e->remote_host));
    copy_value(&pd, "NewPortMappingDescription", e->description, sizeof(e->description));
    copy_value(&pd, "NewLeaseDuration", v, sizeof(v));
    e->lease = (uint32_t)strtoul(v, NULL, 10);
    copy_value(&pd, "NewEnabled", v, sizeof(v));
    e->enabled = strcmp(v, "0") != 0;
    e->ours = strcmp(e->internal_client, mine) == 0;
    ClearNameValueList(&pd);
    return rc;
}

static void check(const char *body, size_t len, int status)
{
    portmap_router_entry e;
    int rc = parse_entry(body, len, status, "10.77.0.2", &e);

    if (status != 200) {
        FUZZ_CHECK(rc == 0 || rc == -1);
        return;
    }
    FUZZ_CHECK(rc == 1);
    FUZZ_CHECK(terminated(e.internal_client, sizeof(e.internal_client)));
    FUZZ_CHECK(terminated(e.remote_host, sizeof(e.remote_host)));
    FUZZ_CHECK(terminated(e.description, sizeof(e.description)));
    FUZZ_CHECK(e.protocol == PORTMAP_TCP || e.protocol == PORTMAP_UDP);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_http h;
    const char *body;
    size_t len;
    int status;

    if (fuzz_upnp_body(&h, data, size, SOAP_MAX_BYTES, &body, &len, &status) == 0) {
        if (status) {
            check(body, len, status);
        } else {
            check(body, len, 200);
            check(body, len, 500);
        }
    }
    fuzz_http_free(&h);
    return 0;
}
