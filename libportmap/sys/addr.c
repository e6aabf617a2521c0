/*
 * pm_addr: IPv4 or IPv6 addresses, their text and socket forms.
 */
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys/addr.h"

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

pm_addr pm_addr_from_v4(uint32_t v4_be)
{
    pm_addr a = { .family = AF_INET };
    a.u.v4 = v4_be;
    return a;
}

pm_addr pm_addr_from_v6(const uint8_t v6[16], uint32_t scope)
{
    pm_addr a = { .family = AF_INET6 };
    memcpy(a.u.v6, v6, 16);
    /* a zone means something only on a link-local address */
    a.scope = pm_addr_is_link_local(&a) ? scope : 0;
    return a;
}

int pm_addr_is_set(const pm_addr *a)
{
    return a->family == AF_INET || a->family == AF_INET6;
}

int pm_addr_eq(const pm_addr *a, const pm_addr *b)
{
    if (a->family != b->family)
        return 0;
    if (a->family == AF_INET)
        return a->u.v4 == b->u.v4;
    if (a->family == AF_INET6)
        return a->scope == b->scope && memcmp(a->u.v6, b->u.v6, 16) == 0;
    return 1; /* both unset */
}

int pm_addr_in_prefix(const pm_addr *a, const pm_addr *net, unsigned prefix)
{
    const uint8_t *x, *y;
    unsigned bits = a->family == AF_INET6 ? 128 : 32;

    if (a->family != net->family || !a->family || prefix > bits)
        return 0;
    x = a->family == AF_INET6 ? a->u.v6 : (const uint8_t *)&a->u.v4;
    y = net->family == AF_INET6 ? net->u.v6 : (const uint8_t *)&net->u.v4;
    if (memcmp(x, y, prefix / 8) != 0)
        return 0;
    if (prefix % 8) {
        uint8_t mask = (uint8_t)(0xff << (8 - prefix % 8));
        return (x[prefix / 8] & mask) == (y[prefix / 8] & mask);
    }
    return 1;
}

int pm_addr_is_link_local(const pm_addr *a)
{
    return a->family == AF_INET6 && a->u.v6[0] == 0xfe && (a->u.v6[1] & 0xc0) == 0x80;
}

void pm_addr_fmt(const pm_addr *a, char *buf, size_t len)
{
    if (!len)
        return;
    buf[0] = '\0';
    if (pm_addr_is_set(a) && !inet_ntop(a->family, &a->u, buf, (socklen_t)len))
        buf[0] = '\0';
}

void pm_addr_url_host(const pm_addr *a, char *buf, size_t len)
{
    char t[INET6_ADDRSTRLEN];

    pm_addr_fmt(a, t, sizeof(t));
    snprintf(buf, len, a->family == AF_INET6 ? "[%s]" : "%s", t);
}

int pm_addr_parse(const char *s, pm_addr *out)
{
    char host[INET6_ADDRSTRLEN];
    const char *zone = strchr(s, '%');
    size_t n = zone ? (size_t)(zone - s) : strlen(s);
    uint8_t v6[16];
    struct in_addr v4;

    if (n == 0 || n >= sizeof(host))
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    if (!zone && inet_pton(AF_INET, host, &v4) == 1) {
        *out = pm_addr_from_v4(v4.s_addr);
        return 0;
    }
    if (inet_pton(AF_INET6, host, v6) != 1)
        return -1;
    *out = pm_addr_from_v6(v6, 0);
    if (zone) {
        char *end;
        unsigned long idx = strtoul(zone + 1, &end, 10);
        if (!zone[1])
            return -1;
        if (*end)
            idx = if_nametoindex(zone + 1);
        if (!idx || idx > UINT32_MAX || !pm_addr_is_link_local(out))
            return -1;
        out->scope = (uint32_t)idx;
    }
    return 0;
}

socklen_t pm_addr_sockaddr(const pm_addr *a, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sin->sin_addr.s_addr = a->u.v4;
        return sizeof(*sin);
    }
    if (a->family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        memcpy(&sin6->sin6_addr, a->u.v6, 16);
        sin6->sin6_scope_id = a->scope;
        return sizeof(*sin6);
    }
    return 0;
}

int pm_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, pm_addr *out, uint16_t *port)
{
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        *out = pm_addr_from_v4(sin->sin_addr.s_addr);
        if (port)
            *port = ntohs(sin->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        *out = pm_addr_from_v6(sin6->sin6_addr.s6_addr, sin6->sin6_scope_id);
        if (port)
            *port = ntohs(sin6->sin6_port);
        return 0;
    }
    return -1;
}

void pm_addr_to_pcp(const pm_addr *a, uint8_t out[16])
{
    memset(out, 0, 16);
    if (a->family == AF_INET6) {
        memcpy(out, a->u.v6, 16);
    } else {
        /* an unset address becomes ::ffff:0.0.0.0, PCP's "no IPv4 preference" */
        memcpy(out, v4_mapped_prefix, sizeof(v4_mapped_prefix));
        if (a->family == AF_INET)
            memcpy(out + 12, &a->u.v4, 4);
    }
}

pm_addr pm_addr_from_pcp(const uint8_t in[16], uint32_t scope)
{
    uint32_t v4;

    if (memcmp(in, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
        memcpy(&v4, in + 12, 4);
        return pm_addr_from_v4(v4);
    }
    return pm_addr_from_v6(in, scope);
}

pm_v6_kind pm_v6_kind_of(const uint8_t a[16], uint32_t ifa_flags)
{
    int ula = (a[0] & 0xfe) == 0xfc;
    int global = (a[0] & 0xe0) == 0x20; /* 2000::/3, the unicast space in use */

    if (ifa_flags & (IFA_F_DEPRECATED | IFA_F_TENTATIVE | IFA_F_DADFAILED))
        return PM_V6_UNFIT;
    if (!ula && !global)
        return PM_V6_UNFIT;
    if (ifa_flags & IFA_F_TEMPORARY)
        return ula ? PM_V6_TEMPORARY_ULA : PM_V6_TEMPORARY;
    return ula ? PM_V6_STABLE_ULA : PM_V6_STABLE;
}

const char *pm_v6_kind_name(pm_v6_kind k)
{
    switch (k) {
    case PM_V6_STABLE: return "stable";
    case PM_V6_STABLE_ULA: return "stable unique-local";
    case PM_V6_TEMPORARY: return "temporary";
    case PM_V6_TEMPORARY_ULA: return "temporary unique-local";
    default: return "unfit";
    }
}

/* Without inet_ntop: glibc's goes through sprintf, and every mapping's
 * info (and event) carries its external address as text. */
void pm_addr_str(uint32_t addr_be, char *buf, size_t len)
{
    const uint8_t *b = (const uint8_t *)&addr_be;
    char tmp[INET_ADDRSTRLEN], *p = tmp;

    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        *p++ = i < 3 ? '.' : '\0';
    }
    if ((size_t)(p - tmp) <= len)
        memcpy(buf, tmp, (size_t)(p - tmp));
    else if (len)
        buf[0] = '\0';
}

int pm_allow_parse(const char *s, uint32_t *addr_be, uint8_t *prefix)
{
    char host[INET_ADDRSTRLEN];
    const char *slash;
    struct in_addr a;
    unsigned long n = 32;
    size_t hlen;

    *addr_be = 0;
    *prefix = 0;
    if (!s || !*s)
        return 0;
    slash = strchr(s, '/');
    hlen = slash ? (size_t)(slash - s) : strlen(s);
    if (hlen == 0 || hlen >= sizeof(host))
        return -1;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (inet_pton(AF_INET, host, &a) != 1)
        return -1;
    if (slash) {
        char *end;
        if (slash[1] < '0' || slash[1] > '9')
            return -1;
        n = strtoul(slash + 1, &end, 10);
        if (*end || n < 1 || n > 32)
            return -1;
    }
    /* "10.0.0.5/24" is more likely a typo than a wish for the network:
     * refuse it rather than guess. */
    if (n < 32 && (ntohl(a.s_addr) & (0xffffffffu >> n)))
        return -1;
    *addr_be = a.s_addr;
    *prefix = (uint8_t)n;
    return 0;
}

void pm_allow_str(uint32_t addr_be, uint8_t prefix, char *buf, size_t len)
{
    char a[INET_ADDRSTRLEN];

    if (!prefix) {
        if (len)
            buf[0] = '\0';
        return;
    }
    pm_addr_str(addr_be, a, sizeof(a));
    if (prefix == 32)
        snprintf(buf, len, "%s", a);
    else
        snprintf(buf, len, "%s/%u", a, prefix);
}

const char *pm_addr_not_external(uint32_t addr_be)
{
    uint32_t a = ntohl(addr_be);

    if (a == 0)
        return "none: the router is not connected";
    if (a == 0xffffffffu)
        return "the broadcast address";
    switch (a >> 24) {
    case 0: return "\"this network\", 0.0.0.0/8";
    case 127: return "loopback";
    default: break;
    }
    if ((a >> 16) == (169u << 8 | 254))
        return "link-local";
    if ((a >> 28) == 0xe)
        return "multicast";
    if ((a >> 28) == 0xf)
        return "reserved, 240.0.0.0/4";
    return NULL;
}

int pm_addr_is_private(uint32_t addr_be)
{
    uint32_t a = ntohl(addr_be);
    return a == 0 ||
           (a >> 24) == 10 ||
           (a >> 24) == 127 ||
           (a >> 20) == (172u << 4 | 1) ||          /* 172.16/12 */
           (a >> 16) == (192u << 8 | 168) ||        /* 192.168/16 */
           (a >> 22) == (100u << 2 | 1) ||          /* 100.64/10 */
           (a >> 16) == (169u << 8 | 254);          /* 169.254/16 */
}
