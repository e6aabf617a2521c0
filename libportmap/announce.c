/*
 * Unsolicited announcements from the router on 224.0.0.1:5350.
 *
 * A PCP server sends ANNOUNCE there when it starts (RFC 6887 14.1.3) and
 * a NAT-PMP server sends its public address there when it restarts or
 * the address changes (RFC 6886 3.2.1). Either means "check now": the
 * announcement's epoch is checked like any reply's, and every mapping in
 * use, whatever its protocol, is refreshed soon, since one lost datagram
 * must not cost a whole refresh period. Only datagrams from the current
 * gateway's port 5351 count; anything else is dropped and counted.
 *
 * A UPnP device says it has restarted with an SSDP NOTIFY carrying a new
 * BOOTID.UPNP.ORG (UDA 1.1), which miniupnpd sends when it starts; that
 * too, from the gateway only, starts the same early refresh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "natpmp_wire.h"
#include "pcp_wire.h"
#include "upnp_wire.h"

#define PM_ANNOUNCE_PORT 5350
#define PM_SERVER_PORT 5351
/* refreshes after an announcement are spread over this long */
#define PM_ANNOUNCE_SPREAD_MS 1000

int pm_announce_open(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PM_ANNOUNCE_PORT) };
    struct ip_mreqn mr = { .imr_address.s_addr = htonl(INADDR_ANY) };
    int one = 1, fd;

    /* RFC 6886 3.2.1: bound to the group address, so that unicast to 5350
     * is not taken; SO_REUSEPORT so that every client on the host hears. */
    sa.sin_addr.s_addr = htonl(0xE0000001); /* 224.0.0.1 */
    mr.imr_multiaddr = sa.sin_addr;
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    /* all-hosts is joined by every interface already; asking again only
     * makes it explicit, and its failure changes nothing */
    setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr));
    return fd;
}

/* IPv6: a PCP server announces itself to ff02::1 (all nodes, joined by
 * every interface) on the link of the IPv6 router; bound to that group so
 * unicast to 5350 is not taken. */
int pm_announce_open6(uint32_t ifindex)
{
    struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(PM_ANNOUNCE_PORT),
                               .sin6_scope_id = ifindex };
    int one = 1, fd;

    inet_pton(AF_INET6, "ff02::1", &sa.sin6_addr);
    fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int pm_announce_ssdp_open(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(1900) };
    struct ip_mreqn mr = { .imr_address.s_addr = htonl(INADDR_ANY) };
    int one = 1, fd;

    sa.sin_addr.s_addr = htonl(0xEFFFFFFA); /* 239.255.255.250 */
    mr.imr_multiaddr = sa.sin_addr;
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Hurry the refresh of every mapping in use: its reply carries the epoch
 * and the external address, which is what needs checking. */
static void check_everything_soon(portmap_client *c, int64_t now)
{
    for (portmap_mapping *m = c->mappings; m; m = m->next) {
        int64_t at;
        if (m->state != PORTMAP_STATE_MAPPED || m->op != PM_OP_NONE)
            continue;
        at = now + (int64_t)(pm_rand_unit(c) * PM_ANNOUNCE_SPREAD_MS);
        if (at < m->refresh_at)
            m->refresh_at = at;
    }
}

void pm_announce_handle(portmap_client *c, const uint8_t *buf, size_t len, int64_t now)
{
    pm_announce_handle_fam(c, PM_V4, buf, len, now);
}

void pm_announce_handle_fam(portmap_client *c, int fam, const uint8_t *buf, size_t len,
                            int64_t now)
{
    if (len >= 1 && buf[0] == 2) {
        pm_pcp_response r;
        if (pm_pcp_decode_response(buf, len, &r) != PM_PCP_DECODE_OK || r.opcode != 0 ||
            r.result != 0) {
            c->counters.dropped_malformed++;
            return;
        }
        PM_INFO(c, "the router announced itself (PCP%s, epoch %u s)",
                fam == PM_V6 ? " over IPv6" : "", r.epoch);
        c->counters.announcements++;
        if (c->net[fam].avail[PORTMAP_METHOD_PCP] == PM_AVAIL_YES)
            pm_engine_server_epoch(c, fam, PORTMAP_METHOD_PCP, r.epoch, now);
    } else if (len >= 1 && buf[0] == 0 && fam == PM_V4) {
        pm_natpmp_reply r;
        char addr[PORTMAP_ADDRSTRLEN];
        if (pm_natpmp_decode(buf, len, &r) != PM_NATPMP_OK || r.opcode != 0 || r.result != 0) {
            c->counters.dropped_malformed++;
            return;
        }
        pm_addr_str(r.public_addr, addr, sizeof(addr));
        PM_INFO(c, "the router announced itself (NAT-PMP, epoch %u s, address %s)", r.epoch, addr);
        c->counters.announcements++;
        if (c->net[PM_V4].avail[PORTMAP_METHOD_NATPMP] == PM_AVAIL_YES)
            pm_engine_server_epoch(c, PM_V4, PORTMAP_METHOD_NATPMP, r.epoch, now);
        if (r.public_addr && c->ext_addr && r.public_addr != c->ext_addr)
            PM_INFO(c, "the router's external address is now %s", addr);
        if (r.public_addr) {
            c->ext_addr = r.public_addr;
            c->ext_addr_at = now;
            c->double_nat = pm_addr_is_private(r.public_addr);
        }
    } else {
        c->counters.dropped_malformed++;
        return;
    }
    check_everything_soon(c, now);
}

/* Engine thread, lock held: fam's announcement socket is readable. */
void pm_announce_read(portmap_client *c, int fam, int64_t now)
{
    int fd = fam == PM_V6 ? c->ann6_fd : c->ann_fd;

    /* bounded: a flood cannot keep the engine here */
    for (int i = 0; i < 16; i++) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        uint8_t buf[PM_PCP_MAX_MSG + 4];
        pm_addr src;
        uint16_t port = 0;
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return;
        if (pm_addr_from_sockaddr((struct sockaddr *)&from, fl, &src, &port) != 0 ||
            port != PM_SERVER_PORT || !pm_addr_eq(&src, &c->net[fam].gateway)) {
            c->counters.dropped_wrong_source++;
            PM_DEBUG(c, "dropped an announcement that did not come from the gateway's port %u",
                     PM_SERVER_PORT);
            continue;
        }
        pm_announce_handle_fam(c, fam, buf, (size_t)n, now);
    }
}

/* Engine thread, lock held: an SSDP datagram on the NOTIFY socket. */
void pm_announce_ssdp_read(portmap_client *c, int64_t now)
{
    for (int i = 0; i < 16; i++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        char buf[2048];
        pm_ssdp_answer a;
        ssize_t n = recvfrom(c->notify_fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return;
        /* searches and notifies of every other device on the LAN land here
         * too: only the gateway's own NOTIFY is looked at */
        if (fl != sizeof(from) || !pm_gw4(c) || from.sin_addr.s_addr != pm_gw4(c))
            continue;
        buf[n] = '\0';
        if (pm_ssdp_parse(buf, (size_t)n, &a) != 0 || !a.is_notify)
            continue;
        if (pm_upnp_notified(c, &a)) {
            c->counters.announcements++;
            check_everything_soon(c, now);
        }
    }
}
