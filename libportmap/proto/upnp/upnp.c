/*
 * UPnP-IGD client backend (WANIPConnection v1/v2, WANPPPConnection,
 * WANIPv6FirewallControl): its state, vtable and poll plumbing. The
 * protocol steps are in the files listed in upnp.h.
 *
 * miniupnpc parses the device description and SOAP replies, behind the
 * pure functions of upnp_reply.c. The exchanges themselves run here,
 * non-blocking inside the engine's poll loop, because miniupnpc's calls
 * block with no overall deadline: a router that drips a byte a second
 * would hold a thread for as long as it liked.
 *
 * Safety: SSDP answers count only from the gateway's address; LOCATION and
 * the control URL must point at the gateway; answers read per search, the
 * description and SOAP replies are capped; every exchange has a deadline.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/upnp/upnp.h"

static void init_fam(upnp_state *st, int fam)
{
    memset(st, 0, sizeof(*st));
    st->fam = fam;
    st->ssdp_fd = st->desc.fd = st->extip.fd = st->notify_fd = -1;
    st->bootid = -1;
    st->refused_until = PM_NEVER;
}

static void close_fam(upnp_state *st)
{
    if (st->ssdp_fd >= 0)
        close(st->ssdp_fd);
    if (st->notify_fd >= 0)
        close(st->notify_fd);
    pm_http_reset(&st->desc);
    pm_http_reset(&st->extip);
    init_fam(st, st->fam);
}

static void *upnp_state_new(void)
{
    upnp_states *all = calloc(1, sizeof(*all));

    for (int f = 0; all && f < PM_FAMS; f++)
        init_fam(&all->fam[f], f);
    return all;
}

static void upnp_state_free(void *p)
{
    upnp_states *all = p;

    for (int f = 0; f < PM_FAMS; f++)
        close_fam(&all->fam[f]);
    free(all);
}

upnp_state *pm_upnp_state(portmap_client *c, int fam)
{
    upnp_states *all = pm_backend_state(c, PORTMAP_METHOD_UPNP);
    return all ? &all->fam[fam] : NULL;
}

upnp_state *pm_upnp_state_if_any(portmap_client *c, int fam)
{
    upnp_states *all = pm_backend_state_if_any(c, PORTMAP_METHOD_UPNP);
    return all ? &all->fam[fam] : NULL;
}

/* ---- SOAP ---- */

int pm_upnp_soap_start(portmap_client *c, upnp_state *st, pm_http *h, const char *action,
                      const pm_soap_arg *args, size_t n, int64_t now, int64_t deadline)
{
    char host[PM_ADDR_TEXT], req[6144];
    size_t len;

    c->counters.requests_sent++;
    pm_addr_url_host(&st->ctl_addr, host, sizeof(host));
    len = pm_soap_request(req, sizeof(req), host, st->ctl_port, st->ctl_path, st->service, action,
                          args, n);
    if (!len)
        return -1;
    /* IPv6: from the address the pinholes are for (see pm_http_start_from) */
    return pm_http_start_from(h, st->fam == PM_V6 ? &c->net[PM_V6].local : NULL, &st->ctl_addr,
                              st->ctl_port, req, len, PM_UPNP_SOAP_MAX,
                              PM_MIN(deadline, now + HTTP_MAX_MS));
}

/* UPnP error code of a failed SOAP reply, 0 for success, -1 when the
 * exchange itself failed. Values named in want are copied out. */
int pm_upnp_soap_result(pm_http *h, const char *want, char *out, size_t out_len)
{
    if (h->state != PM_HTTPC_DONE)
        return -1;
    return pm_soap_result(h->resp.body, h->resp.body_len, h->resp.status, want, out, out_len);
}

/* ---- poll plumbing ---- */

static size_t upnp_count(portmap_client *c)
{
    size_t n = 4 * PM_FAMS; /* per family: SSDP, NOTIFY, description, extip */
    for (portmap_mapping *m = pm_ops_mappings(c, PORTMAP_METHOD_UPNP); m; m = m->next)
        n += pm_upnp_op_active(m);
    return n;
}

static size_t add_http(pm_http *h, struct pollfd *fds, size_t i, size_t max, int64_t *deadline)
{
    if (!pm_http_active(h) || i >= max)
        return 0;
    fds[i] = (struct pollfd){ .fd = h->fd, .events = pm_http_events(h) };
    *deadline = PM_MIN(*deadline, h->deadline);
    return 1;
}

/* Whether the search is to be resent at its timer: searching, no
 * answer yet, and no description on its way (one answer is tried at a
 * time; its failure resumes the search). add_pollfds and dispatch ask
 * the same question, so a timer never asks for a round that does nothing. */
static int search_resend_due(const portmap_client *c, const upnp_state *st)
{
    return st->searching && c->net[st->fam].avail[PORTMAP_METHOD_UPNP] == PM_AVAIL_PROBING &&
           !pm_http_active(&st->desc);
}

static size_t upnp_add_pollfds(portmap_client *c, struct pollfd *fds, size_t max, int64_t *deadline)
{
    size_t n = 0;

    if (!pm_backend_state_if_any(c, PORTMAP_METHOD_UPNP))
        return 0;
    for (int fam = 0; fam < PM_FAMS; fam++) {
        upnp_state *st = pm_upnp_state_if_any(c, fam);
        if (st->ssdp_fd >= 0 && n < max) {
            fds[n++] = (struct pollfd){ .fd = st->ssdp_fd, .events = POLLIN };
            /* the search is resent only while no description is being
             * fetched (dispatch_fam): its timers (the resend, the end of
             * refused answers' grace), passed during a slow connect (a
             * lost SYN waits 1 s), would spin the engine */
            if (search_resend_due(c, st))
                *deadline = PM_MIN(*deadline, PM_MIN(st->ssdp_retx.next_ms, st->refused_until));
        }
        if (st->notify_fd >= 0 && n < max)
            fds[n++] = (struct pollfd){ .fd = st->notify_fd, .events = POLLIN };
        n += add_http(&st->desc, fds, n, max, deadline);
        n += add_http(&st->extip, fds, n, max, deadline);
        if (pm_ops_maybe(c, PORTMAP_METHOD_UPNP) && pm_upnp_queue_ready(c, fam))
            *deadline = 0; /* dispatch at once: upnp_dispatch() starts them */
    }
    for (portmap_mapping *m = pm_ops_mappings(c, PORTMAP_METHOD_UPNP); m; m = m->next) {
        upnp_xchg *x;
        if (!pm_upnp_op_active(m))
            continue;
        x = m->op_data;
        if (!pm_http_active(&x->h) && x->retry_at != PM_NEVER)
            *deadline = PM_MIN(*deadline, x->retry_at);
        n += add_http(&x->h, fds, n, max, deadline);
    }
    return n;
}

static void dispatch_one(portmap_client *c, portmap_mapping *m, void *arg)
{
    pm_dispatch *d = arg;

    if (pm_upnp_op_active(m))
        pm_upnp_step_mapping(c, m, pm_revents(d, ((upnp_xchg *)m->op_data)->h.fd), d->now);
}

static void dispatch_fam(portmap_client *c, upnp_state *st, const pm_dispatch *d)
{
    int64_t now = d->now;

    if (st->ssdp_fd >= 0 && pm_revents(d, st->ssdp_fd))
        pm_upnp_read_ssdp(c, st, now);
    if (st->notify_fd >= 0 && pm_revents(d, st->notify_fd))
        pm_upnp_read_notify(c, st, now);
    if (search_resend_due(c, st) && now >= st->ssdp_retx.next_ms) {
        pm_retx_advance(&st->ssdp_retx, now, pm_rand_unit, &c->rng);
        pm_upnp_ssdp_send(c, st);
    }
    if (pm_http_active(&st->desc) && pm_http_step(&st->desc, pm_revents(d, st->desc.fd), now))
        pm_upnp_finish_description(c, st, now);
    if (st->searching && now >= st->refused_until)
        pm_upnp_refused_expired(c, st, now);
    if (pm_http_active(&st->extip) && pm_http_step(&st->extip, pm_revents(d, st->extip.fd), now))
        pm_upnp_finish_extip(c, st, now);
}

static void upnp_dispatch(portmap_client *c, struct pollfd *fds, size_t n, int64_t now)
{
    pm_dispatch d = { fds, n, now };

    if (!pm_backend_state_if_any(c, PORTMAP_METHOD_UPNP))
        return;
    for (int fam = 0; fam < PM_FAMS; fam++)
        dispatch_fam(c, pm_upnp_state_if_any(c, fam), &d);
    if (!pm_ops_maybe(c, PORTMAP_METHOD_UPNP))
        return;
    pm_host_each_mapping(c, dispatch_one, &d);
    for (int fam = 0; fam < PM_FAMS; fam++)
        pm_upnp_start_queued(c, fam, now);
}

static void upnp_reset(portmap_client *c, int fam)
{
    upnp_state *st = pm_upnp_state_if_any(c, fam);

    if (!st)
        return;
    close_fam(st);
    if (fam == PM_V4)
        pm_host_external_pending(c, 0);
    c->net[fam].upnp_version = 0;
    c->net[fam].upnp_service[0] = '\0';
    for (int f = 0; f < PM_FAMS; f++)
        if (pm_upnp_state_if_any(c, f)->ssdp_fd >= 0 || pm_upnp_state_if_any(c, f)->notify_fd >= 0)
            return;
    pm_backend_state_drop(c, PORTMAP_METHOD_UPNP); /* neither family in use */
}

static int64_t upnp_refresh_delay_ms(uint32_t lifetime, double unit_rand)
{
    (void)unit_rand;
    return (int64_t)lifetime * 500; /* a lease is renewed at half */
}

const pm_backend pm_backend_upnp = {
    .method = PORTMAP_METHOD_UPNP,
    .name = "upnp",
    .label = "UPnP-IGD",
    .families = 1u << PM_V4 | 1u << PM_V6,
    .allow = PM_ALLOW_HOST, /* NewRemoteHost: one host or anyone */
    /* NewInternalClient, a pinhole's InternalClient: any host (unless
     * the router allows only the asking one: secure mode) */
    .third_party = 1u << PM_V4 | 1u << PM_V6,
    .port = SSDP_PORT,
    /* IPv4: whom the external port maps to is asked; IPv6: a pinhole is
     * found by our own address */
    .delete_checks_owner = 1u << PM_V4 | 1u << PM_V6,
    .needs_probe = 1,
    .refresh_delay_ms = upnp_refresh_delay_ms,
    .state_new = upnp_state_new,
    .state_free = upnp_state_free,
    .start = pm_upnp_start,
    .stop = pm_upnp_stop,
    .probe = pm_upnp_probe,
    .listen = pm_upnp_listen,
    .check = pm_upnp_check,
    .add_pollfds = upnp_add_pollfds,
    .count_pollfds = upnp_count,
    .dispatch = upnp_dispatch,
    .reset = upnp_reset,
    .table_open = pm_upnp_table_open,
    .table_list = pm_upnp_table_list,
    .table_close = pm_upnp_table_close,
};
