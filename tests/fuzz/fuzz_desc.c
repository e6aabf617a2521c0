/*
 * The IGD device description, along proto/upnp's path: the HTTP reply framed
 * by pm_http_parse (description cap, body NUL-terminated in place), then
 * pm_upnp_desc_parse(), the function proto/upnp/describe.c calls (miniupnpc's
 * parserootdesc() and GetUPNPUrls(), the control URL through
 * pm_url_parse, the service type picked apart), for the WAN connection
 * service and the IPv6 firewall control service.
 *
 * Input: the HTTP reply, or (when it does not start with "HTTP/") the
 * description body alone.
 */
#include <string.h>

#include "fuzz.h"
#include "http_feed.h"
#include "proto/upnp/upnp_reply.h"

/* The router as heard over IPv4 and over IPv6: relative control URLs
 * resolve against either. */
static const char *const locations[] = { "http://10.77.0.1:5000/rootDesc.xml",
                                         "http://[2001:db8:77:1::1]:5000/rootDesc.xml" };

static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* An address out of a control URL: a literal of either family, no zone */
static int url_addr(const pm_addr *a)
{
    return (a->family == AF_INET || a->family == AF_INET6) && a->scope == 0;
}

static void check_wan(const pm_igd_desc *d, pm_desc_status rc)
{
    FUZZ_CHECK(rc == PM_DESC_OK || rc == PM_DESC_NO_SERVICE || rc == PM_DESC_BAD_URL);
    FUZZ_CHECK(d->has_wan == (rc == PM_DESC_OK));
    FUZZ_CHECK(terminated(d->control_url, sizeof(d->control_url)));
    if (!d->has_wan) {
        FUZZ_CHECK(!pm_addr_is_set(&d->ctl_addr)); /* never the gateway */
        return;
    }
    FUZZ_CHECK(url_addr(&d->ctl_addr));
    FUZZ_CHECK(d->ctl_port != 0 && d->ctl_path[0] == '/');
    FUZZ_CHECK(terminated(d->ctl_path, sizeof(d->ctl_path)));
    FUZZ_CHECK(terminated(d->service, sizeof(d->service)) && d->service[0]);
    FUZZ_CHECK(terminated(d->service_name, sizeof(d->service_name)));
    FUZZ_CHECK(d->version == 1 || d->version == 2);
}

/* The firewall service is read whatever became of the WAN connection. */
static void check_fw(const pm_igd_desc *d)
{
    static const char type[] = "urn:schemas-upnp-org:service:WANIPv6FirewallControl:";

    FUZZ_CHECK(terminated(d->fw_control_url, sizeof(d->fw_control_url)));
    FUZZ_CHECK(d->has_fw == 0 || d->has_fw == 1);
    if (!d->has_fw) {
        FUZZ_CHECK(!pm_addr_is_set(&d->fw_addr));
        return;
    }
    FUZZ_CHECK(url_addr(&d->fw_addr));
    FUZZ_CHECK(d->fw_port != 0 && d->fw_path[0] == '/');
    FUZZ_CHECK(terminated(d->fw_path, sizeof(d->fw_path)));
    FUZZ_CHECK(terminated(d->fw_service, sizeof(d->fw_service)));
    FUZZ_CHECK(strncmp(d->fw_service, type, sizeof(type) - 1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_http h;
    const char *body;
    size_t len;
    int status;
    pm_igd_desc d;

    if (fuzz_upnp_body(&h, data, size, PM_UPNP_DESC_MAX, &body, &len, &status) != 0 ||
        (status != 0 && status != 200))
        goto out;
    for (size_t i = 0; i < sizeof(locations) / sizeof(locations[0]); i++) {
        pm_desc_status rc = pm_upnp_desc_parse(body, len, locations[i], &d);
        check_wan(&d, rc);
        check_fw(&d);
    }
out:
    fuzz_http_free(&h);
    return 0;
}
