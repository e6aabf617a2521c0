/*
 * The IGD device description, along upnp.c's path: the HTTP reply framed
 * by pm_http_parse (description cap, body NUL-terminated in place), then
 * pm_upnp_desc_parse(), the function upnp.c calls (miniupnpc's
 * parserootdesc() and GetUPNPUrls(), the control URL through
 * pm_url_parse, the service type picked apart).
 *
 * Input: the HTTP reply, or (when it does not start with "HTTP/") the
 * description body alone.
 */
#include <string.h>

#include "fuzz.h"
#include "http_feed.h"
#include "upnp_reply.h"

#define LOCATION "http://10.77.0.1:5000/rootDesc.xml"

static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_http h;
    const char *body;
    size_t len;
    int status;
    pm_igd_desc d;
    pm_desc_status rc;

    if (fuzz_upnp_body(&h, data, size, PM_UPNP_DESC_MAX, &body, &len, &status) != 0 ||
        (status != 0 && status != 200))
        goto out;
    rc = pm_upnp_desc_parse(body, len, LOCATION, &d);
    FUZZ_CHECK(rc == PM_DESC_OK || rc == PM_DESC_NO_SERVICE || rc == PM_DESC_BAD_URL);
    FUZZ_CHECK(terminated(d.control_url, sizeof(d.control_url)));
    if (rc == PM_DESC_BAD_URL)
        FUZZ_CHECK(d.ctl_addr == 0);
    if (rc != PM_DESC_OK)
        goto out;
    FUZZ_CHECK(d.ctl_port != 0 && d.ctl_path[0] == '/');
    FUZZ_CHECK(terminated(d.ctl_path, sizeof(d.ctl_path)));
    FUZZ_CHECK(terminated(d.service, sizeof(d.service)) && d.service[0]);
    FUZZ_CHECK(terminated(d.service_name, sizeof(d.service_name)));
    FUZZ_CHECK(d.version == 1 || d.version == 2);
out:
    fuzz_http_free(&h);
    return 0;
}
