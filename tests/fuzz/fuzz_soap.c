/*
 * SOAP replies and faults, along proto/upnp's path: the HTTP reply framed by
 * pm_http_parse (SOAP cap), then pm_soap_result() as proto/upnp calls it for
 * each value it reads (the external address, a reserved port, the owner
 * of an entry), and pm_upnp_port() on the reserved port.
 *
 * Input: the HTTP reply, or (when it does not start with "HTTP/") the
 * SOAP body alone, then read both as a success and as a fault.
 */
#include <arpa/inet.h>
#include <miniupnpc/upnperrors.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http_feed.h"
#include "sys/addr.h"
#include "proto/upnp/upnp_reply.h"

static void check_reply(const char *body, size_t len, int status)
{
    char addr[64], value[64], detail[96];
    struct in_addr a;
    const char *e;
    int code;

    code = pm_soap_result(body, len, status, "NewExternalIPAddress", addr, sizeof(addr));
    FUZZ_CHECK(status == 200 ? code == 0 : code > 0 && code <= 9999);
    if (code == 0) {
        FUZZ_CHECK(strlen(addr) < sizeof(addr));
        if (inet_pton(AF_INET, addr, &a) != 1)
            a.s_addr = 0;
        (void)pm_addr_is_private(a.s_addr);
    }

    code = pm_soap_result(body, len, status, "NewReservedPort", value, sizeof(value));
    if (code == 0) {
        uint16_t port = pm_upnp_port(value);
        FUZZ_CHECK(strlen(value) < sizeof(value));
        FUZZ_CHECK(port == 0 || (unsigned)port == strtoul(value, NULL, 10));
    } else {
        e = strupnperror(code);
        snprintf(detail, sizeof(detail), "UPnP error %d: %s", code, e ? e : "unknown");
    }

    code = pm_soap_result(body, len, status, "NewInternalClient", value, sizeof(value));
    if (code == 0)
        FUZZ_CHECK(strlen(value) < sizeof(value));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_soap_reply(data, size, PM_UPNP_SOAP_MAX, check_reply);
    return 0;
}
