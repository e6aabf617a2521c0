/*
 * WANIPv6FirewallControl replies, along the path of an IPv6 pinhole: the
 * HTTP reply framed by pm_http_parse (SOAP cap), then read as AddPinhole's
 * answer (pm_soap_result for UniqueID, pm_upnp_unique_id), as
 * GetFirewallStatus's (pm_upnp_fw_status_parse), and every outcome
 * through pm_upnp_pinhole_error to the library's error and reason.
 *
 * Input: the HTTP reply, or (when it does not start with "HTTP/") the
 * SOAP body alone, then read both as a success and as a fault.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "http_feed.h"
#include "proto/upnp/upnp_reply.h"

/* Every outcome has an error of the library's and a reason to log. */
static void check_error(int code)
{
    const char *why = NULL;
    portmap_error err = pm_upnp_pinhole_error(code, &why);

    FUZZ_CHECK(why != NULL && why[0] != '\0');
    FUZZ_CHECK((err == PORTMAP_OK) == (code == 0));
    FUZZ_CHECK(err >= PORTMAP_OK && err <= PORTMAP_ERR_PORT_IN_USE);
    FUZZ_CHECK(pm_upnp_pinhole_error(code, NULL) == err);
}

static void check_add(const char *body, size_t len, int status)
{
    char v[64], printed[8];
    uint16_t id = 0, again = 0;
    int code = pm_soap_result(body, len, status, "UniqueID", v, sizeof(v));

    FUZZ_CHECK(status == 200 ? code == 0 : code > 0 && code <= 9999);
    check_error(code);
    if (code != 0 || pm_upnp_unique_id(v, &id) != 0)
        return;
    /* the id is the number written, whole: printed back it reads the same */
    FUZZ_CHECK(strtoul(v, NULL, 10) == id);
    snprintf(printed, sizeof(printed), "%u", id);
    FUZZ_CHECK(pm_upnp_unique_id(printed, &again) == 0 && again == id);
}

static void check_status(const char *body, size_t len, int status)
{
    int enabled = 7, allowed = 7;
    int code = pm_upnp_fw_status_parse(body, len, status, &enabled, &allowed);

    if (status != 200)
        FUZZ_CHECK(code > 0 && code <= 9999);
    else
        FUZZ_CHECK(code == 0 || code == -1);
    if (code == 0)
        FUZZ_CHECK((enabled == 0 || enabled == 1) && (allowed == 0 || allowed == 1));
    else
        FUZZ_CHECK(enabled == 7 && allowed == 7); /* untouched */
    check_error(code);
}

static void check(const char *body, size_t len, int status)
{
    check_add(body, len, status);
    check_status(body, len, status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_soap_reply(data, size, PM_UPNP_SOAP_MAX, check);
    return 0;
}
