/*
 * SOAP replies and faults, along upnp.c's path: the HTTP reply framed by
 * pm_http_parse (SOAP cap), then soap_result() (miniupnpc's
 * ParseNameValue, errorCode of a fault, the wanted value copied out) and
 * what its callers do with the result: finish_extip() reads an address,
 * handle_reply() a reserved port or the owner's address, and
 * handle_add_error() formats strupnperror().
 *
 * Those functions are static in upnp.c and do I/O around the parsing, so
 * their parsing steps are repeated here with the same buffer sizes; keep
 * them in step with upnp.c.
 *
 * Input: the HTTP reply, or (when it does not start with "HTTP/") the
 * SOAP body alone, then read both as a success and as a fault.
 */
#include <arpa/inet.h>
#include <miniupnpc/upnperrors.h>
#include <miniupnpc/upnpreplyparse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http_feed.h"
#include "internal.h"

#define SOAP_MAX_BYTES (64 * 1024) /* upnp.c */

/* upnp.c: soap_result() */
static int soap_result(const char *body, size_t len, int status, const char *want, char *out,
                       size_t out_len)
{
    struct NameValueParserData pd;
    int code = 0;

    memset(&pd, 0, sizeof(pd));
    ParseNameValue(body, (int)len, &pd);
    if (status != 200) {
        const char *v = GetValueFromNameValueList(&pd, "errorCode");
        code = v ? atoi(v) : status;
        if (code <= 0)
            code = 501;
    } else if (want && out) {
        const char *v = GetValueFromNameValueList(&pd, want);
        snprintf(out, out_len, "%s", v ? v : "");
    }
    ClearNameValueList(&pd);
    return code;
}

static void check_reply(const char *body, size_t len, int status)
{
    char addr[64], value[64], detail[96];
    struct in_addr a;
    int code;

    /* finish_extip() */
    code = soap_result(body, len, status, "NewExternalIPAddress", addr, sizeof(addr));
    FUZZ_CHECK(status == 200 ? code == 0 : code > 0);
    if (code == 0) {
        FUZZ_CHECK(strlen(addr) < sizeof(addr));
        if (inet_pton(AF_INET, addr, &a) != 1)
            a.s_addr = 0;
        (void)pm_addr_is_private(a.s_addr);
    }

    /* handle_reply() for AddAnyPortMapping */
    code = soap_result(body, len, status, "NewReservedPort", value, sizeof(value));
    if (code == 0) {
        long p = strtol(value, NULL, 10);
        uint16_t port = p > 0 && p <= 65535 ? (uint16_t)p : 0;
        FUZZ_CHECK(strlen(value) < sizeof(value));
        FUZZ_CHECK(port == 0 || port == p);
    } else {
        /* handle_add_error() */
        const char *e = strupnperror(code);
        snprintf(detail, sizeof(detail), "UPnP error %d: %s", code, e ? e : "unknown");
    }

    /* handle_reply() for the owner check before a delete */
    code = soap_result(body, len, status, "NewInternalClient", value, sizeof(value));
    if (code == 0)
        FUZZ_CHECK(strlen(value) < sizeof(value));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_http h;
    const char *body;
    size_t len;
    int status;

    if (fuzz_upnp_body(&h, data, size, SOAP_MAX_BYTES, &body, &len, &status) == 0) {
        if (status) {
            check_reply(body, len, status);
        } else {
            check_reply(body, len, 200);
            check_reply(body, len, 500);
        }
    }
    fuzz_http_free(&h);
    return 0;
}
