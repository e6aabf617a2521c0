/*
 * Small shared helpers: time, randomness, addresses, logging, names.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "internal.h"

int64_t pm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pm_random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* xorshift128+: only for retransmission jitter and refresh spreading,
 * where predictability does no harm; seeded from getrandom. */
double pm_rand_unit(void *ctx)
{
    portmap_client *c = ctx;
    uint64_t s1 = c->rng_state[0];
    const uint64_t s0 = c->rng_state[1];
    c->rng_state[0] = s0;
    s1 ^= s1 << 23;
    c->rng_state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return (double)((c->rng_state[1] + s0) >> 11) / 9007199254740992.0;
}

void pm_addr_str(uint32_t addr_be, char *buf, size_t len)
{
    struct in_addr a = { .s_addr = addr_be };
    if (!inet_ntop(AF_INET, &a, buf, (socklen_t)len) && len)
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

const char *pm_method_label(portmap_method m)
{
    switch (m) {
    case PORTMAP_METHOD_PCP: return "PCP";
    case PORTMAP_METHOD_NATPMP: return "NAT-PMP";
    case PORTMAP_METHOD_UPNP: return "UPnP-IGD";
    default: return "?";
    }
}

void pm_result_detail(pm_result *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
}

int pm_method_can_allow(portmap_method method, uint8_t prefix)
{
    switch (method) {
    case PORTMAP_METHOD_PCP: return 1;
    case PORTMAP_METHOD_UPNP: return prefix == 0 || prefix == 32; /* NewRemoteHost: one host */
    case PORTMAP_METHOD_NATPMP: return prefix == 0;
    default: return prefix == 0;
    }
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

void pm_log(portmap_client *c, portmap_log_level lvl, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (!c || !c->s.log_callback || lvl > c->s.log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->s.log_callback(c->s.log_user, lvl, msg);
}

PORTMAP_API const char *portmap_strerror(int err)
{
    static const char *const msgs[] = {
        [PORTMAP_OK] = "success",
        [PORTMAP_ERR_INVALID_ARGUMENT] = "invalid argument",
        [PORTMAP_ERR_NO_MEMORY] = "out of memory",
        [PORTMAP_ERR_NO_GATEWAY] = "no gateway found or none answered",
        [PORTMAP_ERR_TIMEOUT] = "the gateway did not answer in time",
        [PORTMAP_ERR_CANCELLED] = "cancelled",
        [PORTMAP_ERR_REFUSED] = "the gateway refused the request",
        [PORTMAP_ERR_NOT_AUTHORIZED] = "the gateway does not authorize this mapping",
        [PORTMAP_ERR_NO_RESOURCES] = "the gateway is out of resources",
        [PORTMAP_ERR_UNSUPPORTED] = "the gateway does not support this protocol",
        [PORTMAP_ERR_NETWORK] = "the gateway reported a network failure",
        [PORTMAP_ERR_SYSTEM] = "a system call failed",
        [PORTMAP_ERR_BAD_STATE] = "not allowed in the current state",
        [PORTMAP_ERR_PROTOCOL] = "malformed reply from the gateway",
        [PORTMAP_ERR_WOULD_DEADLOCK] = "blocking call from inside a callback",
        [PORTMAP_ERR_NOT_FOUND] = "no such mapping",
        [PORTMAP_ERR_PORT_IN_USE] = "the external port is already in use",
    };
    if (err < 0 || (size_t)err >= PM_ARRAY_SIZE(msgs) || !msgs[err])
        return "unknown error";
    return msgs[err];
}

PORTMAP_API const char *portmap_method_name(portmap_method m)
{
    switch (m) {
    case PORTMAP_METHOD_AUTO: return "auto";
    case PORTMAP_METHOD_PCP: return "pcp";
    case PORTMAP_METHOD_NATPMP: return "natpmp";
    case PORTMAP_METHOD_UPNP: return "upnp";
    }
    return NULL;
}

PORTMAP_API const char *portmap_state_name(portmap_state s)
{
    switch (s) {
    case PORTMAP_STATE_PENDING: return "pending";
    case PORTMAP_STATE_MAPPED: return "mapped";
    case PORTMAP_STATE_LOST: return "lost";
    case PORTMAP_STATE_FAILED: return "failed";
    case PORTMAP_STATE_RELEASING: return "releasing";
    case PORTMAP_STATE_RELEASED: return "released";
    }
    return NULL;
}

PORTMAP_API const char *portmap_event_name(portmap_event e)
{
    switch (e) {
    case PORTMAP_EVENT_MAPPED: return "mapped";
    case PORTMAP_EVENT_CHANGED: return "changed";
    case PORTMAP_EVENT_LOST: return "lost";
    case PORTMAP_EVENT_RESTORED: return "restored";
    case PORTMAP_EVENT_FAILED: return "failed";
    case PORTMAP_EVENT_RELEASED: return "released";
    }
    return NULL;
}

int pm_method_has_family(portmap_method method, int fam)
{
    return fam == PM_V4 || method != PORTMAP_METHOD_NATPMP; /* RFC 6886 is IPv4 only */
}

PORTMAP_API const char *portmap_address_kind_name(portmap_address_kind k)
{
    if (k < PORTMAP_ADDRESS_STABLE || k > PORTMAP_ADDRESS_TEMPORARY_ULA)
        return "";
    return pm_v6_kind_name((pm_v6_kind)(k - 1)); /* see pm_address_kind() */
}
