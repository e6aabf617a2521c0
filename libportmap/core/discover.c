/*
 * Discovery on a caller's thread: the routers of the families asked are
 * probed at once and waited for; what they speak, and the external
 * address (from NAT-PMP, UPnP, or a short PCP mapping).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/api.h"


void pm_api_fill_discovery(portmap_client *c, int fam, portmap_discovery *out)
{
    pm_net *net = &c->net[fam];

    memset(out, 0, sizeof(*out));
    out->family = fam == PM_V6 ? PORTMAP_IPV6 : PORTMAP_IPV4;
    if (net->route_ok) {
        pm_addr_fmt(&net->gateway, out->gateway, sizeof(out->gateway));
        if (net->gateway.scope && net->ifname[0]) {
            size_t n = strlen(out->gateway);
            snprintf(out->gateway + n, sizeof(out->gateway) - n, "%%%s", net->ifname);
        }
        pm_addr_fmt(&net->local, out->local_address, sizeof(out->local_address));
        if (fam == PM_V6)
            out->address_kind = pm_address_kind(net->local_kind);
    }
    if (fam == PM_V4 && c->ext_addr)
        pm_addr_str(c->ext_addr, out->external_address, sizeof(out->external_address));
    for (int i = 1; i < PORTMAP_METHOD_COUNT; i++)
        if (net->avail[i] == PM_AVAIL_YES)
            out->methods |= PORTMAP_HAVE(i);
    for (unsigned i = 0; i < c->n_order; i++) {
        if (net->avail[c->order[i]] == PM_AVAIL_YES) {
            out->preferred = c->order[i];
            break;
        }
    }
    out->pcp_version = net->avail[PORTMAP_METHOD_PCP] == PM_AVAIL_YES ? net->pcp_version : 0;
    if (net->avail[PORTMAP_METHOD_UPNP] == PM_AVAIL_YES) {
        out->upnp_version = net->upnp_version;
        snprintf(out->upnp_service, sizeof(out->upnp_service), "%s", net->upnp_service);
    }
    if (fam == PM_V4)
        out->double_nat = c->double_nat;
}

static int any_answered(const portmap_client *c, int fam)
{
    for (int i = 1; i < PORTMAP_METHOD_COUNT; i++)
        if (c->net[fam].avail[i] == PM_AVAIL_YES)
            return 1;
    return 0;
}

/* The families to discover for work on the journal's entries: IPv4, and
 * IPv6 only when the journal holds an entry of our IPv6 address (a host
 * with an IPv6 route but no router answering over IPv6 would otherwise
 * wait out the whole timeout). Lock held, dropped to read the journal. */
unsigned pm_api_journal_fams(portmap_client *c, int64_t now)
{
    unsigned fams = 1u << PM_V4;

    pm_addr local;
    int has;

    if (pm_net_refresh_route(c, PM_V6, now) != 0)
        return fams;
    local = c->net[PM_V6].local;
    pm_api_journal_barrier(c, now + c->s.timeout_ms);
    pthread_mutex_unlock(&c->lock);
    has = pm_journal_has_local(c->state_dir, &local);
    pm_jq_check_refusal(c);
    pthread_mutex_lock(&c->lock);
    return has ? fams | 1u << PM_V6 : fams;
}

int pm_api_probe_and_wait(portmap_client *c, unsigned fams, unsigned asked, unsigned flags,
                          int64_t deadline)
{
    return pm_api_probe_and_wait_for(c, fams, asked, flags, deadline, NULL, NULL);
}

/* Probe the families in fams (bits 1 << PM_V4, 1 << PM_V6) at once and
 * wait until every probe has its verdict, or enough(c, arg) says the
 * caller's answer is known; the verdict is the families in asked. Lock
 * held. */
int pm_api_probe_and_wait_for(portmap_client *c, unsigned fams, unsigned asked, unsigned flags,
                              int64_t deadline, pm_api_enough_fn enough, const void *arg)
{
    int64_t now = pm_now_ms();
    unsigned routed = 0;
    int pending;

    if (fams & (1u << PM_V6))
        c->fams_used |= 1u << PM_V6;
    for (int fam = 0; fam < PM_FAMS; fam++) {
        if (!(fams & (1u << fam)) || pm_net_refresh_route(c, fam, now) != 0)
            continue;
        routed |= 1u << fam;
        /* a protocol found missing before is asked again: the router may
         * have come up since, as a new process would find */
        pm_net_probe_all(c, fam, now, deadline,
                            (flags & PORTMAP_DISCOVER_FRESH) ? PM_PROBE_FRESH : PM_PROBE_RETRY);
    }
    if (!(routed & asked))
        return PORTMAP_ERR_NO_GATEWAY;
    pm_engine_wake(c);
    /* Also wait for an external-address query under way (UPnP asks for it
     * after the description), still within the deadline. */
    do {
        pending = (routed & (1u << PM_V4)) && c->ext_pending;
        for (int fam = 0; fam < PM_FAMS; fam++)
            pending |= (routed & (1u << fam)) && !pm_net_all_probes_done(c, fam);
        if (pending && enough && enough(c, arg))
            pending = 0;
    } while (pending && !c->stopping && !c->closed && pm_api_wait_until(c, deadline));
    if (c->stopping || c->closed)
        return PORTMAP_ERR_CANCELLED;
    for (int fam = 0; fam < PM_FAMS; fam++)
        if ((routed & asked & (1u << fam)) && any_answered(c, fam))
            return PORTMAP_OK;
    /* Nothing answered in time: whether every probe had given up or the
     * deadline came first, for the caller there is no gateway. */
    return PORTMAP_ERR_NO_GATEWAY;
}

/* Discover the families in fams and wait; lock held. Pinholes that dead
 * processes left are released like their NAT mappings, once the IPv6
 * router has answered: IPv6 is probed too when the journal holds some of
 * this host, without deciding the verdict. */
static int discover_for(portmap_client *c, unsigned fams, unsigned flags, int64_t deadline,
                        pm_api_enough_fn enough, const void *arg)
{
    unsigned probe = fams;

    if (!c->s.keep_orphans && (fams & (1u << PM_V4)))
        probe |= pm_api_journal_fams(c, pm_now_ms()) & (1u << PM_V6);
    return pm_api_probe_and_wait_for(c, probe, fams, flags, deadline, enough, arg);
}

int pm_api_discover(portmap_client *c, unsigned fams, unsigned flags, int64_t deadline)
{
    return discover_for(c, fams, flags, deadline, NULL, NULL);
}

PORTMAP_API int portmap_discover(portmap_client *c, portmap_discovery *out, unsigned flags,
                                 int timeout_ms)
{
    return portmap_discover_dual(c, out, NULL, flags, timeout_ms);
}

PORTMAP_API int portmap_discover_dual(portmap_client *c, portmap_discovery *v4,
                                      portmap_discovery *v6, unsigned flags, int timeout_ms)
{
    unsigned fams = (v4 ? 1u << PM_V4 : 0) | (v6 ? 1u << PM_V6 : 0);
    int rc;

    if (!c || !fams)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    if (v4)
        memset(v4, 0, sizeof(*v4));
    if (v6)
        memset(v6, 0, sizeof(*v6));
    if ((rc = pm_api_enter(c)) != PORTMAP_OK)
        return rc;
    rc = pm_api_discover(c, fams, flags, pm_now_ms() + pm_api_timeout(c, timeout_ms));
    if (v4)
        pm_api_fill_discovery(c, PM_V4, v4);
    if (v6)
        pm_api_fill_discovery(c, PM_V6, v6);
    pm_api_leave(c);
    return rc;
}

PORTMAP_API int portmap_discover_reason(portmap_client *c, portmap_family family, char *buf,
                                        size_t len)
{
    int fam = family == PORTMAP_IPV6 ? PM_V6 : PM_V4;

    if (!c || !buf || !len || (family != PORTMAP_IPV4 && family != PORTMAP_IPV6))
        return PORTMAP_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&c->lock);
    pm_net_reason(c, fam, PORTMAP_METHOD_AUTO, 0, buf, len);
    pthread_mutex_unlock(&c->lock);
    return PORTMAP_OK;
}

/* The first protocol that answered whose mapping replies tell the
 * external address (PCP); AUTO when none. */
static portmap_method mapping_tells(const portmap_client *c)
{
    for (unsigned i = 0; i < c->n_order; i++) {
        const pm_backend *b = pm_backend_of(c, c->order[i]);
        if (b && b->map_tells_external && c->net[PM_V4].avail[c->order[i]] == PM_AVAIL_YES)
            return c->order[i];
    }
    return PORTMAP_METHOD_AUTO;
}

/* The address is known once a protocol that answered the fresh probe
 * told it since the call began (an address of the same millisecond from
 * an earlier answer is not enough: the protocols' verdicts were reset):
 * a protocol still silent then (ICMP refusals held back by rate limiting
 * make a closed port look silent) would tell the same router's address,
 * so it is not waited for. */
static int address_told(const portmap_client *c, const void *arg)
{
    return c->ext_addr && c->ext_addr_at >= *(const int64_t *)arg && !c->ext_pending &&
           any_answered(c, PM_V4);
}

PORTMAP_API int portmap_external_ip(portmap_client *c, char *buf, size_t len, int timeout_ms)
{
    int64_t start, deadline;
    int rc;

    if (!c || !buf || len < 8)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    buf[0] = '\0';
    if ((rc = pm_api_enter(c)) != PORTMAP_OK)
        return rc;
    start = pm_now_ms();
    deadline = start + pm_api_timeout(c, timeout_ms);
    /* A fresh probe: NAT-PMP's opcode 0 tells the address directly. */
    rc = discover_for(c, 1u << PM_V4, PORTMAP_DISCOVER_FRESH, deadline, address_told, &start);
    if (rc == PORTMAP_OK && (c->ext_addr_at < start || !c->ext_addr) &&
        mapping_tells(c) != PORTMAP_METHOD_AUTO) {
        /* Only a protocol with no question for it answered (PCP), or the
         * one that did gave no external address: learn it from a short
         * mapping of the discard port that is deleted at once. */
        portmap_request r;
        portmap_mapping *m;
        portmap_request_init(&r);
        r.internal_port = 9;
        r.lifetime = 30;
        r.method = mapping_tells(c);
        r.timeout_ms = (int)PM_MAX(1, deadline - pm_now_ms());
        m = pm_mapping_new(c, &r, pm_now_ms());
        if (!m) {
            rc = PORTMAP_ERR_NO_MEMORY;
        } else {
            m->internal = 1;
            pm_engine_wake(c);
            while (m->state == PORTMAP_STATE_PENDING && !c->stopping)
                if (!pm_api_wait_until(c, deadline))
                    break;
            rc = m->state == PORTMAP_STATE_MAPPED ? PORTMAP_OK
                 : m->last_error                ? m->last_error
                                                : PORTMAP_ERR_TIMEOUT;
            m->handle_dropped = 1;
            pm_mapping_start_release(c, m, pm_now_ms() + c->s.close_timeout_ms, pm_now_ms());
            pm_engine_wake(c);
            pm_mapping_unref(m);
        }
    }
    if (rc == PORTMAP_OK && c->ext_addr)
        pm_addr_str(c->ext_addr, buf, len);
    else if (rc == PORTMAP_OK)
        rc = PORTMAP_ERR_PROTOCOL;
    pm_api_leave(c);
    return rc;
}
