/*
 * The fake router of the benchmarks: tests/fakegw.c in a child process
 * that moved into the lab router's namespace and answers on
 * 10.77.0.1:5351, so clients in the LAN namespace find it through their
 * default route, and its CPU and memory are not the client's.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tests/fakegw.h"
#include "bench.h"
#include "bench_gw.h"

#define WAN_ADDR "11.77.0.1"

static int gw_mode;
static double gw_start;

/* The epoch advances with time, as a router's seconds since it started. */
static uint32_t epoch_now(void)
{
    return 1000 + (uint32_t)((bench_now_ms() - gw_start) / 1000);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void answer_natpmp(fakegw *g, const uint8_t *req, size_t len)
{
    uint8_t out[16];

    if (len >= 2 && req[1] == 0) {
        fakegw_reply(g, out, fakegw_pmp_addr_reply(out, 0, epoch_now(), WAN_ADDR));
    } else if (len >= 12 && (req[1] == 1 || req[1] == 2)) {
        uint16_t iport = (uint16_t)((req[4] << 8) | req[5]);
        uint32_t life = get32(req + 8);
        fakegw_reply(g, out,
                     fakegw_pmp_map_reply(out, req, 0, epoch_now(), life ? iport : 0, life));
    }
}

static void handler(fakegw *g, const uint8_t *req, size_t len, void *user)
{
    uint8_t out[64];
    (void)user;

    if (len < 2)
        return;
    if (req[0] == 0) {
        answer_natpmp(g, req, len);
        return;
    }
    if (gw_mode == BENCH_GW_NATPMP) {
        /* RFC 6887 9: a NAT-PMP-only router answers PCP with version 0,
         * result 1 (unsupported version) */
        uint8_t v0[8] = { 0, (uint8_t)(0x80 | req[1]), 0, 1 };
        uint32_t e = epoch_now();
        v0[4] = (uint8_t)(e >> 24);
        v0[5] = (uint8_t)(e >> 16);
        v0[6] = (uint8_t)(e >> 8);
        v0[7] = (uint8_t)e;
        fakegw_reply(g, v0, sizeof(v0));
        return;
    }
    if (req[1] == 0) { /* ANNOUNCE */
        uint8_t a[24] = { 2, 0x80 };
        uint32_t e = epoch_now();
        a[8] = (uint8_t)(e >> 24);
        a[9] = (uint8_t)(e >> 16);
        a[10] = (uint8_t)(e >> 8);
        a[11] = (uint8_t)e;
        fakegw_reply(g, a, sizeof(a));
        return;
    }
    if (req[1] == 1 && len >= 60) {
        uint32_t life = get32(req + 4);
        uint16_t iport = (uint16_t)((req[40] << 8) | req[41]);
        fakegw_reply(g, out, fakegw_pcp_map_reply(out, req, 0, life, epoch_now(), life ? iport : 0,
                                                  life ? WAN_ADDR : "0.0.0.0"));
    }
}

int bench_gw_start(bench_gw *gw, int mode, const char *rtr_netns)
{
    int ready[2], hold[2];
    char c;

    if (pipe(ready) != 0 || pipe(hold) != 0)
        return -1;
    gw->pid = fork();
    if (gw->pid < 0)
        return -1;
    if (gw->pid == 0) {
        fakegw g;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(ready[0]);
        close(hold[1]);
        gw_mode = mode;
        gw_start = bench_now_ms();
        if (bench_enter_netns(rtr_netns) != 0 ||
            fakegw_start_on(&g, handler, NULL, BENCH_RTR_IP) != 0) {
            fprintf(stderr, "bench: fake gateway: cannot serve on %s:5351 in %s\n", BENCH_RTR_IP,
                    rtr_netns);
            _exit(1);
        }
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        /* until the parent closes its end (or dies) */
        while (read(hold[0], &c, 1) > 0)
            ;
        fakegw_stop(&g);
        _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    gw->hold_fd = hold[1];
    if (read(ready[0], &c, 1) != 1) {
        close(ready[0]);
        bench_gw_stop(gw);
        return -1;
    }
    close(ready[0]);
    return 0;
}

void bench_gw_stop(bench_gw *gw)
{
    if (gw->pid <= 0)
        return;
    close(gw->hold_fd);
    waitpid(gw->pid, NULL, 0);
    gw->pid = 0;
}
