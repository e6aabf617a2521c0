/*
 * The bare PCP exchange (no library) that bench_mapped and bench_ab time
 * libportmap against: plain sockets, no parsing beyond what is needed.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define REPLY_WAIT_MS 3000

int bench_udp_to(const char *ip, int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    inet_pton(AF_INET, ip, &sa.sin_addr);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

ssize_t bench_recv_wait(int fd, uint8_t *buf, size_t cap, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, ms) <= 0)
        return -1;
    return recv(fd, buf, cap, 0);
}

void bench_put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void bench_put32(uint8_t *p, uint32_t v)
{
    bench_put16(p, v >> 16);
    bench_put16(p + 2, v & 0xffff);
}

/* RFC 6887 11.1 MAP request for UDP, IPv4 addresses as ::ffff:a.b.c.d. */
static void pcp_map(uint8_t out[60], const uint8_t nonce[12], unsigned port, uint32_t lifetime)
{
    struct in_addr me;

    memset(out, 0, 60);
    out[0] = 2;
    out[1] = 1;
    bench_put32(out + 4, lifetime);
    inet_pton(AF_INET, BENCH_LAN_IP, &me);
    out[18] = out[19] = 0xff;
    memcpy(out + 20, &me, 4);
    memcpy(out + 24, nonce, 12);
    out[36] = 17;
    bench_put16(out + 40, port);
    bench_put16(out + 42, port);
    out[54] = out[55] = 0xff; /* suggested external address ::ffff:0.0.0.0 */
}

/* What a fresh client sends right after its first MAP: a PCP ANNOUNCE,
 * a NAT-PMP address request and the SSDP searches for IGD v2 and v1,
 * each to the router and to the multicast group. */
static void send_probes(int pcp_fd, const char *gw)
{
    uint8_t announce[24] = { 2, 0 }, addr_req[2] = { 0, 0 };
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(1900) };
    struct in_addr me;
    int pmp = bench_udp_to(gw, 5351), ssdp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    char msg[256];

    inet_pton(AF_INET, BENCH_LAN_IP, &me);
    announce[18] = announce[19] = 0xff;
    memcpy(announce + 20, &me, 4);
    if (send(pcp_fd, announce, sizeof(announce), 0) < 0 || pmp < 0 ||
        send(pmp, addr_req, sizeof(addr_req), 0) < 0 || ssdp < 0)
        fprintf(stderr, "bench_mapped: a probe could not be sent\n");
    for (int v = 2; v >= 1 && ssdp >= 0; v--) {
        for (int mc = 0; mc < 2; mc++) {
            const char *host = mc ? "239.255.255.250" : gw;
            int len = snprintf(msg, sizeof(msg), "M-SEARCH * HTTP/1.1\r\nHOST: %s:1900\r\n"
                               "MAN: \"ssdp:discover\"\r\nMX: 2\r\nST: urn:schemas-upnp-org:"
                               "device:InternetGatewayDevice:%d\r\n\r\n", host, v);
            inet_pton(AF_INET, host, &to.sin_addr);
            sendto(ssdp, msg, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to));
        }
    }
    if (pmp >= 0)
        close(pmp);
    if (ssdp >= 0)
        close(ssdp);
}

/* One PCP MAP round trip, from the socket's creation to a matching
 * success; with probes, the probes of a fresh client follow the MAP. The
 * mapping is deleted afterwards, untimed. */
double bench_bare_pcp(const char *gw, unsigned port, int probes)
{
    uint8_t req[60], rsp[1100], nonce[12];
    double t0, t = -1;
    ssize_t n;
    int fd;

    if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce))
        return -1;
    pcp_map(req, nonce, port, 3600);
    usleep(BENCH_SETTLE_MS * 1000);
    t0 = bench_now_ms();
    fd = bench_udp_to(gw, 5351);
    if (fd < 0 || send(fd, req, sizeof(req), 0) != sizeof(req))
        goto out;
    if (probes)
        send_probes(fd, gw);
    while ((n = bench_recv_wait(fd, rsp, sizeof(rsp), REPLY_WAIT_MS)) > 0) {
        if (n >= 60 && rsp[1] == 0x81 && !memcmp(rsp + 24, nonce, 12)) { /* not the ANNOUNCE's */
            if (rsp[3] == 0)
                t = bench_now_ms() - t0;
            break;
        }
    }
    pcp_map(req, nonce, port, 0);
    if (send(fd, req, sizeof(req), 0) == sizeof(req))
        bench_recv_wait(fd, rsp, sizeof(rsp), REPLY_WAIT_MS);
out:
    if (fd >= 0)
        close(fd);
    return t;
}
