/*
 * Many mappings at once: a client that has mapped once (it knows the
 * router) requests N mappings in a row; the time from the first request
 * call to the last one mapped, next to the bare exchange: N PCP MAP
 * requests from plain sockets with as many under way at once as the
 * library allows (64), to the last answer. Each run is a new client and
 * its mappings are released on close, outside the timing. Runs in the
 * lab's LAN namespace (bench/run.sh puts it there), on
 *   fake: the fake PCP router (tests/fakegw.c) in the router namespace
 *         (profile none), which costs the same per mapping however many;
 *   lab:  the lab's miniupnpd (profile full), whose cost per mapping grows
 *         with the mappings it holds (it lists its nft chain for each).
 *
 * usage: bench_many fake|lab [RUNS] [N]
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <portmap/portmap.h>

#include "bench.h"
#include "bench_gw.h"

#define PORT_BASE 30000
#define WINDOW 64 /* PM_INFLIGHT_MAX */

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* RFC 6887 11.1 MAP request for UDP, nonce from the port */
static void pcp_map(uint8_t out[60], unsigned port, uint32_t lifetime)
{
    struct in_addr me;

    memset(out, 0, 60);
    out[0] = 2;
    out[1] = 1;
    put16(out + 4, lifetime >> 16);
    put16(out + 6, lifetime & 0xffff);
    inet_pton(AF_INET, BENCH_LAN_IP, &me);
    out[18] = out[19] = 0xff;
    memcpy(out + 20, &me, 4);
    put16(out + 24, port); /* the nonce: the release sends it again */
    out[36] = 17;
    put16(out + 40, port);
    put16(out + 42, port);
    out[54] = out[55] = 0xff;
}

/* n MAPs (lifetime 0: their deletes), WINDOW under way: ms to the last
 * answer, -1 when one was lost (a bare exchange does not resend) */
static double bare(int n, uint32_t lifetime)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(5351) };
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), sent = 0, got = 0;
    int big = 1 << 20;
    uint8_t req[60], rep[1100];
    double t0;

    inet_pton(AF_INET, BENCH_RTR_IP, &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    t0 = bench_now_ms();
    for (; sent < n && sent < WINDOW; sent++) {
        pcp_map(req, PORT_BASE + 5000 + (unsigned)sent, lifetime);
        if (send(fd, req, sizeof(req), 0) != (ssize_t)sizeof(req))
            break;
    }
    while (got < n) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 5000) <= 0 || recv(fd, rep, sizeof(rep), 0) < 24)
            break;
        got++;
        if (sent < n) {
            pcp_map(req, PORT_BASE + 5000 + (unsigned)sent++, lifetime);
            if (send(fd, req, sizeof(req), 0) != (ssize_t)sizeof(req))
                break;
        }
    }
    t0 = bench_now_ms() - t0;
    close(fd);
    return got == n ? t0 : -1;
}

/* One run of the library: ms from the first request to the last mapped,
 * or -1. */
static double lib(int n, double *cpu_ms)
{
    portmap_settings s;
    portmap_client *c = NULL;
    portmap_mapping **maps = calloc((size_t)n + 1, sizeof(*maps));
    portmap_request r;
    double t0, t1, c0;
    int failed = 0;

    portmap_default_settings(&s);
    s.timeout_ms = 20000;
    s.close_timeout_ms = 20000; /* every mapping released before the next run */
    if (!maps || portmap_open(&c, &s) != PORTMAP_OK)
        return -1;
    portmap_request_init(&r);
    r.internal_port = PORT_BASE - 1; /* warm: the router is known */
    if (portmap_request_mapping(c, &r, &maps[n]) != PORTMAP_OK ||
        portmap_mapping_wait(maps[n], 5000, NULL) != PORTMAP_OK) {
        fprintf(stderr, "bench_many: the first mapping failed\n");
        return -1;
    }
    c0 = bench_cpu_ms();
    t0 = bench_now_ms();
    for (int i = 0; i < n; i++) {
        portmap_request_init(&r);
        r.internal_port = (uint16_t)(PORT_BASE + i);
        if (portmap_request_mapping(c, &r, &maps[i]) != PORTMAP_OK)
            return -1;
    }
    for (int i = 0; i < n; i++) {
        portmap_mapping_info info;
        int rc = portmap_mapping_wait(maps[i], 20000, &info);
        if ((rc != PORTMAP_OK || info.method != PORTMAP_METHOD_PCP) && !failed++)
            fprintf(stderr, "bench_many: port %d: %s, method %d\n", PORT_BASE + i,
                    portmap_strerror(rc != PORTMAP_OK ? (portmap_error)rc : info.last_error),
                    info.method);
    }
    t1 = bench_now_ms();
    *cpu_ms = bench_cpu_ms() - c0;
    portmap_close(&c); /* releases them all */
    free(maps);
    if (failed) {
        fprintf(stderr, "bench_many: %d of %d mappings failed or not through PCP\n", failed, n);
        return -1;
    }
    return t1 - t0;
}

int main(int argc, char **argv)
{
    const char *ns = getenv("LAB_NETNS_RTR");
    int fake = argc > 1 && !strcmp(argv[1], "fake");
    int runs = argc > 2 ? atoi(argv[2]) : 5, n = argc > 3 ? atoi(argv[3]) : 1000;
    double *v[3];
    bench_stats st[3];
    bench_gw gw;

    if (argc < 2 || (!fake && strcmp(argv[1], "lab")) || runs < 1 || n < 1 || n > 20000) {
        fprintf(stderr, "usage: bench_many fake|lab [RUNS] [N]\n");
        return 2;
    }
    bench_state_dir("many");
    if (fake && bench_gw_start(&gw, BENCH_GW_PCP, ns ? ns : "bn-rtr") != 0)
        return 1;
    for (int k = 0; k < 3; k++)
        v[k] = calloc((size_t)runs, sizeof(double));
    for (int i = 0; i < runs; i++) {
        v[0][i] = bare(n, 120);
        if (v[0][i] < 0 || bare(n, 0) < 0) {
            fprintf(stderr, "bench_many: the bare exchange lost an answer\n");
            return 1;
        }
        v[1][i] = lib(n, &v[2][i]);
        if (v[1][i] < 0)
            return 1;
    }
    for (int k = 0; k < 3; k++)
        st[k] = bench_stats_of(v[k], runs);
    printf("%d mappings requested at once, %s, warm client, %d runs each, interleaved\n\n", n,
           fake ? "fake PCP router" : "full router (miniupnpd, PCP)", runs);
    bench_table_head("", "ms");
    bench_table_row("bare: N PCP MAPs, 64 under way (floor)", &st[0], &st[0]);
    bench_table_row("libportmap: requests to the last mapped", &st[1], &st[0]);
    bench_table_row("libportmap: CPU of the process meanwhile", &st[2], NULL);
    printf("\n");
    if (fake)
        bench_gw_stop(&gw);
    return 0;
}
