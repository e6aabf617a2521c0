/*
 * What the PCP backend keeps per router: its sockets, the server's epoch,
 * and the listener of its announcements. A PCP server sends ANNOUNCE to
 * all hosts when it starts (RFC 6887 14.1.3); it means "check now". An announcement is only a prompt to ask (its source address can
 * be forged): its epoch is not taken, the renewal of one of our mappings
 * tells it (check_by_renewal). Only datagrams from the gateway's port
 * 5351 count; NAT-PMP's
 * (version 0) are the NAT-PMP backend's, which hears them on its own
 * socket.
 */
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/pcp/pcp_int.h"
#include "sys/epoch.h"
#include "sys/mcast.h"

static void init_fam(pcp_state *st, int fam)
{
    memset(st, 0, sizeof(*st));
    st->fam = fam;
    st->fd = -1;
    st->ann_fd = -1;
}

void *pm_pcp_state_new(void)
{
    pcp_states *all = calloc(1, sizeof(*all));

    for (int f = 0; all && f < PM_FAMS; f++)
        init_fam(&all->fam[f], f);
    return all;
}

void pm_pcp_close_fam(pcp_state *st)
{
    if (st->fd >= 0)
        close(st->fd);
    if (st->ann_fd >= 0)
        close(st->ann_fd);
    init_fam(st, st->fam);
}

void pm_pcp_state_free(void *p)
{
    pcp_states *all = p;

    for (int f = 0; f < PM_FAMS; f++)
        pm_pcp_close_fam(&all->fam[f]);
    pm_pcp_xchg_free(all);
    free(all);
}

pcp_state *pm_pcp_state(portmap_client *c, int fam)
{
    pcp_states *all = pm_backend_state(c, PORTMAP_METHOD_PCP);
    return all ? &all->fam[fam] : NULL;
}

pcp_state *pm_pcp_state_if_any(portmap_client *c, int fam)
{
    pcp_states *all = pm_backend_state_if_any(c, PORTMAP_METHOD_PCP);
    return all ? &all->fam[fam] : NULL;
}

/* A reply that matched a request of ours carries the server's epoch; one
 * that went back means the router lost its mappings. */
void pm_pcp_check_epoch(portmap_client *c, pcp_state *st, uint32_t epoch, int64_t now)
{
    int stalled = pm_epoch_stalled(&st->epoch, epoch, now);

    if (!pm_epoch_check_pcp(&st->epoch, epoch, now))
        pm_host_router_reset(c, st->fam, PORTMAP_METHOD_PCP, epoch, now);
    else if (stalled) /* a young router may have restarted: renewals tell */
        pm_host_router_restarted(c, st->fam, PORTMAP_METHOD_PCP, now);
}

/* Optional: without it, renewals find resets. On the IPv6 router's link,
 * the interface of its route. */
void pm_pcp_listen(portmap_client *c, int fam)
{
    pcp_state *st = pm_pcp_state(c, fam);

    if (st && st->ann_fd < 0)
        st->ann_fd = fam == PM_V6 ? pm_mcast_open_announce6(if_nametoindex(c->net[fam].ifname))
                                  : pm_mcast_open_announce4();
}

/*
 * A PCP server sends ANNOUNCE to all hosts when it starts (RFC 6887
 * 14.1.3). It means "check now": the epoch is checked like a reply's and
 * every mapping in use is refreshed soon. Only datagrams from the
 * gateway's port 5351 count; NAT-PMP's (version 0) are the NAT-PMP
 * backend's, which hears them on its own socket.
 */
void pm_pcp_announce(portmap_client *c, int fam, const uint8_t *buf, size_t len, int64_t now)
{
    pcp_state *st = pm_pcp_state(c, fam);
    pm_pcp_response r;

    if (!st || (len >= 1 && buf[0] == 0))
        return;
    if (pm_pcp_decode_response(buf, len, &r) != PM_PCP_DECODE_OK || r.opcode != 0 ||
        r.result != 0) {
        c->counters.dropped_malformed++;
        return;
    }
    PM_INFO(c, "the router announced itself (PCP%s, epoch %u s): checking",
            fam == PM_V6 ? " over IPv6" : "", r.epoch);
    c->counters.announcements++;
    pm_host_announced(c, fam, now);
}

void pm_pcp_read_announcements(portmap_client *c, pcp_state *st, int64_t now)
{
    /* bounded: a flood cannot keep the engine here */
    for (int i = 0; i < 16; i++) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        uint8_t buf[PM_PCP_MAX_MSG + 4];
        pm_addr src;
        uint16_t port = 0;
        ssize_t n = recvfrom(st->ann_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return;
        if (n >= 1 && buf[0] == 0)
            continue; /* NAT-PMP's */
        if (pm_addr_from_sockaddr((struct sockaddr *)&from, fl, &src, &port) != 0 ||
            port != PM_PCP_SERVER_PORT || !pm_addr_eq(&src, &c->net[st->fam].gateway)) {
            c->counters.dropped_wrong_source++;
            PM_DEBUG(c, "dropped an announcement that did not come from the gateway's port %u",
                     PM_PCP_SERVER_PORT);
            continue;
        }
        pm_pcp_announce(c, st->fam, buf, (size_t)n, now);
    }
}
