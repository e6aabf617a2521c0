/*
 * IPv6 pinholes over WANIPv6FirewallControl:1: added, renewed by their
 * UniqueID, deleted by it (found first by adding again when only the
 * journal's port is known).
 */
#include <stdio.h>

#include "proto/upnp/upnp.h"

/* The arguments of a pinhole action into a; returns the action. */
const char *pm_upnp_pinhole_args(const portmap_mapping *m, const upnp_xchg *x, pm_soap_arg *a,
                                size_t *n, char *client, size_t client_len, char *in, char *lease,
                                char *uid)
{
    pm_addr_fmt(&m->local, client, client_len);
    snprintf(uid, 8, "%u", m->pinhole_id);
    switch (x->step) {
    case X_PH_UPDATE:
        a[(*n)++] = (pm_soap_arg){ "UniqueID", uid };
        a[(*n)++] = (pm_soap_arg){ "NewLeaseTime", lease };
        return "UpdatePinhole";
    case X_PH_DELETE:
        a[(*n)++] = (pm_soap_arg){ "UniqueID", uid };
        return "DeletePinhole";
    default: /* X_PH_ADD, X_PH_FIND: any remote host and port (empty and 0) */
        a[(*n)++] = (pm_soap_arg){ "RemoteHost", "" };
        a[(*n)++] = (pm_soap_arg){ "RemotePort", "0" };
        a[(*n)++] = (pm_soap_arg){ "InternalClient", client };
        a[(*n)++] = (pm_soap_arg){ "InternalPort", in };
        a[(*n)++] = (pm_soap_arg){ "Protocol", m->proto == PORTMAP_TCP ? "6" : "17" };
        a[(*n)++] = (pm_soap_arg){ "LeaseTime", lease };
        return "AddPinhole";
    }
}

/* A pinhole: added, renewed by its id, deleted by its id (found first by
 * adding it again when only the journal's port is known: a router
 * answers a second AddPinhole of the same pinhole with its id). */
void pm_upnp_first_pinhole_step(portmap_mapping *m, upnp_xchg *x)
{
    x->try_port = m->internal_port; /* no translation */
    x->lease = PM_MIN(PM_MAX(m->want_lifetime, 1u), (uint32_t)PINHOLE_MAX_LEASE);
    if (m->op == PM_OP_DELETE)
        x->step = m->has_pinhole ? X_PH_DELETE : X_PH_FIND;
    else
        x->step = m->has_pinhole && m->state != PORTMAP_STATE_PENDING ? X_PH_UPDATE : X_PH_ADD;
}

static void pinhole_failed(portmap_client *c, portmap_mapping *m, const char *action, int code,
                           int64_t now)
{
    const char *why = NULL;
    pm_result r = { .err = pm_upnp_pinhole_error(code, &why) };
    char who[PM_ADDR_TEXT];

    if (code == 606 && pm_addr_is_set(&m->third)) {
        /* another protocol (PCP) may still open it for that host */
        pm_addr_fmt(&m->third, who, sizeof(who));
        r.err = PORTMAP_ERR_NOT_AUTHORIZED;
        r.cannot_serve = 1;
        pm_result_detail(&r, "pinhole for %s refused: " UPNP_PINHOLE_OWN "; %s: UPnP error %d",
                         who, action, code);
    } else {
        pm_result_detail(&r, "%s: UPnP error %d: %s", action, code, why ? why : "?");
    }
    PM_WARN(c, "upnp: IPv6 port %u: %s", m->internal_port, r.detail);
    pm_host_map_done(c, m, &r, now);
}

void pm_upnp_pinhole_reply(portmap_client *c, portmap_mapping *m, int code,
                                 const char *value, int64_t now)
{
    upnp_xchg *x = m->op_data;
    uint16_t uid;

    switch (x->step) {
    case X_PH_ADD:
    case X_PH_FIND:
        if (code != 0) {
            pinhole_failed(c, m, "AddPinhole", code, now);
        } else if (pm_upnp_unique_id(value, &uid) != 0) {
            pm_upnp_done(c, m, PORTMAP_ERR_PROTOCOL, "AddPinhole returned no UniqueID", now);
        } else if (x->step == X_PH_FIND) {
            m->pinhole_id = uid;
            m->has_pinhole = 1;
            x->step = X_PH_DELETE;
            pm_upnp_send_step(c, m, now);
        } else {
            if (m->has_pinhole && uid != m->pinhole_id)
                m->journaled = 0; /* a new id: the journal must learn it */
            m->pinhole_id = uid;
            m->has_pinhole = 1;
            pm_upnp_done(c, m, PORTMAP_OK, NULL, now);
        }
        break;
    case X_PH_UPDATE:
        if (code == 0) {
            pm_upnp_done(c, m, PORTMAP_OK, NULL, now);
        } else if (code == 704 || code == 402) {
            /* NoSuchEntry, or (miniupnpd) InvalidArgs for an id it does
             * not know: the router lost it, e.g. in a restart */
            PM_INFO(c, "upnp: the router lost the IPv6 pinhole of port %u; adding it again",
                    m->internal_port);
            m->has_pinhole = 0;
            x->step = X_PH_ADD;
            pm_upnp_send_step(c, m, now);
        } else {
            pinhole_failed(c, m, "UpdatePinhole", code, now);
        }
        break;
    case X_PH_DELETE:
        /* 704 (or 402 for an id unknown to miniupnpd): already gone,
         * which is what we wanted */
        if (code == 0 || code == 704 || code == 402)
            pm_upnp_done(c, m, PORTMAP_OK, NULL, now);
        else
            pinhole_failed(c, m, "DeletePinhole", code, now);
        break;
    default:
        break;
    }
}
