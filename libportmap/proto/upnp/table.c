/*
 * The router's whole table of port mappings (GetGenericPortMappingEntry
 * by index), read on the caller's thread without the client lock, each
 * exchange bounded by the caller's deadline.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/upnp/upnp.h"

/* A copy of the IGD's control endpoint: the listing runs on the caller's
 * thread without the lock, while the engine may forget the router. */
typedef struct pm_upnp_control {
    pm_addr addr;
    uint16_t port;
    char path[256];
    char service[128];
} pm_upnp_control;

int pm_upnp_table_open(portmap_client *c, void **ctx)
{
    upnp_state *st = pm_upnp_state_if_any(c, PM_V4);
    pm_upnp_control *out;

    *ctx = NULL;
    if (!st || !st->have_igd || !(out = calloc(1, sizeof(*out))))
        return -1;
    out->addr = st->ctl_addr;
    out->port = st->ctl_port;
    snprintf(out->path, sizeof(out->path), "%s", st->ctl_path);
    snprintf(out->service, sizeof(out->service), "%s", st->service);
    *ctx = out;
    return 0;
}

void pm_upnp_table_close(void *ctx)
{
    free(ctx);
}

/* Run one SOAP exchange to completion with poll(), bounded by deadline. */
static int soap_blocking(const pm_upnp_control *ctl, pm_http *h, const char *action,
                         const pm_soap_arg *args, size_t n, int64_t deadline)
{
    char host[PM_ADDR_TEXT], req[4096];
    size_t len;

    pm_addr_url_host(&ctl->addr, host, sizeof(host));
    len = pm_soap_request(req, sizeof(req), host, ctl->port, ctl->path, ctl->service, action, args, n);
    if (!len || pm_http_start(h, &ctl->addr, ctl->port, req, len, PM_UPNP_SOAP_MAX,
                              PM_MIN(deadline, pm_now_ms() + HTTP_MAX_MS)) != 0)
        return -1;
    while (pm_http_active(h)) {
        struct pollfd p = { .fd = h->fd, .events = pm_http_events(h) };
        int64_t left = h->deadline - pm_now_ms();
        if (poll(&p, 1, (int)PM_MAX(0, PM_MIN(left, 1000))) < 0 && errno != EINTR)
            break;
        pm_http_step(h, p.revents, pm_now_ms());
    }
    return h->state == PM_HTTPC_DONE ? 0 : -1;
}

int pm_upnp_table_list(void *ctx, uint32_t local, int64_t deadline, portmap_router_entry **out,
                       size_t *count)
{
    const pm_upnp_control *ctl = ctx;
    portmap_router_entry *all = NULL;
    size_t n = 0, cap = 0;
    char mine[PORTMAP_ADDRSTRLEN];
    int rc = PORTMAP_OK;
    pm_http h = { .fd = -1 };

    pm_addr_str(local, mine, sizeof(mine));
    for (unsigned idx = 0; idx < 4096; idx++) {
        char index[16];
        pm_soap_arg arg = { "NewPortMappingIndex", index };
        int code;

        snprintf(index, sizeof(index), "%u", idx);
        if (pm_now_ms() >= deadline) {
            rc = PORTMAP_ERR_TIMEOUT;
            break;
        }
        if (soap_blocking(ctl, &h, "GetGenericPortMappingEntry", &arg, 1, deadline) != 0) {
            rc = PORTMAP_ERR_TIMEOUT;
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            portmap_router_entry *p = realloc(all, nc * sizeof(*p));
            if (!p) {
                rc = PORTMAP_ERR_NO_MEMORY;
                break;
            }
            all = p;
            cap = nc;
        }
        code = pm_upnp_entry_parse(h.resp.body, h.resp.body_len, h.resp.status, mine, &all[n]);
        if (code != 0) {
            /* 713 SpecifiedArrayIndexInvalid (and 714 on some) ends the table */
            if (code != 713 && code != 714)
                rc = PORTMAP_ERR_REFUSED;
            break;
        }
        n++;
    }
    pm_http_reset(&h);
    if (rc != PORTMAP_OK) {
        free(all);
        return rc;
    }
    *out = all;
    *count = n;
    return PORTMAP_OK;
}
