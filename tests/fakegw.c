#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakegw.h"

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static int bound_socket(const char *addr, uint16_t port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
    int v6 = inet_pton(AF_INET6, addr, &sa6.sin6_addr) == 1;
    int one = 1, fd;

    if (!v6 && inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
        return -1;
    fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (v6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, v6 ? (struct sockaddr *)&sa6 : (struct sockaddr *)&sa,
             v6 ? sizeof(sa6) : sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void *serve(void *arg)
{
    fakegw *g = arg;
    struct pollfd p[2] = { { .fd = g->fd, .events = POLLIN }, { .fd = g->stop_fd, .events = POLLIN } };

    /* Runs until fakegw_stop(): a benchmark holds mappings whose
     * renewals are half a minute apart. */
    for (;;) {
        int r = poll(p, 2, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || p[1].revents)
            break;
        uint8_t buf[1200];
        socklen_t sl = sizeof(g->peer);
        ssize_t n = recvfrom(g->fd, buf, sizeof(buf), 0, (struct sockaddr *)&g->peer, &sl);
        if (n <= 0)
            continue;
        g->peer_len = sl;
        if (buf[0] == 2)
            g->pcp_requests++;
        else
            g->natpmp_requests++;
        g->handler(g, buf, (size_t)n, g->user);
    }
    return NULL;
}

int fakegw_start(fakegw *g, fakegw_handler h, void *user)
{
    return fakegw_start_on(g, h, user, "127.0.0.1");
}

int fakegw_start_on(fakegw *g, fakegw_handler h, void *user, const char *addr)
{
    memset(g, 0, sizeof(*g));
    g->handler = h;
    g->user = user;
    g->epoch = 1000;
    g->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    g->fd = bound_socket(addr, 5351);
    g->spoof_fd = g->family == AF_INET6 ? bound_socket(addr, 5352)
                                        : bound_socket("127.0.0.2", 5351);
    g->stop_fd = eventfd(0, 0);
    if (g->fd < 0 || g->spoof_fd < 0 || g->stop_fd < 0)
        return -1;
    return pthread_create(&g->th, NULL, serve, g);
}

void fakegw_stop(fakegw *g)
{
    uint64_t one = 1;
    if (write(g->stop_fd, &one, sizeof(one)) < 0)
        return;
    pthread_join(g->th, NULL);
    close(g->fd);
    close(g->spoof_fd);
    close(g->stop_fd);
}

void fakegw_reply(fakegw *g, const uint8_t *buf, size_t len)
{
    sendto(g->fd, buf, len, 0, (struct sockaddr *)&g->peer, g->peer_len);
}

void fakegw_reply_spoofed(fakegw *g, const uint8_t *buf, size_t len)
{
    sendto(g->spoof_fd, buf, len, 0, (struct sockaddr *)&g->peer, g->peer_len);
}

size_t fakegw_pcp_map_reply(uint8_t *out, const uint8_t *req, uint8_t result, uint32_t lifetime,
                            uint32_t epoch, uint16_t ext_port, const char *ext_addr)
{
    struct in_addr a = { 0 };
    struct in6_addr a6;
    memset(out, 0, 60);
    out[0] = 2;
    out[1] = 0x80 | req[1];
    out[3] = result;
    put32(out + 4, lifetime);
    put32(out + 8, epoch);
    memcpy(out + 24, req + 24, 36); /* nonce, protocol, ports, address */
    out[42] = (uint8_t)(ext_port >> 8);
    out[43] = (uint8_t)ext_port;
    if (inet_pton(AF_INET6, ext_addr, &a6) == 1) {
        memcpy(out + 44, &a6, 16);
        return 60;
    }
    inet_pton(AF_INET, ext_addr, &a);
    memset(out + 44, 0, 10);
    out[54] = out[55] = 0xff;
    memcpy(out + 56, &a.s_addr, 4);
    return 60;
}

size_t fakegw_pmp_addr_reply(uint8_t *out, uint16_t result, uint32_t epoch, const char *addr)
{
    struct in_addr a = { 0 };
    memset(out, 0, 12);
    out[1] = 128;
    out[2] = (uint8_t)(result >> 8);
    out[3] = (uint8_t)result;
    put32(out + 4, epoch);
    inet_pton(AF_INET, addr, &a);
    memcpy(out + 8, &a.s_addr, 4);
    return 12;
}

size_t fakegw_pmp_map_reply(uint8_t *out, const uint8_t *req, uint16_t result, uint32_t epoch,
                            uint16_t ext_port, uint32_t lifetime)
{
    memset(out, 0, 16);
    out[1] = (uint8_t)(128 + req[1]);
    out[2] = (uint8_t)(result >> 8);
    out[3] = (uint8_t)result;
    put32(out + 4, epoch);
    out[8] = req[4];
    out[9] = req[5];
    out[10] = (uint8_t)(ext_port >> 8);
    out[11] = (uint8_t)ext_port;
    put32(out + 12, lifetime);
    return 16;
}
