/*
 * IPv4 port mappings over WANIPConnection / WANPPPConnection: add (any
 * port on IGD v2), renew, check a permanent entry, delete after checking
 * the owner, and the routers' error codes (725 permanent leases only,
 * 718 conflicts, 501 for a taken port, 724 same port only...).
 */
#include <miniupnpc/upnperrors.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/upnp/upnp.h"

static const char *proto_str(portmap_transport p)
{
    return p == PORTMAP_TCP ? "TCP" : "UDP";
}

/* ---- mappings ---- */

/* A port derived from our address and the internal port, so a restarted
 * program asks for the same one again after a conflict. */
static uint16_t alt_port(const pm_addr *local, uint16_t internal, unsigned attempt)
{
    uint32_t h = 2166136261u;
    uint8_t b[8];
    memcpy(b, &local->u.v4, 4);
    b[4] = (uint8_t)(internal >> 8);
    b[5] = (uint8_t)internal;
    b[6] = (uint8_t)attempt;
    b[7] = 0x5a;
    for (size_t i = 0; i < sizeof(b); i++)
        h = (h ^ b[i]) * 16777619u;
    return (uint16_t)(1024 + h % (65535 - 1024));
}

/* The connections fam's router has from us now: the description, the
 * external address, each mapping's exchange. */
static int conns_in_use(portmap_client *c, const upnp_state *st)
{
    int n = pm_http_active(&st->desc) + pm_http_active(&st->extip);

    for (portmap_mapping *m = pm_ops_mappings(c, PORTMAP_METHOD_UPNP); m; m = m->next)
        if (pm_upnp_op_active(m) && m->fam == st->fam)
            n += pm_http_active(&((upnp_xchg *)m->op_data)->h);
    return n;
}

int pm_upnp_queue_ready(portmap_client *c, int fam)
{
    upnp_state *st = pm_upnp_state_if_any(c, fam);

    if (!st || !st->have_igd || conns_in_use(c, st) >= UPNP_MAX_CONNS)
        return 0;
    for (portmap_mapping *m = pm_ops_mappings(c, PORTMAP_METHOD_UPNP); m; m = m->next)
        if (pm_upnp_op_active(m) && m->fam == fam && ((upnp_xchg *)m->op_data)->queued)
            return 1;
    return 0;
}

void pm_upnp_start_queued(portmap_client *c, int fam, int64_t now)
{
    upnp_state *st = pm_upnp_state_if_any(c, fam);
    int free_conns;

    if (!st || !st->have_igd)
        return;
    free_conns = UPNP_MAX_CONNS - conns_in_use(c, st);
    for (portmap_mapping *m = pm_ops_mappings(c, PORTMAP_METHOD_UPNP); m && free_conns > 0;
         m = m->next) {
        if (pm_upnp_op_active(m) && m->fam == fam && ((upnp_xchg *)m->op_data)->queued) {
            pm_upnp_send_step(c, m, now);
            free_conns--;
        }
    }
}

int pm_upnp_send_step(portmap_client *c, portmap_mapping *m, int64_t now)
{
    upnp_state *st = pm_upnp_state_if_any(c, m->fam);
    upnp_xchg *x = m->op_data;
    char ext[8], in[8], lease[16], client[PM_ADDR_TEXT], remote[PORTMAP_ADDRSTRLEN + 4], uid[8];
    int64_t deadline = m->op_deadline == PM_NEVER ? now + HTTP_MAX_MS : m->op_deadline;
    pm_soap_arg a[8];
    const char *action;
    size_t n = 0;

    if (!st || !st->have_igd) {
        /* no timer: pm_upnp_finish_description() sends it */
        x->step = X_WAIT_IGD;
        x->retry_at = PM_NEVER;
        return 0;
    }
    snprintf(ext, sizeof(ext), "%u", x->try_port);
    snprintf(in, sizeof(in), "%u", m->internal_port);
    snprintf(lease, sizeof(lease), "%u", x->lease);
    if (m->fam == PM_V6) {
        action = pm_upnp_pinhole_args(m, x, a, &n, client, sizeof(client), in, lease, uid);
        goto send;
    }
    pm_addr_fmt(&m->local, client, sizeof(client));
    /* one host (a /32) or anyone: pick_method() sees to it */
    pm_allow_str(m->allow_addr, m->allow_prefix, remote, sizeof(remote));
    a[n++] = (pm_soap_arg){ "NewRemoteHost", remote };
    a[n++] = (pm_soap_arg){ "NewExternalPort", ext };
    a[n++] = (pm_soap_arg){ "NewProtocol", proto_str(m->proto) };
    switch (x->step) {
    case X_ADD:
    case X_ADD_ANY:
        a[n++] = (pm_soap_arg){ "NewInternalPort", in };
        a[n++] = (pm_soap_arg){ "NewInternalClient", client };
        a[n++] = (pm_soap_arg){ "NewEnabled", "1" };
        a[n++] = (pm_soap_arg){ "NewPortMappingDescription", m->desc };
        a[n++] = (pm_soap_arg){ "NewLeaseDuration", lease };
        action = x->step == X_ADD_ANY ? "AddAnyPortMapping" : "AddPortMapping";
        break;
    case X_DELETE:
        action = "DeletePortMapping";
        break;
    default: /* X_CHECK, X_OWNER, X_CONFLICT */
        action = "GetSpecificPortMappingEntry";
        break;
    }
send:
    x->queued = conns_in_use(c, st) >= UPNP_MAX_CONNS;
    if (x->queued) {
        x->retry_at = PM_NEVER; /* pm_upnp_start_queued() sends it */
        return 0;
    }
    if (pm_upnp_soap_start(c, st, &x->h, action, a, n, now, deadline) != 0) {
        x->retry_at = now + 1000;
        return -1;
    }
    m->op_sent = 1;
    x->retry_at = PM_NEVER;
    return 0;
}

static void first_step(portmap_client *c, portmap_mapping *m)
{
    upnp_xchg *x = m->op_data;

    if (m->fam == PM_V6) {
        pm_upnp_first_pinhole_step(m, x);
        return;
    }
    x->lease = m->permanent ? 0 : m->want_lifetime;
    if (m->op == PM_OP_DELETE) {
        x->try_port = m->ext_port ? m->ext_port : m->internal_port;
        /* Every delete asks first whose the entry is: a router without
         * secure mode deletes another host's forward of that port */
        x->step = X_OWNER;
    } else if (m->state == PORTMAP_STATE_MAPPED && m->permanent) {
        x->try_port = m->ext_port;
        x->step = X_CHECK; /* a permanent entry: check it is still there */
    } else if (m->ext_port) {
        x->try_port = m->ext_port; /* renew what we hold */
        x->step = X_ADD;
    } else {
        /* Never external port 0: IGDv2 picks one for us, v1 gets ours. */
        x->try_port = m->want_ext_port ? m->want_ext_port : m->internal_port;
        x->step = c->net[PM_V4].upnp_version == 2 && !m->want_ext_port ? X_ADD_ANY : X_ADD;
    }
}

int pm_upnp_start(portmap_client *c, portmap_mapping *m, int64_t now)
{
    upnp_xchg *x = m->op_data;

    if (!x) {
        x = calloc(1, sizeof(*x));
        if (!x)
            return -1;
        x->h.fd = -1;
        x->retry_at = PM_NEVER;
        m->op_data = x;
    }
    pm_http_reset(&x->h);
    x->conflicts = 0;
    x->tried_lease0 = x->tried_same_port = 0;
    x->fault[0] = '\0';
    first_step(c, m);
    return pm_upnp_send_step(c, m, now);
}

void pm_upnp_stop(portmap_client *c, portmap_mapping *m)
{
    upnp_xchg *x = m->op_data;
    (void)c;
    if (x)
        pm_http_reset(&x->h);
    free(x);
    m->op_data = NULL;
}

void pm_upnp_start_waiting(portmap_client *c, int fam, int64_t now)
{
    for (portmap_mapping *m = c->mappings; m; m = m->next) {
        upnp_xchg *x = m->op_data;
        if (m->fam == fam && m->op != PM_OP_NONE && m->op_method == PORTMAP_METHOD_UPNP && x &&
            x->step == X_WAIT_IGD) {
            first_step(c, m);
            pm_upnp_send_step(c, m, now);
        }
    }
}

void pm_upnp_done(portmap_client *c, portmap_mapping *m, portmap_error err, const char *detail,
                 int64_t now)
{
    upnp_xchg *x = m->op_data;
    pm_result r = { .err = err };

    if (detail)
        pm_result_detail(&r, "%s", detail);

    if (err == PORTMAP_OK && m->op == PM_OP_MAP) {
        r.ext_port = x->try_port;
        r.lifetime = x->lease ? x->lease : m->want_lifetime;
        r.permanent = x->lease == 0;
        /* unset while GetExternalIPAddress, run alongside, has not
         * answered: the engine then holds "mapped" until it has. A
         * pinhole opens our own address. */
        if (m->fam == PM_V6)
            r.ext = m->local;
        else if (c->ext_addr)
            r.ext = pm_addr_from_v4(c->ext_addr);
    }
    pm_host_map_done(c, m, &r, now);
}

static portmap_error map_upnp_error(int code, int *retry_later)
{
    *retry_later = 0;
    switch (code) {
    case 606: return PORTMAP_ERR_NOT_AUTHORIZED;
    case 726: return PORTMAP_ERR_UNSUPPORTED; /* RemoteHostOnlySupportsWildcard */
    case 718:
    case 729: return PORTMAP_ERR_PORT_IN_USE;
    case 728: *retry_later = 1; return PORTMAP_ERR_NO_RESOURCES;
    default: return PORTMAP_ERR_REFUSED; /* 501 too: the router said what failed */
    }
}

/* The add failed for good with code: the caller is told the code, its
 * name and the router's own words for it. secure: the refusal is of a
 * mapping for another host (606, or 718 for a free port). */
static void add_failed_as(portmap_client *c, portmap_mapping *m, int code, int secure, int64_t now)
{
    upnp_xchg *x = m->op_data;
    const char *name = strupnperror(code);
    portmap_error err;
    char detail[PM_REASON_LEN];
    char who[PM_ADDR_TEXT];
    int later;
    size_t n;

    err = secure ? PORTMAP_ERR_NOT_AUTHORIZED : map_upnp_error(code, &later);
    if (secure)
        later = 0;
    pm_addr_fmt(&m->local, who, sizeof(who));
    n = secure ? (size_t)snprintf(detail, sizeof(detail), "mapping for %s refused: "
                                  UPNP_SECURE_MODE "; ", who) : 0;
    if (x->fault[0] && (!name || strcmp(x->fault, name) != 0))
        snprintf(detail + n, sizeof(detail) - n, "UPnP error %d: %s; the router said \"%s\"",
                 code, name ? name : "unknown", x->fault);
    else
        snprintf(detail + n, sizeof(detail) - n, "UPnP error %d: %s", code,
                 name ? name : "unknown");
    PM_WARN(c, "upnp: port %u: %s", m->internal_port, detail);
    if (later || secure) {
        /* secure: another protocol may still map it for that host */
        pm_result r = { .err = later ? PORTMAP_ERR_NO_RESOURCES : err, .cannot_serve = secure };
        pm_result_detail(&r, "%s", detail);
        pm_host_map_done(c, m, &r, now);
        return;
    }
    pm_upnp_done(c, m, err, detail, now);
}

static void add_failed(portmap_client *c, portmap_mapping *m, int code, int64_t now)
{
    add_failed_as(c, m, code, 0, now);
}

/* The port asked for is another host's (718, 729, or 501 said so): the
 * next of the ports derived from ours is asked for. */
static void try_another_port(portmap_client *c, portmap_mapping *m, int code, int64_t now)
{
    upnp_xchg *x = m->op_data;

    x->try_port = alt_port(&m->local, m->internal_port, x->conflicts++);
    x->step = X_ADD;
    PM_INFO(c, "upnp: external port taken (error %d); trying %u", code, x->try_port);
    pm_upnp_send_step(c, m, now);
}

static void handle_add_error(portmap_client *c, portmap_mapping *m, int code, int64_t now)
{
    upnp_xchg *x = m->op_data;

    if ((code == 725 || code == 402) && x->lease && !x->tried_lease0) {
        PM_WARN(c, "upnp: the router answered error %d (%s) to a %u s lease: "
                   "retrying with a permanent one, released on exit",
                code, strupnperror(code) ? strupnperror(code) : "?", x->lease);
        x->tried_lease0 = 1;
        x->lease = 0;
        m->permanent = 1;
        pm_upnp_send_step(c, m, now);
        return;
    }
    if (code == 401 && x->step == X_ADD_ANY) { /* no AddAnyPortMapping after all */
        x->step = X_ADD;
        pm_upnp_send_step(c, m, now);
        return;
    }
    if (code == 606 && pm_addr_is_set(&m->third)) {
        add_failed_as(c, m, code, 1, now);
        return;
    }
    /* For another host, a 718 is either a port taken or secure mode's
     * refusal of that host: whose the port is tells which */
    if ((code == 718 || code == 729) && m->state == PORTMAP_STATE_PENDING &&
        x->conflicts < MAX_CONFLICT_TRIES && (!pm_addr_is_set(&m->third) || code == 729)) {
        try_another_port(c, m, code, now);
        return;
    }
    /* Some routers answer 501 (Action Failed) for a port another host
     * holds: a conflict if the router says the port is another's. */
    if ((code == 501 || code == 718) && m->state == PORTMAP_STATE_PENDING &&
        (code == 718 || x->step == X_ADD) && x->conflicts < MAX_CONFLICT_TRIES) {
        x->conflict_code = code;
        x->step = X_CONFLICT;
        pm_upnp_send_step(c, m, now);
        return;
    }
    if (code == 724 && !x->tried_same_port) {
        x->tried_same_port = 1;
        x->try_port = m->internal_port;
        x->step = X_ADD;
        pm_upnp_send_step(c, m, now);
        return;
    }
    add_failed(c, m, code, now);
}

static void handle_reply(portmap_client *c, portmap_mapping *m, int64_t now)
{
    upnp_xchg *x = m->op_data;
    char value[64] = "";
    int code;

    if (x->h.state == PM_HTTPC_FAILED) {
        PM_DEBUG(c, "upnp: exchange for port %u failed: %s", m->internal_port, x->h.why);
        pm_http_reset(&x->h);
        x->retry_at = now + 1000; /* within the op's own deadline */
        return;
    }
    if (x->h.resp.status == 401) {
        /* TR-064 routers guard their actions with HTTP authentication */
        pm_http_reset(&x->h);
        pm_upnp_done(c, m, PORTMAP_ERR_NOT_AUTHORIZED, "the router asks for a password (HTTP "
                     "401 Unauthorized, as TR-064 routers may), which libportmap does not send",
                     now);
        return;
    }
    if (m->fam == PM_V6) {
        int add = x->step == X_PH_ADD || x->step == X_PH_FIND;
        code = pm_upnp_soap_result(&x->h, add ? "UniqueID" : NULL, value, sizeof(value));
        pm_http_reset(&x->h);
        pm_upnp_pinhole_reply(c, m, code, value, now);
        return;
    }
    code = pm_upnp_soap_result(&x->h, x->step == X_ADD_ANY ? "NewReservedPort"
                              : x->step == X_OWNER || x->step == X_CONFLICT ? "NewInternalClient"
                                                                            : NULL,
                       value, sizeof(value));
    if (code > 0 && (x->step == X_ADD || x->step == X_ADD_ANY))
        pm_soap_fault_text(x->h.resp.body, x->h.resp.body_len, x->fault, sizeof(x->fault));
    pm_http_reset(&x->h);
    switch (x->step) {
    case X_ADD_ANY:
        if (code == 0) {
            uint16_t p = pm_upnp_port(value);
            if (!p) {
                pm_upnp_done(c, m, PORTMAP_ERR_PROTOCOL, "AddAnyPortMapping returned no port", now);
                return;
            }
            x->try_port = p;
        }
        /* fall through */
    case X_ADD:
        if (code == 0)
            pm_upnp_done(c, m, PORTMAP_OK, NULL, now);
        else
            handle_add_error(c, m, code, now);
        break;
    case X_CHECK:
        if (code == 0) {
            pm_upnp_done(c, m, PORTMAP_OK, NULL, now);
        } else { /* 714: the router lost our permanent entry: add it again */
            PM_INFO(c, "upnp: the router lost port %u (error %d); adding it again", x->try_port, code);
            x->step = X_ADD;
            pm_upnp_send_step(c, m, now);
        }
        break;
    case X_OWNER: {
        char mine[PM_ADDR_TEXT];
        pm_addr_fmt(&m->local, mine, sizeof(mine));
        if (code == 714) {
            /* gone already: what a release wanted; a question, not found */
            pm_upnp_done(c, m, m->verify_owner ? PORTMAP_ERR_NOT_FOUND : PORTMAP_OK,
                         m->verify_owner ? "no such mapping on the router" : NULL, now);
        } else if (code == 0 && strcmp(value, mine) != 0) {
            pm_upnp_done(c, m, PORTMAP_ERR_NOT_AUTHORIZED, "the mapping belongs to another host", now);
        } else if (code != 0 && m->verify_owner) {
            /* no record of ours and no answer whose it is: left alone */
            pm_upnp_done(c, m, PORTMAP_ERR_NOT_AUTHORIZED,
                         "the router would not say whose the mapping is", now);
        } else {
            /* ours (or ours by our record, on a router that will not
             * answer the question) */
            x->step = X_DELETE;
            pm_upnp_send_step(c, m, now);
        }
        break;
    }
    case X_CONFLICT: {
        char mine[PM_ADDR_TEXT];
        pm_addr_fmt(&m->local, mine, sizeof(mine));
        if (code == 0 && value[0] && strcmp(value, mine) != 0)
            try_another_port(c, m, x->conflict_code, now);
        else /* free, ours, or not said: the error was something else */
            add_failed_as(c, m, x->conflict_code,
                          x->conflict_code == 718 && pm_addr_is_set(&m->third), now);
        break;
    }
    case X_DELETE:
        /* 714: already gone, which is what we wanted */
        pm_upnp_done(c, m, code == 0 || code == 714 ? PORTMAP_OK : PORTMAP_ERR_REFUSED,
             code ? "DeletePortMapping failed" : NULL, now);
        break;
    default:
        break;
    }
}

void pm_upnp_step_mapping(portmap_client *c, portmap_mapping *m, short revents, int64_t now)
{
    upnp_xchg *x = m->op_data;

    if (x->step == X_WAIT_IGD)
        return;
    if (!pm_http_active(&x->h)) {
        if (x->retry_at != PM_NEVER && now >= x->retry_at)
            pm_upnp_send_step(c, m, now);
        return;
    }
    if (pm_http_step(&x->h, revents, now))
        handle_reply(c, m, now);
}
