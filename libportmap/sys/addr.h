/*
 * One IP address of either family, for what may be IPv4 or IPv6: the
 * gateway, our own address, a mapping's addresses, a URL's host. Pure
 * functions, no I/O.
 */
#ifndef PM_ADDR_H
#define PM_ADDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct pm_addr {
    int family;               /* AF_INET or AF_INET6; 0: none */
    /* The interface an IPv6 link-local address is on (the zone), else 0:
     * fe80::1 names a different router on every link. */
    uint32_t scope;
    union {
        uint32_t v4;          /* network byte order */
        uint8_t v6[16];
    } u;
} pm_addr;

/* Room for "[ffff:...:255.255.255.255%ifname-of-16]" and the NUL. */
#define PM_ADDR_TEXT 72

/* The two families by index, for per-family tables. */
enum pm_fam { PM_V4 = 0, PM_V6 = 1, PM_FAMS = 2 };

static inline int pm_fam_af(int fam)
{
    return fam == PM_V6 ? AF_INET6 : AF_INET;
}

static inline int pm_af_fam(int af)
{
    return af == AF_INET6 ? PM_V6 : PM_V4;
}

pm_addr pm_addr_from_v4(uint32_t v4_be);
pm_addr pm_addr_from_v6(const uint8_t v6[16], uint32_t scope);
int pm_addr_is_set(const pm_addr *a);
/* Same family, bytes and zone. */
int pm_addr_eq(const pm_addr *a, const pm_addr *b);
/* Whether a is in net/prefix (same family; the bits past prefix of
 * either are ignored). */
int pm_addr_in_prefix(const pm_addr *a, const pm_addr *net, unsigned prefix);
/* IPv6 fe80::/10 */
int pm_addr_is_link_local(const pm_addr *a);

/* Text without the zone: "10.0.0.1", "2001:db8::1". "" for none. */
void pm_addr_fmt(const pm_addr *a, char *buf, size_t len);
/* A URL's host: "10.0.0.1", "[2001:db8::1]", "[fe80::1%25<scope>]" is not
 * made: routers' link-local URLs are fetched through the zone we know. */
void pm_addr_url_host(const pm_addr *a, char *buf, size_t len);
/* "A.B.C.D" or an IPv6 literal, with an optional "%ifname" or "%index"
 * zone. Returns 0, or -1 when it is neither. */
int pm_addr_parse(const char *s, pm_addr *out);

/* To and from the socket API. */
socklen_t pm_addr_sockaddr(const pm_addr *a, uint16_t port, struct sockaddr_storage *ss);
int pm_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, pm_addr *out, uint16_t *port);

/* To and from the 16-byte form PCP carries (IPv4 as ::ffff:a.b.c.d). The
 * PCP form has no zone: scope is given by the caller. */
void pm_addr_to_pcp(const pm_addr *a, uint8_t out[16]);
pm_addr pm_addr_from_pcp(const uint8_t in[16], uint32_t scope);

/*
 * IPv6 addresses of this host fit to open to the outside, best first: a
 * global address before a unique-local one (fc00::/7), a stable address
 * before a temporary (privacy) one, which the kernel rotates away within
 * a day and the pinhole with it; never deprecated, tentative, link-local
 * or loopback ones.
 */
typedef enum pm_v6_kind {
    PM_V6_STABLE = 0,         /* a global, non-temporary address */
    PM_V6_STABLE_ULA,         /* unique-local, non-temporary */
    PM_V6_TEMPORARY,          /* RFC 8981 privacy address */
    PM_V6_TEMPORARY_ULA,
    PM_V6_UNFIT,              /* link-local, deprecated, tentative... */
} pm_v6_kind;

/* How fit addr is, from its IFA_F_* flags and scope (pure). */
pm_v6_kind pm_v6_kind_of(const uint8_t addr[16], uint32_t ifa_flags);
const char *pm_v6_kind_name(pm_v6_kind k); /* "stable", "temporary"... */

/* IPv4 helpers on network-order addresses */
void pm_addr_str(uint32_t addr_be, char *buf, size_t len);
/* "A.B.C.D" or "A.B.C.D/N" with no bits set past N; NULL or "" gives
 * prefix 0 (anyone). Returns 0, or -1 when malformed. */
int pm_allow_parse(const char *s, uint32_t *addr_be, uint8_t *prefix);
/* "A.B.C.D" for a /32, "A.B.C.D/N" otherwise, "" for anyone. */
void pm_allow_str(uint32_t addr_be, uint8_t prefix, char *buf, size_t len);
int pm_addr_is_private(uint32_t addr_be); /* RFC 1918, CGN, loopback, link-local, 0 */
/* What an IPv4 address is when no host on the Internet can have it
 * (loopback, 0/8, link-local, multicast, 240/4, the broadcast address),
 * in a few words; NULL for any other address. A router that gives one
 * as its external address does not know it. */
const char *pm_addr_not_external(uint32_t addr_be);

#endif
